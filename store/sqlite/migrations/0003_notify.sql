-- notify's tables: customers, subscribers, suppressions, the planning of
-- each broadcast, the delivery queue with its per-broadcast counters, and
-- shared secrets. Times are INTEGER Unix milliseconds in UTC, as in 0001.

-- Customers are the client's own records, upserted by (page_id, id).
-- WITHOUT ROWID: the primary key is the only way they are read (by ID,
-- paged by ID within a page), so the table is that B-tree.
CREATE TABLE customers (
	page_id    TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	phone      TEXT    NOT NULL,
	email      TEXT    NOT NULL,
	slack      TEXT    NOT NULL,
	language   TEXT    NOT NULL,
	time_zone  TEXT    NOT NULL,
	plan       TEXT    NOT NULL,
	region     TEXT    NOT NULL,
	components TEXT    NOT NULL, -- JSON array, or 'null'
	attributes TEXT    NOT NULL, -- JSON object, or 'null'
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (page_id, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE subscribers (
	id              TEXT    PRIMARY KEY,
	page_id         TEXT    NOT NULL,
	kind            TEXT    NOT NULL,
	address         TEXT    NOT NULL,
	language        TEXT    NOT NULL,
	component_ids   TEXT    NOT NULL, -- JSON array, or 'null'
	incident_id     TEXT    NOT NULL, -- '' for page-wide
	state           TEXT    NOT NULL,
	confirm_hash    TEXT    NOT NULL,
	confirm_tries   INTEGER NOT NULL,
	source          TEXT    NOT NULL,
	created_at      INTEGER NOT NULL,
	confirmed_at    INTEGER,
	unsubscribed_at INTEGER
) STRICT;

-- One live (pending or active) subscriber per page, channel, address and
-- incident; unsubscribed rows are history and may repeat. The index is both
-- the rule and FindSubscriberByAddress's lookup.
CREATE UNIQUE INDEX subscribers_live ON subscribers (page_id, kind, address, incident_id) WHERE state IN ('pending', 'active');
CREATE INDEX subscribers_page ON subscribers (page_id, id);

-- page_id '' is a global suppression (SMS STOP is per sender number).
CREATE TABLE suppressions (
	kind    TEXT    NOT NULL,
	address TEXT    NOT NULL,
	page_id TEXT    NOT NULL,
	reason  TEXT    NOT NULL,
	at      INTEGER NOT NULL,
	PRIMARY KEY (kind, address, page_id)
) STRICT, WITHOUT ROWID;

-- One plan per broadcast, written by Commit in the broadcast's transaction.
-- seq is commit order, which is the order plans are claimed in.
CREATE TABLE plans (
	seq          INTEGER PRIMARY KEY,
	broadcast_id TEXT    NOT NULL UNIQUE,
	incident_id  TEXT    NOT NULL,
	state        TEXT    NOT NULL, -- pending, done, cancelled
	cursor       TEXT    NOT NULL,
	planned      INTEGER NOT NULL,
	lease        TEXT    NOT NULL, -- claim token; '' never claimed
	lease_until  INTEGER NOT NULL, -- 0 never claimed
	updated_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX plans_pending ON plans (seq) WHERE state = 'pending';
CREATE INDEX plans_incident ON plans (incident_id);

-- Broadcasts written before this migration get their plans too: every
-- broadcast has one.
INSERT INTO plans (broadcast_id, incident_id, state, cursor, planned, lease, lease_until, updated_at)
	SELECT id, incident_id, 'pending', '', 0, '', 0, created_at FROM broadcasts ORDER BY seq;

-- What a plan's deliveries share (broadcast, page, incident, update,
-- message kind) is stored once, in a delivery group, and each delivery
-- points at its group: a plan writes one group and a million narrow rows.
-- Groups are never deleted, so the engine caches them.
CREATE TABLE delivery_groups (
	id           INTEGER PRIMARY KEY,
	broadcast_id TEXT    NOT NULL, -- '' outside any plan
	page_id      TEXT    NOT NULL,
	incident_id  TEXT    NOT NULL,
	update_id    TEXT    NOT NULL,
	message_kind TEXT    NOT NULL,
	UNIQUE (broadcast_id, page_id, incident_id, update_id, message_kind)
) STRICT;

CREATE INDEX delivery_groups_incident ON delivery_groups (incident_id);
CREATE INDEX delivery_groups_page ON delivery_groups (page_id);

-- The delivery queue. A plan writes a million rows in batches of a few
-- thousand, one transaction each, so what costs is every index that takes
-- inserts at random places: once such an index outgrows a batch, the batch
-- dirties (and writes to the WAL, and a checkpoint writes again) a page per
-- insert, so the cost per delivery grows with the table. Hence:
--
--   - rows are appended in rowid order (rid), and the indexes on deliveries
--     take plan inserts in order too (the due index by kind and time,
--     recipient_id as the planner walks recipients by ID);
--   - the ID index, which cannot be in order (IDs are hashes), lives apart
--     in two levels: delivery_ids_new takes each batch's IDs and stays
--     small, so a batch dirties few of its pages, and every so many rows it
--     is merged into delivery_ids in one sorted pass (see mergeIDs); an ID
--     is in exactly one of the two, and lookups read both;
--   - the ID levels hold a 63-bit key of each ID (idHash) and the rowid,
--     small integer entries that compare fast; keys may collide, so a lookup
--     checks the row's own id (a notify.DeliveryID, 24 lowercase hex
--     digits, is stored there as its 12 bytes, any other ID as text);
--   - there is no (incident, kind, address) index for the frequency cap:
--     a delivery whose ID is notify.DeliveryID(update, kind, address) is
--     found through the ID the cap's filter implies for each update of the
--     incident; only the others (odd = 1: IDs made some other way) are
--     indexed by kind and address, and they are rare;
--   - there is no index by group: cancelling walks the due index (open
--     deliveries only), and listing a broadcast's deliveries scans;
--   - what only the dispatcher reads (recipient type, name, language, time
--     zone, critical, vars) is one compact BLOB (info), written by Go.
--
-- wake_at is what a claim looks at: NextAt while pending, the lease's end
-- while sending. One column lets one partial index serve both "due" and
-- "lease expired" in next-due order. lease is the claim's random token;
-- the Lease a claim hands out is rid and token, so a finish finds its row
-- by rowid.
CREATE TABLE deliveries (
	rid          INTEGER PRIMARY KEY,
	id           ANY     NOT NULL, -- BLOB (a notify.DeliveryID's bytes) or TEXT
	grp          INTEGER NOT NULL, -- delivery_groups.id
	kind         TEXT    NOT NULL,
	address      TEXT    NOT NULL,
	recipient_id TEXT    NOT NULL,
	odd          INTEGER NOT NULL, -- 1: id is not notify.DeliveryID(update_id, kind, address)
	info         BLOB    NOT NULL, -- see encodeInfo
	state        TEXT    NOT NULL,
	next_at      INTEGER NOT NULL,
	wake_at      INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	error_code   TEXT    NOT NULL,
	reason       TEXT    NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	lease        INTEGER NOT NULL DEFAULT 0, -- claim token while sending
	reclaimed    INTEGER NOT NULL DEFAULT 0, -- 1: the last claim took over an expired lease
	provider_id  TEXT    NOT NULL DEFAULT '',
	sent_at      INTEGER,
	delivered_at INTEGER
) STRICT;

CREATE INDEX deliveries_due ON deliveries (kind, wake_at) WHERE state IN ('pending', 'sending');
CREATE INDEX deliveries_provider ON deliveries (provider_id) WHERE provider_id != '';
CREATE INDEX deliveries_recipient ON deliveries (recipient_id);
CREATE INDEX deliveries_odd ON deliveries (kind, address) WHERE odd = 1;

-- The delivery ID index, in two levels (above): the idempotency key.
CREATE TABLE delivery_ids (
	k   INTEGER NOT NULL, -- idHash(id)
	rid INTEGER NOT NULL,
	PRIMARY KEY (k, rid)
) STRICT, WITHOUT ROWID;

CREATE TABLE delivery_ids_new (
	k   INTEGER NOT NULL,
	rid INTEGER NOT NULL,
	PRIMARY KEY (k, rid)
) STRICT, WITHOUT ROWID;

-- merged_rid: every delivery with rid ≤ merged_rid has its ID in
-- delivery_ids; the later ones have theirs in delivery_ids_new.
CREATE TABLE delivery_ids_merged (
	one        INTEGER PRIMARY KEY CHECK (one = 1),
	merged_rid INTEGER NOT NULL
) STRICT;
INSERT INTO delivery_ids_merged (one, merged_rid) VALUES (1, 0);

-- Per-broadcast counters, changed in the transaction of every state change,
-- so Progress reads a handful of rows instead of counting deliveries.
CREATE TABLE delivery_counts (
	broadcast_id TEXT    NOT NULL,
	kind         TEXT    NOT NULL,
	state        TEXT    NOT NULL,
	n            INTEGER NOT NULL,
	PRIMARY KEY (broadcast_id, kind, state)
) STRICT, WITHOUT ROWID;

CREATE TABLE delivery_reasons (
	broadcast_id TEXT    NOT NULL,
	kind         TEXT    NOT NULL,
	reason       TEXT    NOT NULL,
	n            INTEGER NOT NULL,
	PRIMARY KEY (broadcast_id, kind, reason)
) STRICT, WITHOUT ROWID;

CREATE TABLE secrets (
	name       TEXT    PRIMARY KEY,
	value      BLOB    NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
