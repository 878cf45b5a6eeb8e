// Package redis is herald's Redis engine: the system of record lives in
// Redis, so any number of herald nodes serve the same pages. DB implements
// incident.Store and passes store/storetest like the SQLite engine; Events
// implements incident.Events over pub/sub.
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
//	<prefix>:{global}:idem:<sha256>            string "<expires ms>:<resource ID>", PX TTL
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
// precondition (incident versions, the idempotency key) before it writes
// anything. On a single Redis the whole Change is one script call, so it
// is atomic: a failed check writes nothing and returns ECONFLICT.
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
// # Events
//
// See Events: local delivery at once, the pub/sub echo of a node's own
// events skipped by Event.Origin, and automatic resubscription.
package redis
