-- amm-service schema v4 (same text for SQLite and PostgreSQL): distributed tuning studies.
--
-- `amm-engine tune --db` queues a study's simulations as ordinary jobs on this queue. The
-- study is a submission row with `study` set (submitter 'study:NAME'; never on the board, like
-- a round's groups); `entries` holds its field as JSON (market, entrants by module sha256, the
-- candidate's parameters); each of its jobs lists the evaluations it makes in `work`. The
-- study's own tables (its evaluations, trials, optimiser state) live in the schema tune_NAME.

-- The study's name (NULL for uploads, baselines and round groups).
ALTER TABLE submissions ADD COLUMN study TEXT;
-- A study job's evaluations, JSON: [{point, opponent, seed}] (NULL for shards of seeds).
ALTER TABLE jobs ADD COLUMN work TEXT;
