-- The typed event store: one row per security event, nested STRUCTs so JSONLogic `var` paths
-- such as actor.user are column accesses. See docs/event-schema.md.
CREATE TABLE IF NOT EXISTS events (
    event_id      VARCHAR NOT NULL,   -- unique by construction: ingest anti-joins on it (no ART index: it would sit in memory)
    time          TIMESTAMPTZ NOT NULL,
    ingested_at   TIMESTAMPTZ NOT NULL,
    source        VARCHAR NOT NULL,
    source_format VARCHAR NOT NULL,
    category      VARCHAR NOT NULL,
    action        VARCHAR,
    outcome       VARCHAR,
    tenant        VARCHAR,
    actor    STRUCT(user VARCHAR, user_id VARCHAR, role VARCHAR, session_id VARCHAR,
                    customer_id VARCHAR, api_client VARCHAR, app VARCHAR),
    src      STRUCT(ip VARCHAR, country VARCHAR, asn VARCHAR, user_agent VARCHAR),
    http     STRUCT(method VARCHAR, host VARCHAR, path VARCHAR, query VARCHAR, status INTEGER,
                    request_bytes BIGINT, response_bytes BIGINT),
    resource STRUCT(type VARCHAR, id VARCHAR, owner_id VARCHAR, record_count BIGINT),
    dst      STRUCT(url VARCHAR, host VARCHAR, scheme VARCHAR),
    waf      STRUCT(rule_id VARCHAR, rule_group VARCHAR, action VARCHAR, attack VARCHAR, labels VARCHAR[]),
    -- waf.attack: sqli | xss | path_traversal | rce | scanner | protocol | rate_limit | bot | other (NULL: none matched)
    pii      STRUCT(types VARCHAR[], count INTEGER),
    message  VARCHAR,
    raw      JSON
);

-- Records that could not become events, with the reason. Nothing is dropped silently.
CREATE TABLE IF NOT EXISTS quarantine (
    source        VARCHAR NOT NULL,
    source_format VARCHAR NOT NULL,
    location      VARCHAR NOT NULL,   -- file path or s3:// URL
    line          BIGINT,             -- 1-based line (or record) number, NULL when unknown
    byte_offset   BIGINT,
    reason        VARCHAR NOT NULL,
    raw_text      VARCHAR,            -- PII-masked like events.raw; truncated to 64 KiB
    quarantined_at TIMESTAMPTZ NOT NULL
);

-- Which files / objects were read and how far: makes re-ingest idempotent and lets grown files resume.
CREATE TABLE IF NOT EXISTS ingest_files (
    source        VARCHAR NOT NULL,
    location      VARCHAR NOT NULL,
    size          BIGINT NOT NULL,    -- bytes consumed so far
    fingerprint   VARCHAR NOT NULL,   -- md5 of the first consumed bytes (local) or ETag (object storage)
    records       BIGINT NOT NULL,
    read_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, location)
);

CREATE TABLE IF NOT EXISTS source_watermarks (
    source         VARCHAR PRIMARY KEY,
    max_event_time TIMESTAMPTZ,       -- newest event time seen
    last_data_at   TIMESTAMPTZ,       -- wall time new data last arrived (blind-spot detection)
    last_run_at    TIMESTAMPTZ
);
