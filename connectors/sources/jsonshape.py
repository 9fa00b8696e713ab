"""SQL text helpers for parsers that build part of their SELECT in Python."""

from __future__ import annotations


def sql_string(value: str) -> str:
    """A SQL string literal. Parsers only embed their own constant shapes and patterns, never record data."""
    return "'" + value.replace("'", "''") + "'"
