"""Correlation: playbooks compiled to DuckDB SQL (one module per type), alert identity, incremental runs,
exceptions. See docs/playbooks.md for the semantics and the design."""

from correlators.correlation.compiler import Bounds, CompiledQuery, CorrelationCompileError, compile_playbook
from correlators.correlation.runner import PlaybookRun, correlate, evaluate, reset, watermark
from correlators.correlation.testing import TestOutcome, insert_events, run_test, run_tests

__all__ = [
    "Bounds",
    "CompiledQuery",
    "CorrelationCompileError",
    "PlaybookRun",
    "TestOutcome",
    "compile_playbook",
    "correlate",
    "evaluate",
    "insert_events",
    "reset",
    "run_test",
    "run_tests",
    "watermark",
]
