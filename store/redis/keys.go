package redis

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

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

// healthProbe: string "<ms>" with a one-minute TTL, rewritten by
// ProbeWrite for /readyz.
func (k keyspace) healthProbe() string { return k.global("health:probe") }

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

// ---- notify: plans, deliveries and their queues (global slot) ----
//
// Plans, deliveries, their queues, indexes and counters all share the
// {global} tag: SavePlanBatch checks the plan's lease and writes the
// deliveries, queue entries and counters in one script, so they must live
// in one slot, and commitScript creates the plan beside the broadcast's
// global lookup. On Cluster the queue therefore lives on one shard; the
// page data, the rate limits and the customers spread out.

// plan: hash of one broadcast's plan (fields in notify.go, planFields).
func (k keyspace) plan(broadcastID string) string { return k.global("plan:" + broadcastID) }

// pendingPlans: sorted set of broadcast IDs whose plan is pending, scored by
// the time (ms) the plan may next be claimed: its creation, then the end of
// its current lease.
func (k keyspace) pendingPlans() string { return k.global("plans:pending") }

// leaseSeq: counter that makes every claim's fencing token unique.
func (k keyspace) leaseSeq() string { return k.global("lease-seq") }

// <prefix>:{global}:qseq is the insertion counter of the delivery scores
// (queue.go, scoreSlots); only insertLua touches it, by that name.

// deliveryPrefix + delivery ID: hash of one delivery (fields in queue.go).
// The scripts build these names from the prefix, always in the {global}
// slot of the keys they are passed.
func (k keyspace) deliveryPrefix() string { return k.global("d:") }

func (k keyspace) delivery(id string) string { return k.deliveryPrefix() + id }

// dueQueue: sorted set of a channel's pending delivery IDs but replies
// (and its plans' chunks), scored by NextAt in ms (retries and quiet-hour
// deferrals are simply later scores).
func (k keyspace) dueQueue(kind string) string { return k.global("q:" + kind + ":due") }

// leaseQueue: sorted set of a channel's sending delivery IDs but replies,
// scored by the end of their lease in ms; an expired score is a dead
// node's work.
func (k keyspace) leaseQueue(kind string) string { return k.global("q:" + kind + ":leased") }

// replyDueQueue and replyLeaseQueue are dueQueue and leaseQueue for the
// channel's replies (queue.LaneReplies), which are claimed apart from
// the rest; the scripts name them with qkey (queue.go).
func (k keyspace) replyDueQueue(kind string) string { return k.global("q:" + kind + ":reply:due") }

func (k keyspace) replyLeaseQueue(kind string) string { return k.global("q:" + kind + ":reply:leased") }

// unconfirmed is the sorted set of SMS deliveries in state sent (no final
// receipt yet), scored by when they are next due a look at the provider's
// record (ms): the finish script adds an SMS it marks sent, scored by its
// send time; the status script removes it when a receipt moves it on.
func (k keyspace) unconfirmed() string { return k.global("q:sms:sent") }

// progressPrefix + broadcast ID: hash "<kind>:<state>" → count and
// "r:<kind>:<reason>" → count, kept by the scripts that move deliveries.
func (k keyspace) progressPrefix() string { return k.global("progress:") }

func (k keyspace) progress(broadcastID string) string { return k.progressPrefix() + broadcastID }

// deliveryTimesPrefix + broadcast ID: hash "<kind>:<state>:<bucket>" →
// how many of its deliveries reached a timed state (queue.DeliveryState.Timed)
// in that queue.TimeBucket (Unix ms / 10 000), kept by the scripts that
// finish deliveries and apply receipts.
func (k keyspace) deliveryTimesPrefix() string { return k.global("dtimes:") }

func (k keyspace) deliveryTimes(broadcastID string) string {
	return k.deliveryTimesPrefix() + broadcastID
}

// updateChunks: set of the numbers of the chunks (chunks.go) that wait with
// deliveries of one update: a plan's ID set is built from them.
func (k keyspace) updateChunks(updateID string) string { return k.global("pcu:" + updateID) }

// deliveriesAll: sorted set of every delivery ID by created_at ms, the
// index of last resort for FindDeliveries.
func (k keyspace) deliveriesAll() string { return k.global("deliveries") }

// broadcastDeliveriesPrefix + broadcast ID: sorted set of the broadcast's
// delivery IDs by created_at ms (FindDeliveries, CancelPlan).
func (k keyspace) broadcastDeliveriesPrefix() string { return k.global("bd:") }

func (k keyspace) broadcastDeliveries(broadcastID string) string {
	return k.broadcastDeliveriesPrefix() + broadcastID
}

// addressDeliveries: hash address → the space-separated IDs of the
// deliveries sent there on one channel (frequency caps, STOP replies). The
// addresses of a channel are spread over 65536 buckets by the first bytes
// of their SHA-256, so a million addresses cost a few thousand small
// listpack hashes rather than a million keys.
func (k keyspace) addressDeliveries(kind, address string) string {
	sum := sha256.Sum256([]byte(address))
	return k.global("da:" + kind + ":" + hex.EncodeToString(sum[:2]))
}

// recipientDeliveries: hash "<page> <recipient ID>" → the space-separated
// IDs of the deliveries planned for that customer or subscriber (the
// per-customer view), bucketed as addressDeliveries are.
func (k keyspace) recipientDeliveries(pageID, recipientID string) string {
	sum := sha256.Sum256([]byte(recipientField(pageID, recipientID)))
	return k.global("dr:" + hex.EncodeToString(sum[:2]))
}

// recipientField is a recipient's field in its recipientDeliveries hash.
func recipientField(pageID, recipientID string) string { return pageID + " " + recipientID }

// providerIDs: hash provider message ID → delivery ID, for status callbacks.
func (k keyspace) providerIDs() string { return k.global("provider-ids") }

// receiptsPrefix starts every kept receipt's key; the scripts add the
// provider ID.
func (k keyspace) receiptsPrefix() string { return k.global("receipt:") }

// receipt: string "<expires ms>:<receipt JSON>" with a PX TTL, a provider
// receipt kept for a provider ID that no delivery has yet.
func (k keyspace) receipt(providerID string) string { return k.receiptsPrefix() + providerID }

// autoReply: sorted set of the automatic answers (their IDs) to one
// address, key "<kind>:<address>", scored by when each was taken (ms);
// it expires a window after the last (queue.AutoReplies).
func (k keyspace) autoReply(key string) string { return k.global("auto-reply:" + key) }

// ---- notify: audience (customers by page, the rest global) ----

// customers: hash customer ID → customer JSON.
func (k keyspace) customers(pageID string) string { return k.page(pageID, "customers") }

// customerIDs: sorted set of customer IDs, all scored 0, so ZRANGEBYLEX
// pages through them in ID order.
func (k keyspace) customerIDs(pageID string) string { return k.page(pageID, "customers:ids") }

// customerAddresses: sorted set of "<kind>\x00<address>\x00<customer ID>",
// all scored 0: the customers at an address, in ID order, with one
// ZRANGEBYLEX (FindCustomersByAddress). One key per page rather than one
// per address, so a million customers do not cost millions of keys.
func (k keyspace) customerAddresses(pageID string) string {
	// "addrs": the index of emails folded to lower case, which replaced
	// customers:addresses (emails as stored); the build of the new index
	// drops the old (legacyCustomerAddresses).
	return k.page(pageID, "customers:addrs")
}

// legacyCustomerAddresses are the keys of the address index before
// emails were folded (customers:addresses and its built marker): the
// first build of customerAddresses on an upgraded deployment deletes them.
func (k keyspace) legacyCustomerAddresses(pageID string) []string {
	return []string{k.page(pageID, "customers:addresses"), k.page(pageID, "customers:addresses:built")}
}

// customerImport: the prefix of one staged import's keys (see
// beginCustomerImportScript): <base>:customers, :ids and :addresses, copies
// of the page's three customer keys with the import written into them,
// renamed over the live keys by one script, and <base>:marker. They expire
// (importStagingTTL) when their writer dies before the switch. In the
// page's slot, beside the keys the switch writes.
func (k keyspace) customerImport(pageID, importID string) string {
	return k.page(pageID, "customers:import:"+importID)
}

// customersVersion: counter bumped by every write to a page's customer
// keys; a staged import switches in only if it has not moved since the
// import copied them.
func (k keyspace) customersVersion(pageID string) string {
	return k.page(pageID, "customers:version")
}

// customerAddressesBuilt: string "1" once customerAddresses holds every
// customer of the page. Customers written before the index existed (a
// deployment upgraded in place) are not in it until a build has run
// (buildCustomerAddresses); the marker says none is needed. The first
// upsert of a page without customers sets it too.
func (k keyspace) customerAddressesBuilt(pageID string) string {
	return k.page(pageID, "customers:addrs:built")
}

// customerNames: sorted set of "<word>\x00<customer ID>" for each folded
// word of each customer's name (audience.NameWords), all scored 0: the
// customers whose name has a word beginning with a prefix, with one
// ZRANGEBYLEX (FindCustomersByName).
func (k keyspace) customerNames(pageID string) string { return k.page(pageID, "customers:names") }

// customerNameWords: hash customer ID → the words it is indexed under in
// customerNames, space-separated, so a rename or a delete can remove them.
func (k keyspace) customerNameWords(pageID string) string {
	return k.page(pageID, "customers:names:words")
}

// customerNamesBuilt: string "1" once customerNames holds every customer
// of the page (as customerAddressesBuilt for the address index).
func (k keyspace) customerNamesBuilt(pageID string) string {
	return k.page(pageID, "customers:names:built")
}

// subscribers: hash subscriber ID → subscriber JSON (with its confirm hash).
func (k keyspace) subscribers() string { return k.global("subscribers") }

// pageSubscribers: sorted set of a page's subscriber IDs, all scored 0 (lexicographic).
func (k keyspace) pageSubscribers(pageID string) string {
	return k.global("subscribers:page:" + pageID)
}

// allSubscribers: sorted set of every subscriber ID, all scored 0.
func (k keyspace) allSubscribers() string { return k.global("subscribers:all") }

// subscriberCounts: hash state → number of the page's subscribers in it.
func (k keyspace) subscriberCounts(pageID string) string {
	return k.global("subscribers:count:" + pageID)
}

// subscriberAddresses: hash "<page>\x00<kind>\x00<address>\x00<incident>" →
// ID of the live (pending or active) subscriber there.
func (k keyspace) subscriberAddresses() string { return k.global("subscriber-addresses") }

// suppressions: hash "<page>\x00<kind>\x00<address>" → suppression JSON;
// page "" is global.
func (k keyspace) suppressions() string { return k.global("suppressions") }

// secret: string holding one named secret, created with SET NX.
func (k keyspace) secret(name string) string { return k.global("secret:" + name) }

// liveMessage: string holding the JSON record of an incident's live Slack
// message (livemsg.Store), claimed by a script.
func (k keyspace) liveMessage(incidentID string) string {
	return k.global("live-message:" + incidentID)
}

// liveMessageLease: string "<holder>|<until ms>" while a node holds the
// right to send an incident's live message (livemsg.Store
// LeaseLiveMessage), expiring a minute after the lease runs out.
func (k keyspace) liveMessageLease(incidentID string) string {
	return k.global("live-message-lease:" + incidentID)
}

// rate: string holding one GCRA bucket's theoretical arrival time. Each
// bucket has its own tag, so rate limits spread over a Cluster.
func (k keyspace) rate(key string) string { return k.prefix + ":rate:{" + key + "}" }

// ---- complaints (complaint.Store): a page's in its slot, lookups global ----

// complaints: hash complaint ID → complaint JSON.
func (k keyspace) complaints(pageID string) string { return k.page(pageID, "complaints") }

// complaintVersions: hash complaint ID → version, for the save script's
// optimistic check.
func (k keyspace) complaintVersions(pageID string) string {
	return k.page(pageID, "complaint-versions")
}

// complaintIndexes: hash complaint ID → JSON array of the index keys the
// complaint is in, so the save script takes it out of the ones it leaves.
func (k keyspace) complaintIndexes(pageID string) string { return k.page(pageID, "complaint-indexes") }

// complaintTallies: hash complaint ID → its tally lines as last saved
// (complaint.Complaint.TallyLines as "key\tfield" lines), so the save
// script moves it out of the counters it leaves.
func (k keyspace) complaintTallies(pageID string) string { return k.page(pageID, "complaint-tallies") }

// complaintTally: hash field → count, a scope's complaint tally
// (complaint.Store.ComplaintTally).
func (k keyspace) complaintTally(pageID, scope string) string {
	return k.page(pageID, "complaint-tally:"+scope)
}

// complaintsByCreated: sorted set of every complaint ID by created_at ms.
func (k keyspace) complaintsByCreated(pageID string) string {
	return k.page(pageID, "complaints:created")
}

// complaintsOpen, complaintsUntagged, complaintsByState, …: sorted sets of
// the IDs of the complaints in one selection of complaint.Filter, by
// created_at ms, so a selective filter reads only its own members.
func (k keyspace) complaintsOpen(pageID string) string { return k.page(pageID, "complaints:open") }
func (k keyspace) complaintsUntagged(pageID string) string {
	return k.page(pageID, "complaints:untagged")
}
func (k keyspace) complaintsByState(pageID, state string) string {
	return k.page(pageID, "complaints:state:"+state)
}
func (k keyspace) complaintsByIncident(pageID, incidentID string) string {
	return k.page(pageID, "complaints:incident:"+incidentID)
}
func (k keyspace) complaintsByOwner(pageID, owner string) string {
	return k.page(pageID, "complaints:owner:"+owner)
}
func (k keyspace) complaintsByContact(pageID, contactKey string) string {
	return k.page(pageID, "complaints:contact:"+contactKey)
}
func (k keyspace) complaintsByChannel(pageID, ch string) string {
	return k.page(pageID, "complaints:channel:"+ch)
}
func (k keyspace) complaintsByCategory(pageID, cat string) string {
	return k.page(pageID, "complaints:category:"+cat)
}

// complaintsUnassigned and complaintsRepeat: every complaint nobody owns,
// every repeat, by created_at ms.
func (k keyspace) complaintsUnassigned(pageID string) string {
	return k.page(pageID, "complaints:unassigned")
}
func (k keyspace) complaintsRepeat(pageID string) string { return k.page(pageID, "complaints:repeat") }

// complaintsOpenIn: sorted set of the open complaints in one of the
// queue's selections (sel: "i:" and an incident ID, "u" untagged,
// "unassigned", "repeat", "owner:" and an owner), by created_at ms: each
// of the agents' queue tabs is one windowed range.
func (k keyspace) complaintsOpenIn(pageID, sel string) string {
	return k.page(pageID, "complaints:open-in:"+sel)
}

// complaintsDue: sorted set of the open complaints with a DueAt (sel
// "all", "i:" and an incident ID, or "u" untagged), by DueAt ms: the
// at-risk lists (Filter.DueBefore).
func (k keyspace) complaintsDue(pageID, sel string) string {
	return k.page(pageID, "complaints:due:"+sel)
}

// complaintsToCheck: sorted set of the IDs of complaints with a CheckAt, by
// CheckAt ms.
func (k keyspace) complaintsToCheck(pageID string) string { return k.page(pageID, "complaints:check") }

// complaintEntries: sorted set of one complaint's timeline by At ms;
// members are seq(16 hex) + entry JSON, so equal times keep save order.
func (k keyspace) complaintEntries(pageID, complaintID string) string {
	return k.page(pageID, "complaint-entries:"+complaintID)
}

// complaintExternalIDs: hash provider message ID → the entry JSON it
// became (one per page and ID).
func (k keyspace) complaintExternalIDs(pageID string) string {
	return k.page(pageID, "complaint-external-ids")
}

// complaintSeq: the counter behind complaintEntries' members.
func (k keyspace) complaintSeq(pageID string) string { return k.page(pageID, "complaint-seq") }

// complaintPages: hash complaint ID → page ID, so a complaint is found by
// ID alone.
func (k keyspace) complaintPages() string { return k.global("complaint-pages") }

// complaintPageIDs: set of the page IDs that have complaints, for the
// reads across pages (the sweep's).
func (k keyspace) complaintPageIDs() string { return k.global("complaint-page-ids") }

// turn: counter behind NextTurn. The name follows the {global} tag, so any
// bytes are safe in it.
func (k keyspace) turn(name string) string { return k.global("turn:" + name) }

// lease: hash holder, until (ms) of one named lease.
func (k keyspace) lease(name string) string { return k.global("lease:" + name) }

// contactClaim: hash holder, until (ms) of a contact's intake claim
// (ClaimContact), with a TTL past its until.
func (k keyspace) contactClaim(pageID, key string) string {
	return k.page(pageID, "contact-claim:"+key)
}

// ---- compensation (compensation.Store): all in the page's slot ----
//
// Every script of compensation.go touches one page's keys only, so it is
// one script on Cluster too. Incident IDs follow the tag, so any bytes
// are safe in them; customer IDs are hashed with their incident.

// decisions: list of one incident's decision JSON, version n at index
// n-1, so LLEN is the newest version.
func (k keyspace) decisions(pageID, incidentID string) string {
	return k.page(pageID, "comp-decisions:"+incidentID)
}

// decided: hash incident ID → the incident's newest decision JSON while
// its state is coming or decided (FindDecided).
func (k keyspace) decided(pageID string) string { return k.page(pageID, "comp-decided") }

// grants: hash grant ID → grant JSON (with its key and the override's
// actor); one ID per page.
func (k keyspace) grants(pageID string) string { return k.page(pageID, "comp-grants") }

// incidentGrants: sorted set of an incident's grant IDs by At ms; equal
// scores sort by member, so ties go by ID.
func (k keyspace) incidentGrants(pageID, incidentID string) string {
	return k.page(pageID, "comp-grants:"+incidentID)
}

// grantKeys: hash idempotency key → grant ID, one incident's.
func (k keyspace) grantKeys(pageID, incidentID string) string {
	return k.page(pageID, "comp-grant-keys:"+incidentID)
}

// customerGrants: sorted set of one customer's grant IDs for an incident
// by At ms; its ZCARD is SaveGrant's count. The incident and the customer
// are hashed (length-prefixed, so no two pairs make one string).
func (k keyspace) customerGrants(pageID, incidentID, customerID string) string {
	sum := sha256.Sum256([]byte(strconv.Itoa(len(incidentID)) + ":" + incidentID + customerID))
	return k.page(pageID, "comp-customer-grants:"+hex.EncodeToString(sum[:]))
}

// voucherCodes: set of every code of a voucher list (CheckVouchers keeps
// list IDs to [a-z0-9_-]).
func (k keyspace) voucherCodes(pageID, listID string) string {
	return k.page(pageID, "vouchers:"+listID+":codes")
}

// voucherFree: list of the list's unused codes in upload order; a draw
// pops the first.
func (k keyspace) voucherFree(pageID, listID string) string {
	return k.page(pageID, "vouchers:"+listID+":free")
}

// voucherDrawn: hash draw key → the code it got.
func (k keyspace) voucherDrawn(pageID, listID string) string {
	return k.page(pageID, "vouchers:"+listID+":drawn")
}

// ---- surveys (surveys.Store): a page's in its slot, lookups global ----
//
// A survey, its indexes and its incident's tallies live in the page's
// slot, so a create's batch and a save are one script each on Cluster
// too. The lookups by survey ID and by incident (FindSurveyByID,
// FindSurveys and Tallies name no page) and the set of pages that have
// surveys (FindDueSurveys reads every page's due index) are global.
// Incident IDs follow the tag, so any bytes are safe in them.

// surveySettings: string, the page's surveys.Settings JSON.
func (k keyspace) surveySettings(pageID string) string { return k.page(pageID, "survey-settings") }

// surveys: hash survey ID → survey JSON.
func (k keyspace) surveys(pageID string) string { return k.page(pageID, "surveys") }

// surveysByIncident: sorted set of an incident's survey IDs, all scored
// 0, so ZRANGEBYLEX pages through them by ID.
func (k keyspace) surveysByIncident(pageID, incidentID string) string {
	return k.page(pageID, "surveys:incident:"+incidentID)
}

// surveysByState: sorted set of the IDs of an incident's surveys in one
// state, scored 0. States are a fixed set without colons, so the state
// ends where the incident begins.
func (k keyspace) surveysByState(pageID, state, incidentID string) string {
	return k.page(pageID, "surveys:state:"+state+":"+incidentID)
}

// surveysDue: sorted set of the page's scheduled survey IDs by DueAt ms;
// equal scores sort by member, so ties go by ID.
func (k keyspace) surveysDue(pageID string) string { return k.page(pageID, "surveys:due") }

// surveyAddresses: sorted set of the page's sent surveys, all scored 0,
// as surveyAddressPrefix(kind, address) + SentAt (16 hex digits) + ID:
// one ZREVRANGEBYLEX reads an address's newest first. One key per page,
// not one per address.
func (k keyspace) surveyAddresses(pageID string) string { return k.page(pageID, "surveys:addresses") }

// surveyLast: hash key → the latest DueAt ms of the page's surveys for
// the key created or saved in a state other than skipped.
func (k keyspace) surveyLast(pageID string) string { return k.page(pageID, "survey-last") }

// surveyTallies: hash of an incident's counters, field
// surveyTallyField(key, field) → count.
func (k keyspace) surveyTallies(pageID, incidentID string) string {
	return k.page(pageID, "survey-tallies:"+incidentID)
}

// surveyPages: hash survey ID → page ID. The IDs are spread over 65536
// buckets by the first bytes of their SHA-256, as addressDeliveries are,
// so a million surveys cost small listpack hashes, not one huge hash.
func (k keyspace) surveyPages(surveyID string) string {
	sum := sha256.Sum256([]byte(surveyID))
	return k.global("sp:" + hex.EncodeToString(sum[:2]))
}

// surveyIncidents: hash incident ID → the page its surveys are on.
func (k keyspace) surveyIncidents() string { return k.global("survey-incidents") }

// surveyPageIDs: set of the page IDs that have surveys, for
// FindDueSurveys. Pages stay in it.
func (k keyspace) surveyPageIDs() string { return k.global("survey-pages") }

// session: hash holding one console session (incident.Session) under the
// hash of its secret, expiring with it (PEXPIREAT). Global, so every node
// finds a session another node opened.
func (k keyspace) session(hash string) string { return k.global("session:" + hash) }

// signInLink: string holding one sign-in link's JSON under the hash of its
// secret, expiring with it; taken with GETDEL.
func (k keyspace) signInLink(hash string) string { return k.global("signin:" + hash) }
