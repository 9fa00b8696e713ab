"""Ingest from object storage: listing with globs, gzip objects, ETag-based idempotency, a replaced object."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import duckdb
import pytest

from breachline.config import SourceConfig
from connectors.sources.ingest import ingest_source
from tests.s3server import s3_server
from tests.test_ingest_loader import line, waf_record


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3_server() as url:
        yield url


@pytest.fixture
def s3(endpoint: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import boto3

    monkeypatch.setenv("BL_TEST_S3_KEY", "testing")
    monkeypatch.setenv("BL_TEST_S3_SECRET", "testing")
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    return client


def source(endpoint: str, location: str) -> SourceConfig:
    return SourceConfig("waf-s3", "aws_waf", location, s3_endpoint_url=endpoint,
                        access_key_env="BL_TEST_S3_KEY", secret_key_env="BL_TEST_S3_SECRET")


def test_s3_objects_are_ingested_once(store: duckdb.DuckDBPyConnection, s3, endpoint: str) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket="logs")
    day1 = gzip.compress(b"".join(line(waf_record(i)) for i in range(30)))
    day2 = gzip.compress(b"".join(line(waf_record(i)) for i in range(30, 50)))
    s3.put_object(Bucket="logs", Key="AWSLogs/waf/2026/11/29/a.log.gz", Body=day1)
    s3.put_object(Bucket="logs", Key="AWSLogs/waf/2026/11/30/b.log.gz", Body=day2)
    s3.put_object(Bucket="logs", Key="AWSLogs/other/readme.txt", Body=b"not a log")

    src = source(endpoint, "s3://logs/AWSLogs/waf/*/*.log.gz")
    first = ingest_source(store, src)
    assert (first.records, first.added, first.files_read) == (50, 50, 2)
    again = ingest_source(store, src)
    assert (again.records, again.added, again.files_skipped) == (0, 0, 2)

    # An object rewritten in place (new ETag) is read again; what was already stored counts as duplicates.
    s3.put_object(Bucket="logs", Key="AWSLogs/waf/2026/11/30/b.log.gz",
                  Body=gzip.compress(b"".join(line(waf_record(i)) for i in range(30, 55))))
    replaced = ingest_source(store, src)
    assert (replaced.records, replaced.added, replaced.duplicates) == (25, 5, 20)
    stored = store.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
    assert stored == (55, 55)
    locations = {r[0] for r in store.execute("SELECT location FROM ingest_files").fetchall()}
    assert locations == {"s3://logs/AWSLogs/waf/2026/11/29/a.log.gz", "s3://logs/AWSLogs/waf/2026/11/30/b.log.gz"}


def test_s3_missing_bucket_is_a_clear_error(store: duckdb.DuckDBPyConnection, s3, endpoint: str) -> None:  # type: ignore[no-untyped-def]
    from breachline.errors import SourceError

    with pytest.raises(SourceError, match="cannot list s3://no-such-bucket"):
        ingest_source(store, source(endpoint, "s3://no-such-bucket/x/"))

