-- Live messages (livemsg.Store): where each incident's Slack message is,
-- so any process can edit it. Times are INTEGER Unix milliseconds in UTC,
-- as in 0001. No foreign key to incidents: the record is tiny, and a
-- message posted about an incident since deleted still exists in Slack.
CREATE TABLE live_messages (
	incident_id TEXT    NOT NULL PRIMARY KEY,
	page_id     TEXT    NOT NULL,
	channel     TEXT    NOT NULL,
	ts          TEXT    NOT NULL,
	replied     TEXT    NOT NULL,
	claimed_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
