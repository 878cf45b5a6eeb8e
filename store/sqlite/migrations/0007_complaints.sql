-- Complaints (complaint.Store), the counters and leases the complaint
-- service needs across nodes, and the customer address indexes behind
-- audience.Store.FindCustomersByAddress. Times are INTEGER Unix
-- milliseconds in UTC, as in 0001.

-- A complaint is stored whole as JSON in doc (always read and written
-- whole, like an incident's small lists); the columns beside it repeat the
-- fields complaint.Filter selects on, so every filter is an indexed
-- comparison. SaveComplaint writes both from the same value. No foreign
-- key to pages: like customers and deliveries, a complaint is a record
-- that outlives a deleted page.
CREATE TABLE complaints (
	id          TEXT    PRIMARY KEY,
	page_id     TEXT    NOT NULL,
	state       TEXT    NOT NULL,
	open        INTEGER NOT NULL, -- State.Open()
	incident_id TEXT    NOT NULL, -- the tag's incident; '' while untagged
	owner       TEXT    NOT NULL,
	contact_key TEXT    NOT NULL, -- Contact.Key()
	channel     TEXT    NOT NULL,
	category    TEXT    NOT NULL,
	created_at  INTEGER NOT NULL,
	check_at    INTEGER,          -- NULL: the SLA check has nothing to do
	version     INTEGER NOT NULL,
	doc         TEXT    NOT NULL  -- the whole complaint.Complaint as JSON
) STRICT;

-- FindComplaints: a page's list newest first, and its hot selections
-- (one contact's open complaint on every inbound message, an incident's
-- open complaints on resolution, the open backlog, an owner's queue).
-- open sits inside the contact and incident indexes: the hot reads ask
-- for both, and with one equality more than complaints_page_open they
-- are the planner's choice; a read of all of one contact's or incident's
-- complaints sorts those few.
CREATE INDEX complaints_page_created  ON complaints (page_id, created_at DESC, id DESC);
CREATE INDEX complaints_page_contact  ON complaints (page_id, contact_key, open, created_at DESC, id DESC);
CREATE INDEX complaints_page_incident ON complaints (page_id, incident_id, open, created_at DESC, id DESC);
CREATE INDEX complaints_page_open     ON complaints (page_id, open, created_at DESC, id DESC);
CREATE INDEX complaints_page_state    ON complaints (page_id, state, created_at DESC, id DESC);
CREATE INDEX complaints_page_owner    ON complaints (page_id, owner, created_at DESC, id DESC);
-- The sweep's unacknowledged complaints, across pages.
CREATE INDEX complaints_state_created ON complaints (state, created_at DESC, id DESC);
-- FindComplaintsToCheck: only complaints the SLA check has work for.
CREATE INDEX complaints_check ON complaints (check_at, id) WHERE check_at IS NOT NULL;

-- A complaint's timeline. seq (the rowid) is the save order, which breaks
-- ties in at.
CREATE TABLE complaint_entries (
	seq          INTEGER PRIMARY KEY,
	id           TEXT    NOT NULL,
	complaint_id TEXT    NOT NULL REFERENCES complaints (id) ON DELETE CASCADE,
	page_id      TEXT    NOT NULL,
	kind         TEXT    NOT NULL,
	actor        TEXT    NOT NULL,
	channel      TEXT    NOT NULL,
	text         TEXT    NOT NULL,
	external_id  TEXT    NOT NULL, -- '' for entries no provider sent
	at           INTEGER NOT NULL
) STRICT;

CREATE INDEX complaint_entries_timeline ON complaint_entries (complaint_id, at, seq);
-- One entry per provider message and page: a provider's retried webhook
-- cannot file the same message twice.
CREATE UNIQUE INDEX complaint_entries_external ON complaint_entries (page_id, external_id) WHERE external_id <> '';

-- Named counters (NextTurn: round-robin assignment).
CREATE TABLE counters (
	name  TEXT    PRIMARY KEY,
	value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Named leases (Lease: which node runs a schedule).
CREATE TABLE leases (
	name   TEXT    PRIMARY KEY,
	holder TEXT    NOT NULL,
	until  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- FindCustomersByAddress. customers is WITHOUT ROWID keyed (page_id, id),
-- so each index entry ends in the ID: a lookup reads the matches in ID
-- order without sorting. Partial: most customers lack one address or
-- another, and '' is never looked up. Without statistics the planner
-- prefers the primary key's page_id prefix (a scan of the page), so the
-- lookup names its index (INDEXED BY).
CREATE INDEX customers_phone ON customers (page_id, phone) WHERE phone <> '';
CREATE INDEX customers_email ON customers (page_id, email) WHERE email <> '';
CREATE INDEX customers_slack ON customers (page_id, slack) WHERE slack <> '';
