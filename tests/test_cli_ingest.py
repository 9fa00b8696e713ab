"""`breachline ingest` as scripts drive it: ad-hoc paths, configured sources, --json, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from breachline.cli import main
from tests.test_ingest_loader import line, waf_record


def test_adhoc_ingest_prints_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "waf.jsonl"
    f.write_bytes(b"".join(line(waf_record(i)) for i in range(7)) + b"not json\n" + line(waf_record(1)))
    db = tmp_path / "s.duckdb"
    assert main(["ingest", "--db", str(db), "--format", "aws_waf", str(f), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == [{"source": "aws_waf", "format": "aws_waf", "records": 9, "added": 7, "duplicates": 1,
                    "quarantined": 1}]
    assert main(["ingest", "--db", str(db), "--format", "aws_waf", str(f), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["records"] == 0


def test_configured_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "waf").mkdir()
    (tmp_path / "waf" / "a.jsonl").write_bytes(b"".join(line(waf_record(i)) for i in range(3)))
    (tmp_path / "breachline.toml").write_text(
        '[database]\npath = "s.duckdb"\n[[sources]]\nname = "edge"\nformat = "aws_waf"\nlocation = "waf"\n')
    assert main(["ingest", "--config", str(tmp_path / "breachline.toml")]) == 0
    out = capsys.readouterr().out
    assert "edge" in out and "aws_waf" in out and str(tmp_path / "s.duckdb") in out


def test_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "--db", str(tmp_path / "s.duckdb"), str(tmp_path)]) == 2
    assert capsys.readouterr().err == "breachline: ingest PATH... needs --format (e.g. --format aws_waf)\n"
    assert main(["ingest", "--db", str(tmp_path / "s.duckdb"), "--format", "nope", str(tmp_path)]) == 2
    assert 'unknown format "nope"' in capsys.readouterr().err
    assert main(["ingest", "--db", str(tmp_path / "s.duckdb"), "--format", "aws_waf", str(tmp_path / "x")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
