-- Compensation (compensation.Store): every version of an incident's
-- decision, the grants recorded against it, and uploaded voucher lists.
-- Times are INTEGER Unix milliseconds in UTC, as in 0001. Everything is
-- per page, as in the Redis engine, whose keys carry the page's hash tag:
-- an incident's versions, a grant's ID and key, a voucher list. No
-- foreign keys to pages or incidents: like complaints, what was decided
-- and granted is a record that outlives them.

-- One row per version. doc is the whole compensation.Decision as JSON
-- (its Policy nested), always read and written whole; the columns beside
-- it are what the reads select on. SaveDecision checks version = max + 1
-- in the same write transaction; the primary key would refuse a repeat
-- anyway.
CREATE TABLE compensation_decisions (
	page_id     TEXT    NOT NULL,
	incident_id TEXT    NOT NULL,
	version     INTEGER NOT NULL,
	state       TEXT    NOT NULL,
	at          INTEGER NOT NULL,
	doc         TEXT    NOT NULL,
	PRIMARY KEY (page_id, incident_id, version)
) STRICT, WITHOUT ROWID;

-- A grant. doc is the compensation.Grant as JSON plus what its JSON
-- leaves out (the override's actor); key is its idempotency key, one
-- per incident.
CREATE TABLE compensation_grants (
	page_id     TEXT    NOT NULL,
	id          TEXT    NOT NULL,
	incident_id TEXT    NOT NULL,
	customer_id TEXT    NOT NULL,
	key         TEXT    NOT NULL,
	at          INTEGER NOT NULL,
	doc         TEXT    NOT NULL,
	PRIMARY KEY (page_id, id)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX compensation_grants_key ON compensation_grants (page_id, incident_id, key);
-- FindGrants of an incident, and of one customer (also SaveGrant's count).
CREATE INDEX compensation_grants_incident ON compensation_grants (page_id, incident_id, at, id);
CREATE INDEX compensation_grants_customer ON compensation_grants (page_id, incident_id, customer_id, at, id);

-- Voucher codes, one row per code of a list. seq (the rowid) is the
-- upload order, in which DrawVoucher hands codes out; key is the draw's
-- key once the code is handed out, NULL while unused.
CREATE TABLE compensation_vouchers (
	seq      INTEGER PRIMARY KEY,
	page_id  TEXT    NOT NULL,
	list_id  TEXT    NOT NULL,
	code     TEXT    NOT NULL,
	key      TEXT,
	drawn_at INTEGER,
	UNIQUE (page_id, list_id, code)
) STRICT;

-- A key's code, and one key one code.
CREATE UNIQUE INDEX compensation_vouchers_key ON compensation_vouchers (page_id, list_id, key) WHERE key IS NOT NULL;
-- The unused codes of a list in seq order (an index ends in the rowid):
-- the next draw reads the first entry.
CREATE INDEX compensation_vouchers_free ON compensation_vouchers (page_id, list_id) WHERE key IS NULL;
