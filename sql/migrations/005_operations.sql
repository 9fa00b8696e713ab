-- Operations: when a source first ran (so a source that never delivered can be called silent), and a record of
-- every pipeline run (so gaps in the schedule are visible and caught up). See docs/operations.md.
ALTER TABLE source_watermarks ADD COLUMN IF NOT EXISTS first_run_at TIMESTAMPTZ;
UPDATE source_watermarks SET first_run_at = last_run_at WHERE first_run_at IS NULL;

CREATE TABLE IF NOT EXISTS pipeline_runs (
    run_id        VARCHAR PRIMARY KEY,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    status        VARCHAR NOT NULL,       -- running | completed | failed
    gap_seconds   DOUBLE,                 -- time since the previous run started, when longer than expected
    summary       JSON
);
