-- Magento var/log/*.log: Monolog LineFormatter entries `[<time>] <channel>.<LEVEL>: <message> <context> <extra>`,
-- one record per entry (the framer keeps stack-trace lines with their entry). Fields: docs/formats/magento_log.md.
-- {{records}}: (rec_no = the entry's first line number, byte_offset, text = the whole entry, lines joined by LF).
WITH parsed AS (
    SELECT rec_no, text,
           -- The framer's test for an entry start; anything else is text before the first entry.
           regexp_matches(text, '^\[\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}') AS is_entry,
           regexp_extract(text, '^\[([^\]\n]+)\](?: (?:(\S+?)\.)?([A-Za-z]+):)?', ['ts', 'channel', 'level']) AS h
    FROM {{records}}
), timed AS (
    SELECT *,
           CASE
             WHEN regexp_matches(h.ts, '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:?\d{2})$')
               THEN TRY_CAST(h.ts AS TIMESTAMPTZ)
             -- Monolog 1 writes no zone; Magento's bootstrap sets PHP's default zone to UTC.
             WHEN regexp_matches(h.ts, '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?$')
               THEN timezone('UTC', TRY_CAST(h.ts AS TIMESTAMP))
           END AS ts,
           upper(nullif(h.level, '')) AS level,
           -- The exception class, stringified in the message (Monolog 2) or in the context (`[object] (Class(code: …`).
           nullif(coalesce(nullif(regexp_extract(text, '\[object\] \(([A-Za-z_][\w\\]*)\(code:', 1), ''),
                           regexp_extract(text, '^\[[^\]\n]+\] \S+: (?:[A-Za-z_][\w\\]*\\)?([A-Za-z_]\w*(?:Exception|Error)): ', 1)),
                  '') AS exception
    FROM parsed
)
SELECT
    rec_no,
    CASE WHEN NOT is_entry THEN 'text before the first log entry (no "[time] channel.LEVEL:" header): the tail of an '
                             || 'entry from an earlier file or chunk, or not a Monolog log'
         WHEN ts IS NULL THEN 'unparseable entry time "[' || left(h.ts, 40) || ']"'
    END AS error,
    -- No id in the log: the entry's hash and first line number, so an entry logged twice in the same second is two
    -- events, while re-reading the file (whole, resumed, or rotated and compressed) gives the same ids.
    md5(text) || ':' || rec_no AS event_id,
    ts AS time,
    'app' AS category,
    'log' AS action,
    CASE WHEN level IN ('ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY') THEN 'failure'
         WHEN level IN ('DEBUG', 'INFO', 'NOTICE', 'WARNING') THEN 'success' END AS outcome,
    NULL AS tenant,
    NULL AS actor,
    NULL AS src,
    NULL AS http,
    NULL AS resource,
    NULL AS dst,
    NULL AS waf,
    text AS message,
    NULL AS scan_text,
    json_object('entry', text, 'logged_at', nullif(h.ts, ''), 'channel', nullif(h.channel, ''), 'level', level,
                'exception', exception) AS raw
FROM timed
