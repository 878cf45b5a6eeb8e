-- An update's text per language (issue 10): a JSON object keyed by
-- language, '' when the operator wrote one text (body) for everyone.
ALTER TABLE incident_updates ADD COLUMN messages TEXT NOT NULL DEFAULT '';
