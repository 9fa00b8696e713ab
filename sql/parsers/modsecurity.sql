-- ModSecurity JSON audit log (SecAuditLogFormat JSON), both shapes, detected per record:
--   v2  mod_security 2.9 for Apache: {"transaction": {time, transaction_id, remote_address, ...}, "request":
--       {request_line, headers, body}, "response": {status, headers, body}, "audit_data": {messages [strings],
--       action {intercepted, phase, message}, engine_mode, ...}}
--   v3  libmodsecurity (nginx / Apache connectors): {"transaction": {client_ip, time_stamp, unique_id, request
--       {method, uri, headers, body}, response {http_code, headers, body}, producer {secrules_engine, ...},
--       messages [{message, details {ruleId, file, data, tags, ...}}]}}
-- Fields and decisions: docs/formats/modsecurity.md. {{records}}: the framed lines (rec_no, byte_offset, text).
WITH parsed AS (
    SELECT rec_no, text,
           -- One parse per record (see cloudflare_firewall.sql). Header maps stay JSON text: real logs repeat
           -- header names (two Set-Cookie), which a MAP refuses, and names come in any letter case.
           CASE WHEN starts_with(ltrim(text), '{') THEN try(json_transform(text, '{
             "transaction": {
               "time": "VARCHAR", "transaction_id": "VARCHAR", "remote_address": "VARCHAR",
               "client_ip": "VARCHAR", "time_stamp": "VARCHAR", "unique_id": "VARCHAR", "id": "VARCHAR",
               "request": {"method": "VARCHAR", "protocol": "VARCHAR", "uri": "VARCHAR", "body": "VARCHAR",
                           "headers": "JSON"},
               "response": {"http_code": "INTEGER", "body": "VARCHAR", "headers": "JSON"},
               "producer": {"secrules_engine": "VARCHAR"},
               "messages": [{"message": "VARCHAR",
                             "details": {"ruleId": "VARCHAR", "file": "VARCHAR", "data": "VARCHAR",
                                         "tags": ["VARCHAR"]}}]
             },
             "request": {"request_line": "VARCHAR", "body": "VARCHAR", "headers": "JSON"},
             "response": {"status": "INTEGER", "body": "VARCHAR", "headers": "JSON"},
             "audit_data": {"messages": ["VARCHAR"], "action": {"intercepted": "BOOLEAN"}, "engine_mode": "VARCHAR"}
           }')) END AS j
    FROM {{records}}
), shaped AS (
    SELECT rec_no, text, j, j.transaction AS t,
        CASE WHEN j IS NULL THEN json_record_error(text) END AS json_error,
        CASE WHEN j.transaction.time_stamp IS NOT NULL OR j.transaction.unique_id IS NOT NULL
                  OR j.transaction.client_ip IS NOT NULL OR j.transaction.messages IS NOT NULL THEN 'v3'
             WHEN j.transaction.time IS NOT NULL OR j.transaction.transaction_id IS NOT NULL
                  OR j.transaction.remote_address IS NOT NULL OR j.audit_data.messages IS NOT NULL THEN 'v2'
        END AS shape
    FROM parsed
), fields AS (
    SELECT rec_no, text, j, t, json_error, shape,
        CASE shape WHEN 'v3' THEN 'transaction.time_stamp' ELSE 'transaction.time' END AS time_field,
        nullif(trim(CASE shape WHEN 'v3' THEN t.time_stamp ELSE t.time END), '') AS tstr,
        coalesce(nullif(t.unique_id, ''), nullif(t.id, ''), nullif(t.transaction_id, '')) AS txid,
        CASE shape WHEN 'v3' THEN coalesce(nullif(t.request.method, ''), nullif(t.request.protocol, ''))
             ELSE nullif(regexp_extract(j.request.request_line, '^(\S+)', 1), '') END AS method,
        -- v2 has only the request line ("GET /p?q=1 HTTP/1.1"); its URI is what lies between method and protocol.
        CASE shape WHEN 'v3' THEN t.request.uri
             ELSE nullif(regexp_extract(j.request.request_line, '^\S+\s+(.*?)(?:\s+HTTP/[0-9.]+)?\s*$', 1), '')
        END AS uri,
        CASE shape WHEN 'v3' THEN t.request.headers ELSE j.request.headers END AS req_headers,
        CASE shape WHEN 'v3' THEN t.response.headers ELSE j.response.headers END AS resp_headers,
        nullif(CASE shape WHEN 'v3' THEN t.request.body ELSE j.request.body END, '') AS req_body,
        nullif(CASE shape WHEN 'v3' THEN t.response.body ELSE j.response.body END, '') AS resp_body,
        CASE shape WHEN 'v3' THEN t.response.http_code ELSE j.response.status END AS status,
        -- One list of matched rules for both shapes. v2 messages are the error-log text
        -- ('Warning. ... [id "942100"] [msg "..."] [data "..."] [tag "attack-sqli"]'); values escape " as \".
        CASE shape
            WHEN 'v3' THEN list_transform(t.messages, lambda m: {
                'id': nullif(m.details.ruleId, ''), 'file': m.details.file, 'msg': nullif(m.message, ''),
                'data': nullif(m.details.data, ''), 'tags': coalesce(m.details.tags, [])})
            -- String splitting, not regexes: 2-3x cheaper, and v2 writes the [name "value"] pairs in a fixed order
            -- (file, line, id, rev, msg, data, severity, ver, ..., tag...), so the first occurrence is the pair.
            ELSE list_transform(j.audit_data.messages, lambda s: {
                'id': nullif(split_part(split_part(s, '[id "', 2), '"', 1), ''),
                'file': nullif(split_part(split_part(s, '[file "', 2), '"', 1), ''),
                'msg': nullif(replace(regexp_replace(split_part(split_part(s, '[msg "', 2), '"] [', 1), '"\]$', ''), '\"', '"'), ''),
                'data': nullif(replace(regexp_replace(split_part(split_part(s, '[data "', 2), '"] [', 1), '"\]$', ''), '\"', '"'), ''),
                'tags': list_transform(string_split(s, '[tag "')[2:], lambda x: split_part(x, '"]', 1))})
        END AS msgs
    FROM shaped
), matched AS (
    SELECT *,
        regexp_extract(uri, '^([^?#]*)', 1) AS path,
        nullif(regexp_extract(uri, '\?(.*)$', 1), '') AS query,
        -- The rule that says what the attack was: the first match that is not CRS bookkeeping (901/905
        -- initialisation, 949/959 anomaly-score blocking, 980 correlation/reporting), else the first match.
        coalesce(list_filter(msgs, lambda m: NOT (length(m.id) = 6 AND coalesce(left(m.id, 3) IN
                                                 ('901', '905', '949', '959', '980', '999'), false)))[1],
                 msgs[1]) AS main,
        coalesce(len(msgs), 0) AS n_msgs
    FROM fields
), decided AS (
    SELECT *,
        CASE
            WHEN shape = 'v2' THEN coalesce(j.audit_data.action.intercepted, false)
            -- v3 logs no "intercepted" flag: a transaction counts as blocked when the engine enforces, a rule
            -- matched, and the client got an error status that a deny explains (403, or any 4xx/5xx after an
            -- anomaly-score blocking rule 949xxx/959xxx matched).
            ELSE coalesce(upper(t.producer.secrules_engine), 'ENABLED') = 'ENABLED' AND n_msgs > 0
                 AND coalesce(status, 0) >= 400
                 AND (status = 403 OR list_bool_or(list_transform(msgs,
                        lambda m: length(m.id) = 6 AND left(m.id, 3) IN ('949', '959'))))
        END AS blocked,
        CASE WHEN regexp_full_match(coalesce(main.id, ''), '9[0-9]{5}') THEN CAST(substr(main.id, 1, 3) AS INTEGER)
        END AS crs_family,
        '|' || array_to_string(main.tags, '|') || '|' AS main_tags
    FROM matched
)
SELECT
    rec_no,
    coalesce(json_error,
             CASE WHEN shape IS NULL THEN 'not a ModSecurity JSON audit record (no "transaction" with time_stamp/unique_id or time/transaction_id)'
                  WHEN tstr IS NULL THEN 'missing "' || time_field || '"'
             END,
             CASE WHEN ts IS NULL THEN 'unparseable "' || time_field || '": ' || left(tstr, 40) END) AS error,
    txid AS event_id,
    ts AS time,
    'waf' AS category,
    CASE WHEN blocked THEN 'block' WHEN n_msgs > 0 THEN 'log' ELSE 'allow' END AS action,
    CASE WHEN blocked THEN 'blocked' ELSE 'allowed' END AS outcome,
    NULL AS tenant,
    NULL AS actor,
    {'ip': nullif(coalesce(nullif(t.client_ip, ''), t.remote_address), ''), 'country': NULL, 'asn': NULL,
     'user_agent': ua} AS src,
    {'method': method, 'host': host, 'path': nullif(path, ''), 'query': query, 'status': status,
     'request_bytes': TRY_CAST(req_len AS BIGINT), 'response_bytes': TRY_CAST(resp_len AS BIGINT)} AS http,
    NULL AS resource,
    NULL AS dst,
    {'rule_id': main.id,
     -- The CRS rule file names the family ("REQUEST-942-APPLICATION-ATTACK-SQLI"); other files by base name.
     'rule_group': CASE WHEN main.file IS NULL OR starts_with(main.file, '<<') THEN NULL
                        ELSE nullif(regexp_extract(main.file, '([^/\\]+?)(?:\.conf)?$', 1), '') END,
     'action': CASE WHEN blocked THEN 'block' WHEN n_msgs > 0 THEN 'log' ELSE 'allow' END,
     'attack': CASE
        WHEN n_msgs = 0 THEN NULL
        -- OWASP CRS rule ids: the first three digits are the rule file, i.e. the attack family.
        WHEN crs_family IN (911, 920, 921, 922) THEN 'protocol'
        WHEN crs_family = 912 THEN 'rate_limit'
        WHEN crs_family = 913 THEN 'scanner'
        WHEN crs_family IN (930, 931) THEN 'path_traversal'
        WHEN crs_family IN (932, 933, 944, 955) THEN 'rce'
        WHEN crs_family = 941 THEN 'xss'
        WHEN crs_family = 942 THEN 'sqli'
        WHEN crs_family IN (934, 943, 950, 951, 952, 953, 954) THEN 'other'
        -- Custom rules: the CRS tag vocabulary, when they use it.
        WHEN main_tags LIKE '%|attack-sqli|%' THEN 'sqli'
        WHEN main_tags LIKE '%|attack-xss|%' THEN 'xss'
        WHEN regexp_matches(main_tags, '\|attack-(lfi|rfi)\|') THEN 'path_traversal'
        WHEN regexp_matches(main_tags, '\|attack-(rce|injection-php|injection-java|deserialization)\|') THEN 'rce'
        WHEN regexp_matches(main_tags, '\|attack-(reputation-scanner|reputation-scripting)\|') THEN 'scanner'
        WHEN regexp_matches(main_tags, '\|attack-(reputation-crawler|automation)\|') THEN 'bot'
        WHEN regexp_matches(main_tags, '\|attack-(protocol|multipart-header)\|') THEN 'protocol'
        WHEN main_tags LIKE '%|attack-dos|%' THEN 'rate_limit'
        ELSE 'other' END,
     'labels': list_sort(list_distinct(flatten(list_transform(msgs, lambda m: m.tags))))} AS waf,
    'ModSecurity ' || CASE WHEN blocked THEN 'block' WHEN n_msgs > 0 THEN 'log' ELSE 'allow' END
        || coalesce(' by ' || main.id, '') || coalesce(' (' || main.msg || ')', '') || ': '
        || coalesce(method, '') || ' ' || coalesce(host, '') || coalesce(path, '') AS message,
    -- Where PII shows up in a WAF record: the query, the bodies (response bodies are what leaks), and what
    -- the rules matched. Bodies are capped like app_json's so one huge page cannot stall the scanner.
    nullif(concat_ws(' ', query, left(req_body, 65536), left(resp_body, 65536),
                     array_to_string(list_transform(msgs, lambda m: m.data), ' ')), '') AS scan_text,
    CASE WHEN json_error IS NULL THEN text END AS raw  -- parsed above: the loader casts to JSON once
FROM (
    SELECT *,
        CASE
            WHEN tstr IS NULL THEN NULL
            -- Apache's log time, as v2 writes it: "29/Nov/2023:10:04:05 +0000" (2.9.7+: ".107228" seconds).
            WHEN regexp_matches(tstr, '^[0-9]{1,2}/[A-Za-z]{3}/') THEN
                coalesce(try_strptime(tstr, '%d/%b/%Y:%H:%M:%S %z'), try_strptime(tstr, '%d/%b/%Y:%H:%M:%S.%f %z'))
            -- asctime, as v3 writes it ("Wed Nov 29 10:04:05 2023", day padded with a space): server local
            -- time without a zone. UTC is assumed (docs/formats/modsecurity.md).
            WHEN regexp_matches(tstr, '^[A-Za-z]{3} ') THEN
                timezone('UTC', try_strptime(regexp_replace(tstr, '\s+', ' ', 'g'), '%a %b %d %H:%M:%S %Y'))
            -- ISO 8601 / RFC 3339 ("2023-11-29 10:04:05", "2023-11-29T10:04:05.5+01:00"); no offset means UTC.
            WHEN regexp_matches(tstr, '([Zz]|[+-][0-9]{2}:?[0-9]{2})$') THEN TRY_CAST(tstr AS TIMESTAMPTZ)
            ELSE timezone('UTC', TRY_CAST(tstr AS TIMESTAMP))
        END AS ts,
        -- Header lookups by case-insensitive name in the header object's JSON text (libmodsecurity 3.0.0
        -- prefixed names with "REQUEST_HEADERS:"); the value is a JSON string, unescaped by json_extract_string.
        json_extract_string('"' || nullif(regexp_extract(req_headers,
            '"(?:REQUEST_HEADERS:)?(?i:user-agent)"\s*:\s*"((?:[^"\\]|\\.)*)"', 1), '') || '"', '$') AS ua,
        json_extract_string('"' || nullif(regexp_extract(req_headers,
            '"(?:REQUEST_HEADERS:)?(?i:host)"\s*:\s*"((?:[^"\\]|\\.)*)"', 1), '') || '"', '$') AS host,
        regexp_extract(req_headers, '"(?:REQUEST_HEADERS:)?(?i:content-length)"\s*:\s*"?([0-9]+)', 1) AS req_len,
        regexp_extract(resp_headers, '"(?:RESPONSE_HEADERS:)?(?i:content-length)"\s*:\s*"?([0-9]+)', 1) AS resp_len
    FROM decided
)
