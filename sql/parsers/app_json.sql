-- breachline app_json: JSON lines of application events. Spec: docs/formats/app_json.md.
-- {{records}}: the framed lines (rec_no, byte_offset, text). One json_transform per record; `ts` and `kind` are
-- read as JSON so their JSON type can be checked (a required field of the wrong type goes to quarantine, not
-- silently NULL), every other field is cast leniently (a wrong type becomes NULL; raw keeps the original).
WITH parsed AS (
    SELECT rec_no, text,
           -- One parse per record: try() turns invalid JSON into NULL; only rejected rows pay for
           -- json_valid / json_type to say what was wrong.
           CASE WHEN starts_with(ltrim(text), '{') THEN try(json_transform(text, '{
             "ts": "JSON", "id": "VARCHAR", "kind": "JSON", "action": "VARCHAR", "outcome": "VARCHAR",
             "tenant": "VARCHAR",
             "actor": {"user": "VARCHAR", "user_id": "VARCHAR", "role": "VARCHAR", "session_id": "VARCHAR",
                       "customer_id": "VARCHAR", "api_client": "VARCHAR", "app": "VARCHAR"},
             "src": {"ip": "VARCHAR", "country": "VARCHAR", "asn": "VARCHAR", "user_agent": "VARCHAR"},
             "http": {"method": "VARCHAR", "host": "VARCHAR", "path": "VARCHAR", "query": "VARCHAR",
                      "status": "INTEGER", "request_bytes": "BIGINT", "response_bytes": "BIGINT"},
             "resource": {"type": "VARCHAR", "id": "VARCHAR", "owner_id": "VARCHAR", "record_count": "BIGINT"},
             "dst": {"url": "VARCHAR"},
             "message": "VARCHAR", "body": "VARCHAR"
           }')) END AS j,
           CASE WHEN j IS NULL THEN json_record_error(text) END AS json_error
    FROM {{records}}
), typed AS (
    SELECT *,
           coalesce(json_type(j.ts), 'NULL') AS ts_type,
           CASE WHEN json_type(j.ts) = 'VARCHAR' THEN trim(j.ts ->> '$') END AS ts_text,
           CASE WHEN json_type(j.ts) IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN TRY_CAST(CAST(j.ts AS VARCHAR) AS DOUBLE)
           END AS ts_num,
           CASE WHEN json_type(j.kind) = 'VARCHAR' THEN j.kind ->> '$' END AS kind,
           -- JSON type names as an emitter would say them, for quarantine reasons.
           CASE json_type(j.kind) WHEN 'VARCHAR' THEN 'string' WHEN 'UBIGINT' THEN 'number' WHEN 'BIGINT' THEN 'number'
                WHEN 'DOUBLE' THEN 'number' ELSE lower(json_type(j.kind)) END AS kind_type,
           lower(nullif(trim(j.outcome), '')) AS outcome_in,
           -- scheme://[userinfo@]host[:port]/...; IPv6 literals keep their brackets.
           regexp_extract(j.dst.url, '^([A-Za-z][A-Za-z0-9+.-]*)://(?:[^/?#@]*@)?(\[[^\]/]*\]|[^/?#:]*)',
                          ['scheme', 'host']) AS url_parts
    FROM parsed
), timed AS (
    SELECT *,
           CASE
             -- RFC 3339 with a zone (Z or ±hh:mm, ±hhmm also accepted).
             WHEN regexp_matches(ts_text, '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?\s*([Zz]|[+-]\d{2}(:?\d{2})?)$')
               THEN TRY_CAST(ts_text AS TIMESTAMPTZ)
             -- No zone: read as UTC whatever the session time zone is (documented clarification).
             WHEN regexp_matches(ts_text, '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$')
               THEN timezone('UTC', TRY_CAST(ts_text AS TIMESTAMP))
             -- Epoch: milliseconds above 10^11 (10^11 s is the year 5138), else seconds; bounded to year 3000.
             WHEN ts_num > 1e11 AND ts_num < 32503680000000 THEN make_timestamptz(CAST(round(ts_num * 1e3) AS BIGINT))
             WHEN ts_num >= 0 AND ts_num <= 1e11 AND ts_num < 32503680000 THEN make_timestamptz(CAST(round(ts_num * 1e6) AS BIGINT))
           END AS ts,
           coalesce(nullif(j.action, ''),
                    CASE kind WHEN 'storefront' THEN 'page_view' WHEN 'api' THEN 'api_request'
                              WHEN 'checkout' THEN 'checkout' WHEN 'dsr' THEN 'dsr_response'
                              WHEN 'webhook' THEN 'webhook_delivery' WHEN 'script' THEN 'script_request' END) AS action
    FROM typed
)
SELECT
    rec_no,
    coalesce(
        json_error,
        CASE WHEN ts_type = 'NULL' THEN 'missing "ts"'
             WHEN ts_type NOT IN ('VARCHAR', 'UBIGINT', 'BIGINT', 'DOUBLE')
               THEN '"ts" must be an RFC 3339 string or a number (epoch), got ' || lower(ts_type)
             WHEN ts IS NULL THEN 'unparseable "ts": expected RFC 3339 date-time or epoch seconds/milliseconds'
             WHEN j.kind IS NULL OR json_type(j.kind) = 'NULL' THEN 'missing "kind"'
             WHEN kind IS NULL THEN '"kind" must be a string, got ' || kind_type
             WHEN kind NOT IN ('storefront', 'api', 'checkout', 'dsr', 'webhook', 'script')
               THEN 'unknown "kind" (expected storefront, api, checkout, dsr, webhook or script)'
             WHEN outcome_in NOT IN ('success', 'failure', 'blocked', 'allowed')
               THEN 'unknown "outcome" (expected success, failure, blocked or allowed)'
        END) AS error,
    nullif(j.id, '') AS event_id,
    ts AS time,
    'app' AS category,
    action,
    coalesce(outcome_in,
             CASE WHEN j.http.status < 400 THEN 'success' WHEN j.http.status >= 400 THEN 'failure' END) AS outcome,
    j.tenant AS tenant,
    j.actor AS actor,
    j.src AS src,
    j.http AS http,
    j.resource AS resource,
    -- Credentials in a URL's userinfo never reach the event (the loader masks message and raw, not dst).
    CASE WHEN j.dst.url IS NOT NULL THEN
        {'url': regexp_replace(j.dst.url, '^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@]*@', '\1'),
         'host': lower(nullif(url_parts.host, '')),
         'scheme': lower(nullif(url_parts.scheme, ''))}
    END AS dst,
    NULL AS waf,
    coalesce(j.message,
             concat_ws(' ', kind, action, j.http.method, j.http.path,
                       CAST(j.http.status AS VARCHAR), '-> ' || nullif(url_parts.host, ''))) AS message,
    -- The response body / outbound payload, and the query string (PII in URLs leaks to logs and referrers).
    nullif(concat_ws(' ', j.http.query, j.body), '') AS scan_text,
    CASE WHEN json_error IS NULL THEN text END AS raw  -- parsed above: the loader casts to JSON once
FROM timed
