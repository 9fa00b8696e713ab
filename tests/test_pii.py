"""Rules of the PII macros (sql/macros/pii.sql) and the Python wrappers (breachline/pii.py).

A query on these macros costs ~0.1-0.3 s of planning however few rows it has, so the texts of every test are
registered at import (`cases`) and sent through DuckDB in one query (`res`); each test then reads its rows.
Expected values are written out by hand or computed by the small reference functions below (Luhn, mod 97), never
by the code under test.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import duckdb
import pytest

from breachline import pii
from breachline.store import connect

_ALL: list[str | None] = []


def cases(*texts: str | None) -> list[str | None]:
    """Register texts for the module's single DuckDB query and return them."""
    _ALL.extend(texts)
    return list(texts)


def analyse(con: duckdb.DuckDBPyConnection, texts: list[str | None]) -> list[dict[str, Any]]:
    """scan, mask, redact and scan_mask of every text, in one query."""
    rows = con.execute(
        "SELECT pii_scan(t), pii_mask(t), pii_redact(t), pii_scan_mask(t) FROM "
        "(SELECT unnest($t) AS t, generate_subscripts($t, 1) AS i) ORDER BY i",
        {"t": texts},
    ).fetchall()
    return [
        {"types": list(s["types"]), "count": s["count"], "mask": m, "redact": r, "scan_mask": sm}
        for s, m, r, sm in rows
    ]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(":memory:")
    pii.install_pii_macros(c)
    return c


class Results:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        unique = list(dict.fromkeys(t for t in _ALL if t is not None))
        self._by_text = dict(zip(unique, analyse(con, unique), strict=True))
        self._null = analyse(con, [None])[0] if None in _ALL else None

    def __call__(self, texts: list[str | None]) -> list[dict[str, Any]]:
        return [self._null if t is None else self._by_text[t] for t in texts]  # type: ignore[misc]


@pytest.fixture(scope="module")
def res(con: duckdb.DuckDBPyConnection) -> Results:
    return Results(con)


def luhn_ok(digits: str) -> bool:
    total = 0
    for k, ch in enumerate(reversed(digits)):
        v = int(ch)
        if k % 2 == 1:
            v = v * 2 - 9 if v * 2 > 9 else v * 2
        total += v
    return total % 10 == 0


def mod97_ok(iban: str) -> bool:
    s = iban.replace(" ", "")
    return int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


# ---------------------------------------------------------------------------------------------------------------
# API shape
# ---------------------------------------------------------------------------------------------------------------


def test_install_is_idempotent_and_works_on_a_store_connection() -> None:
    store = connect(":memory:")
    pii.install_pii_macros(store)
    pii.install_pii_macros(store)  # CREATE OR REPLACE: a second install must not fail
    got = store.execute("SELECT pii_scan('ssn 123-45-6789'), pii_mask('ssn 123-45-6789')").fetchone()
    assert got == ({"types": ["ssn"], "count": 1}, "ssn ***-**-6789")


NULL_EMPTY = cases(None, "")


def test_null_and_empty(res: Results) -> None:
    null, empty = res(NULL_EMPTY)
    assert (null["types"], null["count"], null["mask"], null["redact"]) == ([], 0, None, None)
    assert null["scan_mask"] == {"types": [], "count": 0, "masked": None}
    assert (empty["types"], empty["count"], empty["mask"], empty["redact"]) == ([], 0, "", "")
    assert pii.scan_texts([]) == [] and pii.mask_texts([]) == [] and pii.redact_texts([]) == []


EVERY_KIND = cases(
    "ssn 123-45-6789 and 234-56-7890, mail z@example.com a@example.org, call +15142546011, "
    "card 4111 1111 1111 1111, key sk_live_ReTllpYQYfIZu2Jnf2lAPFjD, iban DE89370400440532013000, "
    "token tok_1N3T00LkdIwHu7ixt44h1F8k"
)


def test_types_are_sorted_and_distinct_and_count_is_every_match(res: Results) -> None:
    (r,) = res(EVERY_KIND)
    assert r["types"] == ["email", "iban", "pan", "payment_token", "phone", "secret", "ssn"]
    assert r["count"] == 2 + 1 + 1 + 1 + 1 + 1 + 2


TIERS = cases(
    "nothing here",
    "only bob@example.com",
    "bob@example.com and +1 (502) 459-2181",
    "card 5555-5555-5555-4444 for bob@example.com",
    '{"password": "hunter22", "ssn": "123-45-6789"}',
)


def test_scan_mask_agrees_with_scan_and_mask_on_every_path(res: Results) -> None:
    got = res(TIERS)
    assert [g["types"] for g in got] == [[], ["email"], ["email", "phone"], ["email", "pan"], ["secret", "ssn"]]
    for r in got:
        assert r["scan_mask"] == {"types": r["types"], "count": r["count"], "masked": r["mask"]}


WRAPPED = cases("card 4242424242424242 for jane.doe@example.com", None, "ssn 123-45-6789", "plain")


def test_python_wrappers_match_the_macros(res: Results) -> None:
    got = res(WRAPPED)
    assert pii.scan_texts(WRAPPED) == [(g["types"], g["count"]) for g in got]
    assert pii.mask_texts(WRAPPED) == [g["mask"] for g in got]
    assert pii.redact_texts(WRAPPED) == [g["redact"] for g in got]
    assert got[0]["redact"] == "card 424242******4242 for j***@example.com"
    assert pii.PII_TYPES == ("email", "iban", "pan", "payment_token", "phone", "secret", "ssn")


def test_redact_and_redact_obj() -> None:
    assert pii.redact("ssn 123-45-6789, reach me at bob@example.com") == "ssn ***-**-6789, reach me at b***@example.com"
    obj = {
        "title": "export by admin@example.com",
        "rows": [{"pan": 4242424242424242, "n": 3, "ok": True, "ratio": 0.5, "none": None}],
        "pair": ("ssn 123-45-6789", "clean"),
        "bob@example.com": "keys are kept",
    }
    out = pii.redact_obj(obj)
    assert out == {
        "title": "export by a***@example.com",
        "rows": [{"pan": "424242******4242", "n": 3, "ok": True, "ratio": 0.5, "none": None}],
        "pair": ("ssn ***-**-6789", "clean"),
        "bob@example.com": "keys are kept",
    }
    assert obj["rows"][0]["pan"] == 4242424242424242  # type: ignore[index]  # the input is not modified
    assert pii.redact_obj([]) == [] and pii.redact_obj(None) is None


# ---------------------------------------------------------------------------------------------------------------
# Card numbers
# ---------------------------------------------------------------------------------------------------------------

CARD_RUNS = cases(
    "card 4242 4242 4242 4242 123 exp 12 26",  # CVV and expiry glued on by spaces
    "order 1001 4242424242424242",  # an id before it
    "4242424242424242 5555555555554444",  # two cards in one run
    "amex 3782 822463 10005 and diners 3056 930902 5904",
)


def test_card_numbers_in_runs_with_other_numbers(res: Results) -> None:
    got = res(CARD_RUNS)
    assert [g["types"] for g in got] == [["pan"]] * 4
    assert [g["count"] for g in got] == [1, 1, 2, 2]
    assert got[0]["mask"] == "card 4242 42** **** 4242 123 exp 12 26"
    assert got[1]["mask"] == "order 1001 424242******4242"
    assert got[2]["mask"] == "424242******4242 555555******4444"
    assert got[3]["mask"] == "amex 3782 82**** *0005 and diners 3056 93**** 5904"


_rng = random.Random(20240115)
CARD_LOOKALIKES = cases(
    "epoch ms 1705312245123 us 1705312245123456 ns 1705312245123456789",  # start with 1: no issuer
    "at 2025-07-02T11:27:00-05:00 or 2024-01-15 12:30:45.123456",
    "order 1073339462 customer 207119551 id 450789469 ref 000000123",
    "from 192.168.100.200 and 10.0.0.1 via 2001:db8::1",
    "total $1,234.56 = 1234.56 USD, 19.99 EUR, qty 4 x 4242",
    "long id 4242424242424242424242 and hash 12345678901234567890123456789",  # too long, never split
    "isbn 978-3-16-148410-0 and 4242424242424241 fails luhn",
    " ".join(str(uuid.UUID(int=_rng.getrandbits(128), version=4)) for _ in range(300)),
)


def test_card_number_false_positive_guards(res: Results) -> None:
    for text, got in zip(CARD_LOOKALIKES, res(CARD_LOOKALIKES), strict=True):
        assert "pan" not in got["types"], text
        assert "phone" not in got["types"], text
        assert got["mask"] == text


LUHN_13 = cases("1748503543012", "4222222222222", "5018123456789")


def test_thirteen_digit_numbers_are_cards_only_for_maestro(res: Results) -> None:
    # all three pass Luhn; the first has no issuer, Visa no longer issues 13 digits, Maestro 5018 does
    assert all(luhn_ok(t) for t in LUHN_13)
    assert [g["types"] for g in res(LUHN_13)] == [[], [], ["pan"]]


def test_card_regex_and_issuer_table_agree(con: duckdb.DuckDBPyConnection) -> None:
    # The issuer ranges exist twice in pii.sql: as the candidate regex and as the lookup table that validates
    # windows of separated runs. Every 4-digit prefix at every length 12-20 must get the same answer from both.
    disagree, issued = con.execute(
        "SELECT count(*) FILTER (WHERE regexp_full_match(d, pii_re_pan_iin()) <> pii__iin_ok(d)),"
        " count(*) FILTER (WHERE pii__iin_ok(d)) FROM (SELECT lpad(p::VARCHAR, 4, '0') || repeat('0', n - 4) AS d"
        " FROM range(10000) a(p), range(12, 21) b(n))"
    ).fetchone()  # type: ignore[misc]
    assert disagree == 0
    assert issued == 7122  # a change to either encoding shows up here


# ---------------------------------------------------------------------------------------------------------------
# SSN
# ---------------------------------------------------------------------------------------------------------------

SSN_VALID = ["123-45-6789", "123 45 6789", "078-05-1120", "665-12-3456", "667-12-3456", "899-99-9999", "001-01-0001"]
SSN_INVALID = [
    "000-12-3456",  # area 000
    "666-12-3456",  # area 666
    "900-12-3456", "950-12-3456", "999-99-9999",  # areas 900-999
    "123-00-4567",  # group 00
    "123-45-0000",  # serial 0000
    "123456789",  # unformatted: indistinguishable from an id
    "123-45 6789",  # mixed separators
    "1234-45-6789", "123-45-67890",  # longer numbers
]
SSN_TEXTS = cases(*[f"ssn {s}." for s in SSN_VALID + SSN_INVALID])


def test_ssn_issued_ranges_only(res: Results) -> None:
    got = res(SSN_TEXTS)
    assert [g["types"] for g in got] == [["ssn"]] * len(SSN_VALID) + [[]] * len(SSN_INVALID)
    assert got[0]["mask"] == got[0]["redact"] == "ssn ***-**-6789."
    assert got[1]["mask"] == "ssn *** ** 6789."


# ---------------------------------------------------------------------------------------------------------------
# IBAN
# ---------------------------------------------------------------------------------------------------------------

VALID_IBANS = [
    "DE89370400440532013000",
    "GB82WEST12345698765432",
    "GB29 NWBK 6016 1331 9268 19",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91ABNA0417164300",
    "BE68539007547034",
    "CH9300762011623852957",
    "NO9386011117947",
    "ES91 2100 0418 4502 0005 1332",
    "IT60X0542811101000000123456",
    "PL61109010140000071219812874",
    "BR9700360305000010009795493P1",
]
BAD_IBANS = [
    "DE89370400440532013001",  # last digit changed: mod 97 fails
    "DE8937040044053201300",  # 21 characters: German IBANs have 22
    "XX89370400440532013000",  # no such country
]
IBAN_TEXTS = cases(*[f"pay to {i} today" for i in VALID_IBANS + BAD_IBANS])


def test_iban_mod97_and_registry_length(res: Results) -> None:
    assert all(mod97_ok(i) for i in VALID_IBANS) and not mod97_ok(BAD_IBANS[0])
    got = res(IBAN_TEXTS)
    assert [g["types"] for g in got] == [["iban"]] * len(VALID_IBANS) + [[]] * len(BAD_IBANS)
    assert all(g["mask"] == t for g, t in zip(got, IBAN_TEXTS, strict=True))  # ingest keeps IBANs
    assert got[0]["redact"] == "pay to DE****************3000 today"
    assert got[2]["redact"] == "pay to GB** **** **** **** **68 19 today"


# ---------------------------------------------------------------------------------------------------------------
# Phones and emails
# ---------------------------------------------------------------------------------------------------------------

PHONES = [
    "+15142546011", "+1(502)-459-2181", "+557734881234", "555-625-1199", "(502) 459-2181", "502.459.2181",
    "502 459 2181", "1-800-555-0199", "+44 20 7946 0958", "+44 (0)20 7946 0958", "+49 30 901820",
]
PHONE_TEXTS = cases(*[f"call {p} now" for p in PHONES])


def test_phone_formats(res: Results) -> None:
    got = res(PHONE_TEXTS)
    assert [g["types"] for g in got] == [["phone"]] * len(PHONES)
    assert [g["mask"] for g in got] == PHONE_TEXTS  # ingest keeps phones
    assert got[1]["redact"] == "call +*(***)-***-**81 now"
    assert got[3]["redact"] == "call ***-***-**99 now"


PHONE_LOOKALIKES = cases(
    "order 5024592181 shipped",  # a bare 10-digit number is an id, not a phone
    "order #1001 total 199.65",
    "ts 2025-07-02T11:27:00+05:00 and +00:00 and 12:30:45",
    "hosts 192.168.100.200 10.200.300.4000 version 1.2.3.4",
    "local number 555-1212",  # 7 digits: too short to be reported
    "range 100-2000-3000 and a+12345678 and 1e+10",
)


def test_phone_false_positive_guards(res: Results) -> None:
    for text, got in zip(PHONE_LOOKALIKES, res(PHONE_LOOKALIKES), strict=True):
        assert got["types"] == [], text


EMAILS = cases("from steve.lastnameson@example.com to bob.norman@mail.example.com")


def test_emails_found_kept_by_mask_and_redacted_outbound(res: Results) -> None:
    (g,) = res(EMAILS)
    assert (g["types"], g["count"]) == (["email"], 2)
    assert g["mask"] == EMAILS[0]
    assert g["redact"] == "from s***@example.com to b***@mail.example.com"


# ---------------------------------------------------------------------------------------------------------------
# Secrets and payment tokens
# ---------------------------------------------------------------------------------------------------------------

SECRET_MASKS = {
    "key=sk_test_4eC39HqLyjWDarjtT1zdp7dc": "key=sk_test_[REDACTED:secret]",
    "rk_live_5TcWfjKmJgpql9hjpRnwRXbT": "rk_live_[REDACTED:secret]",
    "xoxb-34532454-e039d02840a0b9379c": "xoxb-[REDACTED:secret]",
    "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX": "https://hooks.slack.com/[REDACTED:secret]",
    "id AKIAIOSFODNN7EXAMPLE": "id AKIA[REDACTED:secret]",
    "ASIAY34FZKBOKMUTVV7A": "ASIA[REDACTED:secret]",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "aws_secret_access_key = [REDACTED:secret]",
    "aws_secret_access_key=/JalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "aws_secret_access_key=[REDACTED:secret]",
    "token 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": "token ghp_[REDACTED:secret]",
    "github_pat_11ABCDEFG0123456789abc_defghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456":
        "github_pat_[REDACTED:secret]",
    "GET /login?user=bob&password=hunter2&next=/": "GET /login?user=bob&password=[REDACTED:secret]&next=/",
    "db_password: s3cr3t!": "db_password: [REDACTED:secret]",
    "'password' => 'letmein'": "'password' => '[REDACTED:secret]'",
    '{"current_password":"old pass","password_confirmation":"new pass"}':
        '{"current_password":"[REDACTED:secret]","password_confirmation":"[REDACTED:secret]"}',
    r'{"msg": "login {\"password\":\"hunter2\"}"}': r'{"msg": "login {\"password\":\"[REDACTED:secret]\"}"}',
    "Authorization: Bearer abcdef0123456789.xyz": "Authorization: Bearer [REDACTED:secret]",
    "mysql://magento:Pa55word@db.internal:3306/shop": "mysql://magento:[REDACTED:secret]@db.internal:3306/shop",
    "X-Shopify-Access-Token: shpat_0123456789abcdef0123456789abcdef": "X-Shopify-Access-Token: shpat_[REDACTED:secret]",
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg\n-----END EC PRIVATE KEY-----\nnext line":
        "-----BEGIN EC PRIVATE KEY-----[REDACTED:secret]\nnext line",
}
SECRET_TEXTS = cases(*SECRET_MASKS)


def test_secret_kinds_and_their_masks(res: Results) -> None:
    for (text, want), g in zip(SECRET_MASKS.items(), res(SECRET_TEXTS), strict=True):
        assert "secret" in g["types"], text
        assert g["mask"] == want, text
        assert g["redact"] == want, text  # nothing else to redact in these texts


NOT_SECRETS = cases(
    "password=${DB_PASSWORD}", "password=$DB_PASSWORD", "password: ********", "password: null",
    '{"password": "[REDACTED:secret]"}', "password={{ vault_pw }}", "password=<hidden>", "password=",
    '{"password_hash": "$2y$10$abcdefghijklmnopqrstuv", "password_changed_at": "2024-01-01"}',
    '{"password": null, "has_password": true, "password_numeric": 123456}',  # unquoted JSON: left alone
    "pk_live_j5krY8XTgIcDaHDb3YrsAfCl", "sk_live_", "use tok_visa or pm_card_visa", "card_declined",
    '"cart_token": "68778783ad298f1c80c3bafcddeea02f"',
    "env PWD=/home/deploy OLDPWD=/tmp secret_file=/run/secrets/db",  # directories and files, not credentials
)


def test_placeholders_and_lookalikes_are_not_secrets(res: Results) -> None:
    for text, g in zip(NOT_SECRETS, res(NOT_SECRETS), strict=True):
        assert g["types"] == [], text
        assert g["mask"] == text, text


TOKENS = [
    "tok_1N3T00LkdIwHu7ixt44h1F8k", "pm_1Q0PsIJvEtkwdCNYMglrXAXb", "card_1MvoiELkdIwHu7ixOeFGbN9D",
    "src_1N3lxdLkdIwHu7ixPMiBz3CC", "ba_1MvoIJ2eZvKYlo2C5xT9w7b6", "cnon:card-nonce-ok-1234567",
    "ccof:customer-card-id-ok-98765",
]
TOKEN_TEXTS = cases(*[f"paid with {t}." for t in TOKENS])


def test_payment_tokens(res: Results) -> None:
    got = res(TOKEN_TEXTS)
    assert [g["types"] for g in got] == [["payment_token"]] * len(TOKENS)
    assert got[0]["mask"] == "paid with tok_[REDACTED:payment_token]."
    assert got[5]["mask"] == "paid with cnon:[REDACTED:payment_token]."
    assert all(t not in g["mask"] and t not in g["redact"] for t, g in zip(TOKENS, got, strict=True))


# ---------------------------------------------------------------------------------------------------------------
# Masking properties
# ---------------------------------------------------------------------------------------------------------------

_INNER = json.dumps({"password": "hunter 2", "card": "4242 4242 4242 4242"})
JSON_DOCS = cases(*[json.dumps(d) for d in [
    {"card_number": "5555-5555-5555-4444", "ssn": "123-45-6789", "email": "bob@example.com"},
    {"password": "p@ss \u00e9", "api_key": "abc123def", "password_numeric": 123456, "secret": None},
    {"body": _INNER, "auth": "Authorization: Bearer abcdefghijk0123", "phone": "+1(502)-459-2181"},
    {"pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n", "after": "x"},  # no END: stops at the quote
    {"jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc", "iban": "GB82WEST12345698765432"},
]])


def test_masked_json_stays_valid_json(res: Results) -> None:
    got = res(JSON_DOCS)
    for text, g in zip(JSON_DOCS, got, strict=True):
        assert g["types"], text
        for out in (g["mask"], g["redact"]):
            assert set(json.loads(out)) == set(json.loads(text))  # json.loads raises if masking broke it
    assert json.loads(json.loads(got[2]["mask"])["body"]) == {"password": "[REDACTED:secret]", "card": "4242 42** **** 4242"}
    assert json.loads(got[3]["mask"]) == {"pem": "-----BEGIN RSA PRIVATE KEY-----[REDACTED:secret]", "after": "x"}


TO_REMASK = cases(
    "card 4242 4242 4242 4242 ssn 123-45-6789 key sk_live_ReTllpYQYfIZu2Jnf2lAPFjD tok_1N3T00LkdIwHu7ixt44h1F8k",
    '{"password": "hunter2", "card": "378282246310005"}',
    "password=4242 4242 4242 4242",  # a card inside a secret's value: partial overlap
    "password=4242424242424242",  # a card that is the whole value
)


def test_mask_is_idempotent_and_leaves_nothing_to_find(res: Results, con: duckdb.DuckDBPyConnection) -> None:
    first = [g["mask"] for g in res(TO_REMASK)]
    assert first[2] == "password=[REDACTED:secret] 42** **** 4242"
    assert first[3] == "password=[REDACTED:secret]"
    for m, g in zip(first, analyse(con, first), strict=True):
        assert g["mask"] == m
        assert not set(g["types"]) & {"pan", "ssn", "secret", "payment_token"}, m
