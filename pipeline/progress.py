"""A run's progress on stderr, stage by stage (links, archive, verification, reports): done and
total, and an estimate of what is left once there is something to go on. On a terminal one line
rewritten in place; without one (cron, CI, a journal) a line when a stage starts, at least every
`every` seconds while it runs, and when it ends, so that a log shows where a long run is.

The stages report through a plain callable, `Progress(stage, done, total)`, from any thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

Progress = Callable[[str, int, int], None]


class Stream(Protocol):
    """Where progress is written: stderr, a log file."""

    def write(self, text: str, /) -> int: ...
    def flush(self) -> None: ...


def no_progress(stage: str, done: int, total: int) -> None:
    """The Progress of a caller that shows none."""


def duration(seconds: float) -> str:
    """`42 s`, `3 min`, `1 h 5 min`: what a person reads at a glance."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    hours, rest = divmod(round(seconds / 60), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


class StageProgress:
    """Shows each stage's progress on `stream`; call it as a `Progress`, `close()` at the end."""

    def __init__(self, stream: Stream, *, tty: bool, every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.tty = tty
        self.every = every
        self.clock = clock
        self._lock = threading.Lock()
        self._stage: str | None = None
        self._done = self._total = 0
        self._started = self._said = 0.0
        self._width = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if total <= 0:  # a stage with nothing to do says nothing
            return
        with self._lock:
            now = self.clock()
            if stage != self._stage:
                self._end(now)
                self._stage, self._started, self._said = stage, now, now
                self._done, self._total = done, total
                self._show(now, force=True)
                return
            self._done, self._total = max(self._done, done), total
            self._show(now, force=done >= total)

    def close(self) -> None:
        with self._lock:
            self._end(self.clock())
            self._stage = None

    def line(self, now: float) -> str:
        """`archive 12/46, ~1 min left`; `archive 46/46 in 2 min` at the end."""
        text = f"{self._stage} {self._done}/{self._total}"
        elapsed = now - self._started
        if self._total and self._done >= self._total:
            return text + (f" in {duration(elapsed)}" if elapsed >= 1 else "")
        if self._done and elapsed >= 2:
            text += f", ~{duration(elapsed / self._done * (self._total - self._done))} left"
        return text

    def _show(self, now: float, *, force: bool) -> None:
        text = self.line(now)
        if self.tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        elif force or now - self._said >= self.every:
            self.stream.write(text + "\n")
            self._said = now
        else:
            return
        self.stream.flush()

    def _end(self, now: float) -> None:
        if self._stage is None:
            return
        if self.tty:
            self.stream.write("\r" + self.line(now).ljust(self._width) + "\n")
            self._width = 0
        elif self._done < self._total:  # ended early (nothing more to do): say where it stopped
            self.stream.write(self.line(now) + "\n")
        self.stream.flush()
