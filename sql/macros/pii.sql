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

-- Card number candidates, two shapes:
-- * a contiguous number whose issuer prefix and length are a real card's (pii_re_pan_iin; the same ranges as
--   pii__iin_table, a test checks every prefix and length). So the ids, epoch timestamps and hashes that fill
--   shop logs (Shopify's 13- and 14-digit ids, epoch ms/us/ns) never reach the costly validation;
-- * digits with single spaces or dashes between them, at least 13 digits, a separator within the first 8
--   characters, starting with a digit some network issues from (2-6, 8, 9): "4242 4242 4242 4242",
--   "3782-822463-10005". Such a run may also hold an order number or a CVV; validation looks at its windows,
--   see pii__pan_windows.
CREATE OR REPLACE MACRO pii_re_pan_iin() AS
    '4\d{15}(?:\d{3})?'                                                      -- Visa 16/19
    || '|(?:5[1-5]\d\d|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)\d{12}'    -- Mastercard 16
    || '|3[47]\d{13}'                                                         -- Amex 15
    || '|(?:6011|64[4-9]\d|65\d\d|352[89]|35[3-8]\d|62\d\d|220[0-4]|636\d)\d{12,15}'
    --   Discover, JCB, UnionPay, Mir, InterPayment 16-19
    || '|(?:30[0-5]\d|3095|3[689]\d\d)\d{10,15}'                                -- Diners Club 14-19
    || '|(?:5018|5020|5038|5893|6304|6759|676[1-3])\d{9,15}'                   -- Maestro 13-19
    || '|(?:60\d\d|8[12]\d\d|508\d|5019|63[7-9]\d|9792)\d{12}';                -- RuPay, Dankort, InstaPayment, Troy 16
-- The separated shape: a first group of 1-7 digits (k more after the first), a separator, then enough digits
-- with optional single separators for 13 in all: one alternative per k, since RE2 cannot count across them.
CREATE OR REPLACE MACRO pii_re_pan() AS
    '\b(?:' || pii_re_pan_iin() || ')\b'
    || '|\b[2-689](?:[ -]\d(?:[ -]?\d){11,}|\d[ -]\d(?:[ -]?\d){10,}|\d{2}[ -]\d(?:[ -]?\d){9,}'
    || '|\d{3}[ -]\d(?:[ -]?\d){8,}|\d{4}[ -]\d(?:[ -]?\d){7,}|\d{5}[ -]\d(?:[ -]?\d){6,}'
    || '|\d{6}[ -]\d(?:[ -]?\d){5,})\b';

-- US SSN AAA-GG-SSSS or AAA GG SSSS; area 000, 666, 900-999, group 00 and serial 0000 are never issued.
CREATE OR REPLACE MACRO pii_re_ssn() AS
    '\b(?:00[1-9]|0[1-9]\d|[1-5]\d\d|6[0-5]\d|66[0-57-9]|6[7-9]\d|[78]\d\d)'
    || '(?:-(?:0[1-9]|[1-9]\d)-|[ ](?:0[1-9]|[1-9]\d)[ ])'
    || '(?:000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d\d\d)\b';

CREATE OR REPLACE MACRO pii_re_email() AS '[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}\b';

-- Phones, capture group 1. Either '+' and at least 8 digits with optional single separators or bracketed groups
-- (E.164 and international: +15142546011, +1(502)-459-2181, +44 (0)20 7946 0958; at most 15 digits, checked after
-- extraction; the minimum keeps timezone offsets such as +05:00 out),
-- or a formatted North-American number ((502) 459-2181, 502-459-2181, 502.459.2181, 1-502-459-2181). A bare
-- 10-digit number is never a phone: order ids and epoch seconds look exactly like that. The leading class keeps a
-- phone from starting inside a word, a longer number, a dotted version or a dashed id.
CREATE OR REPLACE MACRO pii_re_phone() AS
    '(?:^|[^0-9A-Za-z_+.-])('
    || '\+\d(?:[ .-]?(?:\d|\(\d{1,4}\))){7,}'
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

-- The same for the kinds pii_mask rewrites (emails, phones and IBANs stay in events).
CREATE OR REPLACE MACRO pii_re_any_masked() AS
    pii_re_pan() || '|' || pii_re_ssn() || '|' || pii_re_secret() || '|' || pii_re_payment_token();

-- The rare kinds, and the rare kinds or a phone: the tiers of pii_scan (see there).
CREATE OR REPLACE MACRO pii_re_rare() AS pii_re_any_masked() || '|' || pii_re_iban();
CREATE OR REPLACE MACRO pii_re_rare_or_phone() AS pii_re_rare() || '|' || pii_re_phone();

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
-- add nothing, so one expression serves every length. Cheaper inside lambdas than splitting the string into a
-- list (~4x) or summing digit by digit (~3x). The table is a string (value v stored as chr(48 + v)): one
-- constant binds much faster than a 100-element list literal.
CREATE OR REPLACE MACRO pii__luhn_pairs() AS
    '012345678923456789:;456789:;<=6789:;<=>?89:;<=>?@A123456789:3456789:;<56789:;<=>789:;<=>?@9:;<=>?@AB';
CREATE OR REPLACE MACRO pii__luhn_pair(n, p) AS
    ascii(substr(pii__luhn_pairs(), ((n // p) % 100)::INTEGER + 1, 1)) - 48;
CREATE OR REPLACE MACRO pii__luhn_ok(n) AS (
      pii__luhn_pair(n, 1)                  + pii__luhn_pair(n, 100)
    + pii__luhn_pair(n, 10000)              + pii__luhn_pair(n, 1000000)
    + pii__luhn_pair(n, 100000000)          + pii__luhn_pair(n, 10000000000)
    + pii__luhn_pair(n, 1000000000000)      + pii__luhn_pair(n, 100000000000000)
    + pii__luhn_pair(n, 10000000000000000)  + pii__luhn_pair(n, 1000000000000000000)) % 10 = 0;

-- Issuer ranges, as one character per 4-digit prefix 0000-9999: '0' not issued, otherwise the set of lengths
-- that range issues (pii__iin_lengths). One lookup replaces some forty range comparisons: every expression node
-- inside a lambda costs ~10 us per 2048-row chunk to set up, so node count matters more than elegance here.
-- Every network's range falls on 4-digit boundaries except Verve (506099-506198, 507865-507964), left out with
-- UATP (1, length 15: 15-digit numbers starting with 1 are far more often epoch micro-timestamps or ids).
-- pii_re_pan_iin says the same as a regex (a test compares the two on every prefix and length).
CREATE OR REPLACE MACRO pii__iin_table() AS
       repeat('0', 2200) || repeat('d', 5)          -- 2200-2204 Mir
    || repeat('0', 16) || repeat('b', 500)          -- 2221-2720 Mastercard 2-series
    || repeat('0', 279) || repeat('e', 60)          -- 3000-3059 Diners Club 300-305
    || repeat('0', 35) || repeat('e', 1)            -- 3095      Diners Club
    || repeat('0', 304) || repeat('c', 100)         -- 3400-3499 Amex 34
    || repeat('0', 28) || repeat('d', 62)           -- 3528-3589 JCB
    || repeat('0', 10) || repeat('e', 100)          -- 3600-3699 Diners Club 36
    || repeat('c', 100)                             -- 3700-3799 Amex 37
    || repeat('e', 200)                             -- 3800-3999 Diners Club 38-39
    || repeat('a', 1000)                            -- 4000-4999 Visa
    || repeat('0', 18) || repeat('f', 1)            -- 5018      Maestro
    || repeat('b', 1)                               -- 5019      Dankort
    || repeat('f', 1)                               -- 5020      Maestro
    || repeat('0', 17) || repeat('f', 1)            -- 5038      Maestro
    || repeat('0', 41) || repeat('b', 10)           -- 5080-5089 RuPay 508
    || repeat('0', 10) || repeat('b', 500)          -- 5100-5599 Mastercard 51-55
    || repeat('0', 293) || repeat('f', 1)           -- 5893      Maestro
    || repeat('0', 106) || repeat('b', 11)          -- 6000-6010 RuPay 60
    || repeat('d', 1)                               -- 6011      Discover
    || repeat('b', 88)                              -- 6012-6099 RuPay 60
    || repeat('0', 100) || repeat('d', 100)         -- 6200-6299 UnionPay
    || repeat('0', 4) || repeat('f', 1)             -- 6304      Maestro
    || repeat('0', 55) || repeat('d', 10)           -- 6360-6369 InterPayment
    || repeat('b', 30)                              -- 6370-6399 InstaPayment
    || repeat('0', 40) || repeat('d', 160)          -- 6440-6599 Discover 644-649, 65
    || repeat('0', 159) || repeat('f', 1)           -- 6759      Maestro
    || repeat('0', 1) || repeat('f', 3)             -- 6761-6763 Maestro
    || repeat('0', 1336) || repeat('b', 200)        -- 8100-8299 RuPay 81-82
    || repeat('0', 1492) || repeat('b', 1)          -- 9792      Troy
    || repeat('0', 207);

-- Lengths per class: a Visa 16/19, b 16, c 15 (Amex), d 16-19, e 14-19 (Diners), f 13-19 (Maestro). Visa's
-- 13-digit cards are no longer issued, and 13-digit numbers in logs are nearly always ids or epoch milliseconds.
CREATE OR REPLACE MACRO pii__iin_lengths() AS
    ' a16 a19 b16 c15 d16 d17 d18 d19 e14 e15 e16 e17 e18 e19 f13 f14 f15 f16 f17 f18 f19 ';

CREATE OR REPLACE MACRO pii__iin_ok(d) AS
    contains(pii__iin_lengths(),
             ' ' || substr(pii__iin_table(), TRY_CAST(left(d, 4) AS INTEGER) + 1, 1) || length(d)::VARCHAR || ' ');

-- A digit string is a card number: issuer range and length, then Luhn. Luhn sits in a lambda of its own, which
-- DuckDB only sets up in chunks where some candidate passed the issuer test. TRY_CAST: more than 19 digits fails
-- the issuer test anyway.
CREATE OR REPLACE MACRO pii__pan_digits_ok(d) AS
    CASE WHEN pii__iin_ok(d)
         THEN coalesce(list_transform([TRY_CAST(d AS UBIGINT)], lambda pd_n: pii__luhn_ok(pd_n))[1], false)
         ELSE false END;

CREATE OR REPLACE MACRO pii__pan_ok(w) AS pii__pan_digits_ok(pii__strip_seps(w));

-- The card numbers inside one digit run. A run may hold more than a card ("4242 4242 4242 4242 123" with the CVV,
-- "order 2001 4242424242424242"), so when the whole run is not a card, every window of whole separator-delimited
-- groups with 13-19 digits is tried; valid windows are taken greedily from the left, shortest first, without
-- overlap. A run without separators is one group: a long contiguous number (an id, a hash) is never split into a
-- card. Separators are single characters, so groups i..j of g span length(g[i..j] joined by one character) in the
-- run, starting after groups 1..i-1 and their separators. The window search is a lambda, set up only in chunks
-- that need it.
CREATE OR REPLACE MACRO pii__pan_windows(r) AS
    CASE WHEN pii__pan_ok(r) THEN [r]
         WHEN NOT (contains(r, ' ') OR contains(r, '-')) THEN []::VARCHAR[]
         ELSE list_transform([string_split(translate(r, '-', ' '), ' ')], lambda pw_g:
             list_reduce(
                 list_filter(
                     flatten(list_transform(range(1, len(pw_g) + 1), lambda pw_i:
                         list_transform(range(pw_i, least(len(pw_g), pw_i + 18) + 1), lambda pw_j:
                             {'i': pw_i, 'j': pw_j, 'w': substr(r,
                                 CASE WHEN pw_i = 1 THEN 1
                                      ELSE length(list_aggr(pw_g[1:pw_i - 1], 'string_agg', ' ')) + 2 END,
                                 length(list_aggr(pw_g[pw_i:pw_j], 'string_agg', ' ')))}))),
                     lambda pw_x: pii__pan_ok(pw_x.w)),
                 lambda pw_acc, pw_x: CASE WHEN pw_x.i > pw_acc.e
                                           THEN {'e': pw_x.j, 'k': list_append(pw_acc.k, pw_x.w)} ELSE pw_acc END,
                 {'e': 0, 'k': []::VARCHAR[]}).k)[1]
    END;

-- First 6 and last 4 digits stay, the digits between become '*', separators stay: the length is unchanged.
CREATE OR REPLACE MACRO pii__mask_pan(m) AS
    list_transform([pii__ndigits(m)], lambda mp_n:
        list_aggr(list_transform(string_split(m, ''), lambda mp_c, mp_i:
            CASE WHEN mp_c = ' ' OR mp_c = '-' THEN mp_c
                 WHEN mp_i - pii__nseps(left(m, mp_i)) BETWEEN 7 AND mp_n - 4 THEN '*'
                 ELSE mp_c END), 'string_agg', ''))[1];

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
    list_reduce(string_split(r, ''), lambda m97_acc, m97_c:
        CASE WHEN m97_c <= '9' THEN (m97_acc * 10 + ascii(m97_c) - 48) % 97
             ELSE (m97_acc * 100 + ascii(m97_c) - 55) % 97 END, 0);

CREATE OR REPLACE MACRO pii__iban_ok(m) AS
    list_transform([replace(m, ' ', '')], lambda ib_s:
        contains(pii__iban_lengths(), ' ' || left(ib_s, 2) || length(ib_s)::VARCHAR || ' ')
        AND pii__mod97(substr(ib_s, 5) || left(ib_s, 4)) = 1)[1];

-- Country code and the last four characters stay.
CREATE OR REPLACE MACRO pii__mask_iban(m) AS
    list_aggr(list_transform(string_split(m, ''), lambda mi_c, mi_i:
        CASE WHEN mi_i <= 2 OR mi_c = ' ' OR length(replace(substr(m, mi_i + 1), ' ', '')) < 4 THEN mi_c
             ELSE '*' END), 'string_agg', '');

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
    list_transform([{'sep': pii__first_sep(m), 'url': strpos(m, '://')}], lambda sk_q: CASE
        WHEN starts_with(m, 'eyJ') THEN 0
        WHEN starts_with(m, '-----BEGIN') THEN 14 + strpos(substr(m, 11), '-----')
        WHEN starts_with(m, 'https://hooks.slack.com/') THEN 24
        WHEN ends_with(m, '@') AND sk_q.url > 0 THEN sk_q.url + 2 + strpos(substr(m, sk_q.url + 3), ':')
        WHEN starts_with(m, '//') THEN pii__upto_value(m, strpos(m, '='))
        WHEN starts_with(lower(m), 'authorization') THEN
            -- the key and separator, then the scheme word (Bearer, Basic, token) and its blanks
            list_transform([pii__upto_value(m, sk_q.sep)], lambda sk_k:
                list_transform([sk_k + strpos(substr(m, sk_k + 1), ' ')], lambda sk_w:
                    sk_w + length(substr(m, sk_w + 1)) - length(ltrim(substr(m, sk_w + 1))))[1])[1]
        WHEN sk_q.sep IS NOT NULL THEN pii__upto_value(m, sk_q.sep)
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

-- The value of a credential match for the placeholder test: a URL credential's password, what follows an
-- assignment's first ':' or '=', a token itself; without blanks, quotes or a trailing '@'. Cheaper than
-- pii__secret_keep, which only the masker needs.
CREATE OR REPLACE MACRO pii__secret_value(m) AS
    rtrim(ltrim(CASE
        WHEN contains(m, '://') AND ends_with(m, '@')  -- scheme://user:password@
            THEN substr(m, strpos(m, '://') + 3 + strpos(substr(m, strpos(m, '://') + 3), ':'))
        WHEN contains(m, '://') THEN m  -- a webhook URL is a token
        WHEN starts_with(m, '//') THEN substr(m, strpos(m, '=') + 1)  -- .npmrc
        ELSE substr(m, coalesce(pii__first_sep(m), 0) + 1) END, ' >"''\' || chr(9)), '@');

-- A secret match is real unless it is a JWT look-alike whose header and payload do not decode to JSON, its value
-- is a placeholder, or it is the working directory of an environment dump (PWD=/home/deploy, OLDPWD=/tmp). The
-- JWT test sits in a lambda of its own: set up only in chunks that hold a JWT.
CREATE OR REPLACE MACRO pii__secret_ok(m) AS
    CASE WHEN starts_with(m, 'eyJ')
         THEN list_transform([string_split(m, '.')], lambda so_p:
                  pii__b64json_ok(so_p[1]) AND pii__b64json_ok(so_p[2]))[1]
         WHEN (starts_with(lower(m), 'pwd') OR starts_with(lower(m), 'oldpwd')) AND contains(m, '/') THEN false
         ELSE NOT pii__placeholder(pii__secret_value(m)) END;

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
    list_aggr(list_transform(string_split(m, ''), lambda mph_c, mph_i:
        CASE WHEN mph_c BETWEEN '0' AND '9' AND pii__ndigits(substr(m, mph_i + 1)) >= 2 THEN '*' ELSE mph_c END),
        'string_agg', '');

-- j***@example.com
CREATE OR REPLACE MACRO pii__mask_email(m) AS left(m, 1) || '***' || substr(m, strpos(m, '@'));

-- Emails ('@' is a cheap necessary condition, memchr; the regex is not).
CREATE OR REPLACE MACRO pii__emails(text) AS
    CASE WHEN contains(text, '@') THEN regexp_extract_all(text, pii_re_email()) ELSE []::VARCHAR[] END;

CREATE OR REPLACE MACRO pii__phones(text) AS
    list_filter(regexp_extract_all(text, pii_re_phone(), 1), lambda ph_m: pii__ndigits(ph_m) BETWEEN 8 AND 15);

-- Summary of a text that holds no rare kind, from its email and phone counts (bound once: the counts are
-- extractions).
CREATE OR REPLACE MACRO pii__summary_common(n_email, n_phone) AS
    list_transform([{'e': n_email, 'p': n_phone}], lambda sc_n:
        {'types': CASE WHEN sc_n.e > 0 AND sc_n.p > 0 THEN ['email', 'phone'] WHEN sc_n.e > 0 THEN ['email']
                       WHEN sc_n.p > 0 THEN ['phone'] ELSE []::VARCHAR[] END,
         'count': (sc_n.e + sc_n.p)::INTEGER})[1];

-- ---------------------------------------------------------------------------------------------------------------
-- Extraction and validation
-- ---------------------------------------------------------------------------------------------------------------

-- The validated matches of each kind: exact substrings of the text, in text order. The regexes all run in the
-- argument of the binding lambda (top level, compiled once per query); the body validates without regex. A
-- kind's validation lambda only runs (and is only set up, at ~1 ms per chunk for the bigger ones) for rows that
-- have a candidate of that kind: hence the CASE around each.
CREATE OR REPLACE MACRO pii__validate(fd_x) AS {
    'pan': CASE WHEN len(fd_x.pan) = 0 THEN []::VARCHAR[]
                ELSE flatten(list_transform(fd_x.pan, lambda fd_r: pii__pan_windows(fd_r))) END,
    'ssn': fd_x.ssn,
    'secret': CASE WHEN len(fd_x.secret) = 0 THEN []::VARCHAR[]
                   ELSE list_filter(fd_x.secret, lambda fd_m: pii__secret_ok(fd_m)) END,
    'token': CASE WHEN len(fd_x.token) = 0 THEN []::VARCHAR[]
                  ELSE list_filter(fd_x.token, lambda fd_m: pii__token_ok(fd_m)) END,
    'iban': CASE WHEN len(fd_x.iban) = 0 THEN []::VARCHAR[]
                 ELSE list_filter(fd_x.iban, lambda fd_m: pii__iban_ok(fd_m)) END,
    'phone': CASE WHEN len(fd_x.phone) = 0 THEN []::VARCHAR[]
                  ELSE list_filter(fd_x.phone, lambda fd_m: pii__ndigits(fd_m) BETWEEN 8 AND 15) END,
    'email': fd_x.email
};

CREATE OR REPLACE MACRO pii__found(text) AS
    list_transform([{
        'pan': regexp_extract_all(text, pii_re_pan()),
        'ssn': regexp_extract_all(text, pii_re_ssn()),
        'secret': regexp_extract_all(text, pii_re_secret()),
        'token': regexp_extract_all(text, pii_re_payment_token()),
        'iban': regexp_extract_all(text, pii_re_iban()),
        'phone': regexp_extract_all(text, pii_re_phone(), 1),
        'email': pii__emails(text)
    }], lambda fd_x: pii__validate(fd_x))[1];

-- Only the kinds pii_mask rewrites (same shape, the other lists empty).
CREATE OR REPLACE MACRO pii__found_masked(text) AS
    list_transform([{
        'pan': regexp_extract_all(text, pii_re_pan()),
        'ssn': regexp_extract_all(text, pii_re_ssn()),
        'secret': regexp_extract_all(text, pii_re_secret()),
        'token': regexp_extract_all(text, pii_re_payment_token()),
        'iban': []::VARCHAR[], 'phone': []::VARCHAR[], 'email': []::VARCHAR[]
    }], lambda fd_x: pii__validate(fd_x))[1];

-- Kinds present and match count from the counts per kind, listed in the alphabetical order of the kind names
-- (email, iban, pan, payment_token, phone, secret, ssn) so that `types` comes out sorted. The list is bound once.
CREATE OR REPLACE MACRO pii__summary(counts) AS
    list_transform([counts], lambda sm_c: {
        'types': list_filter(
            list_transform(sm_c, lambda sm_n, sm_i:
                CASE WHEN sm_n > 0 THEN ['email', 'iban', 'pan', 'payment_token', 'phone', 'secret', 'ssn'][sm_i] END),
            lambda sm_k: sm_k IS NOT NULL),
        'count': list_sum(sm_c)::INTEGER})[1];

-- Macro arguments are substituted as expressions, so callers pass a bound lambda parameter as f, never
-- pii__found(...) itself (which would then be evaluated once per use).
CREATE OR REPLACE MACRO pii__counts(f) AS
    [len(f.email), len(f.iban), len(f.pan), len(f.token), len(f.phone), len(f.secret), len(f.ssn)];

-- ---------------------------------------------------------------------------------------------------------------
-- Masking
-- ---------------------------------------------------------------------------------------------------------------

-- Replace each match (a literal substring) by its mask, in list order.
CREATE OR REPLACE MACRO pii__apply(t, pairs) AS
    list_reduce(pairs, lambda ap_acc, ap_p: replace(ap_acc, ap_p.m, ap_p.r), t);

-- (match, mask) pairs of one kind; empty without running (or setting up) the mask lambda when there is no match.
CREATE OR REPLACE MACRO pii__pairs_pan(ms) AS CASE WHEN len(ms) = 0 THEN [] ELSE
    list_transform(ms, lambda mk_m: {'m': mk_m, 'r': pii__mask_pan(mk_m)}) END;
CREATE OR REPLACE MACRO pii__pairs_ssn(ms) AS CASE WHEN len(ms) = 0 THEN [] ELSE
    list_transform(ms, lambda mk_m: {'m': mk_m, 'r': pii__mask_ssn(mk_m)}) END;
CREATE OR REPLACE MACRO pii__pairs_token(ms) AS CASE WHEN len(ms) = 0 THEN [] ELSE
    list_transform(ms, lambda mk_m: {'m': mk_m, 'r': pii__mask_token(mk_m)}) END;
CREATE OR REPLACE MACRO pii__pairs_iban(ms) AS CASE WHEN len(ms) = 0 THEN [] ELSE
    list_transform(ms, lambda mk_m: {'m': mk_m, 'r': pii__mask_iban(mk_m)}) END;
CREATE OR REPLACE MACRO pii__pairs_phone(ms) AS CASE WHEN len(ms) = 0 THEN [] ELSE
    list_transform(ms, lambda mk_m: {'m': mk_m, 'r': pii__mask_phone(mk_m)}) END;
CREATE OR REPLACE MACRO pii__pairs_email(ms) AS CASE WHEN len(ms) = 0 THEN [] ELSE
    list_transform(ms, lambda mk_m: {'m': mk_m, 'r': pii__mask_email(mk_m)}) END;

-- A secret whose value holds a card number or an SSN is already partly masked when its turn comes (pre: the card
-- and SSN pairs), so it is also looked for in that masked form.
CREATE OR REPLACE MACRO pii__pairs_secret(ms, pre) AS CASE WHEN len(ms) = 0 THEN [] ELSE
    flatten(list_transform(ms, lambda mk_m:
        list_transform([pii__mask_secret(mk_m)], lambda mk_r:
            [{'m': mk_m, 'r': mk_r}, {'m': pii__apply(mk_m, pre), 'r': mk_r}])[1])) END;

-- Matches are found on the original text and replaced in the order card numbers, SSNs, secrets, tokens (then
-- IBANs, phones, emails for pii_redact). In "password=4242 4242 4242 4242" the card is masked first and the
-- password rule then still finds "password=4242".
CREATE OR REPLACE MACRO pii__mask_found(t, f) AS
    list_transform([list_concat(pii__pairs_pan(f.pan), pii__pairs_ssn(f.ssn))], lambda mf_pre:
        pii__apply(t, list_concat(
            mf_pre,
            pii__pairs_secret(f.secret, mf_pre),
            pii__pairs_token(f.token),
            pii__pairs_iban(f.iban),
            pii__pairs_phone(f.phone),
            pii__pairs_email(f.email))))[1];

-- ---------------------------------------------------------------------------------------------------------------
-- Public macros. Tiers, each decided by one RE2 yes/no pass (a DFA scan, ~7 ns a byte; extracting the matches of
-- the combined pattern instead costs ~5x, so the tiers never do that):
--   1. no rare kind (card number, SSN, secret, payment token, IBAN) and no phone candidate: the text is clean, or
--      holds only emails, counted if it contains an '@' (a memchr);
--   2. no rare kind: emails and phones, the common PII of shop logs;
--   3. everything else, rare: the full path extracts and validates kind by kind.
-- A clean text costs one pass, an email-only text two.
-- ---------------------------------------------------------------------------------------------------------------

CREATE OR REPLACE MACRO pii_scan(text) AS
    CASE WHEN text IS NULL THEN {'types': []::VARCHAR[], 'count': 0::INTEGER}
         WHEN NOT regexp_matches(text, pii_re_rare_or_phone())
             THEN CASE WHEN NOT contains(text, '@') THEN {'types': []::VARCHAR[], 'count': 0::INTEGER}
                       ELSE pii__summary_common(len(regexp_extract_all(text, pii_re_email())), 0) END
         WHEN NOT regexp_matches(text, pii_re_rare())
             THEN pii__summary_common(len(pii__emails(text)), len(pii__phones(text)))
         ELSE list_transform([pii__found(text)], lambda pf_f: pii__summary(pii__counts(pf_f)))[1] END;

-- Ingest masking: one prefilter pass over the kinds it rewrites (emails, phones and IBANs stay).
CREATE OR REPLACE MACRO pii_mask(text) AS
    CASE WHEN text IS NULL OR NOT regexp_matches(text, pii_re_any_masked()) THEN text
         ELSE list_transform([pii__found_masked(text)], lambda pf_f: pii__mask_found(text, pf_f))[1] END;

-- Outbound text is small and rare: one path.
CREATE OR REPLACE MACRO pii_redact(text) AS
    CASE WHEN text IS NULL OR NOT regexp_matches(text, pii_re_any()) THEN text
         ELSE list_transform([pii__found(text)], lambda pf_f: pii__mask_found(text, pf_f))[1] END;

-- pii_scan and pii_mask of the same text with one extraction, for ingest, which needs both for a field.
CREATE OR REPLACE MACRO pii_scan_mask(text) AS
    CASE WHEN text IS NULL THEN {'types': []::VARCHAR[], 'count': 0::INTEGER, 'masked': text}
         WHEN NOT regexp_matches(text, pii_re_rare_or_phone())
             THEN CASE WHEN NOT contains(text, '@') THEN {'types': []::VARCHAR[], 'count': 0::INTEGER, 'masked': text}
                       ELSE list_transform([pii__summary_common(len(regexp_extract_all(text, pii_re_email())), 0)],
                                lambda pf_s: {'types': pf_s.types, 'count': pf_s.count, 'masked': text})[1] END
         WHEN NOT regexp_matches(text, pii_re_rare())
             THEN list_transform([pii__summary_common(len(pii__emails(text)), len(pii__phones(text)))],
                      lambda pf_s: {'types': pf_s.types, 'count': pf_s.count, 'masked': text})[1]
         ELSE list_transform([pii__found(text)], lambda pf_f:
             list_transform([pii__summary(pii__counts(pf_f))], lambda pf_s:
                 {'types': pf_s.types, 'count': pf_s.count,
                  'masked': pii__mask_found(text, {'pan': pf_f.pan, 'ssn': pf_f.ssn, 'secret': pf_f.secret,
                      'token': pf_f.token, 'iban': []::VARCHAR[], 'phone': []::VARCHAR[],
                      'email': []::VARCHAR[]})})[1])[1] END;
