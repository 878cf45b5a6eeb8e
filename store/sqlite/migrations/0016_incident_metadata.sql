-- metadata: an incident's client-supplied JSON object (Statuspage's
-- incident metadata), kept as sent; NULL when none was given.
ALTER TABLE incidents ADD COLUMN metadata TEXT;
