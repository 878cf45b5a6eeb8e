-- Live messages kept by every node (livemsg.Store): what the message last
-- showed (a digest) and when it was last edited, whichever node sent it,
-- and the lease a node holds while it renders and sends. Times are
-- INTEGER Unix milliseconds in UTC; edited_at 0 is never.
ALTER TABLE live_messages ADD COLUMN rendered TEXT NOT NULL DEFAULT '';
ALTER TABLE live_messages ADD COLUMN edited_at INTEGER NOT NULL DEFAULT 0;

CREATE TABLE live_message_leases (
	incident_id TEXT    NOT NULL PRIMARY KEY,
	holder      TEXT    NOT NULL,
	until       INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
