-- Times are INTEGER Unix milliseconds in UTC: they sort and compare as
-- numbers, index well, and round-trip exactly at the precision herald keeps
-- (the Service truncates every time to the millisecond). NULL means a nil
-- *time.Time. Small lists (languages, hosts, component IDs, affected
-- components) are JSON text: they are always read and written whole.

CREATE TABLE pages (
	id         TEXT    PRIMARY KEY,
	name       TEXT    NOT NULL,
	url        TEXT    NOT NULL,
	time_zone  TEXT    NOT NULL,
	languages  TEXT    NOT NULL, -- JSON array, or 'null'
	hosts      TEXT    NOT NULL, -- JSON array, or 'null'
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE components (
	id                    TEXT    PRIMARY KEY,
	page_id               TEXT    NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
	name                  TEXT    NOT NULL,
	description           TEXT    NOT NULL,
	status                TEXT    NOT NULL,
	position              INTEGER NOT NULL,
	group_id              TEXT    NOT NULL, -- '' when ungrouped; the Service keeps groups consistent
	is_group              INTEGER NOT NULL,
	showcase              INTEGER NOT NULL,
	only_show_if_degraded INTEGER NOT NULL,
	start_date            TEXT    NOT NULL,
	created_at            INTEGER NOT NULL,
	updated_at            INTEGER NOT NULL
) STRICT;

CREATE INDEX components_page ON components (page_id, position, created_at);

CREATE TABLE incidents (
	id                         TEXT    PRIMARY KEY,
	page_id                    TEXT    NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
	name                       TEXT    NOT NULL,
	status                     TEXT    NOT NULL,
	impact                     TEXT    NOT NULL,
	impact_override            TEXT    NOT NULL,
	component_ids              TEXT    NOT NULL, -- JSON array, or 'null'
	created_at                 INTEGER NOT NULL,
	updated_at                 INTEGER NOT NULL,
	started_at                 INTEGER NOT NULL,
	monitoring_at              INTEGER,
	resolved_at                INTEGER,
	scheduled_for              INTEGER, -- NOT NULL marks a maintenance
	scheduled_until            INTEGER,
	scheduled_remind_prior     INTEGER NOT NULL,
	scheduled_auto_in_progress INTEGER NOT NULL,
	scheduled_auto_completed   INTEGER NOT NULL,
	backfilled                 INTEGER NOT NULL,
	postmortem_body            TEXT    NOT NULL,
	postmortem_published_at    INTEGER,
	version                    INTEGER NOT NULL
) STRICT;

-- FindIncidents: a page's history newest first (the status page, the API),
-- and open incidents by status across pages (AdvanceMaintenances, resolve).
CREATE INDEX incidents_page_created ON incidents (page_id, created_at DESC, id DESC);
CREATE INDEX incidents_status_created ON incidents (status, created_at DESC, id DESC);

CREATE TABLE incident_updates (
	incident_id           TEXT    NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
	seq                   INTEGER NOT NULL, -- position in Incident.Updates: 0 is the newest
	id                    TEXT    NOT NULL UNIQUE,
	status                TEXT    NOT NULL,
	body                  TEXT    NOT NULL,
	created_at            INTEGER NOT NULL,
	updated_at            INTEGER NOT NULL,
	display_at            INTEGER NOT NULL,
	affected_components   TEXT    NOT NULL, -- JSON array, or 'null'
	deliver_notifications INTEGER NOT NULL,
	PRIMARY KEY (incident_id, seq)
) STRICT;

CREATE TABLE status_changes (
	id           INTEGER PRIMARY KEY, -- insertion order breaks ties in at
	page_id      TEXT    NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
	component_id TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	at           INTEGER NOT NULL
) STRICT;

CREATE INDEX status_changes_page ON status_changes (page_id, at);
CREATE INDEX status_changes_component ON status_changes (page_id, component_id, at);

-- The audit log outlives what it describes (a page's deletion is audited in
-- the same Change that deletes it), so it has no foreign keys.
CREATE TABLE audit (
	seq         INTEGER PRIMARY KEY, -- insertion order breaks ties in at
	id          TEXT    NOT NULL UNIQUE,
	page_id     TEXT    NOT NULL,
	actor       TEXT    NOT NULL,
	action      TEXT    NOT NULL,
	object_type TEXT    NOT NULL,
	object_id   TEXT    NOT NULL,
	before      TEXT    NOT NULL,
	after       TEXT    NOT NULL,
	at          INTEGER NOT NULL
) STRICT;

CREATE INDEX audit_at ON audit (at DESC, seq DESC);
CREATE INDEX audit_page ON audit (page_id, at DESC, seq DESC);
CREATE INDEX audit_object ON audit (object_id, at DESC, seq DESC);

-- The outbox notify's planner reads. It is a log, like the audit: no
-- foreign keys, so a deleted incident does not erase what was announced.
CREATE TABLE broadcasts (
	seq         INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL UNIQUE,
	page_id     TEXT    NOT NULL,
	incident_id TEXT    NOT NULL,
	update_id   TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	created_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX broadcasts_incident ON broadcasts (incident_id, created_at, seq);

CREATE TABLE tokens (
	id           TEXT    PRIMARY KEY,
	name         TEXT    NOT NULL,
	role         TEXT    NOT NULL,
	hash         TEXT    NOT NULL UNIQUE,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER,
	revoked_at   INTEGER
) STRICT;

CREATE TABLE idempotency_keys (
	scope       TEXT    NOT NULL,
	key         TEXT    NOT NULL,
	resource_id TEXT    NOT NULL,
	expires_at  INTEGER NOT NULL,
	PRIMARY KEY (scope, key)
) STRICT;

CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
