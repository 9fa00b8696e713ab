"""Where raw logs come from: local paths and globs, and s3:// URLs on any S3-compatible endpoint.

DuckDB's httpfs extension cannot be installed on these machines, so object storage is read with boto3, streamed
in chunks (never a whole object in memory).
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from breachline.errors import SourceError

FINGERPRINT_BYTES = 64 * 1024


@dataclass(frozen=True)
class S3Settings:
    """Object storage connection; secrets are read from the environment variables named here."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"

    def client(self) -> Any:
        import boto3
        from botocore.config import Config as BotoConfig

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region or "us-east-1",
            aws_access_key_id=os.environ.get(self.access_key_env),
            aws_secret_access_key=os.environ.get(self.secret_key_env),
            config=BotoConfig(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60),
        )


@dataclass(frozen=True)
class SourceObject:
    """One file or object to read."""

    location: str  # absolute path or s3://bucket/key
    size: int
    etag: str | None  # object storage only
    _client: Any = None

    @property
    def is_s3(self) -> bool:
        return self.location.startswith("s3://")

    def open(self, start: int = 0) -> BinaryIO:
        if not self.is_s3:
            f = open(self.location, "rb")  # noqa: SIM115 - returned to the caller, who closes it
            if start:
                f.seek(start)
            return f
        bucket, key = _split_s3(self.location)
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if start:
            kwargs["Range"] = f"bytes={start}-"
        try:
            body = self._client.get_object(**kwargs)["Body"]
        except Exception as exc:
            raise SourceError(f"cannot read {self.location}: {exc}") from exc
        return body  # type: ignore[no-any-return,unused-ignore]

    def fingerprint(self, length: int) -> str:
        """Identity of the first `length` bytes: tells a grown file from a rotated or replaced one."""
        if self.is_s3:
            return self.etag or ""
        h = hashlib.md5(usedforsecurity=False)
        with open(self.location, "rb") as f:
            h.update(f.read(min(length, FINGERPRINT_BYTES)))
        return h.hexdigest()

    def is_gzip(self) -> bool:
        with self.open() as f:
            return f.read(2) == b"\x1f\x8b"


def _split_s3(url: str) -> tuple[str, str]:
    rest = url[len("s3://") :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise SourceError(f"{url}: an s3 location needs a bucket, e.g. s3://bucket/prefix/*.jsonl.gz")
    return bucket, key


def resolve(location: str, s3: S3Settings | None = None) -> list[SourceObject]:
    """Every file a location names, sorted: a file, a directory (recursively), a glob (`**` allowed) or s3:// URL."""
    if location.startswith("s3://"):
        return list(_resolve_s3(location, s3 or S3Settings()))
    path = Path(location).expanduser()
    if any(ch in location for ch in "*?["):
        matches = [Path(p) for p in glob.glob(str(path), recursive=True)]
    elif path.is_dir():
        matches = [p for p in path.rglob("*")]
    elif path.exists():
        matches = [path]
    else:
        raise SourceError(f"{location}: no such file or directory")
    files = sorted(p.resolve() for p in matches if p.is_file() and not p.name.startswith("."))
    return [SourceObject(str(p), p.stat().st_size, None) for p in files]


def _resolve_s3(location: str, s3: S3Settings) -> Iterator[SourceObject]:
    bucket, pattern = _split_s3(location)
    wildcard = next((i for i, ch in enumerate(pattern) if ch in "*?["), len(pattern))
    prefix = pattern[:wildcard]
    client = s3.client()
    paginator = client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith("/"):
                    continue
                if wildcard < len(pattern) and not fnmatch.fnmatchcase(key, pattern):
                    continue
                yield SourceObject(f"s3://{bucket}/{key}", int(obj["Size"]), obj["ETag"].strip('"'), client)
    except Exception as exc:
        raise SourceError(f"cannot list {location}: {exc}") from exc
