-- amm-service schema v1 (SQLite; keep migrations/postgres in step). Times are Unix
-- milliseconds; JSON is stored as text; flags are integers 0/1.

CREATE TABLE tokens (
    hash        TEXT PRIMARY KEY,       -- sha256 (hex) of the bearer token
    handle      TEXT NOT NULL,
    admin       INTEGER NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE submissions (
    id              INTEGER PRIMARY KEY,
    submitter       TEXT NOT NULL,      -- token handle; 'house' for the baseline evaluation
    name            TEXT NOT NULL,
    model           TEXT NOT NULL,
    sha256          TEXT NOT NULL,      -- of the module bytes (of the evaluated config for the baseline)
    bytes_path      TEXT NOT NULL,      -- module file, relative to the data directory ('' for the baseline)
    size            BIGINT NOT NULL,
    baseline        INTEGER NOT NULL,
    status          TEXT NOT NULL,      -- pending | evaluated | failed | cancelled
    validation      TEXT NOT NULL,      -- JSON: the checks of amm-engine validate
    summary         TEXT,               -- JSON, once evaluated
    results         TEXT,               -- merged results.json, once evaluated
    engine_version  TEXT NOT NULL,
    error           TEXT,
    created_at      BIGINT NOT NULL,
    evaluated_at    BIGINT,
    UNIQUE (submitter, sha256)
);

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY,
    submission        BIGINT NOT NULL REFERENCES submissions (id),
    shard_lo          BIGINT NOT NULL,  -- shards [shard_lo, shard_hi) of shard_count over the public seeds
    shard_hi          BIGINT NOT NULL,
    shard_count       BIGINT NOT NULL,
    state             TEXT NOT NULL,    -- queued | running | succeeded | failed | cancelled
    attempts          BIGINT NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  BIGINT,
    fence             BIGINT NOT NULL,  -- incremented at every claim; only the holder of the current value may report
    done              BIGINT NOT NULL,  -- simulations finished (this attempt)
    total             BIGINT NOT NULL,
    error             TEXT,
    created_at        BIGINT NOT NULL,
    started_at        BIGINT,
    finished_at       BIGINT,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX jobs_by_state ON jobs (state, id);
CREATE INDEX jobs_by_submission ON jobs (submission);

CREATE TABLE modules (
    sha256      TEXT PRIMARY KEY,
    bytes       BLOB NOT NULL           -- the uploaded .wasm: workers on other machines fetch it from here
);

CREATE TABLE results (
    job         BIGINT NOT NULL REFERENCES jobs (id),
    shard       BIGINT NOT NULL,
    fence       BIGINT NOT NULL,
    json        TEXT NOT NULL,          -- the shard's results.json, as `run --shard` writes it
    PRIMARY KEY (job, shard)
);
