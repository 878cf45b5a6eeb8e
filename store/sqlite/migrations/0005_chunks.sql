-- A plan's pending deliveries wait in chunks until a dispatcher claims
-- them; the claim writes their deliveries rows (see chunks.go).
--
-- Why: a deliveries row costs modernc's SQLite about 10 µs to insert with
-- its indexes, most of it the delivery ID index, whose keys are hashes and
-- so land at random places. A plan of two million deliveries spent 20–35 s
-- on that. A chunk is one row for up to chunkSize deliveries packed into
-- one BLOB, appended in order, with no per-delivery index: planning a
-- million customers writes a few thousand rows. The cost of a delivery's
-- row moves to its claim, where it replaces the UPDATE a claim used to make
-- (and where the provider's answer, not the store, is what takes time).
--
-- A chunk's deliveries keep the rids they were given when planned (first_rid
-- to last_rid, in the plan's order), so a delivery keeps its place among
-- the others before and after its row exists. Deliveries [0, taken) of a
-- chunk have rows; the rest wait. A chunk whose deliveries all have rows is
-- deleted. A cancelled plan's chunks stay, state 'cancelled', as the record
-- of the deliveries that were never sent.
CREATE TABLE delivery_chunks (
	id         INTEGER PRIMARY KEY,
	grp        INTEGER NOT NULL, -- delivery_groups.id
	kind       TEXT    NOT NULL,
	state      TEXT    NOT NULL, -- pending or cancelled
	n          INTEGER NOT NULL, -- deliveries in data
	taken      INTEGER NOT NULL, -- how many of them (from the first) have rows
	first_rid  INTEGER NOT NULL,
	last_rid   INTEGER NOT NULL,
	next_at    INTEGER NOT NULL, -- every delivery's NextAt
	created_at INTEGER NOT NULL, -- every delivery's CreatedAt
	updated_at INTEGER NOT NULL, -- every delivery's UpdatedAt (the cancel's time once cancelled)
	rcpt_lo    TEXT    NOT NULL, -- the smallest and largest recipient ID in data,
	rcpt_hi    TEXT    NOT NULL, -- so a recipient's deliveries are found without decoding
	data       BLOB    NOT NULL  -- see encodeChunk
) STRICT;

-- What a claim walks, oldest NextAt first, as deliveries_due for rows.
CREATE INDEX delivery_chunks_due ON delivery_chunks (kind, next_at, id) WHERE state = 'pending';
CREATE INDEX delivery_chunks_grp ON delivery_chunks (grp);

-- rids come from here: a chunk reserves its deliveries' rids before their
-- rows exist, so max(rid) no longer says which rid is next.
CREATE TABLE delivery_rids (
	one  INTEGER PRIMARY KEY CHECK (one = 1),
	next INTEGER NOT NULL
) STRICT;
INSERT INTO delivery_rids (one, next) SELECT 1, coalesce(max(rid), 0) + 1 FROM deliveries;

-- The ID levels now merge by how many IDs wait in delivery_ids_new: rows
-- written at claim time no longer arrive in rid order, so "every rid up to
-- merged_rid is merged" stopped being a thing to count from.
ALTER TABLE delivery_ids_merged RENAME COLUMN merged_rid TO waiting;
UPDATE delivery_ids_merged SET waiting = (SELECT count(*) FROM delivery_ids_new);
