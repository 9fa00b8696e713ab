-- AWS WAF v2 logs (JSON lines, as Firehose delivers them to S3). Fields: docs/formats/aws_waf.md.
-- {{records}}: the framed lines (rec_no, byte_offset, text).
WITH parsed AS (
    SELECT rec_no,
           -- One parse per record: try() turns invalid JSON into NULL; only rejected rows pay for
           -- json_valid / json_type to say what was wrong.
           CASE WHEN starts_with(ltrim(text), '{') THEN try(json_transform(text, '{
             "timestamp": "BIGINT", "webaclId": "VARCHAR", "terminatingRuleId": "VARCHAR",
             "terminatingRuleType": "VARCHAR", "action": "VARCHAR", "responseCodeSent": "INTEGER",
             "terminatingRuleMatchDetails": [{"conditionType": "VARCHAR"}],
             "ruleGroupList": [{"ruleGroupId": "VARCHAR",
                                "terminatingRule": {"ruleId": "VARCHAR", "action": "VARCHAR"},
                                "nonTerminatingMatchingRules": [{"ruleId": "VARCHAR", "action": "VARCHAR"}]}],
             "nonTerminatingMatchingRules": [{"ruleId": "VARCHAR", "action": "VARCHAR",
                                              "ruleMatchDetails": [{"conditionType": "VARCHAR"}]}],
             "rateBasedRuleList": [{"rateBasedRuleId": "VARCHAR", "rateBasedRuleName": "VARCHAR"}],
             "labels": [{"name": "VARCHAR"}],
             "httpRequest": {"clientIp": "VARCHAR", "country": "VARCHAR", "uri": "VARCHAR", "args": "VARCHAR",
                             "httpMethod": "VARCHAR", "requestId": "VARCHAR", "host": "VARCHAR",
                             "headers": [{"name": "VARCHAR", "value": "VARCHAR"}]}
           }')) END AS j,
           text
    FROM {{records}}
), checked AS (
    SELECT *, CASE WHEN j IS NULL THEN json_record_error(text) END AS json_error
    FROM parsed
), matched AS (
    SELECT *,
        -- The rule that decided, else the first rule that only counted (COUNT rules are how WAFs run in detect mode).
        coalesce(
            CASE WHEN j.terminatingRuleId <> 'Default_Action' THEN
                 coalesce(list_filter(j.ruleGroupList, lambda g: g.terminatingRule IS NOT NULL)[1].terminatingRule.ruleId,
                          j.terminatingRuleId) END,
            j.nonTerminatingMatchingRules[1].ruleId,
            list_filter(j.ruleGroupList, lambda g: len(g.nonTerminatingMatchingRules) > 0)[1]
                .nonTerminatingMatchingRules[1].ruleId
        ) AS rule_id,
        CASE WHEN j.terminatingRuleId <> 'Default_Action' OR len(j.nonTerminatingMatchingRules) > 0 THEN NULL
             ELSE list_filter(j.ruleGroupList, lambda g: len(g.nonTerminatingMatchingRules) > 0)[1].ruleGroupId
        END AS counted_group,
        coalesce(list_transform(j.labels, lambda l: l.name), []) AS label_names,
        upper(concat_ws(' ',
            list_aggregate(list_transform(j.terminatingRuleMatchDetails, lambda d: d.conditionType), 'string_agg', ' '),
            list_aggregate(flatten(list_transform(j.nonTerminatingMatchingRules,
                lambda r: list_transform(r.ruleMatchDetails, lambda d: d.conditionType))), 'string_agg', ' '),
            array_to_string(list_transform(j.labels, lambda l: l.name), ' '),
            j.terminatingRuleId,
            array_to_string(list_transform(j.ruleGroupList, lambda g: g.terminatingRule.ruleId), ' '),
            -- When no rule terminated, rule_id names a rule that only counted (or challenged): its name and action
            -- are evidence too, or a CAPTCHA/CHALLENGE rule in count position would be classed "other".
            CASE WHEN j.terminatingRuleId = 'Default_Action' THEN concat_ws(' ',
                array_to_string(list_transform(j.nonTerminatingMatchingRules, lambda r: concat_ws(' ', r.ruleId, r.action)), ' '),
                array_to_string(flatten(list_transform(j.ruleGroupList, lambda g: list_transform(g.nonTerminatingMatchingRules,
                    lambda r: concat_ws(' ', r.ruleId, r.action)))), ' ')) END)) AS evidence
    FROM checked
)
SELECT
    rec_no,
    coalesce(json_error, CASE WHEN j.timestamp IS NULL THEN 'missing or unparseable "timestamp" (epoch milliseconds)' END)
        AS error,
    CASE WHEN j.httpRequest.requestId IS NOT NULL AND j.httpRequest.requestId <> 'null'
         THEN j.httpRequest.requestId || '@' || j.timestamp END AS event_id,
    CASE WHEN j.timestamp BETWEEN 0 AND 32503680000000 THEN make_timestamptz(j.timestamp * 1000) END AS time,
    'waf' AS category,
    lower(j.action) AS action,
    CASE WHEN upper(j.action) IN ('BLOCK', 'CAPTCHA', 'CHALLENGE') THEN 'blocked' ELSE 'allowed' END AS outcome,
    regexp_extract(j.webaclId, 'webacl/([^/]+)/', 1) AS tenant,
    NULL AS actor,
    {'ip': j.httpRequest.clientIp, 'country': j.httpRequest.country, 'asn': NULL,
     'user_agent': list_filter(j.httpRequest.headers, lambda h: lower(h.name) = 'user-agent')[1].value} AS src,
    {'method': j.httpRequest.httpMethod,
     'host': coalesce(j.httpRequest.host, list_filter(j.httpRequest.headers, lambda h: lower(h.name) = 'host')[1].value),
     'path': nullif(j.httpRequest.uri, ''), 'query': nullif(j.httpRequest.args, ''), 'status': j.responseCodeSent,
     'request_bytes': NULL, 'response_bytes': NULL} AS http,
    NULL AS resource,
    NULL AS dst,
    {'rule_id': rule_id,
     'rule_group': coalesce(counted_group,
                            list_filter(j.ruleGroupList, lambda g: g.terminatingRule IS NOT NULL)[1].ruleGroupId),
     'action': lower(j.action),
     'attack': CASE
        WHEN rule_id IS NULL AND len(j.rateBasedRuleList) = 0 THEN NULL
        WHEN regexp_matches(evidence, 'SQL_?INJECTION|SQLI') THEN 'sqli'
        WHEN regexp_matches(evidence, 'XSS|CROSS_?SITE') THEN 'xss'
        WHEN regexp_matches(evidence, 'TRAVERSAL|LFI|RFI|LOCALFILE|RESTRICTEDEXTENSION') THEN 'path_traversal'
        -- RCE as a word or an AWS name suffix (Log4JRCE, ReactJSRCE, JavaDeserializationRCE), not inside
        -- COMMERCE, SOURCE or FORCE; RATE as a word or RATE_LIMIT / RATE_BASED, not inside CORPORATE or GENERATE.
        WHEN regexp_matches(evidence, '(^|[^A-Z]|[JSN])RCE|COMMAND|LOG4J|UNIXSHELL|WINDOWSSHELL|PHP') THEN 'rce'
        WHEN len(j.rateBasedRuleList) > 0 OR j.terminatingRuleType = 'RATE_BASED'
             OR regexp_matches(evidence, '(^|[^A-Z])RATE|RATE_?(LIMIT|BASED)') THEN 'rate_limit'
        WHEN regexp_matches(evidence, 'BOT|CAPTCHA|CHALLENGE') THEN 'bot'
        WHEN regexp_matches(evidence, 'SCANNER|BADINPUT|REPUTATION|ANONYMOUS') THEN 'scanner'
        ELSE 'other' END,
     'labels': label_names} AS waf,
    'AWS WAF ' || coalesce(j.action, '?') || coalesce(' by ' || rule_id, '') || ': '
        || coalesce(j.httpRequest.httpMethod, '') || ' ' || coalesce(j.httpRequest.uri, '') AS message,
    nullif(j.httpRequest.args, '') AS scan_text,
    CASE WHEN json_error IS NULL THEN text END AS raw  -- parsed above: the loader casts to JSON once
FROM matched
