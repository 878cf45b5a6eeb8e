-- An incident's name per language (--name-hu, API incident.names): a JSON
-- object keyed by language, '' when the operator gave one name.
ALTER TABLE incidents ADD COLUMN names TEXT NOT NULL DEFAULT '';
