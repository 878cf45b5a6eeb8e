-- Console sessions and one-time sign-in links (incident.SessionStore).
-- Only hashes of the secrets are stored. Times are INTEGER Unix
-- milliseconds in UTC, as in 0001. Expired rows are deleted as new ones
-- are written.
CREATE TABLE console_sessions (
	hash       TEXT    NOT NULL PRIMARY KEY,
	token_id   TEXT    NOT NULL,
	token_hash TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	role       TEXT    NOT NULL,
	language   TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	seen_at    INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

CREATE TABLE console_links (
	hash       TEXT    NOT NULL PRIMARY KEY,
	token_id   TEXT    NOT NULL,
	token_hash TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
