-- Cloudflare Logpush `firewall_events` (JSON lines, .gz as Logpush writes them). Fields and decisions:
-- docs/formats/cloudflare_firewall.md. {{records}}: the framed lines (rec_no, byte_offset, text).
WITH parsed AS (
    SELECT rec_no, text,
           -- One parse per record: try() turns invalid JSON into NULL, and a valid JSON text that starts with
           -- "{" is an object. Only the rejected rows pay for json_valid / json_type to say what was wrong.
           CASE WHEN starts_with(ltrim(text), '{') THEN try(json_transform(text, '{
             "Datetime": "VARCHAR", "RayID": "VARCHAR", "RuleID": "VARCHAR", "MatchIndex": "BIGINT",
             "Action": "VARCHAR", "Source": "VARCHAR", "Description": "VARCHAR", "Kind": "VARCHAR",
             "ClientIP": "VARCHAR", "ClientCountry": "VARCHAR", "ClientASN": "VARCHAR",
             "ClientRequestUserAgent": "VARCHAR", "ClientRequestHost": "VARCHAR", "ClientRequestPath": "VARCHAR",
             "ClientRequestQuery": "VARCHAR", "ClientRequestMethod": "VARCHAR", "ClientRefererQuery": "VARCHAR",
             "ClientIPClass": "VARCHAR", "LeakedCredentialCheckResult": "VARCHAR",
             "EdgeResponseStatus": "INTEGER", "OriginResponseStatus": "INTEGER", "EdgeResponseBytes": "BIGINT"
           }')) END AS j
    FROM {{records}}
), fields AS (
    SELECT rec_no, text, j,
        CASE WHEN j IS NULL THEN json_record_error(text) END AS json_error,
        nullif(trim(j.Datetime), '') AS dt,
        -- Datetime is a string (RFC 3339) or a number of unix seconds / nanoseconds, depending on the Logpush
        -- job's timestamp_format; numbers sometimes arrive as strings. The unit is decided by magnitude.
        TRY_CAST(CASE WHEN regexp_full_match(trim(j.Datetime), '[0-9]+(\.[0-9]+)?') THEN trim(j.Datetime) END
                 AS DECIMAL(38, 9)) AS dt_num,
        -- Cloudflare spells actions without separators (managedchallenge); the API and older jobs use
        -- snake_case or camelCase. Compare on one spelling, emit snake_case.
        regexp_replace(lower(j.Action), '[^a-z0-9]', '', 'g') AS act,
        regexp_replace(lower(j.Source), '[^a-z0-9]', '', 'g') AS src_product,
        nullif(j.RuleID, '') AS rule_id,
        nullif(j.Description, '') AS descr,
        upper(concat_ws(' ', nullif(j.Description, ''), nullif(j.RuleID, ''))) AS evidence,
        -- OWASP CRS rules (Cloudflare's OWASP ruleset, legacy WAF) carry their 6-digit id in RuleID or as the
        -- Description's prefix ("942100: SQL Injection ..."): the id's first three digits name the attack family.
        TRY_CAST(regexp_extract(concat_ws(' ', j.Description, j.RuleID), '(?:^|[^0-9])(9[0-9]{2})[0-9]{3}(?:[^0-9]|$)', 1)
                 AS INTEGER) AS crs_family,
        nullif(nullif(j.ClientIPClass, ''), 'unknown') AS ip_class,
        nullif(j.LeakedCredentialCheckResult, '') AS leaked_check,
        nullif(regexp_replace(j.ClientRequestQuery, '^\?', ''), '') AS query,
        nullif(regexp_replace(j.ClientRefererQuery, '^\?', ''), '') AS referer_query
    FROM parsed
), timed AS (
    SELECT *,
        CASE
            WHEN dt IS NULL THEN NULL
            WHEN dt_num IS NOT NULL THEN
                CASE WHEN dt_num <= 0 THEN NULL
                     WHEN dt_num < 1e11 THEN make_timestamptz(CAST(floor(dt_num * 1000000) AS BIGINT))  -- seconds
                     WHEN dt_num < 1e14 THEN make_timestamptz(CAST(floor(dt_num * 1000) AS BIGINT))     -- millis
                     WHEN dt_num < 1e17 THEN make_timestamptz(CAST(floor(dt_num) AS BIGINT))            -- micros
                     WHEN dt_num < 1e20 THEN make_timestamptz(CAST(floor(dt_num / 1000) AS BIGINT))     -- nanos
                END
            -- RFC 3339 with an offset or Z; without one (Panther's "2022-05-10 06:36:57") it is UTC.
            WHEN regexp_matches(dt, '([Zz]|[+-][0-9]{2}:?[0-9]{2})$') THEN TRY_CAST(dt AS TIMESTAMPTZ)
            ELSE timezone('UTC', TRY_CAST(dt AS TIMESTAMP))
        END AS ts,
        CASE act
            WHEN 'jschallenge' THEN 'js_challenge'
            WHEN 'managedchallenge' THEN 'managed_challenge'
            WHEN 'connectionclose' THEN 'connection_close'
            WHEN 'challengesolved' THEN 'challenge_solved'
            WHEN 'challengefailed' THEN 'challenge_failed'
            WHEN 'challengebypassed' THEN 'challenge_bypassed'
            WHEN 'jschallengesolved' THEN 'js_challenge_solved'
            WHEN 'jschallengefailed' THEN 'js_challenge_failed'
            WHEN 'jschallengebypassed' THEN 'js_challenge_bypassed'
            WHEN 'managedchallengeskipped' THEN 'managed_challenge_skipped'
            WHEN 'managedchallengenoninteractivesolved' THEN 'managed_challenge_non_interactive_solved'
            WHEN 'managedchallengeinteractivesolved' THEN 'managed_challenge_interactive_solved'
            WHEN 'managedchallengebypassed' THEN 'managed_challenge_bypassed'
            WHEN '' THEN NULL
            ELSE act
        END AS action_name
    FROM fields
)
SELECT
    rec_no,
    coalesce(json_error,
             CASE WHEN dt IS NULL THEN 'missing "Datetime"'
                  WHEN ts IS NULL THEN 'unparseable "Datetime": ' || left(dt, 40) END) AS error,
    -- A ray is one request, but one request can match several rules (MatchIndex 0 is the last match, earlier
    -- ones count up), and Cloudflare does not promise ray ids are unique: the second of the event keeps two
    -- requests that share a ray id apart, and is the same whichever timestamp_format the job used.
    CASE WHEN nullif(j.RayID, '') IS NOT NULL THEN
         j.RayID || ':' || coalesce(rule_id, '') || ':' || coalesce(CAST(j.MatchIndex AS VARCHAR), '')
                 || '@' || CAST(floor(epoch(ts)) AS BIGINT) END AS event_id,
    ts AS time,
    'waf' AS category,
    action_name AS action,
    CASE
        WHEN act IN ('block', 'challenge', 'jschallenge', 'managedchallenge', 'connectionclose',
                     'challengefailed', 'jschallengefailed') THEN 'blocked'
        WHEN act IN ('allow', 'log', 'skip', 'bypass', 'challengesolved', 'challengebypassed', 'jschallengesolved',
                     'jschallengebypassed', 'managedchallengeskipped', 'managedchallengenoninteractivesolved',
                     'managedchallengeinteractivesolved', 'managedchallengebypassed') THEN 'allowed'
    END AS outcome,
    NULL AS tenant,
    NULL AS actor,
    {'ip': nullif(j.ClientIP, ''),
     -- Cloudflare writes lower-case ISO codes (and xx / t1 for unknown / Tor); other sources write upper case.
     'country': nullif(upper(j.ClientCountry), ''),
     'asn': nullif(nullif(j.ClientASN, ''), '0'),
     'user_agent': nullif(j.ClientRequestUserAgent, '')} AS src,
    {'method': nullif(j.ClientRequestMethod, ''), 'host': nullif(j.ClientRequestHost, ''),
     'path': nullif(j.ClientRequestPath, ''), 'query': query,
     -- What the client got: the edge status (0 = none recorded), else the origin's.
     'status': coalesce(nullif(j.EdgeResponseStatus, 0), nullif(j.OriginResponseStatus, 0)),
     'request_bytes': NULL, 'response_bytes': j.EdgeResponseBytes} AS http,
    NULL AS resource,
    NULL AS dst,
    {'rule_id': rule_id,
     'rule_group': nullif(src_product, ''),
     'action': action_name,
     'attack': CASE
        WHEN rule_id IS NULL AND coalesce(src_product, '') IN ('', 'unknown') THEN NULL
        WHEN src_product IN ('ratelimit', 'l7ddos') THEN 'rate_limit'
        WHEN src_product IN ('bic', 'botfight', 'botmanagement', 'uablock') THEN 'bot'
        WHEN src_product = 'securitylevel' THEN 'scanner'
        WHEN src_product = 'validation' OR src_product LIKE 'apishield%' THEN 'protocol'
        WHEN crs_family = 942 OR regexp_matches(evidence, 'SQLI|SQL INJECTION') THEN 'sqli'
        WHEN crs_family = 941 OR regexp_matches(evidence, 'XSS|CROSS.SITE SCRIPTING') THEN 'xss'
        WHEN crs_family IN (930, 931) OR regexp_matches(evidence, 'TRAVERSAL|\b(LFI|RFI)\b|FILE INCLUSION')
            THEN 'path_traversal'
        WHEN crs_family IN (932, 933, 944)
             OR regexp_matches(evidence, '\bRCE\b|REMOTE CODE|CODE EXECUTION|(COMMAND|CODE) INJECTION|LOG4J|SHELLSHOCK')
            THEN 'rce'
        WHEN crs_family = 913 OR regexp_matches(evidence, 'SCANNER') THEN 'scanner'
        WHEN regexp_matches(evidence, '\bBOTS?\b|CRAWLER') THEN 'bot'
        WHEN crs_family IN (911, 920, 921, 922) OR regexp_matches(evidence, '^ANOMALY:|PROTOCOL') THEN 'protocol'
        ELSE 'other' END,
     -- What Cloudflare knows about the client and the credentials it sent, as labels a playbook can test.
     'labels': list_filter(['ip_class:' || ip_class,
                            CASE WHEN lower(leaked_check) NOT IN ('clean', 'none') THEN 'leaked_credentials:' || leaked_check END],
                           lambda x: x IS NOT NULL)} AS waf,
    'Cloudflare ' || coalesce(action_name, '?') || coalesce(' by ' || nullif(src_product, ''), '')
        || coalesce(' rule ' || rule_id, '') || coalesce(' (' || descr || ')', '') || ': '
        || coalesce(j.ClientRequestMethod, '') || ' ' || coalesce(j.ClientRequestHost, '')
        || coalesce(j.ClientRequestPath, '') AS message,
    nullif(concat_ws(' ', query, referer_query), '') AS scan_text,
    CASE WHEN json_error IS NULL THEN text END AS raw  -- parsed above: the loader casts to JSON once
FROM timed
