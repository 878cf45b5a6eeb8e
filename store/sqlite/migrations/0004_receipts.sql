-- Provider receipts that arrived before the dispatcher wrote the provider
-- ID they name (notify.Store.KeepReceipt): kept until expires, or until
-- the dispatcher takes them after writing the ID. There are few: a
-- receipt waits here for the moments between a send and its batched
-- write, so every KeepReceipt sweeps out the expired ones.
CREATE TABLE pending_receipts (
	provider_id TEXT    PRIMARY KEY,
	state       TEXT    NOT NULL, -- delivered, undelivered, failed
	status      TEXT    NOT NULL, -- the provider's own word
	error_code  TEXT    NOT NULL,
	at          INTEGER NOT NULL,
	expires     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX pending_receipts_expires ON pending_receipts (expires);
