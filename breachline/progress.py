"""A quiet progress line on stderr for long runs: nothing for the first seconds, then a rate every second."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, *, enabled: bool = True, delay: float = 2.0) -> None:
        self.label, self.enabled, self.delay = label, enabled, delay
        self.count = 0
        self.start = time.monotonic()
        self._last = self.start
        self._shown = False

    def __call__(self, n: int) -> None:
        self.count += n
        now = time.monotonic()
        if not self.enabled or now - self.start < self.delay or now - self._last < 1.0:
            return
        self._last = now
        rate = self.count / (now - self.start)
        sys.stderr.write(f"\r{self.label}: {self.count:,} records ({rate:,.0f}/s)   ")
        sys.stderr.flush()
        self._shown = True

    def done(self) -> None:
        if self._shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
