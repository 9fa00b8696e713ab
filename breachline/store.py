"""The DuckDB store: opening it (with a clear 'busy' instead of a lock error) and numbered migrations."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from breachline.errors import StoreBusyError, StoreError
from breachline.paths import SQL_DIR

MIGRATIONS_DIR = SQL_DIR / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, Path]]:
    """The numbered migration files in order; a gap or a duplicate number is a packaging error."""
    found: list[tuple[int, Path]] = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if not m:
            raise StoreError(f"{path}: migration file names must look like 001_what_it_does.sql")
        found.append((int(m.group(1)), path))
    numbers = [n for n, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise StoreError(f"{MIGRATIONS_DIR}: migrations must be numbered 1..N without gaps, found {numbers}")
    return found


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations this database has not seen yet, each in its own transaction; returns those applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied: list[int] = []
    for number, path in migrations():
        if number in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(path.read_text())
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [number, path.name])
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise StoreError(f"migration {path.name} failed: {exc}") from exc
        applied.append(number)
    return applied


def connect(
    db_path: str | Path,
    *,
    read_only: bool = False,
    wait_seconds: float = 30.0,
    migrate_schema: bool = True,
) -> duckdb.DuckDBPyConnection:
    """Open the store. If another process holds the file, retry for `wait_seconds`, then raise StoreBusyError.

    DuckDB allows one read-write process per file and blocks even read-only opens meanwhile, so a CLI
    reader running during a scheduled pipeline run waits politely instead of failing with a lock error.
    """
    path = str(db_path)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    delay = 0.2
    announced = False
    while True:
        try:
            con = duckdb.connect(path, read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise StoreError(f"cannot open {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"{path} is busy: another breachline process is writing to it; try again when it finishes"
                ) from exc
            if not announced:
                import sys

                print(f"{path} is busy (another run is writing); retrying for up to {wait_seconds:.0f}s",
                      file=sys.stderr)
                announced = True
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
    con.execute("SET TimeZone = 'UTC'")
    if migrate_schema and not read_only:
        migrate(con)
    return con


@contextmanager
def open_store(db_path: str | Path, **kwargs: object) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(db_path, **kwargs)  # type: ignore[arg-type]
    try:
        yield con
    finally:
        con.close()


def harden(con: duckdb.DuckDBPyConnection) -> None:
    """From here on the connection reads the store and nothing else: no files, no network, settings locked.

    Compiled playbook SQL runs on such a connection, so a playbook can only ever see the events."""
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
