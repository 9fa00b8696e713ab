-- The loader's statements for one framed batch. `bl_records(rec_no, byte_offset, text)` holds the batch;
-- {{parser_sql}} is the vendor parser's SELECT over it. Named blocks are run by connectors/sources/loader.py.

-- name: stage
CREATE OR REPLACE TEMP TABLE bl_staged AS
SELECT * FROM ({{parser_sql}}) AS parsed;

-- name: quarantine
-- Records the parser rejected, or whose time is missing: kept with the reason and the PII-masked text.
-- (DuckDB answers an INSERT with the number of rows it inserted.)
INSERT INTO quarantine
SELECT $source, $fmt, $location, s.rec_no, r.byte_offset,
       coalesce(s.error, 'missing or unparseable event time'),
       left(pii_mask(r.text), $limit), now()
FROM bl_staged s JOIN bl_records r USING (rec_no)
WHERE s.error IS NOT NULL OR s.time IS NULL;

-- name: prepare
-- Good records: stable ids, PII found in message and body, PANs/SSNs/secrets masked before anything is stored.
-- Two records with one id in the same batch are one event (the first wins).
CREATE OR REPLACE TEMP TABLE bl_good AS
WITH good AS (
    SELECT s.*, r.text AS bl_text
    FROM bl_staged s JOIN bl_records r USING (rec_no)
    WHERE s.error IS NULL AND s.time IS NOT NULL
), scanned AS (
    SELECT good.*,
           $fmt || ':' || coalesce(event_id, md5(bl_text)) AS bl_event_id,
           pii_scan(concat_ws(' ', message, scan_text)) AS bl_pii
    FROM good
)
SELECT bl_event_id AS event_id,
       CAST(s.time AS TIMESTAMPTZ) AS time,
       now() AS ingested_at,
       $fmt AS source_format,
       s.category, s.action, s.outcome, s.tenant,
       {{struct_casts}},
       bl_pii AS pii,
       CASE WHEN {{mask}} THEN pii_mask(s.message) ELSE s.message END AS message,
       CASE WHEN {{mask}} THEN coalesce(TRY_CAST(pii_mask(CAST(s.raw AS VARCHAR)) AS JSON),
                                        to_json({masked: pii_mask(CAST(s.raw AS VARCHAR))}))
            ELSE CAST(s.raw AS JSON) END AS raw,
       s.rec_no
FROM scanned s
QUALIFY row_number() OVER (PARTITION BY bl_event_id ORDER BY s.rec_no) = 1;

-- name: insert
-- Events already stored (same id) are duplicates. Event time is part of the record, so only the batch's time
-- range of the store needs probing, which zone maps keep cheap however large the store grows.
INSERT INTO events BY NAME
SELECT * EXCLUDE (rec_no), $source AS source FROM bl_good g
WHERE NOT EXISTS (
    SELECT 1 FROM events e
    WHERE e.time BETWEEN $t_min AND $t_max AND e.event_id = g.event_id
);
