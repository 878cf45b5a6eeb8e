package redis

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/heraldhq/herald/incident"
)

// keyspace names every key herald keeps in Redis. It is the only place key
// names are built, so the layout can be read (and changed) in one file.
//
// Hash tags: Redis Cluster hashes only the part of a key inside the first
// {…}, so keys that share a tag live in one slot and one Lua script may touch
// them together. Global data (pages, tokens, the ID→page lookups, global
// audit entries, idempotency keys) shares the tag {global}; everything that
// belongs to one page shares the tag {<pageID>}. A page ID can never clash
// with "global" as a key name because page keys carry the extra "page:"
// segment before the tag.
type keyspace struct {
	prefix string // e.g. "herald"; must not contain '{' or '}'
}

func (k keyspace) global(name string) string { return k.prefix + ":{global}:" + name }

func (k keyspace) page(pageID, name string) string {
	return k.prefix + ":page:{" + pageID + "}:" + name
}

// ---- global slot ----

// pages: hash page ID → page JSON.
func (k keyspace) pages() string { return k.global("pages") }

// tokens: hash token ID → token record JSON (with its hash).
func (k keyspace) tokens() string { return k.global("tokens") }

// tokenHashes: hash SHA-256 of the secret → token ID.
func (k keyspace) tokenHashes() string { return k.global("token-hashes") }

// tokenUsed: hash token ID → last use (unix ms). Kept apart from the token
// record so TouchToken is a single HSET, not a read-modify-write.
func (k keyspace) tokenUsed() string { return k.global("token-used") }

// incidentPages: hash incident ID → page ID, so an incident is found by ID alone.
func (k keyspace) incidentPages() string { return k.global("incident-pages") }

// componentPages: hash component ID → page ID.
func (k keyspace) componentPages() string { return k.global("component-pages") }

// globalAudit: sorted set of audit entries that belong to no page (tokens),
// scored by time in ms; members are seq(16 hex) + JSON.
func (k keyspace) globalAudit() string { return k.global("audit") }

// auditPages: set of page IDs that have audit entries (also deleted pages:
// the audit log outlives what it records).
func (k keyspace) auditPages() string { return k.global("audit-pages") }

// broadcastsByIncident: hash incident ID → newline-separated broadcast
// JSON, in commit order, for FindBroadcasts. It is global, like SQLite's
// outbox table without foreign keys: a deleted incident or page does not
// erase what was announced.
func (k keyspace) broadcastsByIncident() string { return k.global("broadcasts:by-incident") }

// globalSeq: counter that orders members written in the same millisecond.
func (k keyspace) globalSeq() string { return k.global("seq") }

// idempotency: string "<expires unix ms>:<resource ID>" with a TTL. The
// scope and the client's key are hashed so that any bytes make a safe,
// unambiguous key name.
func (k keyspace) idempotency(scope, key string) string {
	sum := sha256.Sum256([]byte(scope + "\x00" + key))
	return k.global("idem:" + hex.EncodeToString(sum[:]))
}

// ---- page slot ----

// components: hash component ID → component JSON.
func (k keyspace) components(pageID string) string { return k.page(pageID, "components") }

// incidents: hash incident ID → incident JSON with its updates.
func (k keyspace) incidents(pageID string) string { return k.page(pageID, "incidents") }

// incidentVersions: hash incident ID → version, read by the commit script's
// optimistic check without decoding the document.
func (k keyspace) incidentVersions(pageID string) string { return k.page(pageID, "incident-versions") }

// incidentsByCreated: sorted set of incident IDs scored by created_at ms.
func (k keyspace) incidentsByCreated(pageID string) string {
	return k.page(pageID, "incidents:created")
}

// incidentsByStatus: sorted set of the IDs of incidents in one status,
// scored by created_at ms, so "open incidents" reads only open ones.
func (k keyspace) incidentsByStatus(pageID string, s incident.Status) string {
	return k.page(pageID, "incidents:status:"+string(s))
}

// statusChangesPrefix + component ID: sorted set of one component's status
// changes, scored by time in ms; members are seq(16 hex) + JSON.
func (k keyspace) statusChangesPrefix(pageID string) string { return k.page(pageID, "status:") }

func (k keyspace) statusChanges(pageID, componentID string) string {
	return k.statusChangesPrefix(pageID) + componentID
}

// statusComponents: set of component IDs that have a status history.
func (k keyspace) statusComponents(pageID string) string { return k.page(pageID, "status-components") }

// audit: sorted set of the page's audit entries, like globalAudit.
func (k keyspace) audit(pageID string) string { return k.page(pageID, "audit") }

// broadcasts: stream of the page's outbox rows, for the planner (XADD in the
// commit script, so the row lands with the change it announces). Like the
// outbox it outlives a deleted page; the planner skips what is gone.
func (k keyspace) broadcasts(pageID string) string { return k.page(pageID, "broadcasts") }

// seq: the page's counter that orders members written in the same millisecond.
func (k keyspace) seq(pageID string) string { return k.page(pageID, "seq") }

// events: the pub/sub channel every node publishes to and listens on.
func (k keyspace) events() string { return k.prefix + ":events" }

// allStatuses lists every incident and maintenance status, for the per-status indexes.
var allStatuses = append(append([]incident.Status{}, incident.IncidentStatuses...), incident.MaintenanceStatuses...)
