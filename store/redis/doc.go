// Package redis is herald's Redis engine: the system of record lives in
// Redis, so any number of herald nodes serve the same pages and dispatch
// the same queues. DB implements incident.Store, notify.Store,
// complaint.Store, compensation.Store and surveys.Store and passes
// store/storetest (Run, RunNotify, RunComplaints, RunCompensation and
// RunSurveys) like the SQLite engine; Events implements incident.Events
// over pub/sub; DB.Limiter is a ratelimit.Limiter shared by every node
// (GCRA).
//
// # Key layout
//
// Every key starts with a prefix (DefaultPrefix, "herald"; tests use a
// random one and delete their keys). keys.go builds every name:
//
//	<prefix>:{global}:pages                    hash  page ID → page JSON
//	<prefix>:{global}:tokens                   hash  token ID → token JSON (with its hash)
//	<prefix>:{global}:token-hashes             hash  secret's SHA-256 → token ID
//	<prefix>:{global}:token-used               hash  token ID → last use (unix ms)
//	<prefix>:{global}:incident-pages           hash  incident ID → page ID
//	<prefix>:{global}:component-pages          hash  component ID → page ID
//	<prefix>:{global}:broadcasts:by-incident   hash  incident ID → broadcast JSON lines
//	<prefix>:{global}:audit                    zset  audit entries without a page
//	<prefix>:{global}:audit-pages              set   page IDs with audit entries
//	<prefix>:{global}:idem:<sha256>            string "<expires ms>:<resource ID>[ <request fingerprint>]", PX TTL
//	<prefix>:{global}:health:probe             string "<ms>", 1 min TTL: /readyz's write probe (ProbeWrite)
//	<prefix>:{global}:seq                      counter ordering same-millisecond entries
//	<prefix>:page:{<page>}:components          hash  component ID → component JSON
//	<prefix>:page:{<page>}:incidents           hash  incident ID → incident JSON with updates
//	<prefix>:page:{<page>}:incident-versions   hash  incident ID → version
//	<prefix>:page:{<page>}:incidents:created   zset  incident IDs by created_at ms
//	<prefix>:page:{<page>}:incidents:status:<s> zset incident IDs in status s by created_at ms
//	<prefix>:page:{<page>}:status:<component>  zset  status changes by time (seq + JSON)
//	<prefix>:page:{<page>}:status-components   set   components with a history
//	<prefix>:page:{<page>}:audit               zset  the page's audit entries by time (seq + JSON)
//	<prefix>:page:{<page>}:broadcasts          stream the page's outbox, for the planner
//	<prefix>:page:{<page>}:seq                 counter (Cluster only)
//	<prefix>:events                            pub/sub channel
//
// notify (queue.go, receipts.go, notify.go, audience.go, limiter.go):
//
//	<prefix>:{global}:plan:<broadcast>         hash  doc state cursor planned lease created updated
//	<prefix>:{global}:plans:pending            zset  pending broadcast IDs by when claimable (ms)
//	<prefix>:{global}:lease-seq                counter fencing tokens of plan and delivery claims
//	<prefix>:{global}:qseq                     counter insertion order within a millisecond's scores
//	<prefix>:{global}:d:<delivery>             hash  j (compact JSON) s a n k b u l p e r sa da y
//	<prefix>:{global}:q:<kind>:due             zset  pending delivery IDs by NextAt (ms × 1024 + seq), but replies
//	<prefix>:{global}:q:<kind>:leased          zset  sending delivery IDs by lease end (ms), but replies
//	<prefix>:{global}:q:<kind>:reply:due       zset  as q:<kind>:due, for replies (queue.LaneReplies)
//	<prefix>:{global}:q:<kind>:reply:leased    zset  as q:<kind>:leased, for replies
//	<prefix>:{global}:q:sms:sent               zset  SMS still sent (no final receipt) by when next due a look at Twilio (ms)
//	<prefix>:{global}:progress:<broadcast>     hash  "<kind>:<state>" and "r:<kind>:<reason>" → count
//	<prefix>:{global}:dtimes:<broadcast>       hash  "<kind>:<state>:<10 s bucket>" → deliveries that reached a timed state then (the report)
//	<prefix>:{global}:pc:<n>                   string a planned chunk: up to 256 pending deliveries (MessagePack), "~<n>" in its due queue
//	<prefix>:{global}:pcs                      zset  chunks not yet expanded, by n
//	<prefix>:{global}:pc-seq                   counter chunk numbers
//	<prefix>:{global}:pcu:<update>             set   numbers of the chunks waiting with deliveries of that update (a plan's ID set is built from them)
//	<prefix>:{global}:pc-up                    hash  chunk number → its update
//	<prefix>:{global}:chunked                  set   IDs of the deliveries waiting in chunks (lookups by ID)
//	<prefix>:{global}:deliveries               zset  every delivery ID by created_at (s × 2^20 + seq)
//	<prefix>:{global}:bd:<broadcast>           zset  the broadcast's delivery IDs, scored alike
//	<prefix>:{global}:da:<kind>:<4 hex>        hash  address → its delivery IDs (space-separated)
//	<prefix>:{global}:dr:<4 hex>               hash  "<page> <recipient>" → its delivery IDs (space-separated)
//	<prefix>:{global}:provider-ids             hash  provider message ID → delivery ID
//	<prefix>:{global}:receipt:<provider ID>    string "<expires ms>:<receipt JSON>", PX TTL (kept receipts)
//	<prefix>:{global}:auto-reply:<kind>:<addr> zset  the automatic answers to an address by when they were taken (ms), PX the window (autoreplies.go)
//	<prefix>:{global}:subscribers              hash  subscriber ID → JSON (with the confirm hash)
//	<prefix>:{global}:subscribers:all          zset  subscriber IDs, score 0 (ZRANGEBYLEX)
//	<prefix>:{global}:subscribers:page:<page>  zset  the page's subscriber IDs, score 0
//	<prefix>:{global}:subscribers:count:<page> hash  state → count
//	<prefix>:{global}:subscriber-addresses     hash  page␀kind␀address␀incident → live subscriber ID
//	<prefix>:{global}:suppressions             hash  page␀kind␀address → JSON (page "" global)
//	<prefix>:{global}:secret:<name>            string SET NX, then GET
//	<prefix>:{global}:live-message:<incident>  string JSON record of the incident's live Slack message (a script claims it)
//	<prefix>:{global}:live-message-lease:<incident> string "<holder>|<until ms>": the node sending that message now
//	<prefix>:page:{<page>}:customers           hash  customer ID → JSON
//	<prefix>:page:{<page>}:customers:ids       zset  customer IDs, score 0 (ZRANGEBYLEX)
//	<prefix>:page:{<page>}:customers:addrs zset  "<kind>␀<address>␀<customer ID>", score 0 (ZRANGEBYLEX; emails folded to lower case)
//	<prefix>:page:{<page>}:customers:addrs:built string "1": the address index holds every customer
//	<prefix>:page:{<page>}:customers:names     zset  "<folded name word>␀<customer ID>", score 0 (ZRANGEBYLEX)
//	<prefix>:page:{<page>}:customers:names:words hash customer ID → its words in customers:names, space-separated
//	<prefix>:page:{<page>}:customers:names:built string "1": the name index holds every customer
//	<prefix>:page:{<page>}:customers:version   string counter bumped by every write to the five customer keys (and the index builds)
//	<prefix>:page:{<page>}:customers:import:<id>:{customers,ids,addresses,names,namewords,marker,namesmarker} a large upsert staged: copies of the five keys with it written in, renamed over them by one script; expire after an hour
//	<prefix>:rate:{<key>}                      string GCRA theoretical arrival time (µs), PX
//
// The customer scripts keep customers:addrs in step with the customers
// hash. Customers written before that index existed (a deployment upgraded
// in place) are missing from it, so FindCustomersByAddress builds a page's
// index the first time it reads a page without customers:addrs:built:
// buildCustomerAddressesScript runs HSCAN over the customers hash a batch
// at a time inside the script, so it indexes each customer as it is at
// that moment (one changed or deleted meanwhile by the other scripts is
// indexed as it is now, or not at all), and the batch that ends the scan
// sets the marker. Its ZADDs are idempotent, so two nodes building at once
// do no harm. Each process remembers the pages it found built. The first
// upsert into a page without customers sets the marker in the same script,
// so a new deployment never builds. A node still running the code from
// before the index (a rolling upgrade) writes customers without index
// entries even after the marker is set; re-importing them, or deleting the
// markers once every node is upgraded and restarting, indexes them.
//
// complaints (complaints.go), a page's in its slot:
//
//	<prefix>:page:{<page>}:complaints                    hash  complaint ID → complaint JSON
//	<prefix>:page:{<page>}:complaint-versions            hash  complaint ID → version
//	<prefix>:page:{<page>}:complaint-indexes             hash  complaint ID → JSON array of the index keys it is in
//	<prefix>:page:{<page>}:complaint-tallies             hash  complaint ID → its tally lines ("key\tfield"), as last saved
//	<prefix>:page:{<page>}:complaint-tally:<scope>       hash  complaint.TallyLines field → count (the report: scope i:<incident> or u; the queue: q, q|i:<incident>, q|u)
//	<prefix>:page:{<page>}:complaints:created            zset  every complaint ID by created_at ms
//	<prefix>:page:{<page>}:complaints:open               zset  open ones, by created_at ms
//	<prefix>:page:{<page>}:complaints:untagged           zset  untagged ones (triage), by created_at ms
//	<prefix>:page:{<page>}:complaints:state:<state>      zset  by state, by created_at ms
//	<prefix>:page:{<page>}:complaints:incident:<id>      zset  tagged to an incident, by created_at ms
//	<prefix>:page:{<page>}:complaints:contact:<key>      zset  by Contact.Key(), by created_at ms
//	<prefix>:page:{<page>}:complaints:owner:<owner>      zset  by owner (none for ""), by created_at ms
//	<prefix>:page:{<page>}:complaints:unassigned         zset  nobody's, by created_at ms
//	<prefix>:page:{<page>}:complaints:repeat             zset  repeats, by created_at ms
//	<prefix>:page:{<page>}:complaints:open-in:<sel>      zset  open ones in a queue tab, by created_at ms: sel i:<incident>, u,
//	                                                            unassigned, owner:<owner>, repeat, and <tag>/<tab> (tag i:<incident> or u)
//	<prefix>:page:{<page>}:complaints:due:<sel>          zset  open ones with a DueAt, by DueAt ms (sel all, i:<incident>, u): at risk
//	<prefix>:page:{<page>}:complaints:channel:<channel>  zset  by channel, by created_at ms
//	<prefix>:page:{<page>}:complaints:category:<cat>     zset  by category, by created_at ms
//	<prefix>:page:{<page>}:complaints:check              zset  IDs with a CheckAt, by CheckAt ms
//	<prefix>:page:{<page>}:complaint-entries:<complaint> zset  the timeline by At ms (seq + entry JSON)
//	<prefix>:page:{<page>}:complaint-external-ids        hash  provider message ID → entry JSON
//	<prefix>:page:{<page>}:complaint-seq                 counter ordering same-millisecond entries
//	<prefix>:{global}:complaint-pages                    hash  complaint ID → page ID
//	<prefix>:{global}:complaint-page-ids                 set   pages that have complaints
//	<prefix>:{global}:turn:<name>                        counter NextTurn (INCR)
//	<prefix>:{global}:lease:<name>                       hash  holder, until (ms)
//
// compensation (compensation.go), all in the page's slot:
//
//	<prefix>:page:{<page>}:comp-decisions:<incident>       list  the incident's decision JSON, version n at index n-1
//	<prefix>:page:{<page>}:comp-decided                    hash  incident ID → newest decision JSON while coming or decided
//	<prefix>:page:{<page>}:comp-grants                     hash  grant ID → grant JSON (with key and override actor)
//	<prefix>:page:{<page>}:comp-grants:<incident>          zset  the incident's grant IDs by At ms (ties by ID)
//	<prefix>:page:{<page>}:comp-grant-keys:<incident>      hash  idempotency key → grant ID
//	<prefix>:page:{<page>}:comp-customer-grants:<sha256>   zset  one customer's grant IDs for an incident by At ms
//	<prefix>:page:{<page>}:vouchers:<list>:codes           set   every code of the list
//	<prefix>:page:{<page>}:vouchers:<list>:free            list  the unused codes, in upload order
//	<prefix>:page:{<page>}:vouchers:<list>:drawn           hash  draw key → code
//
// saveDecisionScript appends a version when the list holds exactly the
// ones before it (LLEN), and sets or clears the incident's comp-decided
// entry with it, so FindDecided is one HGETALL. saveGrantScript returns
// the grant an idempotency key already has; otherwise it refuses an ID
// the page has and a count (ZCARD of the customer's grants) other than
// the caller's seen, then writes the grant and its three indexes.
// drawVoucherScript returns the key's code, or pops the first unused one
// and records it for the key. Every key these scripts touch carries the
// page's tag, so each is one script on Cluster too; AddVouchers runs a
// script per 1000 codes.
//
// surveys (surveys.go), a page's in its slot, the lookups global:
//
//	<prefix>:page:{<page>}:survey-settings                  string the page's surveys.Settings JSON
//	<prefix>:page:{<page>}:surveys                          hash  survey ID → survey JSON
//	<prefix>:page:{<page>}:surveys:incident:<incident>      zset  the incident's survey IDs, score 0 (ZRANGEBYLEX)
//	<prefix>:page:{<page>}:surveys:state:<state>:<incident> zset  the incident's survey IDs in a state, score 0
//	<prefix>:page:{<page>}:surveys:due                      zset  scheduled survey IDs by DueAt ms (ties by ID)
//	<prefix>:page:{<page>}:surveys:addresses                zset  "<len>:<kind><len>:<address><SentAt hex><ID>" per sent survey, score 0
//	<prefix>:page:{<page>}:survey-last                      hash  key or address key → latest DueAt ms of a survey not skipped
//	<prefix>:page:{<page>}:survey-tallies:<incident>        hash  JSON [tally key, counter] → count (none at 0)
//	<prefix>:{global}:sp:<4 hex>                            hash  survey ID → page ID (bucketed by SHA-256)
//	<prefix>:{global}:survey-incidents                      hash  incident ID → the page its surveys are on
//	<prefix>:{global}:survey-pages                          set   pages that have surveys
//
// createSurveysScript writes a batch (at most 2000) of one incident's
// surveys: HSETNX skips a stored ID; a new survey joins its incident's
// and its state's indexes, surveys:due when scheduled, and raises its
// key's and its address key's survey-last; the tallies add each distinct set of counter
// changes (surveys.TallyChanges, computed in Go) times the new surveys
// that have it, so a batch costs a few HINCRBYs. SaveSurvey reads the
// stored survey, checks its version and computes TallyChanges from it in
// Go; saveSurveyScript then writes only while the stored JSON is still
// the one read (so the deltas are exact, and of two writers of one
// version one wins), moving the survey between state indexes, in or out
// of surveys:due and surveys:addresses, and applying the deltas (a
// counter that reaches zero is deleted). Tallies is one HGETALL, never a
// scan of surveys.
//
// The due index is one sorted set per page, kept exactly by the page's
// scripts, not one global sorted set: a global set cannot share a slot
// with the surveys, so on Cluster it would be written outside the
// scripts and could drift (a crash between the two writes could lose a
// due survey for good). FindDueSurveys reads the first limit due members
// of every page in survey-pages in one pipeline and merges them,
// earliest first, ties by ID: a read costs a command per page that ever
// had surveys (pages stay in the set, as in complaint-page-ids).
//
// FindSurveyByID, FindSurveys and Tallies name no page, so a survey's
// page and an incident's page are global lookups. On a single Redis
// createSurveysScript is given them too and writes everything in one
// script. On Cluster claimSurveysScript first, in the global slot,
// refuses an incident another page has surveys of, maps the incident and
// the IDs no other page holds to the page, and adds the page to
// survey-pages; the page's script then writes the rest. A failure
// between the two leaves only lookups, which reads ignore (a lookup
// without its survey is not found) and a retry reuses.
//
// saveComplaintScript checks the version and the entries' external IDs,
// then moves the complaint out of the index keys it was in (listed in
// complaint-indexes) and into those it now matches, all in one script.
// FindComplaints never scans a page's complaints for a selective filter:
// it counts each condition's index in the time range (ZCOUNT), reads the
// smallest, checks the other conditions by membership (ZMSCORE) and
// decodes only the documents it returns; with no condition it reads the
// window of the created_at index and counts with ZCOUNT. Reads without a
// page (the sweep's) and FindComplaintsToCheck go page by page over
// complaint-page-ids. A lease's expiry is the caller's clock, compared in
// the script, not a Redis TTL.
//
// Sorted-set members that may repeat (audit entries, status changes) are a
// 16-hex-digit insertion counter followed by the JSON, so equal timestamps
// keep insertion order, as SQLite's rowid tie-breaks do. Times are stored
// in UTC at millisecond precision, like SQLite. The audit logs are capped
// (WithAuditLimit). The audit log, the broadcast lookup and the broadcast
// stream outlive a deleted incident or page, as the SQLite tables without
// foreign keys do.
//
// # Atomicity
//
// Commit turns a Change into check and write operations and sends them to
// one Lua script (commitScript, run with EVALSHA), which checks every
// precondition (incident versions, the idempotency key, and with
// Change.KeepAPage that a page is left: the "keep" check on the global
// pages hash, in the script that deletes from it) before it writes
// anything. On a single Redis the whole Change is one script call, so it
// is atomic: a failed check writes nothing and returns ECONFLICT.
//
// SaveComplaint is one script on a single Redis. On Cluster it first
// claims the complaint's global lookup (and notes its page) in the global
// slot, then checks and writes in the page's; a refused save can leave
// only that lookup behind, which reads ignore.
//
// Redis Cluster is a documented best effort. A script may only touch one
// hash slot, and a Change can span several (a page's data and the global
// lookups, tokens and idempotency keys), so with a *goredis.ClusterClient
// (New) Commit runs one script per hash tag: first a check-only pass over
// every slot, then the writes slot by slot, those holding incident version
// checks first, each script re-checking its own preconditions. Sequential
// conflicts therefore still write nothing; only a writer racing between the
// two passes can leave a Change applied in some slots and not others (at
// worst a lookup entry without its object, which reads ignore, or a page
// write whose idempotency key was taken meanwhile). The conformance suite
// runs in this per-slot mode too, on a single Redis.
//
// # The delivery queue
//
// DESIGN.md describes deliveries going through Redis Streams with consumer
// groups. The engine departs from that wording on purpose and keeps the
// queue in sorted sets, driven by Lua, as asynq's internal/rdb does
// (lease zset + scheduled zset), because notify.Store's contract is a lease
// queue and Streams fit it badly:
//
//   - Scheduled work. Retries and quiet-hour deferrals are "pending again at
//     NextAt". A stream has no time order other than arrival, so it needs a
//     delay zset anyway plus a promoter that moves due members into the
//     stream (taskq and asynq both poll for that; asynq every 5 s by
//     default). Here the due zset is the queue: the claim script takes the
//     lowest scores ≤ now, so a retry is due to the millisecond, with no
//     promoter and nothing to lose between two structures.
//   - Exact leases with fencing. XAUTOCLAIM recovers entries idle longer
//     than a minimum, measured from the last delivery to a consumer, per
//     group, and the consumer that lost an entry can still XACK it: there
//     is no token to refuse a late acknowledgement. The contract needs a
//     per-call lease length, expiry judged by the caller's clock (tests
//     pass explicit times), and FinishDeliveries must skip a delivery whose
//     lease was lost. The lease zset holds each sending delivery scored by
//     its lease end, and every claim writes a fresh fencing token (from
//     lease-seq) into the delivery; finishScript applies an outcome only
//     while the delivery is still sending under that token.
//   - One place for state. The pending → sending transition is the
//     idempotency claim DESIGN asks for before the provider call (its
//     "Redis SET NX"): it happens inside claimScript, atomically with the
//     attempt count, the lease and the progress counters, so no separate
//     SET NX key can disagree with the delivery's state. A crash can at
//     worst repeat the sends that were in flight, after their lease.
//   - Counters. Every script that moves a delivery updates its broadcast's
//     progress hash (HINCRBY) in the same atomic step, so Progress is two
//     hash reads however large the broadcast.
//
// Planning writes chunks, not deliveries (chunks.go): the planner packs a
// plan batch's new pending deliveries into chunks of up to 256, one string
// and one due-queue member each, leaving out the IDs its plan's ID set
// holds (planids.go), and claimScript expands a chunk into ordinary
// deliveries when it reaches one; reads that need every delivery expand
// what is left first.
//
// Scripts: enqueueScript and savePlanBatchScript create deliveries (shared
// insertLua: skip known IDs, queue, index, count; the plan script first
// checks the plan's state and lease token), claimScript, finishScript,
// statusScript (receipts, forward only: only a sent delivery moves),
// keepReceiptScript and takeReceiptsScript (receipts kept for provider IDs
// not written yet), takeAutoReplyScript (the per-address count of
// automatic answers),
// claimPlanScript, cancelPlanScript and cancelDeliveriesScript (a chunk at a
// time, so a broadcast of millions never blocks Redis for long). Plans are
// created by commitScript with their broadcast, in both commit modes, so
// every committed broadcast has a plan and a refused commit leaves none.
//
// Slots: the queue, plans, deliveries and their indexes share the {global}
// tag, because savePlanBatchScript must check a plan's lease and write its
// deliveries atomically, and the plan is created beside the broadcast's
// global lookup. On Cluster the queue therefore lives on one shard (like a
// single stream would); customers spread by page and rate-limit buckets by
// key. Deliveries are kept until deleted by an operator: there is no
// retention sweep yet.
//
// # Events
//
// See Events: local delivery at once, the pub/sub echo of a node's own
// events skipped by Event.Origin, and automatic resubscription.
package redis
