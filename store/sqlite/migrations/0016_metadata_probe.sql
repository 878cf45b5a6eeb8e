-- metadata: an incident's client-supplied JSON object (Statuspage's
-- incident metadata), kept as sent; NULL when none was given.
ALTER TABLE incidents ADD COLUMN metadata TEXT;

-- health_probe: one row /readyz rewrites to learn whether writes land
-- (a full disk or a read-only file fails it while reads still work).
CREATE TABLE health_probe (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	at INTEGER NOT NULL
);
