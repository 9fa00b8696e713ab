-- Correlation state: how far each playbook's decisions are final, first-seen sightings, exception audit, runs.
-- Written by correlators/correlation (runner.py); see docs/playbooks.md ("Incremental runs").

-- One row per playbook id. Alerts whose decision time is <= final_until have all been emitted; the next run
-- decides (final_until, new watermark - lateness]. A new version continues from here (no re-alerting history).
CREATE TABLE IF NOT EXISTS correlation_state (
    playbook_id      VARCHAR PRIMARY KEY,
    playbook_version INTEGER NOT NULL,
    final_until      TIMESTAMPTZ NOT NULL,
    last_run_at      TIMESTAMPTZ NOT NULL,
    -- per first-seen component (JSON object: component -> time): the sightings table holds events up to here
    state_until      JSON
);

-- first_seen sightings of final events. value_key '' rows hold the group itself (first_time = first seen).
CREATE TABLE IF NOT EXISTS correlation_first_seen (
    playbook_id  VARCHAR NOT NULL,
    component    VARCHAR NOT NULL,   -- '' for a first_seen playbook, else the sequence step's name
    group_key    VARCHAR NOT NULL,   -- JSON array of the group values
    value_key    VARCHAR NOT NULL,   -- JSON array of the value fields ('' for the group row)
    first_time   TIMESTAMPTZ NOT NULL,
    last_time    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (playbook_id, component, group_key, value_key)
);

-- Every alert an exception suppressed: which exception, when, and what it would have said (audit of tuning).
CREATE TABLE IF NOT EXISTS suppressed_matches (
    alert_id         VARCHAR NOT NULL,   -- the id the alert would have had
    exception_ref    VARCHAR NOT NULL,   -- the exception's id, or exceptions[i]
    playbook_id      VARCHAR NOT NULL,
    playbook_version INTEGER NOT NULL,
    exception_owner  VARCHAR NOT NULL,
    exception_reason VARCHAR NOT NULL,
    exception_expires DATE NOT NULL,
    group_values     JSON NOT NULL,
    first_seen       TIMESTAMPTZ NOT NULL,
    last_seen        TIMESTAMPTZ NOT NULL,
    event_count      BIGINT NOT NULL,
    metrics          JSON,
    event_ids        VARCHAR[] NOT NULL,
    suppressed_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (alert_id, exception_ref)
);

-- One row per playbook per correlate run (what was decided, how much was read, how long it took).
CREATE TABLE IF NOT EXISTS correlation_runs (
    run_id           VARCHAR NOT NULL,
    playbook_id      VARCHAR NOT NULL,
    playbook_version INTEGER NOT NULL,
    started_at       TIMESTAMPTZ NOT NULL,
    decided_after    TIMESTAMPTZ,        -- NULL: from the beginning
    decided_until    TIMESTAMPTZ NOT NULL,
    alerts           BIGINT NOT NULL,
    suppressed       BIGINT NOT NULL,
    late_events      BIGINT NOT NULL,    -- arrived after their time was final: not correlated (see lateness)
    seconds          DOUBLE NOT NULL
);

-- Alerts: the decision time (the event that completed the alert) and the anchor text hashed into the id.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS decision_time TIMESTAMPTZ;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS anchor VARCHAR;
