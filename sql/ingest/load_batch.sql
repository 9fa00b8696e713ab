-- The loader's statements (run by connectors/sources/loader.py, by name).
-- Parsed records of many files are staged in `bl_stage`; the expensive part (PII scan and mask, dedup, insert)
-- runs once per flush over everything staged, because its fixed cost (compiling the PII regexes) is paid per
-- statement, not per row.

-- name: create_stage
CREATE OR REPLACE TEMP TABLE bl_stage (
    bl_location VARCHAR, bl_offset BIGINT, bl_text VARCHAR,
    rec_no BIGINT, error VARCHAR, event_id VARCHAR, time TIMESTAMPTZ, category VARCHAR, action VARCHAR,
    outcome VARCHAR, tenant VARCHAR,
    actor {{type:actor}}, src {{type:src}}, http {{type:http}}, resource {{type:resource}}, dst {{type:dst}},
    waf {{type:waf}}, message VARCHAR, scan_text VARCHAR,
    raw VARCHAR  -- JSON text, cast to JSON once after masking; NULL when it is the record text itself
);

-- name: stage
-- One framed batch of one file through the parser's SELECT over bl_records.
INSERT INTO bl_stage
SELECT $location, r.byte_offset, r.text,
       s.rec_no, s.error, s.event_id, CAST(s.time AS TIMESTAMPTZ), s.category, s.action, s.outcome,
       coalesce(s.tenant, $tenant),
       CAST(s.actor AS {{type:actor}}), CAST(s.src AS {{type:src}}), CAST(s.http AS {{type:http}}),
       CAST(s.resource AS {{type:resource}}), CAST(s.dst AS {{type:dst}}), CAST(s.waf AS {{type:waf}}),
       s.message, s.scan_text,
       CASE WHEN CAST(s.raw AS VARCHAR) = r.text THEN NULL ELSE CAST(s.raw AS VARCHAR) END  -- stored once
FROM ({{parser_sql}}) AS s JOIN bl_records r USING (rec_no);

-- name: quarantine
-- Records the parser rejected, or whose time is missing: kept with the reason and the PII-masked text.
INSERT INTO quarantine
SELECT $source, $fmt, bl_location, rec_no, bl_offset,
       coalesce(error, 'missing or unparseable event time'),
       left(pii_mask(bl_text), $limit), now()
FROM bl_stage
WHERE error IS NOT NULL OR time IS NULL;

-- name: prepare
-- Good records: stable ids, PII found in message and body, PANs/SSNs/secrets masked before anything is stored.
-- Two records with one id in the same flush are one event (the first wins).
CREATE OR REPLACE TEMP TABLE bl_good AS
WITH good AS (
    SELECT * REPLACE (coalesce(raw, bl_text) AS raw),
           $fmt || ':' || coalesce(event_id, md5(bl_text)) AS bl_event_id
    FROM bl_stage
    WHERE error IS NULL AND time IS NOT NULL
)
SELECT bl_event_id AS event_id, time, now() AS ingested_at, $fmt AS source_format,
       category, action, outcome, tenant, actor, src,
       -- Query strings and outbound URLs carry card numbers and tokens too: masked like message and raw.
       CASE WHEN {{mask}} AND http.query IS NOT NULL THEN struct_update(http, query := pii_mask(http.query))
            ELSE http END AS http,
       resource,
       CASE WHEN {{mask}} AND dst.url IS NOT NULL THEN struct_update(dst, url := pii_mask(dst.url))
            ELSE dst END AS dst,
       waf,
       pii_scan(concat_ws(' ', message, scan_text)) AS pii,
       CASE WHEN {{mask}} THEN pii_mask(message) ELSE message END AS message,
       CASE WHEN {{mask}} THEN coalesce(TRY_CAST(pii_mask(raw) AS JSON), to_json({masked: pii_mask(raw)}))
            ELSE CAST(raw AS JSON) END AS raw
FROM good
QUALIFY row_number() OVER (PARTITION BY bl_event_id ORDER BY bl_location, rec_no) = 1;

-- name: insert
-- Events already stored (same id) are duplicates. Event time is part of the record, so only the flush's time
-- range of the store needs probing, which zone maps keep cheap however large the store grows.
INSERT INTO events BY NAME
SELECT *, $source AS source FROM bl_good g
WHERE NOT EXISTS (
    SELECT 1 FROM events e
    WHERE e.time BETWEEN $t_min AND $t_max AND e.event_id = g.event_id
);
