"""breachline.toml: found where documented, validated on load, errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from breachline.config import load_config, parse_config, parse_duration
from breachline.errors import ConfigError

GOOD = """
[database]
path = "store.duckdb"

[[sources]]
name = "waf"
format = "aws_waf"
location = "logs/waf/*.jsonl.gz"
max_silence = "30m"

[[sources]]
name = "s3-waf"
format = "cloudflare_firewall"
location = "s3://bucket/cf/"
s3_endpoint_url = "http://127.0.0.1:9000"
access_key_env = "CF_KEY"
secret_key_env = "CF_SECRET"

[playbooks]
dirs = ["mine"]

[retention]
events = "14d"
"""


def test_good_config_is_resolved_relative_to_its_file(tmp_path: Path) -> None:
    (tmp_path / "breachline.toml").write_text(GOOD)
    cfg = load_config(tmp_path / "breachline.toml")
    assert cfg.db_path == tmp_path / "store.duckdb"
    assert [s.name for s in cfg.sources] == ["waf", "s3-waf"]
    assert cfg.sources[0].location == str(tmp_path / "logs/waf/*.jsonl.gz")
    assert cfg.sources[0].max_silence_seconds == 1800
    assert cfg.sources[1].location == "s3://bucket/cf/"
    assert cfg.sources[1].access_key_env == "CF_KEY"
    assert cfg.playbook_dirs == (tmp_path / "mine",)
    assert cfg.retention_days["events"] == 14
    assert cfg.mask_pii is True


def test_config_found_from_environment_then_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "breachline.toml").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BREACHLINE_CONFIG", raising=False)
    assert load_config().path == Path("breachline.toml")
    other = tmp_path / "other.toml"
    other.write_text('[database]\npath = "x.duckdb"\n')
    monkeypatch.setenv("BREACHLINE_CONFIG", str(other))
    assert load_config().db_path == tmp_path / "x.duckdb"
    assert load_config(db="/tmp/override.duckdb").db_path == Path("/tmp/override.duckdb")


def test_without_a_config_the_embedded_defaults_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BREACHLINE_CONFIG", raising=False)
    cfg = load_config()
    assert cfg.path is None and cfg.sources == () and cfg.use_shipped_playbooks
    assert cfg.db_path == tmp_path / ".breachline/breachline.duckdb"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('format = "aws_waf"', 'format = "awswaf"'), 'sources[0].format: unknown format "awswaf"'),
        (('max_silence = "30m"', 'max_silence = "half an hour"'),
         "sources[0].max_silence: 'half an hour' is not a duration; use e.g. 90s, 10m, 2h, 30d"),
        (('name = "s3-waf"', 'name = "waf"'), 'sources[1].name: "waf" is used by another source'),
        (('location = "s3://bucket/cf/"\n', ""), "sources[1].location: missing (required)"),
        (("[retention]", "[retension]"), "unknown key 'retension'; did you mean 'retention'?"),
        (('dirs = ["mine"]', 'dirs = "mine"'), "playbooks.dirs: expected a list of directory paths"),
        (('s3_endpoint_url =', 'endpoint ='), "sources[1]: unknown key 'endpoint'"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    assert edit[0] in GOOD
    path = tmp_path / "breachline.toml"
    path.write_text(GOOD.replace(*edit))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)
    assert str(err.value).startswith(str(path))
    assert "\n" not in str(err.value)


def test_invalid_toml_and_missing_file_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\npath = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.toml")


def test_durations() -> None:
    assert parse_duration("90s", "k") == 90
    assert parse_duration("2h", "k") == 7200
    assert parse_duration("30d", "k") == 30 * 86400
    with pytest.raises(ConfigError, match="k: '2 hours' is not a duration"):
        parse_duration("2 hours", "k")
    assert parse_config({}, None).sources == ()
