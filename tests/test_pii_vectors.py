"""The PII macros against published vectors (tests/data/pii, see ORIGIN.md there).

- every test PAN of the card networks is found bare, spaced, dashed, in JSON and in a sentence, and masked to its
  first 6 / last 4 by pii_mask and by the outbound redactor; the negatives are not cards;
- the detect-secrets plugin vectors of the detectors we support: positives found and masked, negatives not
  (except the few listed in ACCEPTED_NEGATIVES, with the reason);
- Shopify Admin API customer and order responses register their emails and phones, and nothing else.

All texts of the module go through DuckDB in one query (a query costs ~0.1-0.3 s of planning).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from breachline import pii

DATA = Path(__file__).parent / "data" / "pii"


def analyse(texts: list[str]) -> dict[str, dict[str, Any]]:
    con = duckdb.connect(":memory:")
    pii.install_pii_macros(con)
    unique = list(dict.fromkeys(texts))
    rows = con.execute(
        "SELECT pii_scan(t), pii_mask(t), pii_redact(t) FROM "
        "(SELECT unnest($t) AS t, generate_subscripts($t, 1) AS i) ORDER BY i",
        {"t": unique},
    ).fetchall()
    return {
        t: {"types": list(s["types"]), "count": s["count"], "mask": m, "redact": r}
        for t, (s, m, r) in zip(unique, rows, strict=True)
    }


# ---------------------------------------------------------------------------------------------------------------
# Card numbers
# ---------------------------------------------------------------------------------------------------------------

with (DATA / "test_pans.csv").open(newline="") as f:
    PANS = list(csv.DictReader(f))
POSITIVE_PANS = [r["pan"] for r in PANS if r["expected"] == "PAN"]
NEGATIVE_PANS = [r["pan"] for r in PANS if r["expected"] == "NOT_PAN"]


def grouped(pan: str, sep: str) -> str:
    """The way each network prints it: Amex 4-6-5, 14-digit Diners 4-6-4, others in fours."""
    sizes = [4, 6, len(pan) - 10] if len(pan) in (14, 15) else [4] * (len(pan) // 4) + [len(pan) % 4]
    groups, at = [], 0
    for n in sizes:
        if n:
            groups.append(pan[at : at + n])
            at += n
    return sep.join(groups)


def layouts(pan: str) -> dict[str, tuple[str, str]]:
    """Texts holding the PAN, each with the PAN as it appears in it."""
    spaced, dashed = grouped(pan, " "), grouped(pan, "-")
    return {
        "bare": (pan, pan),
        "spaces": (f"card {spaced}", spaced),
        "dashes": (f"card {dashed}", dashed),
        "json": (json.dumps({"order": 1001, "card_number": pan, "cvv": "123"}), pan),
        "json number": (f'{{"pan": {pan}, "exp": "12/29"}}', pan),
        "sentence": (f"Payment declined for card {spaced}, please retry.", spaced),
    }


def expected_mask(shown: str) -> str:
    """First 6 and last 4 digits kept, the others starred, separators kept (independent of the SQL)."""
    n = sum(c.isdigit() for c in shown)
    out, k = [], 0
    for c in shown:
        if c.isdigit():
            k += 1
            out.append(c if k <= 6 or k > n - 4 else "*")
        else:
            out.append(c)
    return "".join(out)


PAN_TEXTS = {(pan, kind): v for pan in POSITIVE_PANS + NEGATIVE_PANS for kind, v in layouts(pan).items()}
_TEXTS: list[str] = [text for text, _ in PAN_TEXTS.values()]


def test_vector_file_is_what_we_expect() -> None:
    assert len(POSITIVE_PANS) == 28 and len(NEGATIVE_PANS) == 4


# ---------------------------------------------------------------------------------------------------------------
# detect-secrets
# ---------------------------------------------------------------------------------------------------------------

SECRET_VECTORS: dict[str, list[dict[str, Any]]] = json.loads((DATA / "detect_secrets_plugin_test_vectors.json").read_text())
SUPPORTED = {
    "azure_storage_key", "basic_auth", "github_token", "jwt", "mailchimp_key", "npm", "openai", "private_key",
    "pypi_token", "sendgrid", "slack", "square_oauth", "stripe_key",
}
# Not claimed: vendor formats we do not scan for (artifactory, discord, gitlab, telegram, twilio: their token
# shapes are too generic to find without their vendors' context), detect-secrets' entropy heuristic (vectors are
# templates, not texts), IBM COS HMAC (verification results, not texts) and public IP addresses (not PII here).
UNSUPPORTED = {
    "artifactory", "discord", "gitlab_token", "telegram_token", "twilio", "high_entropy_strings", "ibm_cos_hmac",
    "ip_public",
}
# Negatives of supported detectors that we flag on purpose.
ACCEPTED_NEGATIVES = {
    # detect-secrets' npm plugin only trusts full .npmrc lines; for us a value assigned to an *_authToken key is a
    # credential wherever it appears (a log line, an env dump), so these are secrets too.
    "//registry.npmjs.org:_authToken=743b294a-cd03-11ec-9d64-0242ac120002",
    "registry.npmjs.org/:_authToken=743b294a-cd03-11ec-9d64-0242ac120002",
    "///:_authToken=743b294a-cd03-11ec-9d64-0242ac120002",
    "_authToken=743b294a-cd03-11ec-9d64-0242ac120002",
}


def secret_cases() -> list[tuple[str, str, bool]]:
    out = []
    for detector in sorted(SUPPORTED):
        for v in SECRET_VECTORS[detector]:
            text = v.get("payload") or v.get("line") or v.get("file_content")
            # Vectors without a verdict come from tests that only hold positives (slack, private_key, square).
            out.append((detector, text, bool(v.get("should_flag", True))))
    return out


SECRET_CASES = secret_cases()
_TEXTS += [t for _, t, _ in SECRET_CASES]


# ---------------------------------------------------------------------------------------------------------------
# Shopify
# ---------------------------------------------------------------------------------------------------------------


def walk(obj: Any, key: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, dict):
        return [kv for k, v in obj.items() for kv in walk(v, k)]
    if isinstance(obj, list):
        return [kv for v in obj for kv in walk(v, key)]
    return [(key, obj)]


SHOPIFY = [
    (f"{name}[{i}] {pair['method']} {pair['url'].split('/admin/api/')[-1]}", pair["response"])
    for name in ("shopify_api_ruby_customer_fixtures_2026_07.json", "shopify_api_ruby_order_fixtures_2026_07.subset.json")
    for i, pair in enumerate(json.loads((DATA / name).read_text()))
]
_TEXTS += [json.dumps(resp) for _, resp in SHOPIFY]


@pytest.fixture(scope="module")
def res() -> dict[str, dict[str, Any]]:
    return analyse(_TEXTS)


# ---------------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------------


def test_every_test_pan_is_found_and_masked_in_every_layout(res: dict[str, dict[str, Any]]) -> None:
    for pan in POSITIVE_PANS:
        for kind, (text, shown) in layouts(pan).items():
            got = res[text]
            assert got["types"] == ["pan"], (pan, kind)
            want = text.replace(shown, expected_mask(shown))
            assert got["mask"] == want, (pan, kind)
            assert got["redact"] == want, (pan, kind)
            for out in (got["mask"], got["redact"]):
                assert pan not in out and shown not in out, (pan, kind)
                assert shown[:6].replace(" ", "").replace("-", "") in out.replace(" ", "").replace("-", "")


def test_negative_pans_are_not_cards(res: dict[str, dict[str, Any]]) -> None:
    for pan in NEGATIVE_PANS:
        for kind, (text, _) in layouts(pan).items():
            assert "pan" not in res[text]["types"], (pan, kind)
            assert res[text]["mask"] == text


def test_detect_secrets_detectors_are_all_classified() -> None:
    assert set(SECRET_VECTORS) == SUPPORTED | UNSUPPORTED
    assert all(any(t == neg for _, t, _ in SECRET_CASES) for neg in ACCEPTED_NEGATIVES)


def common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def test_detect_secrets_positives_are_found_and_masked(res: dict[str, dict[str, Any]]) -> None:
    positives = [(d, t) for d, t, flag in SECRET_CASES if flag]
    assert len(positives) >= 30
    for detector, text in positives:
        got = res[text]
        assert "secret" in got["types"], (detector, text)
        for out in (got["mask"], got["redact"]):
            assert "[REDACTED:secret]" in out, (detector, text)
            # What was removed: the text minus what the output still shares with it at both ends.
            p = common_prefix(text, out)
            s = common_prefix(text[p:][::-1], out[p:][::-1])
            removed = text[p : len(text) - s]
            assert len(removed) >= 8 and removed not in out, (detector, text, out)


def test_detect_secrets_negatives_are_not_found(res: dict[str, dict[str, Any]]) -> None:
    negatives = [(d, t) for d, t, flag in SECRET_CASES if not flag]
    assert len(negatives) >= 20
    for detector, text in negatives:
        flagged = "secret" in res[text]["types"]
        assert flagged == (text in ACCEPTED_NEGATIVES), (detector, text)


def test_shopify_responses_register_their_emails_and_phones_only(res: dict[str, dict[str, Any]]) -> None:
    registered = {"email": 0, "phone": 0}
    for label, response in SHOPIFY:
        text = json.dumps(response)
        got = res[text]
        values = walk(response)
        # any field whose whole value is an address (email, contact_email, but also an invite's to / from / bcc)
        emails = {v for _, v in values if isinstance(v, str) and re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", v)}
        phones = {v for k, v in values if k == "phone" and isinstance(v, str) and sum(c.isdigit() for c in v) >= 8}
        assert set(got["types"]) <= {"email", "phone"}, (label, got["types"])  # no card, secret, token, ... here
        assert ("email" in got["types"]) == bool(emails), label
        assert ("phone" in got["types"]) == bool(phones), label
        registered["email"] += bool(emails)
        registered["phone"] += bool(phones)
        assert got["mask"] == text, label  # emails and phones stay in events
        redacted = got["redact"]
        json.loads(redacted)
        for value in emails | phones:
            assert f'"{value}"' not in redacted, (label, value)
    assert registered["email"] >= 20 and registered["phone"] >= 15
