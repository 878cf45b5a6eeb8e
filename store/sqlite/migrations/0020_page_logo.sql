-- A page's logo, as the data: URI the API takes ('' for none): small
-- (incident.MaxLogoBytes) and always read with the page.
ALTER TABLE pages ADD COLUMN logo TEXT NOT NULL DEFAULT '';
