-- The automatic answers herald sent to each address (queue.AutoReplies):
-- key is the channel and the address, id the answer's, at its time in
-- Unix milliseconds (UTC). Rows older than the window are deleted by the
-- next take; the index on at finds them.
CREATE TABLE auto_replies (
	key TEXT    NOT NULL,
	id  TEXT    NOT NULL,
	at  INTEGER NOT NULL,
	PRIMARY KEY (key, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX auto_replies_at ON auto_replies (at);
