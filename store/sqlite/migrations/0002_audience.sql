-- An incident's audience (incident.Audience) as JSON text; NULL is a nil
-- *Audience, which means "the customers of the affected components". It is
-- always read and written whole, like the other small lists.
ALTER TABLE incidents ADD COLUMN audience TEXT;
