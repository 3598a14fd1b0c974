-- amm-service schema v3 (same text for SQLite and PostgreSQL): rounds.
--
-- A round runs the best entry of each submitter together with the house field in N-way
-- markets on the hidden seeds. Each market (a group of at most round_size entries) is stored
-- as a submission row with `round` set (submitter 'round:ID', never a token handle) so that its
-- simulations are ordinary jobs on the same queue; such rows are never on the board.

CREATE TABLE rounds (
    id          BIGINT PRIMARY KEY,     -- assigned by the service (1 + the largest so far)
    salt        TEXT NOT NULL,          -- the round's `[run] salt`, published once it completed
    round_size  BIGINT NOT NULL,        -- most entries in one market
    created_by  TEXT NOT NULL,          -- the admin's handle
    created_at  BIGINT NOT NULL
);

-- The round of a group's row (NULL for uploads and baselines).
ALTER TABLE submissions ADD COLUMN round BIGINT;
-- A group's entries, JSON: [{submission, submitter, name, sha256, bytes_path}] in market order.
ALTER TABLE submissions ADD COLUMN entries TEXT;
