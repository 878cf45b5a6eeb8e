-- The agents' queue (console): its tabs read one page of rows through an
-- index each, and count from the complaint tallies (complaint.QueueScope),
-- never by reading the open complaints.
--
-- repeat is Complaint.Repeat; due_at is an open complaint's DueAt (Unix
-- ms), NULL once closed or without due times: the at-risk list
-- (Filter.DueBefore) is a range of it, soonest first.
ALTER TABLE complaints ADD COLUMN repeat INTEGER NOT NULL DEFAULT 0;
ALTER TABLE complaints ADD COLUMN due_at INTEGER;

UPDATE complaints SET repeat = 1 WHERE json_extract(doc, '$.repeat');

-- DueAt from the stored document: the resolution's due time, or the first
-- answer's when none was given and it comes first; the zero time
-- (0001-01-01, -62135596800000 ms) is no due time.
UPDATE complaints SET due_at = CASE
	WHEN json_extract(doc, '$.first_answer_at') IS NULL
		AND CAST(ROUND(unixepoch(json_extract(doc, '$.first_answer_due'), 'subsec') * 1000) AS INTEGER) > -62135596800000
		AND (CAST(ROUND(unixepoch(json_extract(doc, '$.resolve_due'), 'subsec') * 1000) AS INTEGER) <= -62135596800000
			OR CAST(ROUND(unixepoch(json_extract(doc, '$.first_answer_due'), 'subsec') * 1000) AS INTEGER)
				< CAST(ROUND(unixepoch(json_extract(doc, '$.resolve_due'), 'subsec') * 1000) AS INTEGER))
		THEN CAST(ROUND(unixepoch(json_extract(doc, '$.first_answer_due'), 'subsec') * 1000) AS INTEGER)
	WHEN CAST(ROUND(unixepoch(json_extract(doc, '$.resolve_due'), 'subsec') * 1000) AS INTEGER) > -62135596800000
		THEN CAST(ROUND(unixepoch(json_extract(doc, '$.resolve_due'), 'subsec') * 1000) AS INTEGER)
	END
WHERE open = 1;

-- Mine and unassigned (owner ''), open ones newest first.
CREATE INDEX complaints_page_owner_open ON complaints (page_id, owner, open, created_at DESC, id DESC);
-- Repeats, open ones newest first.
CREATE INDEX complaints_page_repeat ON complaints (page_id, open, created_at DESC, id DESC) WHERE repeat = 1;
-- At risk: the page's, and an incident's (or triage's, incident_id '').
CREATE INDEX complaints_page_due ON complaints (page_id, due_at, id) WHERE due_at IS NOT NULL;
CREATE INDEX complaints_page_incident_due ON complaints (page_id, incident_id, due_at, id) WHERE due_at IS NOT NULL;
