"""Parsers whose whole mapping is one SQL file in sql/parsers/<format>.sql."""

from __future__ import annotations

from functools import cache
from typing import ClassVar

from breachline.paths import SQL_DIR
from connectors.sources.base import Parser


@cache
def _template(name: str) -> str:
    return (SQL_DIR / "parsers" / f"{name}.sql").read_text()


class SqlFileParser(Parser):
    """The SELECT lives in sql/parsers/<sql_name or format>.sql with `{{records}}` where the relation goes."""

    sql_name: ClassVar[str | None] = None

    def normalise_sql(self, records: str) -> str:
        return _template(self.sql_name or self.format).replace("{{records}}", records)
