-- PII and secret scanner / masker as DuckDB macros (RE2 regexes; Luhn and mod-97 in SQL).
--
-- This file is the ONE definition of what breachline calls PII. Ingest runs pii_scan / pii_mask over millions of
-- events; the outbound redactor (breachline/pii.py: redact) runs pii_redact on an in-process DuckDB, so alerts,
-- Jira tickets and Slack messages are masked by exactly the rules that classified the events. docs/pii.md has the
-- rules, the accepted misses and the measured cost.
--
-- Public macros:
--   pii_scan(text)      -> STRUCT(types VARCHAR[], count INTEGER)  kinds present (sorted, distinct), match count
--   pii_mask(text)      -> VARCHAR  PAN first 6 / last 4, SSN ***-**-1234, secrets and payment tokens redacted
--   pii_redact(text)    -> VARCHAR  pii_mask plus emails, phones and IBANs (for text leaving breachline)
--   pii_scan_mask(text) -> STRUCT(types VARCHAR[], count INTEGER, masked VARCHAR)  both, one extraction
--
-- How it is built, and why (each point was measured on DuckDB 2.0.1, see docs/performance.md):
-- * pii_re_* return constant patterns. A regexp call whose pattern is a constant expression (a macro returning a
--   literal, literals joined with ||) compiles it once, so the one-pass prefilter is built from the same pattern
--   macros as the extractors: one definition per kind.
-- * A text that fails the prefilter (one RE2 pass) is clean and costs nothing more: CASE runs its branches only on
--   the rows that need them.
-- * No regex runs inside a lambda body: DuckDB re-creates a lambda's expression state for every chunk, which
--   recompiles every regex in the body (about 5 ms per 2048 rows for the secret pattern). So all extraction
--   happens in the argument of one binding lambda (list_transform([{...}], lambda x: ...)[1]), and validation and
--   masking use only string and integer functions.
-- * The binding lambda is also how a value is computed once and used twice: DuckDB's common-subexpression pass
--   does not reach inside CASE branches.
-- * Masked JSON stays valid JSON (events.raw is JSON text): no match contains a double quote or an escaped
--   quote, a JSON value is only matched when quoted, and no replacement contains a quote or a backslash.

-- ---------------------------------------------------------------------------------------------------------------
-- Patterns
-- ---------------------------------------------------------------------------------------------------------------

-- Card number candidates: a maximal run of >= 13 digits, single spaces or dashes allowed between digits.
-- Validation (issuer range, length, Luhn) happens on windows of the run, see pii__pan_windows.
CREATE OR REPLACE MACRO pii_re_pan() AS '\b\d(?:[ -]?\d){12,}\b';

-- US SSN AAA-GG-SSSS or AAA GG SSSS; area 000, 666, 900-999, group 00 and serial 0000 are never issued.
CREATE OR REPLACE MACRO pii_re_ssn() AS
    '\b(?:00[1-9]|0[1-9]\d|[1-5]\d\d|6[0-5]\d|66[0-57-9]|6[7-9]\d|[78]\d\d)'
    || '(?:-(?:0[1-9]|[1-9]\d)-|[ ](?:0[1-9]|[1-9]\d)[ ])'
    || '(?:000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d\d\d)\b';

CREATE OR REPLACE MACRO pii_re_email() AS '[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}\b';

-- Phones, capture group 1. Either '+' and digits with optional single separators or bracketed groups (E.164 and
-- international: +15142546011, +1(502)-459-2181, +44 (0)20 7946 0958; 8-15 digits, checked after extraction),
-- or a formatted North-American number ((502) 459-2181, 502-459-2181, 502.459.2181, 1-502-459-2181). A bare
-- 10-digit number is never a phone: order ids and epoch seconds look exactly like that. The leading class keeps a
-- phone from starting inside a word, a longer number, a dotted version or a dashed id.
CREATE OR REPLACE MACRO pii_re_phone() AS
    '(?:^|[^0-9A-Za-z_+.-])('
    || '\+\d(?:[ .-]?(?:\d|\(\d{1,4}\)))+'
    || '|(?:1[ .-])?(?:\([2-9]\d\d\)[ .-]?|[2-9]\d\d[ .-])[2-9]\d\d[ .-]\d{4}\b'
    || ')';

-- IBAN: country, 2 check digits, BBAN, compact or in groups of four. Validated by registry length and mod 97.
CREATE OR REPLACE MACRO pii_re_iban() AS '\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b';

-- Key names whose value is a credential. Prefixes (db_, current_, client_) are allowed; suffixes only as listed,
-- so password_hash or password_changed_at are not credentials.
CREATE OR REPLACE MACRO pii_re_secret_key() AS
    '(?i:[a-z0-9_.-]*(?:password|passwd|passphrase|pwd|secret|api_?key|apikey|access_?token|auth_?token'
    || '|refresh_?token|api_?token|private_?key)(?:_?confirm(?:ation)?|_?again|_?new)?)';

-- A value: double-quoted (JSON-escaped or not), single-quoted or bare; it never takes a quote or a backslash.
CREATE OR REPLACE MACRO pii_re_secret_value() AS '(?:\\?"[^"\\]+|''[^''\\]+|[^\s"''\\,;&}\]\[<>()]+)';

-- key = value. JSON ("key": "value") only with a quoted value, so an unquoted JSON number, true or null is never
-- rewritten into invalid JSON; otherwise key: value, key=value, 'key' => 'value', "key" => "value".
CREATE OR REPLACE MACRO pii_re_secret_assign() AS
    pii_re_secret_key() || '(?:\\?"\s{0,3}:\s{0,3}\\?"[^"\\]+'
    || '|''?\s{0,3}[:=]>?\s{0,3}' || pii_re_secret_value()
    || '|\\?"\s{0,3}=>?\s{0,3}' || pii_re_secret_value() || ')';

-- Separator after a key in the AWS and Authorization rules (a quoted key is fine: their values are never bare
-- JSON literals).
CREATE OR REPLACE MACRO pii_re_secret_sep() AS '\\?["'']?\s{0,3}[:=]>?\s{0,3}\\?["'']?';

-- Secrets: API keys and tokens by their published formats, credential assignments, URL credentials, private keys.
-- The masker keeps a short recognisable prefix of each (pii__secret_keep).
CREATE OR REPLACE MACRO pii_re_secret() AS
    '\b[rs]k_(?:live|test)_[0-9A-Za-z]{10,}'                                   -- Stripe secret / restricted key
    || '|\bxox[abposr]-(?:\d+-)+[0-9A-Za-z]+'                                 -- Slack tokens
    || '|\bxapp-\d-[0-9A-Za-z]+-\d+-[0-9A-Za-z]+'                             -- Slack app-level token
    || '|https://hooks\.slack\.com/(?:services|workflows|triggers)/T[0-9A-Za-z_]+/[0-9A-Za-z_]+/[0-9A-Za-z_]+'
    || '|\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b'                              -- AWS access key id
    || '|(?i:aws[a-z0-9_.-]{0,20}(?:secret|key)[a-z0-9_.-]{0,20})' || pii_re_secret_sep()
    ||     '[A-Za-z0-9/+]{40,}'                                                -- AWS secret access key
    || '|\beyJ[A-Za-z0-9_-]{2,}={0,2}\.eyJ[A-Za-z0-9_-]{2,}={0,2}(?:\.[A-Za-z0-9_-]+={0,2})?'  -- JWT, decoded below
    || '|-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:(?:[^"\\]|\\[^"])*?-----END[A-Z0-9 ]*PRIVATE KEY'
    ||     '(?: BLOCK)?-----|(?:[^"\\]|\\[^"])*)'                  -- PEM key: to its END line, else to string end
    || '|\b(?:gh[pousr]_[A-Za-z0-9_]{36,}|github_pat_[A-Za-z0-9_]{22,})'       -- GitHub tokens
    || '|(?i:authorization)' || pii_re_secret_sep() || '(?i:bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}'
    || '|' || pii_re_secret_assign()                                          -- password=..., "api_key": "..."
    || '|\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@"''<>\\]+:[^\s/@"''<>\\]+@'        -- URL credentials
    || '|\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b'                        -- SendGrid
    || '|\bsk-[A-Za-z0-9_-]*[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}'             -- OpenAI
    || '|//[^\s/"]+(?:/[^\s/"]+)*/:_auth(?:Token)?=\s*[^\s$"''\\]+'            -- .npmrc credentials
    || '|\bnpm_[A-Za-z0-9]{36}\b'                                             -- npm token
    || '|\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{70,}|\bpypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9_-]{70,}'  -- PyPI
    || '|\b[0-9a-f]{32}-us\d{1,2}\b'                                          -- Mailchimp
    || '|AccountKey=\s*[A-Za-z0-9+/]{86,}=='                                  -- Azure storage account key
    || '|\bsq0csp-[0-9A-Za-z_-]{30,}|\bsq0atp-[0-9A-Za-z_-]{22,}'              -- Square
    || '|\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}\b';                             -- Shopify app tokens

-- Payment tokens: Stripe token / payment method / card / source / bank account ids, Square card nonces and
-- cards on file, Braintree nonces. Stripe ids must look random (pii__token_ok), so words such as card_declined
-- and Stripe's public test tokens (tok_visa, pm_card_visa) are not tokens.
CREATE OR REPLACE MACRO pii_re_payment_token() AS
    '\b(?:(?:tok|pm|card|src|ba|btok)_[A-Za-z0-9]{14,}|(?:cnon|ccof):[A-Za-z0-9_-]{10,}|tokencc_[a-z0-9_]{10,})\b';

-- One pass that every text holding a candidate of any kind matches; anything else is clean.
CREATE OR REPLACE MACRO pii_re_any() AS
    pii_re_pan() || '|' || pii_re_ssn() || '|' || pii_re_email() || '|' || pii_re_phone() || '|' || pii_re_iban()
    || '|' || pii_re_secret() || '|' || pii_re_payment_token();

-- The same for the kinds pii_mask rewrites (emails, phones and IBANs stay in events). These are also the rare
-- kinds: a text without them but with an email or a phone takes a cheaper path (see pii_scan).
CREATE OR REPLACE MACRO pii_re_any_masked() AS
    pii_re_pan() || '|' || pii_re_ssn() || '|' || pii_re_secret() || '|' || pii_re_payment_token();

CREATE OR REPLACE MACRO pii_re_rare() AS pii_re_any_masked() || '|' || pii_re_iban();

CREATE OR REPLACE MACRO pii_re_not_email() AS pii_re_rare() || '|' || pii_re_phone();

-- ---------------------------------------------------------------------------------------------------------------
-- Small string helpers (no regex: they run inside lambdas)
-- ---------------------------------------------------------------------------------------------------------------

CREATE OR REPLACE MACRO pii__ndigits(s) AS length(s) - length(translate(s, '0123456789', ''));
CREATE OR REPLACE MACRO pii__nseps(s) AS length(s) - length(replace(replace(s, ' ', ''), '-', ''));
CREATE OR REPLACE MACRO pii__strip_seps(s) AS replace(replace(s, ' ', ''), '-', '');

-- ---------------------------------------------------------------------------------------------------------------
-- Card numbers
-- ---------------------------------------------------------------------------------------------------------------

-- Luhn over a number of up to 19 digits (UBIGINT), two digits at a time: the pair p = 10a + b taken from the
-- right contributes b + double(a) (2a, minus 9 when 2a > 9), looked up in a 100-entry table. Leading zero pairs
-- add nothing, so one expression serves every length. Inside the lambdas where it runs this is ~4x cheaper than
-- splitting the string into a list, and ~3x cheaper than summing digit by digit. The table is a string (value v
-- stored as the character chr(48 + v)): one constant binds much faster than a 100-element list literal.
CREATE OR REPLACE MACRO pii__luhn_pairs() AS '012345678923456789:;456789:;<=6789:;<=>?89:;<=>?@A123456789:3456789:;<56789:;<=>789:;<=>?@9:;<=>?@AB';
CREATE OR REPLACE MACRO pii__luhn_pair(n, p) AS
    ascii(substr(pii__luhn_pairs(), ((n // p) % 100)::INTEGER + 1, 1)) - 48;
CREATE OR REPLACE MACRO pii__luhn_ok(n) AS (
      pii__luhn_pair(n, 1)                  + pii__luhn_pair(n, 100)
    + pii__luhn_pair(n, 10000)              + pii__luhn_pair(n, 1000000)
    + pii__luhn_pair(n, 100000000)          + pii__luhn_pair(n, 10000000000)
    + pii__luhn_pair(n, 1000000000000)      + pii__luhn_pair(n, 100000000000000)
    + pii__luhn_pair(n, 10000000000000000)  + pii__luhn_pair(n, 1000000000000000000)) % 10 = 0;

-- Issuer ranges (first six digits p) and the lengths n each network issues. UATP (1, length 15) is left out on
-- purpose: 15-digit numbers starting with 1 are far more often epoch micro-timestamps or ids than cards.
CREATE OR REPLACE MACRO pii__iin_ok(p, n) AS
       (p BETWEEN 400000 AND 499999 AND n IN (13, 16, 19))                                    -- Visa
    OR ((p BETWEEN 510000 AND 559999 OR p BETWEEN 222100 AND 272099) AND n = 16)              -- Mastercard
    OR ((p BETWEEN 340000 AND 349999 OR p BETWEEN 370000 AND 379999) AND n = 15)              -- Amex
    OR ((p BETWEEN 601100 AND 601199 OR p BETWEEN 644000 AND 659999) AND n BETWEEN 16 AND 19) -- Discover
    OR (p BETWEEN 352800 AND 358999 AND n BETWEEN 16 AND 19)                                  -- JCB
    OR ((p BETWEEN 300000 AND 305999 OR p BETWEEN 309500 AND 309599 OR p BETWEEN 360000 AND 369999
         OR p BETWEEN 380000 AND 399999) AND n BETWEEN 14 AND 19)                             -- Diners Club
    OR (p BETWEEN 620000 AND 629999 AND n BETWEEN 16 AND 19)                                  -- UnionPay
    OR ((p BETWEEN 501800 AND 501899 OR p BETWEEN 502000 AND 502099 OR p BETWEEN 503800 AND 503899
         OR p BETWEEN 589300 AND 589399 OR p BETWEEN 630400 AND 630499 OR p BETWEEN 675900 AND 675999
         OR p BETWEEN 676100 AND 676399) AND n BETWEEN 13 AND 19)                             -- Maestro
    OR (p BETWEEN 220000 AND 220499 AND n BETWEEN 16 AND 19)                                  -- Mir
    OR ((p BETWEEN 600000 AND 609999 OR p BETWEEN 810000 AND 829999 OR p BETWEEN 508000 AND 508999)
        AND n = 16)                                                                           -- RuPay
    OR (p BETWEEN 501900 AND 501999 AND n = 16)                                               -- Dankort
    OR (p BETWEEN 636000 AND 636999 AND n BETWEEN 16 AND 19)                                  -- InterPayment
    OR (p BETWEEN 637000 AND 639999 AND n = 16)                                               -- InstaPayment
    OR ((p BETWEEN 506099 AND 506198 OR p BETWEEN 507865 AND 507964) AND n IN (16, 18, 19))   -- Verve
    OR (p BETWEEN 979200 AND 979299 AND n = 16);                                              -- Troy

-- A digit string is a card number. Bound once: the issuer test reads the prefix some forty times. TRY_CAST: a
-- window can hold more digits than a UBIGINT; its length test fails and false AND NULL is false.
CREATE OR REPLACE MACRO pii__pan_digits_ok(d) AS
    list_transform([{'p': TRY_CAST(left(d, 6) AS INTEGER), 'n': length(d), 'v': TRY_CAST(d AS UBIGINT)}], lambda x:
        x.n BETWEEN 13 AND 19 AND pii__iin_ok(x.p, x.n) AND pii__luhn_ok(x.v))[1];

CREATE OR REPLACE MACRO pii__pan_ok(w) AS coalesce(pii__pan_digits_ok(pii__strip_seps(w)), false);

-- The card numbers inside one digit run. A run may hold more than a card ("4242 4242 4242 4242 123" with the CVV,
-- "order 1001 4242424242424242"), so when the whole run is not a card, every window of whole separator-delimited
-- groups with 13-19 digits is tried; valid windows are taken greedily from the left, shortest first, without
-- overlap. A run without separators is one group: a long contiguous number (an id, a hash) is never split into a
-- card. Separators are single characters, so groups i..j of g span length(g[i..j] joined by one character) in the
-- run, starting after groups 1..i-1 and their separators.
CREATE OR REPLACE MACRO pii__pan_windows(r) AS
    CASE WHEN pii__pan_ok(r) THEN [r]
         WHEN NOT (contains(r, ' ') OR contains(r, '-')) THEN []::VARCHAR[]
         ELSE list_transform([string_split(translate(r, '-', ' '), ' ')], lambda g:
             list_reduce(
                 list_filter(
                     flatten(list_transform(range(1, len(g) + 1), lambda i:
                         list_transform(range(i, least(len(g), i + 18) + 1), lambda j:
                             {'i': i, 'j': j, 'w': substr(r,
                                 CASE WHEN i = 1 THEN 1 ELSE length(list_aggr(g[1:i - 1], 'string_agg', ' ')) + 2 END,
                                 length(list_aggr(g[i:j], 'string_agg', ' ')))}))),
                     lambda x: pii__pan_ok(x.w)),
                 lambda acc, x: CASE WHEN x.i > acc.e THEN {'e': x.j, 'k': list_append(acc.k, x.w)} ELSE acc END,
                 {'e': 0, 'k': []::VARCHAR[]}).k)[1]
    END;

-- First 6 and last 4 digits stay, the digits between become '*', separators stay: the length is unchanged.
CREATE OR REPLACE MACRO pii__mask_pan(m) AS
    list_transform([pii__ndigits(m)], lambda n:
        list_aggr(list_transform(string_split(m, ''), lambda c, i:
            CASE WHEN c = ' ' OR c = '-' THEN c
                 WHEN i - pii__nseps(left(m, i)) BETWEEN 7 AND n - 4 THEN '*'
                 ELSE c END), 'string_agg', ''))[1];

-- ---------------------------------------------------------------------------------------------------------------
-- IBAN
-- ---------------------------------------------------------------------------------------------------------------

-- Country code and total length (SWIFT IBAN registry).
CREATE OR REPLACE MACRO pii__iban_lengths() AS
    ' AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28'
    || ' EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HN28 HR21 HU28 IE22 IL23 IQ23 IS26'
    || ' IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28'
    || ' NL18 NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25'
    || ' SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30 ';

-- ISO 13616: move the first four characters to the end, letters count 10..35, the number mod 97 must be 1.
-- Folded digit by digit so the number never has to fit an integer type.
CREATE OR REPLACE MACRO pii__mod97(r) AS
    list_reduce(string_split(r, ''), lambda acc, c:
        CASE WHEN c <= '9' THEN (acc * 10 + ascii(c) - 48) % 97 ELSE (acc * 100 + ascii(c) - 55) % 97 END, 0);

CREATE OR REPLACE MACRO pii__iban_ok(m) AS
    list_transform([replace(m, ' ', '')], lambda s:
        contains(pii__iban_lengths(), ' ' || left(s, 2) || length(s)::VARCHAR || ' ')
        AND pii__mod97(substr(s, 5) || left(s, 4)) = 1)[1];

-- Country code and the last four characters stay.
CREATE OR REPLACE MACRO pii__mask_iban(m) AS
    list_aggr(list_transform(string_split(m, ''), lambda c, i:
        CASE WHEN i <= 2 OR c = ' ' OR length(replace(substr(m, i + 1), ' ', '')) < 4 THEN c ELSE '*' END),
        'string_agg', '');

-- ---------------------------------------------------------------------------------------------------------------
-- Secrets
-- ---------------------------------------------------------------------------------------------------------------

-- Length of an assignment up to its value: through the separator at position p, then '>', blanks, quotes and
-- backslashes.
CREATE OR REPLACE MACRO pii__upto_value(m, p) AS
    p + length(substr(m, p + 1)) - length(ltrim(substr(m, p + 1), ' >"''\' || chr(9)));

-- Position of the first ':' or '=' (the separator of an assignment).
CREATE OR REPLACE MACRO pii__first_sep(m) AS least(nullif(strpos(m, ':'), 0), nullif(strpos(m, '='), 0));

-- How much of a secret match the masker keeps: a token's published prefix (sk_live_, xoxb-, ghp_, AKIA, ...), an
-- assignment's key (password=, "api_key": ", Authorization: Bearer ), a URL's scheme and user, a PEM header.
-- String rules on the match, not a regex: this runs inside a lambda (see the header).
CREATE OR REPLACE MACRO pii__secret_keep(m) AS
    list_transform([{'sep': pii__first_sep(m), 'url': strpos(m, '://')}], lambda q: CASE
        WHEN starts_with(m, 'eyJ') THEN 0
        WHEN starts_with(m, '-----BEGIN') THEN 14 + strpos(substr(m, 11), '-----')
        WHEN starts_with(m, 'https://hooks.slack.com/') THEN 24
        WHEN ends_with(m, '@') AND q.url > 0 THEN q.url + 2 + strpos(substr(m, q.url + 3), ':')
        WHEN starts_with(m, '//') THEN pii__upto_value(m, strpos(m, '='))
        WHEN starts_with(lower(m), 'authorization') THEN
            -- the key and separator, then the scheme word (Bearer, Basic, token) and its blanks
            list_transform([pii__upto_value(m, q.sep)], lambda k:
                list_transform([k + strpos(substr(m, k + 1), ' ')], lambda w:
                    w + length(substr(m, w + 1)) - length(ltrim(substr(m, w + 1))))[1])[1]
        WHEN q.sep IS NOT NULL THEN pii__upto_value(m, q.sep)
        WHEN starts_with(m, 'sk_') OR starts_with(m, 'rk_') OR starts_with(m, 'sk-proj-') THEN 8
        WHEN starts_with(m, 'github_pat_') THEN 11
        WHEN starts_with(m, 'sq0') THEN 7
        WHEN starts_with(m, 'shp') THEN 6
        WHEN starts_with(m, 'xox') OR starts_with(m, 'xapp-') OR starts_with(m, 'pypi-') THEN 5
        WHEN starts_with(m, 'npm_') OR starts_with(m, 'gh') OR starts_with(m, 'A') THEN 4
        WHEN starts_with(m, 'SG.') OR starts_with(m, 'sk-') THEN 3
        ELSE 0
    END)[1];

-- base64url text that decodes to a JSON document (a JWT header or payload).
CREATE OR REPLACE MACRO pii__b64json_ok(s) AS
    coalesce(json_valid(try(decode(from_base64(
        translate(rtrim(s, '='), '-_', '+/') || repeat('=', (4 - length(rtrim(s, '=')) % 4) % 4))))), false);

-- A value that stands for a credential without being one: null, true, ****, ${VAR}, $VAR, {{var}}, %(var)s,
-- #{var}, <hidden>, or an already masked [REDACTED:...] / [FILTERED].
CREATE OR REPLACE MACRO pii__placeholder(v) AS
    v = '' OR replace(v, '*', '') = ''
    OR lower(v) IN ('null', 'none', 'nil', 'true', 'false', 'undefined', 'redacted', 'hidden', 'masked')
    OR starts_with(v, '${') OR starts_with(v, '{{') OR starts_with(v, '%(') OR starts_with(v, '#{')
    OR starts_with(v, '<') OR starts_with(v, '[')
    OR (starts_with(v, '$') AND translate(substr(v, 2), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_', '') = '');

-- A secret match is real unless it is a JWT look-alike that does not decode to JSON, or its value is a placeholder.
CREATE OR REPLACE MACRO pii__secret_ok(m) AS
    CASE WHEN starts_with(m, 'eyJ')
         THEN pii__b64json_ok(string_split(m, '.')[1]) AND pii__b64json_ok(string_split(m, '.')[2])
         ELSE list_transform([rtrim(ltrim(substr(m, pii__secret_keep(m) + 1), '"'''), '@')], lambda v:
                  NOT pii__placeholder(v))[1] END;

CREATE OR REPLACE MACRO pii__mask_secret(m) AS
    left(m, pii__secret_keep(m)) || '[REDACTED:secret]' || CASE WHEN ends_with(m, '@') THEN '@' ELSE '' END;

-- ---------------------------------------------------------------------------------------------------------------
-- Payment tokens, SSNs, phones, emails
-- ---------------------------------------------------------------------------------------------------------------

-- Stripe ids are random base62: besides 14+ characters after the prefix they carry a capital letter and a digit.
CREATE OR REPLACE MACRO pii__token_ok(m) AS
    NOT (starts_with(m, 'tok_') OR starts_with(m, 'pm_') OR starts_with(m, 'card_') OR starts_with(m, 'src_')
         OR starts_with(m, 'ba_') OR starts_with(m, 'btok_'))
    OR (lower(m) <> m AND pii__ndigits(m) > 0);

CREATE OR REPLACE MACRO pii__mask_token(m) AS
    left(m, least(nullif(strpos(m, '_'), 0), nullif(strpos(m, ':'), 0))) || '[REDACTED:payment_token]';

CREATE OR REPLACE MACRO pii__mask_ssn(m) AS '***' || substr(m, 4, 1) || '**' || substr(m, 7, 1) || right(m, 4);

-- Every digit but the last two becomes '*'; '+', brackets and separators stay.
CREATE OR REPLACE MACRO pii__mask_phone(m) AS
    list_aggr(list_transform(string_split(m, ''), lambda c, i:
        CASE WHEN c BETWEEN '0' AND '9' AND pii__ndigits(substr(m, i + 1)) >= 2 THEN '*' ELSE c END),
        'string_agg', '');

-- j***@example.com
CREATE OR REPLACE MACRO pii__mask_email(m) AS left(m, 1) || '***' || substr(m, strpos(m, '@'));

-- Emails ('@' is a cheap necessary condition, memchr; the regex is not) and validated phones.
CREATE OR REPLACE MACRO pii__emails(text) AS
    CASE WHEN contains(text, '@') THEN regexp_extract_all(text, pii_re_email()) ELSE []::VARCHAR[] END;
CREATE OR REPLACE MACRO pii__phones(text) AS
    list_filter(regexp_extract_all(text, pii_re_phone(), 1), lambda m: pii__ndigits(m) BETWEEN 8 AND 15);

-- ---------------------------------------------------------------------------------------------------------------
-- Extraction and validation
-- ---------------------------------------------------------------------------------------------------------------

-- The validated matches of each kind: exact substrings of the text, in text order. The regexes all run in the
-- argument of the binding lambda (top level, compiled once per query); the body validates without regex.
CREATE OR REPLACE MACRO pii__found(text) AS
    list_transform([{
        'pan': regexp_extract_all(text, pii_re_pan()),
        'ssn': regexp_extract_all(text, pii_re_ssn()),
        'secret': regexp_extract_all(text, pii_re_secret()),
        'token': regexp_extract_all(text, pii_re_payment_token()),
        'iban': regexp_extract_all(text, pii_re_iban()),
        'phone': regexp_extract_all(text, pii_re_phone(), 1),
        'email': pii__emails(text)
    }], lambda x: {
        'pan': flatten(list_transform(x.pan, lambda r: pii__pan_windows(r))),
        'ssn': x.ssn,
        'secret': list_filter(x.secret, lambda m: pii__secret_ok(m)),
        'token': list_filter(x.token, lambda m: pii__token_ok(m)),
        'iban': list_filter(x.iban, lambda m: pii__iban_ok(m)),
        'phone': list_filter(x.phone, lambda m: pii__ndigits(m) BETWEEN 8 AND 15),
        'email': x.email
    })[1];

-- Only the kinds pii_mask rewrites (same shape, the other lists empty).
CREATE OR REPLACE MACRO pii__found_masked(text) AS
    list_transform([{
        'pan': regexp_extract_all(text, pii_re_pan()),
        'ssn': regexp_extract_all(text, pii_re_ssn()),
        'secret': regexp_extract_all(text, pii_re_secret()),
        'token': regexp_extract_all(text, pii_re_payment_token())
    }], lambda x: {
        'pan': flatten(list_transform(x.pan, lambda r: pii__pan_windows(r))),
        'ssn': x.ssn,
        'secret': list_filter(x.secret, lambda m: pii__secret_ok(m)),
        'token': list_filter(x.token, lambda m: pii__token_ok(m)),
        'iban': []::VARCHAR[], 'phone': []::VARCHAR[], 'email': []::VARCHAR[]
    })[1];

-- Kinds present and match count from the counts per kind, listed in the alphabetical order of the kind names
-- (email, iban, pan, payment_token, phone, secret, ssn) so that `types` comes out sorted. The list is bound once.
CREATE OR REPLACE MACRO pii__summary(counts) AS
    list_transform([counts], lambda c: {
        'types': list_filter(
            list_transform(c, lambda n, i:
                CASE WHEN n > 0 THEN ['email', 'iban', 'pan', 'payment_token', 'phone', 'secret', 'ssn'][i] END),
            lambda k: k IS NOT NULL),
        'count': list_sum(c)::INTEGER})[1];

-- Macro arguments are substituted as expressions, so callers pass a bound lambda parameter as f, never
-- pii__found(...) itself (which would then be evaluated once per use).
CREATE OR REPLACE MACRO pii__counts(f) AS
    [len(f.email), len(f.iban), len(f.pan), len(f.token), len(f.phone), len(f.secret), len(f.ssn)];

-- ---------------------------------------------------------------------------------------------------------------
-- Masking
-- ---------------------------------------------------------------------------------------------------------------

-- Replace each match (a literal substring) by its mask, in list order.
CREATE OR REPLACE MACRO pii__apply(t, pairs) AS list_reduce(pairs, lambda acc, p: replace(acc, p.m, p.r), t);

-- Matches are found on the original text and replaced in the order card numbers, SSNs, secrets, tokens (then
-- IBANs, phones, emails for pii_redact). A secret whose value holds a card number or an SSN is already partly
-- masked when its turn comes, so it is also looked for in that masked form; in "password=4242 4242 4242 4242"
-- the card is masked first and the password rule then still finds "password=4242".
CREATE OR REPLACE MACRO pii__mask_found(t, f) AS
    list_transform([list_concat(
        list_transform(f.pan, lambda m: {'m': m, 'r': pii__mask_pan(m)}),
        list_transform(f.ssn, lambda m: {'m': m, 'r': pii__mask_ssn(m)}))], lambda pre:
        pii__apply(t, list_concat(
            pre,
            flatten(list_transform(f.secret, lambda m:
                list_transform([pii__mask_secret(m)], lambda r:
                    [{'m': m, 'r': r}, {'m': pii__apply(m, pre), 'r': r}])[1])),
            list_transform(f.token, lambda m: {'m': m, 'r': pii__mask_token(m)}),
            list_transform(f.iban, lambda m: {'m': m, 'r': pii__mask_iban(m)}),
            list_transform(f.phone, lambda m: {'m': m, 'r': pii__mask_phone(m)}),
            list_transform(f.email, lambda m: {'m': m, 'r': pii__mask_email(m)}))))[1];

-- ---------------------------------------------------------------------------------------------------------------
-- Public macros. Tiers, cheapest first, each one RE2 pass: a text matching no pattern is clean; one that can only
-- hold emails, or only emails and phones (the common PII of shop logs), skips the full extraction, whose lambdas
-- also cost ~3 ms to set up in every 2048-row chunk that needs them. Only texts with a card number, SSN, secret,
-- payment token or IBAN candidate (rare) take the full path.
-- ---------------------------------------------------------------------------------------------------------------

CREATE OR REPLACE MACRO pii_scan(text) AS
    CASE WHEN text IS NULL OR NOT regexp_matches(text, pii_re_any())
             THEN {'types': []::VARCHAR[], 'count': 0::INTEGER}
         WHEN NOT regexp_matches(text, pii_re_not_email())
             THEN pii__summary([len(regexp_extract_all(text, pii_re_email())), 0, 0, 0, 0, 0, 0])
         WHEN NOT regexp_matches(text, pii_re_rare())
             THEN pii__summary([len(pii__emails(text)), 0, 0, 0, len(pii__phones(text)), 0, 0])
         ELSE list_transform([pii__found(text)], lambda f: pii__summary(pii__counts(f)))[1] END;

CREATE OR REPLACE MACRO pii_mask(text) AS
    CASE WHEN text IS NULL OR NOT regexp_matches(text, pii_re_any_masked()) THEN text
         ELSE list_transform([pii__found_masked(text)], lambda f: pii__mask_found(text, f))[1] END;

-- Outbound text is small and rare: one path.
CREATE OR REPLACE MACRO pii_redact(text) AS
    CASE WHEN text IS NULL OR NOT regexp_matches(text, pii_re_any()) THEN text
         ELSE list_transform([pii__found(text)], lambda f: pii__mask_found(text, f))[1] END;

-- pii_scan and pii_mask of the same text with one extraction, for ingest, which needs both for a field.
CREATE OR REPLACE MACRO pii_scan_mask(text) AS
    CASE WHEN text IS NULL OR NOT regexp_matches(text, pii_re_any())
             THEN {'types': []::VARCHAR[], 'count': 0::INTEGER, 'masked': text}
         WHEN NOT regexp_matches(text, pii_re_not_email())
             THEN list_transform([pii__summary([len(regexp_extract_all(text, pii_re_email())), 0, 0, 0, 0, 0, 0])],
                  lambda s: {'types': s.types, 'count': s.count, 'masked': text})[1]
         WHEN NOT regexp_matches(text, pii_re_rare())
             THEN list_transform([pii__summary([len(pii__emails(text)), 0, 0, 0, len(pii__phones(text)), 0, 0])],
                  lambda s: {'types': s.types, 'count': s.count, 'masked': text})[1]
         ELSE list_transform([pii__found(text)], lambda f:
             list_transform([pii__summary(pii__counts(f))], lambda s:
                 {'types': s.types, 'count': s.count,
                  'masked': pii__mask_found(text, {'pan': f.pan, 'ssn': f.ssn, 'secret': f.secret,
                      'token': f.token, 'iban': []::VARCHAR[], 'phone': []::VARCHAR[], 'email': []::VARCHAR[]})}
             )[1])[1]
    END;
