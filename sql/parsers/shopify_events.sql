-- Shopify Admin REST `events` objects, one per framed record (the framer unwraps {"events": [...]} responses).
-- Fields and mapping: docs/formats/shopify_events.md. {{records}}: (rec_no, byte_offset, text).
WITH parsed AS (
    SELECT rec_no, text,
           -- One parse per record: try() turns invalid JSON into NULL; only rejected rows pay for
           -- json_valid / json_type to say what was wrong.
           CASE WHEN starts_with(ltrim(text), '{') THEN try(json_transform(text, '{
             "id": "VARCHAR", "subject_id": "VARCHAR", "created_at": "VARCHAR", "subject_type": "VARCHAR",
             "verb": "VARCHAR", "arguments": ["VARCHAR"], "body": "VARCHAR", "message": "VARCHAR",
             "author": "VARCHAR", "description": "VARCHAR", "path": "VARCHAR"
           }')) END AS j,
           CASE WHEN j IS NULL THEN json_record_error(text) END AS json_error
    FROM {{records}}
), timed AS (
    SELECT *,
           trim(j.created_at) AS created_text,
           CASE
             WHEN regexp_matches(trim(j.created_at), '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?\s*([Zz]|[+-]\d{2}:?\d{2})$')
               THEN TRY_CAST(trim(j.created_at) AS TIMESTAMPTZ)
             WHEN regexp_matches(trim(j.created_at), '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?$')
               THEN timezone('UTC', TRY_CAST(trim(j.created_at) AS TIMESTAMP))
           END AS ts,
           lower(trim(j.verb)) AS verb,
           -- ProductVariant -> product_variant
           lower(regexp_replace(trim(j.subject_type), '([a-z0-9])([A-Z])', '\1_\2', 'g')) AS subject
    FROM parsed
)
SELECT
    rec_no,
    coalesce(json_error,
             CASE WHEN nullif(verb, '') IS NULL AND nullif(subject, '') IS NULL
                    THEN 'not a Shopify event object (no "verb" or "subject_type")'
                  WHEN j.created_at IS NULL THEN 'missing "created_at"'
                  WHEN ts IS NULL THEN 'unparseable "created_at" (expected RFC 3339)'
             END) AS error,
    nullif(j.id, '') AS event_id,
    ts AS time,
    'admin' AS category,
    CASE verb WHEN 'destroy' THEN 'delete' WHEN 'destroyed' THEN 'delete'
              WHEN 'create' THEN 'create' WHEN 'created' THEN 'create'
              WHEN 'update' THEN 'update' WHEN 'updated' THEN 'update'
              WHEN 'published' THEN 'publish' WHEN 'unpublished' THEN 'unpublish'
              ELSE verb END AS action,
    CASE WHEN verb IS NULL THEN NULL
         WHEN regexp_matches(verb, '(^|_)(failure|failed|error)$') THEN 'failure'
         ELSE 'success' END AS outcome,
    NULL AS tenant,
    {'user': nullif(j.author, ''), 'user_id': NULL, 'role': NULL, 'session_id': NULL, 'customer_id': NULL,
     'api_client': NULL, 'app': NULL} AS actor,
    NULL AS src,
    NULL AS http,
    {'type': nullif(subject, ''), 'id': nullif(j.subject_id, ''),
     'owner_id': CASE WHEN subject = 'customer' THEN nullif(j.subject_id, '') END,
     'record_count': NULL} AS resource,
    NULL AS dst,
    NULL AS waf,
    coalesce(nullif(j.description, ''),
             nullif(regexp_replace(j.message, '<[^>]*>', '', 'g'), ''),
             concat_ws(' ', j.subject_type, j.subject_id, j.verb)) AS message,
    -- Staff comments/notes (body) and the arguments (names, amounts) can carry PII.
    nullif(concat_ws(' ', j.body, array_to_string(j.arguments, ' ')), '') AS scan_text,
    CASE WHEN json_error IS NULL THEN text END AS raw  -- parsed above: the loader casts to JSON once
FROM timed
