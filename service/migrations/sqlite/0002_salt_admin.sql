-- amm-service schema v2 (same text for SQLite and PostgreSQL): the evaluation's secret salt,
-- the admin's flag and hide, and a change time the board's cache keys on.

-- `[run] salt` of the evaluation: drawn at submission (and at each rescore), used by every
-- job of it, published only once it is evaluated ('' before this migration).
ALTER TABLE submissions ADD COLUMN salt TEXT NOT NULL DEFAULT '';
-- Flagged for review by an admin (shown on the board, with the reason); NULL: not flagged.
ALTER TABLE submissions ADD COLUMN flag TEXT;
-- Hidden by an admin: off the board (1) or on it (0).
ALTER TABLE submissions ADD COLUMN hidden BIGINT NOT NULL DEFAULT 0;
-- Last change the board shows (evaluation, flag, hide), Unix ms.
ALTER TABLE submissions ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
