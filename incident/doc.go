// Package incident is herald's domain: pages, components, incidents and
// maintenances with their updates, the lifecycle rules, tokens and roles,
// the audit log, and the outbox of broadcasts that notify expands.
//
// It imports no HTTP, SQL, Redis or provider SDK. The Store and Events
// interfaces it needs are implemented by store/sqlite and store/redis;
// front doors (server, the CLI, Slack commands) call Service and never a
// store directly.
package incident
