"""PII scanning and masking, defined once in sql/macros/pii.sql.

Ingest runs the macros over millions of events inside its own DuckDB connection (`install_pii_macros`). Everything
that leaves breachline (Jira, Slack, console, evidence JSON) passes through `redact` / `redact_obj`, which run the
same macros on a private in-process DuckDB: the outbound redactor cannot drift from what ingest detects, because
there is no second copy of the patterns. Each call costs ~0.1 s of query planning whatever its size, and a
thousand strings little more than one (docs/performance.md): batch with `redact_texts` / `redact_obj`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import duckdb

from breachline.errors import StoreError
from breachline.paths import SQL_DIR

PII_SQL = SQL_DIR / "macros" / "pii.sql"

#: Every kind pii_scan can report, in the (sorted) order it reports them.
PII_TYPES: tuple[str, ...] = ("email", "iban", "pan", "payment_token", "phone", "secret", "ssn")

_lock = threading.Lock()
_con: duckdb.DuckDBPyConnection | None = None


def install_pii_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or replace) the pii_* macros on `con`. Idempotent: safe to call on every connect."""
    try:
        con.execute(PII_SQL.read_text())
    except (OSError, duckdb.Error) as exc:
        raise StoreError(f"cannot install the PII macros from {PII_SQL}: {exc}") from exc


def _private() -> duckdb.DuckDBPyConnection:
    """The module's own in-memory DuckDB with the macros installed (callers hold _lock)."""
    global _con
    if _con is None:
        con = duckdb.connect(":memory:")
        # Inputs here are small; one thread avoids scheduling overhead and leaves the cores to ingest. These
        # optimizers spend ~150 ms per query on the macros' large expression trees and have nothing to do in a
        # one-table projection (measured on a loaded machine: a redact call went from ~380 to ~220 ms).
        con.execute("SET threads = 1")
        con.execute("SET disabled_optimizers = 'projection_pullup,join_order,statistics_propagation'")
        install_pii_macros(con)
        _con = con
    return _con


def _run(macro: str, texts: Sequence[str | None]) -> list[Any]:
    """Apply one of the public macros to each text, order preserved."""
    if not texts:
        return []
    with _lock:
        try:
            rows = _private().execute(
                f"SELECT {macro}(t) FROM (SELECT unnest($texts) AS t, generate_subscripts($texts, 1) AS i) ORDER BY i",
                {"texts": list(texts)},
            ).fetchall()
        except duckdb.Error as exc:
            # Fail closed: a caller that cannot redact must not send the text.
            raise StoreError(f"PII {macro} failed on {len(texts)} text(s): {exc}") from exc
    return [row[0] for row in rows]


def scan_texts(texts: Sequence[str | None]) -> list[tuple[list[str], int]]:
    """pii_scan over each text: (sorted distinct kinds, number of matches). None gives ([], 0)."""
    return [(list(r["types"]), int(r["count"])) for r in _run("pii_scan", texts)]


def mask_texts(texts: Sequence[str | None]) -> list[str | None]:
    """pii_mask over each text (ingest masking: PANs, SSNs, secrets, payment tokens). None stays None."""
    return list(_run("pii_mask", texts))


def redact_texts(texts: Sequence[str | None]) -> list[str | None]:
    """pii_redact over each text: everything pii_mask masks, plus emails, phones and IBANs."""
    return list(_run("pii_redact", texts))


def redact(text: str) -> str:
    """The outbound redactor: mask every kind of PII and secret in one message before it leaves breachline."""
    out = redact_texts([text])[0]
    return text if out is None else out


def redact_obj(obj: Any) -> Any:
    """A copy of `obj` (dicts, lists, tuples, scalars) with every string value redacted, in one DuckDB call.

    Integers are redacted too, since a card number often travels as a JSON number; one that changes comes back
    as its masked string. Dict keys are kept: they name fields, and masking them could merge two entries.
    """
    found: list[str] = []

    def collect(o: Any) -> None:
        if isinstance(o, str):
            found.append(o)
        elif isinstance(o, int) and not isinstance(o, bool):
            found.append(str(o))
        elif isinstance(o, dict):
            for v in o.values():
                collect(v)
        elif isinstance(o, list | tuple):
            for v in o:
                collect(v)

    collect(obj)
    redacted = iter(redact_texts(found))

    def rebuild(o: Any) -> Any:
        if isinstance(o, str):
            return next(redacted)
        if isinstance(o, int) and not isinstance(o, bool):
            r = next(redacted)
            return o if r == str(o) else r
        if isinstance(o, dict):
            return {k: rebuild(v) for k, v in o.items()}
        if isinstance(o, list):
            return [rebuild(v) for v in o]
        if isinstance(o, tuple):
            return tuple(rebuild(v) for v in o)
        return o

    return rebuild(obj)
