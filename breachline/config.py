"""breachline.toml: one file for the database, the sources, playbook directories, retention and delivery.

Found at `--config FILE`, else `$BREACHLINE_CONFIG`, else `./breachline.toml`; without one, the embedded defaults
apply (a DuckDB file under ./.breachline/, no sources, the shipped playbooks, console delivery). Every key is
validated on load and an error names it: `breachline.toml: sources[2].format: unknown format "awswaf" ...`.
Secrets are never in the file: settings name the environment variables that hold them.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from breachline.errors import ConfigError

DEFAULT_DB = ".breachline/breachline.duckdb"
_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object, key: str) -> float:
    """'90s', '10m', '2h', '30d' → seconds. The message names the key and shows a valid example."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = _DURATION.match(value) if isinstance(value, str) else None
    if not m:
        raise ConfigError(f'{key}: {value!r} is not a duration; use e.g. 90s, 10m, 2h, 30d')
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2)]


@dataclass(frozen=True)
class SourceConfig:
    name: str
    format: str
    location: str
    max_silence_seconds: float | None = None  # a source silent for longer is a blind spot: it opens an incident
    tenant: str | None = None  # store / shop for records that do not name one (e.g. Magento logs)
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"


@dataclass(frozen=True)
class Config:
    path: Path | None
    db_path: Path
    sources: tuple[SourceConfig, ...] = ()
    playbook_dirs: tuple[Path, ...] = ()
    use_shipped_playbooks: bool = True
    mask_pii: bool = True
    retention_days: dict[str, int] = field(default_factory=lambda: {"events": 30, "quarantine": 30})
    # Raw tables for the delivery settings, parsed by connectors (they own their meaning).
    jira: Mapping[str, Any] = field(default_factory=dict)
    slack: Mapping[str, Any] = field(default_factory=dict)
    delivery: Mapping[str, Any] = field(default_factory=dict)


_TOP_KEYS = {"database", "sources", "playbooks", "ingest", "retention", "jira", "slack", "delivery"}
_SOURCE_KEYS = {"name", "format", "location", "max_silence", "tenant", "s3_endpoint_url", "s3_region", "access_key_env",
                "secret_key_env"}


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{path}: configuration file not found")
        return path
    env = os.environ.get("BREACHLINE_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"BREACHLINE_CONFIG={env}: configuration file not found")
        return path
    local = Path("breachline.toml")
    return local if local.is_file() else None


def load_config(explicit: str | os.PathLike[str] | None = None, *, db: str | None = None) -> Config:
    """The configuration in force. `db` (from --db) overrides the database path."""
    path = find_config(explicit)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_config(data, path, db_override=db)


def parse_config(data: Mapping[str, Any], path: Path | None, *, db_override: str | None = None) -> Config:
    where = str(path) if path else "breachline.toml"
    base = path.parent if path else Path.cwd()
    _no_unknown(data, _TOP_KEYS, where)

    database = _table(data, "database", where)
    _no_unknown(database, {"path"}, f"{where}: database")
    db_path = Path(db_override or _str(database, "path", f"{where}: database", DEFAULT_DB))
    if not db_path.is_absolute() and not db_override:
        db_path = base / db_path

    sources: list[SourceConfig] = []
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list):
        raise ConfigError(f"{where}: sources: expected an array of tables ([[sources]])")
    from connectors.sources.registry import PARSERS

    names: set[str] = set()
    for i, src in enumerate(raw_sources):
        key = f"{where}: sources[{i}]"
        if not isinstance(src, dict):
            raise ConfigError(f"{key}: expected a table with name, format, location")
        _no_unknown(src, _SOURCE_KEYS, key)
        name = _str(src, "name", key)
        if name in names:
            raise ConfigError(f'{key}.name: "{name}" is used by another source; names must be unique')
        names.add(name)
        fmt = _str(src, "format", key)
        if fmt not in PARSERS:
            raise ConfigError(f'{key}.format: unknown format "{fmt}"; known formats: {", ".join(sorted(PARSERS))}')
        location = _str(src, "location", key)
        if not location.startswith("s3://") and not Path(location).is_absolute():
            location = str(base / location)
        silence = src.get("max_silence")
        sources.append(
            SourceConfig(
                name=name,
                format=fmt,
                location=location,
                max_silence_seconds=parse_duration(silence, f"{key}.max_silence") if silence is not None else None,
                tenant=_str(src, "tenant", key) if "tenant" in src else None,
                s3_endpoint_url=src.get("s3_endpoint_url"),
                s3_region=src.get("s3_region"),
                access_key_env=src.get("access_key_env", "AWS_ACCESS_KEY_ID"),
                secret_key_env=src.get("secret_key_env", "AWS_SECRET_ACCESS_KEY"),
            )
        )

    playbooks = _table(data, "playbooks", where)
    _no_unknown(playbooks, {"dirs", "shipped"}, f"{where}: playbooks")
    dirs = playbooks.get("dirs", [])
    if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
        raise ConfigError(f"{where}: playbooks.dirs: expected a list of directory paths")
    shipped = playbooks.get("shipped", True)
    if not isinstance(shipped, bool):
        raise ConfigError(f"{where}: playbooks.shipped: expected true or false")

    ingest = _table(data, "ingest", where)
    _no_unknown(ingest, {"mask_pii"}, f"{where}: ingest")
    mask = ingest.get("mask_pii", True)
    if not isinstance(mask, bool):
        raise ConfigError(f"{where}: ingest.mask_pii: expected true or false")

    retention = _table(data, "retention", where)
    _no_unknown(retention, {"events", "quarantine"}, f"{where}: retention")
    retention_days = {"events": 30, "quarantine": 30}
    for table, value in retention.items():
        retention_days[table] = int(parse_duration(value, f"{where}: retention.{table}") // 86400)

    return Config(
        path=path,
        db_path=db_path,
        sources=tuple(sources),
        playbook_dirs=tuple(Path(d) if Path(d).is_absolute() else base / d for d in dirs),
        use_shipped_playbooks=shipped,
        mask_pii=mask,
        retention_days=retention_days,
        jira=_table(data, "jira", where),
        slack=_table(data, "slack", where),
        delivery=_table(data, "delivery", where),
    )


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {key}: expected a table ([{key}])")
    return value


def _str(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if value is None:
        raise ConfigError(f"{where}.{key}: missing (required)")
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}.{key}: expected a non-empty string, got {value!r}")
    return value


def did_you_mean(key: str, known: set[str]) -> str:
    """The hint after an unknown key: the closest known key, else the list of known keys."""
    import difflib

    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(known))}"


def _no_unknown(data: Mapping[str, Any], known: set[str], where: str) -> None:
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(key, known)}")
