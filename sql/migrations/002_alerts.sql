-- Detections. One row per alert; the id is deterministic (see docs/playbooks.md) so reruns find it again.
CREATE TABLE IF NOT EXISTS alerts (
    alert_id         VARCHAR PRIMARY KEY,   -- md5(playbook id, version, group values, window start / first event)
    playbook_id      VARCHAR NOT NULL,
    playbook_version INTEGER NOT NULL,
    severity         VARCHAR NOT NULL,      -- low | medium | high | critical
    group_values     JSON NOT NULL,         -- {"actor.user": "alice", ...}
    dedup_key        VARCHAR NOT NULL,      -- md5 of the playbook's dedup key values
    first_seen       TIMESTAMPTZ NOT NULL,  -- first contributing event time
    last_seen        TIMESTAMPTZ NOT NULL,
    window_start     TIMESTAMPTZ,
    event_count      BIGINT NOT NULL,
    metrics          JSON,                  -- aggregate values, e.g. {"customers": 42}
    event_ids        VARCHAR[] NOT NULL,    -- contributing events
    samples          JSON,                  -- up to 5 sample events (already PII-masked)
    title            VARCHAR NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    incident_id      VARCHAR               -- set when the alert joins an incident
);
