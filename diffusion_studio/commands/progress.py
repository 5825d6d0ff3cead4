"""A plain progress bar on stderr for the command line (no dependency, redraws at most 10 times a second)."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    def __init__(self, total: int, label: str = "", width: int = 30, stream=None) -> None:
        self.total, self.label, self.width = max(total, 1), label, width
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self.done = 0

    def update(self, done: int, note: str = "") -> None:
        self.done = done
        now = time.perf_counter()
        if done < self.total and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (self.total - done) / rate if rate > 0 else 0.0
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        text = f"\r{self.label} [{bar}] {done}/{self.total} {note} {rate:.1f} steps/s, {left:.0f} s left "
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        elapsed = time.perf_counter() - self.start
        self.stream.write(f"\r{self.label} {self.done}/{self.total} steps in {elapsed:.1f} s{' ' * 40}\n")
        self.stream.flush()
