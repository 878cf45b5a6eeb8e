-- A timeline entry herald writes itself (a state change, a new owner, a
-- tag, a deadline warning) names what happened (event) and its details
-- (args, a JSON object of strings) besides its English text, so that
-- the console can say it in the agent's language. Entries written
-- before keep their text alone.
ALTER TABLE complaint_entries ADD COLUMN event TEXT NOT NULL DEFAULT '';
ALTER TABLE complaint_entries ADD COLUMN args TEXT NOT NULL DEFAULT '';
