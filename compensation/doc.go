// Package compensation is what herald owes customers after an incident, and
// the rules for giving it: a state per incident that a manager moves
// (none_yet, coming, decided, none), a policy of offers and eligibility
// rules when it is decided, each customer's affected time computed from the
// component-status history, the per-customer answer an agent reads, and the
// checks a grant must pass.
//
// It follows the house pattern (see package audience): the types and the
// rules live here, with the standard library and the domain and data
// packages only (incident, audience); no store, no HTTP. Everything in this
// package is a pure function of its arguments: time comes in as an
// argument, nothing is read from a clock or a store.
//
// # Money
//
// Money is integer minor units with an ISO 4217 currency (Money), never a
// float. Percentages are basis points (1 bp = 0.01 %, 1000 bp = 10 %) and
// round half away from zero to a whole minor unit (Money.Percent).
//
// # From decision to grant
//
//	Decide(current, Proposal, actor, at, Scope)   → the next Decision version (managers and admins only)
//	Diff(old, new)                                → what changed, for the push to agents
//	Compile(policy)                               → *Compiled, once per policy version
//	NewTimeline(incident, history, now)           → every component's outage intervals, once per incident
//	Timeline.ForInto(&affected, customer.Components)
//	Compiled.EvaluateInto(&result, customer, &affected, grants, now)
//	CheckGrant(compiled, &result, Claim, override) → nil, or the rule the grant breaks
//
// Affected and Evaluate are the one-shot forms of the last steps. The
// Timeline and the Compiled policy are shared by every customer, so a run
// over a whole page allocates nothing per customer when it reuses one
// AffectedTime and one Result.
//
// # Errors
//
// Bad input is incident.EINVALID naming the field ("offers[1].percent_bp",
// "rules[0].components"); a role that may not decide or override is
// incident.EFORBIDDEN; a stale version is incident.ECONFLICT; a move the
// state machine refuses is incident.ETRANSITION. A grant that breaks the
// policy is incident.EINVALID whose Field names the rule it breaks (the
// Rule… constants: eligibility, not_affected, already_granted, cap,
// claim_deadline), so server maps it to a 4xx without a new code.
package compensation
