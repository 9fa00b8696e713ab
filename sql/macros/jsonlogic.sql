-- JSONLogic JSON mode: json-logic-js semantics over DuckDB JSON values.
--
-- Representation: a JS value is a DuckDB JSON value; SQL NULL is JS `undefined` and the JSON `null` is JS
-- `null`. NaN and ±Infinity are JSON numbers (DuckDB's JSON reader accepts them). Strings are sequences of
-- code points (JS uses UTF-16 units: docs/jsonlogic.md lists the difference).
-- Used by correlators/jsonlogic/sqlcompiler.py for `var` paths outside the typed schema (raw.*) and for
-- untyped records (apply_sql). Macros are inlined: the compiler binds non-trivial arguments once (a `let`
-- through a one-element list) before passing them, so repeated parameters stay cheap.

-- JS whitespace and line terminators, as trimmed by Number() and parseFloat().
CREATE OR REPLACE MACRO jl_ws() AS '	

                  　﻿';

CREATE OR REPLACE MACRO jl_nan() AS CAST('NaN' AS DOUBLE);

-- typeof, with 'null' and 'array' split out: undefined | null | boolean | number | string | array | object.
CREATE OR REPLACE MACRO jl_type(j) AS
    CASE WHEN j IS NULL THEN 'undefined'
         ELSE CASE json_type(j) WHEN 'NULL' THEN 'null' WHEN 'BOOLEAN' THEN 'boolean' WHEN 'VARCHAR' THEN 'string'
                                WHEN 'ARRAY' THEN 'array' WHEN 'OBJECT' THEN 'object' ELSE 'number' END
    END;

CREATE OR REPLACE MACRO jl_sval(j) AS json_extract_string(j, '$');

-- Macros are inlined: a parameter used n times copies its argument n times. Keep arguments cheap (the
-- compiler passes columns, lambda parameters or literals) and keep lambdas un-nested: DuckDB's binding time
-- grows steeply with lambda nesting depth. Lambda parameter names carry a per-macro prefix so they never
-- capture a caller's.

-- Number(string) on an already trimmed string.
-- 0x / 0o / 0b literals (t is trimmed, lower-cased). DuckDB casts 0x and 0b text to integers; octal digits
-- are rewritten as binary first. Literals wider than 128 bits are beyond this (NaN, listed in docs/jsonlogic.md).
CREATE OR REPLACE MACRO jl_octal_bits(o) AS
    replace(replace(replace(replace(replace(replace(replace(replace(
    replace(replace(replace(replace(replace(replace(replace(replace(o,
        '0', 'a'), '1', 'b'), '2', 'c'), '3', 'd'), '4', 'e'), '5', 'f'), '6', 'g'), '7', 'h'),
        'a', '000'), 'b', '001'), 'c', '010'), 'd', '011'), 'e', '100'), 'f', '101'), 'g', '110'), 'h', '111');

CREATE OR REPLACE MACRO jl_radix(t) AS
    coalesce(CAST(TRY_CAST(CASE WHEN substr(t, 2, 1) = 'o' THEN '0b' || jl_octal_bits(substr(t, 3)) ELSE t END
                           AS UHUGEINT) AS DOUBLE), jl_nan());

CREATE OR REPLACE MACRO jl_trimmed_num(t) AS
    CASE WHEN t = '' THEN CAST(0 AS DOUBLE)
         WHEN regexp_full_match(t, '[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|Infinity)') THEN CAST(replace(t, 'Infinity', 'inf') AS DOUBLE)
         WHEN regexp_full_match(t, '0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)') THEN jl_radix(lower(t))
         ELSE jl_nan() END;

CREATE OR REPLACE MACRO jl_str_num(s) AS jl_trimmed_num(trim(s, jl_ws()));

-- Number.prototype.toString. DuckDB prints doubles like Python's repr (shortest round-trip digits): plain
-- between 1e-4 and 1e16 (JS prints those alike, minus a trailing ".0"), otherwise d[.ddd]e±XX with one
-- leading digit, where JS prints plain digits up to 1e21 and down to 1e-6 and no exponent padding.
CREATE OR REPLACE MACRO jl_exp10(r) AS CAST(regexp_extract(r, 'e([+-][0-9]+)$', 1) AS INTEGER);

CREATE OR REPLACE MACRO jl_digits(r) AS regexp_replace(r, '^([0-9])\.?([0-9]*)e.*$', '\1\2');

CREATE OR REPLACE MACRO jl_fmt_repr(r) AS
    CASE WHEN NOT contains(r, 'e') THEN CASE WHEN suffix(r, '.0') THEN substr(r, 1, length(r) - 2) ELSE r END
         WHEN jl_exp10(r) BETWEEN 16 AND 20 THEN rpad(jl_digits(r), CAST(jl_exp10(r) + 1 AS INTEGER), '0')
         WHEN jl_exp10(r) BETWEEN -6 AND -5 THEN '0.' || lpad(jl_digits(r), CAST(length(jl_digits(r)) - jl_exp10(r) - 1 AS INTEGER), '0')
         ELSE regexp_replace(r, 'e([+-])0*([0-9])', 'e\1\2')
    END;

CREATE OR REPLACE MACRO jl_numstr(d) AS
    CASE WHEN isnan(d) THEN 'NaN'
         WHEN isinf(d) THEN CASE WHEN d > 0 THEN 'Infinity' ELSE '-Infinity' END
         WHEN d = 0 THEN '0'
         ELSE CASE WHEN d < 0 THEN '-' ELSE '' END || jl_fmt_repr(CAST(abs(d) AS VARCHAR))
    END;

-- String(v). Arrays join their elements with "," (null/undefined elements as ""), two levels deep.
CREATE OR REPLACE MACRO jl_str_scalar(j) AS
    CASE WHEN j IS NULL THEN 'undefined' ELSE CASE json_type(j)
        WHEN 'NULL' THEN 'null'
        WHEN 'BOOLEAN' THEN CASE WHEN CAST(j AS BOOLEAN) THEN 'true' ELSE 'false' END
        WHEN 'VARCHAR' THEN jl_sval(j)
        WHEN 'OBJECT' THEN '[object Object]'
        WHEN 'ARRAY' THEN error('JSONLogic SQL: arrays nested more than two levels deep cannot be converted to text')
        ELSE jl_numstr(CAST(j AS DOUBLE)) END
    END;

-- One level of nested arrays is spliced in (an empty one as one "" element): that is what the recursive
-- join gives, without nesting lambdas.
CREATE OR REPLACE MACRO jl_join_items(j) AS
    flatten(list_transform(json_extract(j, '$[*]'), lambda jl_ji_e:
        CASE WHEN json_type(jl_ji_e) <> 'ARRAY' THEN [jl_ji_e]
             WHEN json_array_length(jl_ji_e) = 0 THEN [CAST('""' AS JSON)]
             ELSE json_extract(jl_ji_e, '$[*]') END));

CREATE OR REPLACE MACRO jl_str(j) AS
    CASE WHEN j IS NULL THEN 'undefined'
         WHEN json_type(j) = 'NULL' THEN 'null'
         ELSE array_to_string(list_transform(
                  CASE WHEN json_type(j) = 'ARRAY' THEN jl_join_items(j) ELSE [j] END,
                  lambda jl_s_e: CASE WHEN json_type(jl_s_e) = 'NULL' THEN '' ELSE jl_str_scalar(jl_s_e) END), ',')
    END;

-- ToNumber of an array is ToNumber(String(array)): "" (0) when empty, a comma (NaN) with two or more elements,
-- and the lone element's own text otherwise (null reads as "").
CREATE OR REPLACE MACRO jl_lone_num2(e) AS
    CASE json_type(e)
        WHEN 'NULL' THEN CAST(0 AS DOUBLE) WHEN 'VARCHAR' THEN jl_str_num(jl_sval(e))
        WHEN 'BOOLEAN' THEN jl_nan() WHEN 'OBJECT' THEN jl_nan()
        WHEN 'ARRAY' THEN error('JSONLogic SQL: ToNumber of arrays nested three levels deep is not supported')
        ELSE CAST(e AS DOUBLE)
    END;

CREATE OR REPLACE MACRO jl_lone_num(e) AS
    CASE json_type(e)
        WHEN 'NULL' THEN CAST(0 AS DOUBLE) WHEN 'VARCHAR' THEN jl_str_num(jl_sval(e))
        WHEN 'BOOLEAN' THEN jl_nan() WHEN 'OBJECT' THEN jl_nan()
        WHEN 'ARRAY' THEN CASE json_array_length(e) WHEN 0 THEN CAST(0 AS DOUBLE) WHEN 1 THEN jl_lone_num2(json_extract(e, '$[0]'))
                                                    ELSE jl_nan() END
        ELSE CAST(e AS DOUBLE)
    END;

CREATE OR REPLACE MACRO jl_num(j) AS
    CASE WHEN j IS NULL THEN jl_nan() ELSE CASE json_type(j)
        WHEN 'NULL' THEN CAST(0 AS DOUBLE)
        WHEN 'BOOLEAN' THEN CASE WHEN CAST(j AS BOOLEAN) THEN CAST(1 AS DOUBLE) ELSE CAST(0 AS DOUBLE) END
        WHEN 'OBJECT' THEN jl_nan()
        WHEN 'VARCHAR' THEN jl_str_num(jl_sval(j))
        WHEN 'ARRAY' THEN CASE json_array_length(j) WHEN 0 THEN CAST(0 AS DOUBLE)
                                                    WHEN 1 THEN jl_lone_num(json_extract(j, '$[0]')) ELSE jl_nan() END
        ELSE CAST(j AS DOUBLE) END
    END;

-- parseFloat(v): the longest decimal prefix of String(v) after leading whitespace.
CREATE OR REPLACE MACRO jl_pf_prefix(p) AS
    CASE WHEN p = '' THEN jl_nan()
         WHEN p LIKE '%Infinity' THEN CASE WHEN p[1] = '-' THEN CAST('-Infinity' AS DOUBLE) ELSE CAST('Infinity' AS DOUBLE) END
         ELSE CAST(p AS DOUBLE) END;

CREATE OR REPLACE MACRO jl_pf_text(t) AS
    jl_pf_prefix(regexp_extract(ltrim(t, jl_ws()), '^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|Infinity)'));

CREATE OR REPLACE MACRO jl_pf(j) AS
    CASE WHEN jl_type(j) = 'number' THEN CAST(j AS DOUBLE) ELSE jl_pf_text(jl_str(j)) END;

-- jsonLogic.truthy: JS truthiness, but [] is falsy.
CREATE OR REPLACE MACRO jl_truthy(j) AS
    CASE WHEN j IS NULL THEN FALSE ELSE CASE json_type(j)
        WHEN 'NULL' THEN FALSE
        WHEN 'BOOLEAN' THEN CAST(j AS BOOLEAN)
        WHEN 'VARCHAR' THEN jl_sval(j) <> ''
        WHEN 'ARRAY' THEN json_array_length(j) > 0
        WHEN 'OBJECT' THEN TRUE
        ELSE CAST(j AS DOUBLE) <> 0 AND NOT isnan(CAST(j AS DOUBLE)) END
    END;

-- Numbers equal as in JS (NaN equals nothing; DuckDB's NaN = NaN is TRUE).
CREATE OR REPLACE MACRO jl_num_eq(x, y) AS x = y AND NOT isnan(x);

-- Numbers ordered as in JS (any NaN makes the comparison false; DuckDB sorts NaN above everything).
CREATE OR REPLACE MACRO jl_num_lt(x, y) AS x < y AND NOT isnan(x) AND NOT isnan(y);

CREATE OR REPLACE MACRO jl_num_le(x, y) AS x <= y AND NOT isnan(x) AND NOT isnan(y);

-- a === b. `same` is TRUE when the compiler knows both sides are the same reference (the same var path):
-- arrays and objects compare by identity in JS.
CREATE OR REPLACE MACRO jl_seq(a, b, same) AS
    jl_type(a) = jl_type(b) AND
    CASE jl_type(a)
        WHEN 'undefined' THEN TRUE WHEN 'null' THEN TRUE
        WHEN 'number' THEN jl_num_eq(CAST(a AS DOUBLE), CAST(b AS DOUBLE))
        WHEN 'string' THEN jl_sval(a) = jl_sval(b)
        WHEN 'boolean' THEN CAST(a AS BOOLEAN) = CAST(b AS BOOLEAN)
        ELSE same
    END;

-- a == b (IsLooselyEqual).
CREATE OR REPLACE MACRO jl_eq(a, b, same) AS
    CASE WHEN jl_type(a) IN ('undefined', 'null') OR jl_type(b) IN ('undefined', 'null')
             THEN jl_type(a) IN ('undefined', 'null') AND jl_type(b) IN ('undefined', 'null')
         WHEN jl_type(a) = jl_type(b) THEN jl_seq(a, b, same)
         WHEN jl_type(a) IN ('array', 'object') AND jl_type(b) IN ('array', 'object') THEN FALSE
         WHEN jl_type(a) = 'string' AND jl_type(b) IN ('array', 'object') THEN jl_sval(a) = jl_str(b)
         WHEN jl_type(b) = 'string' AND jl_type(a) IN ('array', 'object') THEN jl_sval(b) = jl_str(a)
         ELSE jl_num_eq(jl_num(a), jl_num(b))
    END;

-- a < b and a <= b: strings compare as strings when both primitives are strings, otherwise as numbers.
CREATE OR REPLACE MACRO jl_stringish(t) AS t IN ('string', 'array', 'object');

CREATE OR REPLACE MACRO jl_lt(a, b) AS
    CASE WHEN jl_stringish(jl_type(a)) AND jl_stringish(jl_type(b)) THEN jl_str(a) < jl_str(b)
         ELSE jl_num_lt(jl_num(a), jl_num(b)) END;

CREATE OR REPLACE MACRO jl_le(a, b) AS
    CASE WHEN jl_stringish(jl_type(a)) AND jl_stringish(jl_type(b)) THEN jl_str(a) <= jl_str(b)
         ELSE jl_num_le(jl_num(a), jl_num(b)) END;

-- The `in` operator: substring of a non-empty string, or indexOf (===) in an array.
CREATE OR REPLACE MACRO jl_in(a, b) AS
    CASE jl_type(b)
        WHEN 'string' THEN jl_sval(b) <> '' AND contains(jl_sval(b), jl_str(a))
        WHEN 'array' THEN coalesce(list_bool_or(list_transform(json_extract(b, '$[*]'), lambda jl_in_e: jl_seq(jl_in_e, a, FALSE))), FALSE)
        ELSE FALSE
    END;

-- data[key]: own keys of objects, array indexes and `length`, string characters and `length`.
CREATE OR REPLACE MACRO jl_is_index(k) AS regexp_full_match(k, '0|[1-9][0-9]{0,8}');

CREATE OR REPLACE MACRO jl_get(j, k) AS
    CASE jl_type(j)
        WHEN 'object' THEN json_extract(j, '/' || replace(replace(k, '~', '~0'), '/', '~1'))
        WHEN 'array' THEN CASE WHEN k = 'length' THEN to_json(json_array_length(j))
                               WHEN jl_is_index(k) THEN json_extract(j, '/' || k) END
        WHEN 'string' THEN CASE WHEN k = 'length' THEN to_json(length(jl_sval(j)))
                                WHEN jl_is_index(k) AND CAST(k AS BIGINT) < length(jl_sval(j))
                                    THEN to_json(substr(jl_sval(j), CAST(k AS BIGINT) + 1, 1)) END
    END;

-- {"var": path} with a path computed at run time: walk the dot-separated parts.
CREATE OR REPLACE MACRO jl_walk(j, parts) AS list_reduce(parts, lambda jl_w_acc, jl_w_p: jl_get(jl_w_acc, jl_w_p), j);

-- Array elements as a list of JSON values (JSON null elements stay JSON null).
CREATE OR REPLACE MACRO jl_elems(j) AS
    CASE WHEN jl_type(j) = 'array' THEN json_extract(j, '$[*]') ELSE CAST([] AS JSON[]) END;

-- A SQL DOUBLE as a JS number in JSON (NaN / Infinity included).
CREATE OR REPLACE MACRO jl_from_num(d) AS to_json(CAST(d AS DOUBLE));

CREATE OR REPLACE MACRO jl_from_str(s) AS to_json(CAST(s AS VARCHAR));

-- ToIntegerOrInfinity on a DOUBLE.
CREATE OR REPLACE MACRO jl_toint(x) AS CASE WHEN isnan(x) THEN CAST(0 AS DOUBLE) WHEN isinf(x) THEN x ELSE trunc(x) END;

-- String.prototype.substr(start, length) with the arguments already ToIntegerOrInfinity'd; len NULL = undefined.
CREATE OR REPLACE MACRO jl_substr_at(s, st, len) AS
    substr(s, CAST(least(greatest(CASE WHEN st < 0 THEN length(s) + st ELSE st END, 0), length(s)) AS BIGINT) + 1,
           CAST(CASE WHEN len IS NULL THEN length(s)
                     ELSE least(greatest(len, 0),
                                length(s) - least(greatest(CASE WHEN st < 0 THEN length(s) + st ELSE st END, 0), length(s)))
                END AS BIGINT));

-- IPv4 dotted quad (no leading zeros, each octet <= 255) as an integer, else NULL. Matches Python's ipaddress.
CREATE OR REPLACE MACRO jl_ipv4(s) AS
    CASE WHEN regexp_full_match(s, '((0|[1-9][0-9]{0,2})\.){3}(0|[1-9][0-9]{0,2})')
              AND CAST(split_part(s, '.', 1) AS INTEGER) <= 255 AND CAST(split_part(s, '.', 2) AS INTEGER) <= 255
              AND CAST(split_part(s, '.', 3) AS INTEGER) <= 255 AND CAST(split_part(s, '.', 4) AS INTEGER) <= 255
         THEN CAST(split_part(s, '.', 1) AS BIGINT) * 16777216 + CAST(split_part(s, '.', 2) AS BIGINT) * 65536
              + CAST(split_part(s, '.', 3) AS BIGINT) * 256 + CAST(split_part(s, '.', 4) AS BIGINT)
    END;

-- IPv6 text (RFC 4291 forms, optional dotted-quad tail, no zone id) as 32 lower-case hex digits, else NULL.
-- Follows CPython's ipaddress._ip_int_from_string rule by rule. Comparing the fixed-width hex text orders
-- addresses like the 128-bit integers.
CREATE OR REPLACE MACRO jl_ipv6_hextets_ok(g) AS
    list_bool_and(list_transform(g, lambda jl_6h_h: regexp_full_match(jl_6h_h, '[0-9a-fA-F]{1,4}')));

CREATE OR REPLACE MACRO jl_ipv6_hex(g) AS
    CASE WHEN len(g) = 8 AND jl_ipv6_hextets_ok(g)
         THEN lower(array_to_string(list_transform(g, lambda jl_6x_h: lpad(jl_6x_h, 4, '0')), '')) END;

-- k: index of the one inner empty part ("::"), NULL if none; hi/lo: parts before/after it, where an empty
-- first/last part (the other half of a leading/trailing "::") must be the only one on its side.
CREATE OR REPLACE MACRO jl_ipv6_groups(p, n, k, hi, lo) AS
    CASE WHEN k IS NULL
             THEN CASE WHEN n = 8 AND p[1] <> '' AND p[n] <> '' THEN p END
         WHEN (p[1] = '' AND hi <> 1) OR (p[n] = '' AND lo <> 1) THEN NULL
         WHEN p[1] = '' OR p[n] = ''
             THEN jl_ipv6_fill(p, n, CASE WHEN p[1] = '' THEN 0 ELSE hi END, CASE WHEN p[n] = '' THEN 0 ELSE lo END)
         ELSE jl_ipv6_fill(p, n, hi, lo)
    END;

CREATE OR REPLACE MACRO jl_ipv6_fill(p, n, hi, lo) AS
    CASE WHEN 8 - (hi + lo) < 1 THEN NULL
         ELSE list_concat(CASE WHEN hi > 0 THEN list_slice(p, 1, hi) ELSE CAST([] AS VARCHAR[]) END,
                          list_transform(range(8 - (hi + lo)), lambda jl_6f_z: '0'),
                          CASE WHEN lo > 0 THEN list_slice(p, n - lo + 1, n) ELSE CAST([] AS VARCHAR[]) END)
    END;

CREATE OR REPLACE MACRO jl_ipv6_skip(p, n, skips) AS
    CASE WHEN len(skips) > 1 THEN NULL
         ELSE list_transform([jl_ipv6_groups(
                  p, n, skips[1],
                  CASE WHEN skips[1] IS NULL THEN 0 ELSE skips[1] - 1 END,
                  CASE WHEN skips[1] IS NULL THEN 0 ELSE n - skips[1] END)], lambda jl_6s_g: jl_ipv6_hex(jl_6s_g))[1]
    END;

CREATE OR REPLACE MACRO jl_ipv6_parts(p) AS
    CASE WHEN p IS NULL OR len(p) < 3 OR len(p) > 9 THEN NULL
         ELSE list_transform([list_filter(range(2, len(p)), lambda jl_6p_i: p[jl_6p_i] = '')],
                             lambda jl_6p_s: jl_ipv6_skip(p, len(p), jl_6p_s))[1]
    END;

CREATE OR REPLACE MACRO jl_ipv6_tail(p) AS
    CASE WHEN NOT contains(p[-1], '.') THEN p
         WHEN jl_ipv4(p[-1]) IS NULL THEN NULL
         ELSE list_concat(p[1:-2], [printf('%x', jl_ipv4(p[-1]) // 65536), printf('%x', jl_ipv4(p[-1]) % 65536)])
    END;

CREATE OR REPLACE MACRO jl_ipv6(s) AS
    CASE WHEN regexp_full_match(s, '[0-9a-fA-F:.]+') AND contains(s, ':')
         THEN list_transform([string_split(s, ':')], lambda jl_6_a:
                  list_transform([jl_ipv6_tail(jl_6_a)], lambda jl_6_p: jl_ipv6_parts(jl_6_p))[1])[1] END;

-- Host for domain_in: lower case, one trailing dot dropped.
CREATE OR REPLACE MACRO jl_host(s) AS regexp_replace(lower(s), '\.$', '');
