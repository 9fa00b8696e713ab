-- Adobe Commerce Action Log. Each record is a JSON object: a row of the admin's CSV export (keys = the CSV
-- header: Time, Action Group, ...; the framer turns CSV rows into objects) or a database row of
-- magento_logging_event, magento_login_as_customer_log or admin_user_session. The shape is detected per record.
-- Mapping table: docs/formats/magento_action_log.md. {{records}}: (rec_no, byte_offset, text).
WITH parsed AS (
    SELECT rec_no, text,
           CASE WHEN NOT json_valid(text) THEN 'invalid JSON'
                WHEN json_type(text) <> 'OBJECT' THEN 'not a JSON object (' || CASE json_type(text)
                     WHEN 'VARCHAR' THEN 'string' WHEN 'UBIGINT' THEN 'number' WHEN 'BIGINT' THEN 'number'
                     WHEN 'DOUBLE' THEN 'number' ELSE lower(json_type(text)) END || ')'
           END AS json_error,
           -- The CSV export's keys differ from the table's only in case ("Time"/"time", "Action"/"action") and
           -- one STRUCT cannot hold both, so each record is transformed by exactly one of two shapes.
           -- (AND evaluates both sides: json_type must not see invalid JSON.)
           CASE WHEN json_valid(text) THEN json_type(text) = 'OBJECT' AND contains(text, '"Action Group":')
                ELSE FALSE END AS is_csv,
           CASE WHEN json_valid(text) AND json_type(text) = 'OBJECT' AND contains(text, '"Action Group":')
                THEN json_transform(text, '{
                  "Time": "VARCHAR", "Action Group": "VARCHAR", "Action": "VARCHAR", "IP Address": "VARCHAR",
                  "Username": "VARCHAR", "Result": "VARCHAR", "Full Action Name": "VARCHAR", "Details": "VARCHAR"
                }') END AS c,
           CASE WHEN json_valid(text) AND json_type(text) = 'OBJECT' AND NOT contains(text, '"Action Group":')
                THEN json_transform(text, '{
                  "log_id": "VARCHAR", "ip": "JSON", "x_forwarded_ip": "JSON", "event_code": "VARCHAR",
                  "time": "VARCHAR", "action": "VARCHAR", "info": "VARCHAR", "status": "VARCHAR", "user": "VARCHAR",
                  "user_id": "VARCHAR", "fullaction": "VARCHAR", "error_message": "VARCHAR",
                  "user_name": "VARCHAR", "customer_id": "VARCHAR", "customer_email": "VARCHAR",
                  "id": "VARCHAR", "session_id": "VARCHAR", "created_at": "VARCHAR", "updated_at": "VARCHAR"
                }') END AS d
    FROM {{records}}
), shaped AS (
    SELECT rec_no, text, json_error, d,
           CASE WHEN is_csv THEN 'csv'
                WHEN d.event_code IS NOT NULL OR d.fullaction IS NOT NULL THEN 'logging_event'
                WHEN d.customer_id IS NOT NULL OR d.customer_email IS NOT NULL THEN 'login_as_customer'
                WHEN d.created_at IS NOT NULL OR d.updated_at IS NOT NULL THEN 'admin_session'
           END AS shape,
           -- One vocabulary for the CSV export and the table: group (event_code), act, details (info), ...
           CASE WHEN is_csv THEN c."Time" WHEN d.time IS NOT NULL THEN d.time
                ELSE coalesce(d.updated_at, d.created_at) END AS time_text,
           trim(CASE WHEN is_csv THEN c."Action Group" ELSE d.event_code END) AS grp,
           trim(CASE WHEN is_csv THEN c."Action" ELSE d.action END) AS act_text,
           lower(trim(CASE WHEN is_csv THEN c."Action" ELSE d.action END)) AS act,
           trim(CASE WHEN is_csv THEN c."Full Action Name" ELSE d.fullaction END) AS fullaction_text,
           lower(trim(CASE WHEN is_csv THEN c."Full Action Name" ELSE d.fullaction END)) AS fullaction,
           nullif(trim(CASE WHEN is_csv THEN c."Details" ELSE d.info END), '') AS details,
           lower(trim(CASE WHEN is_csv THEN c."Result" ELSE d.status END)) AS result,
           nullif(trim(CASE WHEN is_csv THEN c."Username" ELSE coalesce(d.user, d.user_name) END), '') AS username,
           CASE WHEN is_csv THEN c."IP Address"
                WHEN json_type(d.ip) = 'VARCHAR' THEN d.ip ->> '$' ELSE CAST(d.ip AS VARCHAR) END AS ip_text,
           CASE WHEN json_type(d.x_forwarded_ip) = 'VARCHAR' THEN d.x_forwarded_ip ->> '$'
                ELSE CAST(d.x_forwarded_ip AS VARCHAR) END AS xff_text
    FROM parsed
), numbered AS (
    SELECT *,
           CASE shape WHEN 'csv' THEN 'Time' WHEN 'admin_session' THEN 'updated_at' ELSE 'time' END AS time_field,
           CASE WHEN TRY_CAST(trim(ip_text) AS BIGINT) BETWEEN -2147483648 AND 4294967295
                  AND regexp_matches(trim(ip_text), '^-?\d+$')
                THEN (TRY_CAST(trim(ip_text) AS BIGINT) + 4294967296) % 4294967296 END AS ip_num,
           CASE WHEN TRY_CAST(trim(xff_text) AS BIGINT) BETWEEN -2147483648 AND 4294967295
                  AND regexp_matches(trim(xff_text), '^-?\d+$')
                THEN (TRY_CAST(trim(xff_text) AS BIGINT) + 4294967296) % 4294967296 END AS xff_num
    FROM shaped
), normal AS (
    SELECT *,
           -- "Sales Orders" / sales_orders / Customers -> sales_orders / customers: compare labels and codes alike.
           trim(regexp_replace(lower(grp), '[^a-z0-9]+', '_', 'g'), '_') AS g,
           -- Older installs store IPv4 as ip2long() (signed on 32-bit PHP); 0 means "none".
           CASE WHEN ip_num IS NULL THEN nullif(trim(ip_text), '')
                WHEN ip_num <> 0 THEN concat_ws('.', (ip_num >> 24) & 255, (ip_num >> 16) & 255,
                                                (ip_num >> 8) & 255, ip_num & 255) END AS ip,
           CASE WHEN xff_num IS NULL THEN nullif(trim(xff_text), '')
                WHEN xff_num <> 0 THEN concat_ws('.', (xff_num >> 24) & 255, (xff_num >> 16) & 255,
                                                 (xff_num >> 8) & 255, xff_num & 255) END AS xff,
           -- Exports and the admin grid render times like "Mar 15, 2023, 4:50:14 PM" (ICU puts a narrow
           -- no-break space before PM); database rows hold "2023-03-15 16:50:14" (UTC).
           trim(regexp_replace(time_text, '[\x{00A0}\x{202F}\s]+', ' ', 'g')) AS t
    FROM numbered
), timed AS (
    SELECT *,
           CASE
             WHEN regexp_matches(t, '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?\s*([Zz]|[+-]\d{2}:?\d{2})$')
               THEN TRY_CAST(t AS TIMESTAMPTZ)
             WHEN regexp_matches(t, '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$')
               THEN timezone('UTC', TRY_CAST(t AS TIMESTAMP))
             WHEN regexp_matches(t, '^[A-Za-z]{3}')
               THEN timezone('UTC', try_strptime(t, ['%b %d, %Y, %I:%M:%S %p', '%b %d, %Y %I:%M:%S %p',
                                                     '%b %d, %Y, %H:%M:%S', '%b %d, %Y %H:%M:%S']))
             WHEN regexp_matches(t, '^\d{1,2} [A-Za-z]{3}')
               THEN timezone('UTC', try_strptime(t, ['%d %b %Y, %H:%M:%S', '%d %b %Y %H:%M:%S']))
             WHEN regexp_matches(t, '^\d{1,2}/\d{1,2}/\d{2,4}')
               THEN timezone('UTC', try_strptime(t, ['%m/%d/%y, %I:%M %p', '%m/%d/%Y, %I:%M:%S %p', '%m/%d/%Y %H:%M:%S',
                                                     '%m/%d/%y %I:%M %p']))
           END AS ts,
           -- Normalised action (see the mapping table in the docs); first match wins.
           CASE
             WHEN shape = 'login_as_customer' OR fullaction LIKE 'loginascustomer%' OR g LIKE '%login_as_customer%'
               THEN 'login_as_customer'
             WHEN act IN ('login', 'signin', 'sign_in') OR fullaction IN ('adminhtml_auth_login', 'adminhtml_index_login')
               THEN 'login'
             WHEN act = 'logout' OR fullaction = 'adminhtml_auth_logout' THEN 'logout'
             WHEN act LIKE '%export%' OR fullaction LIKE '%export%' THEN 'export'
             WHEN regexp_matches(g, 'integration|oauth') AND act IN ('save', 'activate', 'tokensexchange', 'reauthorize')
               OR regexp_matches(fullaction, 'integration_(tokensexchange|activate|reauthorize)')
               THEN 'permission_grant'
             WHEN act IN ('new', 'create', 'add') AND regexp_matches(g, '(^|_)(admin_)?(accounts?|users?)$')
               OR regexp_matches(fullaction, '^adminhtml_user_(new|create)')
               THEN 'user_create'
             WHEN act = 'save' AND (regexp_matches(g, 'role|permission') OR regexp_matches(g, '(^|_)(admin_)?(accounts?|users?)$'))
               OR fullaction IN ('adminhtml_user_save', 'adminhtml_user_role_saverole')
               THEN 'role_change'
             WHEN act IN ('delete', 'massdelete') OR regexp_matches(act, '^mass_?delete') THEN 'delete'
             WHEN act LIKE 'mass%' THEN 'mass_update'
             WHEN shape = 'admin_session' THEN 'admin_session'
             ELSE nullif(act, '')
           END AS action,
           CASE
             WHEN g IN ('customer', 'customers') THEN 'customer'
             WHEN regexp_matches(g, 'customer_?segment') THEN 'customer_segment'
             WHEN regexp_matches(g, 'order') THEN 'sales_order'
             WHEN regexp_matches(g, 'invoice') THEN 'sales_invoice'
             WHEN regexp_matches(g, 'shipment') THEN 'sales_shipment'
             WHEN regexp_matches(g, 'credit_?memo') THEN 'sales_creditmemo'
             WHEN regexp_matches(g, 'role') THEN 'admin_role'
             WHEN regexp_matches(g, '(^|_)(admin_)?(accounts?|users?)$|login|sign_?in') THEN 'admin_user'
             WHEN regexp_matches(g, 'product') THEN 'product'
             WHEN regexp_matches(g, 'categor') THEN 'category'
             WHEN regexp_matches(g, 'cms_pages?$|^pages?$') THEN 'cms_page'
             WHEN regexp_matches(g, 'cms_blocks?$|^blocks?$') THEN 'cms_block'
             WHEN regexp_matches(g, 'integration') THEN 'integration'
             WHEN regexp_matches(g, 'config') THEN 'config'
             ELSE nullif(g, '')
           END AS rtype,
           -- Details carry the affected ids ("12, 13, 14") or, for some handlers, a count ("exported 1500 records").
           CASE WHEN regexp_matches(details, '^\d+(\s*,\s*\d+)*$') THEN len(string_split(details, ','))
                ELSE TRY_CAST(nullif(regexp_extract(details,
                       '(\d+)\s+(?:records?|rows?|items?|entities|entries|customers?|orders?|products?)', 1), '') AS BIGINT)
           END AS record_count,
           -- The one entity acted on: Details that are a bare id, or name it as `user_id=8` / `role_id=1` / `id=5`.
           coalesce(CASE WHEN regexp_matches(details, '^\d+$') THEN details END,
                    nullif(regexp_extract(details, '(?:^|[;,\s])' || CASE
                               WHEN regexp_matches(g, 'role') THEN 'role_id'
                               WHEN regexp_matches(g, '(^|_)(admin_)?(accounts?|users?)$') THEN 'user_id'
                               ELSE 'id' END || '=(\d+)', 1), '')) AS single_id,
           TRY_CAST(d.status AS INTEGER) AS session_status
    FROM normal
)
SELECT
    rec_no,
    coalesce(json_error,
             CASE WHEN shape IS NULL THEN 'not a Magento action log record: expected an Action Logs CSV row or a '
                                          || 'magento_logging_event, magento_login_as_customer_log or admin_user_session row'
                  WHEN nullif(trim(time_text), '') IS NULL THEN 'missing "' || time_field || '"'
                  WHEN ts IS NULL THEN 'unparseable "' || time_field || '"'
                  WHEN shape = 'admin_session' AND (session_status IS NULL OR session_status NOT BETWEEN 0 AND 3)
                    THEN 'admin_user_session "status" must be 0, 1, 2 or 3'
             END) AS error,
    CASE shape
      WHEN 'logging_event' THEN 'event:' || nullif(d.log_id, '')
      WHEN 'login_as_customer' THEN 'login_as_customer:' || nullif(d.log_id, '')
      -- A session row changes (status, updated_at): each state seen is its own event.
      WHEN 'admin_session' THEN 'admin_session:' || d.id || ':' || d.status || ':' || coalesce(d.updated_at, d.created_at)
      -- The CSV export has no id: hash, numbered among identical rows of the file so two identical actions in
      -- one second stay two events and a re-read gives the same ids.
      WHEN 'csv' THEN md5(text) || ':' || row_number() OVER (PARTITION BY md5(text) ORDER BY rec_no)
    END AS event_id,
    ts AS time,
    'admin' AS category,
    action,
    CASE WHEN shape = 'admin_session' THEN
              CASE session_status WHEN 0 THEN 'logged_out' WHEN 1 THEN 'logged_in'
                                  WHEN 2 THEN 'logged_out_by_login' WHEN 3 THEN 'logged_out_manually' END
         WHEN shape = 'login_as_customer' THEN 'success'
         WHEN result IN ('success', '1') THEN 'success'
         WHEN result IN ('failure', 'fail', 'failed', '0') THEN 'failure'
         ELSE nullif(result, '') END AS outcome,
    NULL AS tenant,
    {'user': username, 'user_id': nullif(d.user_id, ''), 'role': NULL,
     'session_id': CASE WHEN shape = 'admin_session' THEN d.id END,
     'customer_id': CASE WHEN shape = 'login_as_customer' THEN nullif(d.customer_id, '') END,
     'api_client': NULL, 'app': NULL} AS actor,
    -- x_forwarded_ip is the client behind the store's proxy / load balancer when there is one.
    {'ip': coalesce(xff, ip), 'country': NULL, 'asn': NULL, 'user_agent': NULL} AS src,
    NULL AS http,
    CASE shape
      WHEN 'login_as_customer' THEN {'type': 'customer', 'id': nullif(d.customer_id, ''),
                                     'owner_id': nullif(d.customer_id, ''), 'record_count': 1}
      WHEN 'admin_session' THEN {'type': 'admin_session', 'id': d.id, 'owner_id': NULL, 'record_count': NULL}
      ELSE {'type': rtype, 'id': single_id,
            'owner_id': CASE WHEN rtype = 'customer' THEN single_id END, 'record_count': record_count}
    END AS resource,
    NULL AS dst,
    NULL AS waf,
    CASE shape
      WHEN 'login_as_customer' THEN
        'Admin ' || coalesce(username, 'user #' || d.user_id, '?') || ' logged in as customer '
          || coalesce(d.customer_id, '?') || coalesce(' <' || d.customer_email || '>', '')
      WHEN 'admin_session' THEN
        'Admin user #' || coalesce(d.user_id, '?') || ' session ' || coalesce(d.id, '?') || ' '
          || coalesce(CASE session_status WHEN 0 THEN 'logged out' WHEN 1 THEN 'logged in'
                                          WHEN 2 THEN 'logged out by a login elsewhere'
                                          WHEN 3 THEN 'logged out manually' END, 'status ' || d.status)
          || coalesce(' from ' || coalesce(xff, ip), '')
      ELSE concat_ws(' ', 'Admin', coalesce(username, '?'), coalesce(act_text, '?'), '[' || grp || ']', fullaction_text,
                     'details: ' || details, '-> ' || result, nullif(d.error_message, ''))
    END AS message,
    NULL AS scan_text,
    CASE WHEN json_error IS NULL THEN text END AS raw  -- parsed above: the loader casts to JSON once
FROM timed
