-- Surveys (surveys.Store): a page's survey settings, one survey per
-- recipient and incident, the incidents' tallies and the once-per-Gap
-- times. Times are INTEGER Unix milliseconds in UTC, as in 0001. No
-- foreign keys to pages or incidents: like complaints and compensation,
-- what customers answered outlives them.

-- A page's settings: doc is the surveys.Settings as JSON.
CREATE TABLE survey_settings (
	page_id TEXT NOT NULL PRIMARY KEY,
	doc     TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- One row per survey. doc is the whole surveys.Survey as JSON, always
-- read and written whole; the columns beside it are what the reads
-- select and order on. A rowid table: a million surveys of an incident
-- have large rows, and the indexes below end in the small rowid. id is
-- unique across pages (CreateSurveys skips a stored ID); SaveSurvey
-- checks version = stored + 1 in its write transaction.
CREATE TABLE surveys (
	id          TEXT    NOT NULL UNIQUE,
	page_id     TEXT    NOT NULL,
	incident_id TEXT    NOT NULL,
	state       TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	address     TEXT    NOT NULL,
	due_at      INTEGER NOT NULL,
	sent_at     INTEGER,
	version     INTEGER NOT NULL,
	doc         TEXT    NOT NULL
) STRICT;

-- FindDueSurveys: the scheduled ones of every page, earliest first (ties
-- by ID); a survey leaves the index when it leaves the state.
CREATE INDEX surveys_due ON surveys (due_at, id) WHERE state = 'scheduled';
-- FindSurveysByAddress: the page's sent surveys to an address, newest
-- first (ties by ID, descending).
CREATE INDEX surveys_address ON surveys (page_id, kind, address, sent_at DESC, id DESC) WHERE sent_at IS NOT NULL;
-- FindSurveys by ID, in every state and in one (also the page an
-- incident's surveys are on).
CREATE INDEX surveys_incident ON surveys (incident_id, id);
CREATE INDEX surveys_incident_state ON surveys (incident_id, state, id);

-- An incident's tallies, one row per counter (surveys.TallyChange): key
-- is the tally ("" all, "channel:sms", …), field the counter ("state:sent",
-- "score:4", …). CreateSurveys and SaveSurvey add their changes
-- (n = n + delta) in their write transaction; Tallies reads an
-- incident's rows, never its surveys.
CREATE TABLE survey_tallies (
	incident_id TEXT    NOT NULL,
	key         TEXT    NOT NULL,
	field       TEXT    NOT NULL,
	n           INTEGER NOT NULL,
	PRIMARY KEY (incident_id, key, field)
) STRICT, WITHOUT ROWID;

-- LastSurveyed: per page and key, the latest DueAt of a survey created or
-- saved in a state other than skipped (kept as max, never lowered).
CREATE TABLE survey_last (
	page_id TEXT    NOT NULL,
	key     TEXT    NOT NULL,
	due_at  INTEGER NOT NULL,
	PRIMARY KEY (page_id, key)
) STRICT, WITHOUT ROWID;
