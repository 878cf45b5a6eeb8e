-- The post-incident report's counters (package reports), kept in the
-- writes that change what they count, so a report reads a few hundred
-- rows however many deliveries and complaints an incident had.

-- How many of a broadcast's deliveries reached each timed state (sent,
-- delivered, undelivered, failed) per 10-second bucket (bucket = Unix ms
-- / 10 000 of the change), moved by the same tally as delivery_counts.
CREATE TABLE delivery_times (
	broadcast_id TEXT    NOT NULL,
	kind         TEXT    NOT NULL,
	state        TEXT    NOT NULL,
	bucket       INTEGER NOT NULL,
	n            INTEGER NOT NULL,
	PRIMARY KEY (broadcast_id, kind, state, bucket)
) STRICT, WITHOUT ROWID;

-- A complaint's tally lines (complaint.Complaint.TallyLines, joined by
-- newlines) as last saved, and the counters they add up to per page and
-- scope (an incident's complaints, or those in triage). A save moves the
-- complaint from its old lines to its new ones in its own transaction.
-- Complaints saved before this migration count from their next save.
ALTER TABLE complaints ADD COLUMN tally TEXT NOT NULL DEFAULT '';

CREATE TABLE complaint_tally (
	page_id TEXT    NOT NULL,
	scope   TEXT    NOT NULL,
	field   TEXT    NOT NULL,
	n       INTEGER NOT NULL,
	PRIMARY KEY (page_id, scope, field)
) STRICT, WITHOUT ROWID;
