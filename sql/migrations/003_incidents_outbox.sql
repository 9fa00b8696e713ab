-- Incidents (what humans see), the alerts each holds, and the durable outbox of outward actions.
-- Written by correlators/incidents (assign) and connectors/outbox (deliver); see docs/delivery.md.

CREATE TABLE IF NOT EXISTS incidents (
    incident_id          VARCHAR PRIMARY KEY,   -- 'inc-' / 'dig-' + 16 hex of md5(...); also the Jira label 'bl-<hex>'
    kind                 VARCHAR NOT NULL,      -- incident | digest (a noisy playbook's folded incidents)
    playbook_id          VARCHAR NOT NULL,
    dedup_key            VARCHAR NOT NULL,
    title                VARCHAR NOT NULL,
    severity             VARCHAR NOT NULL,      -- low | medium | high | critical
    entity               JSON,                  -- group values of the opening alert
    status               VARCHAR NOT NULL,      -- open | closed | folded
    first_seen           TIMESTAMPTZ NOT NULL,  -- event time of the first / last alert
    last_seen            TIMESTAMPTZ NOT NULL,
    alert_count          BIGINT NOT NULL,
    event_count          BIGINT NOT NULL,
    opened_at            TIMESTAMPTZ NOT NULL,  -- processing time
    updated_at           TIMESTAMPTZ NOT NULL,
    closed_at            TIMESTAMPTZ,
    reopen_count         INTEGER NOT NULL DEFAULT 0,
    linked_incident_id   VARCHAR,               -- the earlier incident this one follows (new_linked, or after suppress_for)
    digest_id            VARCHAR,               -- folded incidents: the digest incident that reports them
    jira_project         VARCHAR,               -- from the playbook; NULL means the [jira] default
    jira_issue_type      VARCHAR,
    slack_channel        VARCHAR,               -- from the playbook; NULL means the [slack] default
    runbook              VARCHAR,
    -- delivery state, written by the outbox when an action succeeds
    jira_key             VARCHAR,
    jira_url             VARCHAR,
    jira_status          VARCHAR,
    jira_linked_slack    BOOLEAN NOT NULL DEFAULT false,  -- the ticket description carries the Slack thread link
    jira_seen_seq        BIGINT NOT NULL DEFAULT 0,       -- alerts up to this seq are in the ticket already
    jira_last_comment_at TIMESTAMPTZ,
    slack_channel_id     VARCHAR,
    slack_ts             VARCHAR,
    slack_permalink      VARCHAR,
    slack_linked_jira    BOOLEAN NOT NULL DEFAULT false   -- the root message carries the Jira link
);

CREATE TABLE IF NOT EXISTS incident_alerts (
    incident_id  VARCHAR NOT NULL,
    seq          BIGINT NOT NULL,        -- 1 = the alert that opened it; a digest numbers its folded alerts too
    alert_id     VARCHAR NOT NULL,
    joined_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (incident_id, seq)
);

CREATE SEQUENCE IF NOT EXISTS outbox_id_seq START 1;

CREATE TABLE IF NOT EXISTS outbox (
    outbox_id        BIGINT PRIMARY KEY DEFAULT nextval('outbox_id_seq'),  -- delivery order within a queue
    incident_id      VARCHAR NOT NULL,
    target           VARCHAR NOT NULL,     -- jira | slack: one ordered queue per (incident, target)
    action           VARCHAR NOT NULL,     -- create_ticket | comment | transition | update_ticket |
                                           -- post_root | thread_reply | update_root
    payload          JSON,                 -- action parameters (seq range, target status category)
    status           VARCHAR NOT NULL,     -- pending | sent | merged (nothing left to say) | dead
    attempts         INTEGER NOT NULL DEFAULT 0,
    in_flight        BOOLEAN NOT NULL DEFAULT false,  -- an attempt started and its outcome was never recorded
    ambiguous        BOOLEAN NOT NULL DEFAULT false,  -- the last failure may have reached the service
    parked           BOOLEAN NOT NULL DEFAULT false,  -- a throttled comment: waits without blocking its queue
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    last_attempt_at  TIMESTAMPTZ,
    done_at          TIMESTAMPTZ,
    sink             VARCHAR,              -- which sink delivered it: jira | slack | webhook | console
    result           JSON,                 -- e.g. {"key": "SEC-1"} or {"ts": "...", "channel": "C..."}
    error_kind       VARCHAR,              -- transient | permanent | config
    last_error       VARCHAR
);
