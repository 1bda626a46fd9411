"""A URL's state over time: dead only after repeated failures spread over days.

One failed check is not a dead link. A URL is **dead** after `failures` failing checks in a
row spread over at least `days` days, **alive** after a good check, else **uncertain**.
Blocked, rate-limited, timed-out and skipped checks, and failures too fast to be the site's,
neither count towards dead nor break a run of failures; a good check does, so a flapping
link never becomes dead.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from datetime import datetime

from pipeline.model import LinkStatus
from pipeline.times import parse_iso


class LinkState(str, enum.Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNCERTAIN = "uncertain"


def link_state(history: Sequence[tuple[str, LinkStatus, bool]], *, failures: int = 3, days: float = 3.0) -> LinkState:
    """The state from a URL's checks, newest first: (checked_at, status, conclusive)."""
    if not history:
        return LinkState.UNCERTAIN
    if history[0][1].page_there:
        return LinkState.ALIVE
    streak: list[datetime] = []
    for checked_at, status, conclusive in history:
        if status.page_there:
            break
        if status.broken and conclusive:
            streak.append(parse_iso(checked_at))
    if len(streak) >= failures and (streak[0] - streak[-1]).total_seconds() >= days * 86400:
        return LinkState.DEAD
    return LinkState.UNCERTAIN


@dataclasses.dataclass(frozen=True)
class Streak:
    """Where a URL stands in its history: since when it fails (the first failing check since
    it was last there, counted as `link_state` counts them) and how many times, and when it was
    last found there. Both None for a URL never checked."""

    failing_since: str | None = None
    failures: int = 0
    last_alive: str | None = None

    def after(self, checked_at: str, status: LinkStatus, conclusive: bool) -> Streak:
        """The streak once a newer check is added."""
        if status.page_there:
            return Streak(None, 0, checked_at)
        if status.broken and conclusive:
            return Streak(self.failing_since or checked_at, self.failures + 1, self.last_alive)
        return self


def streak_of(history: Sequence[tuple[str, LinkStatus, bool]]) -> Streak:
    """The streak of a URL's checks, newest first: (checked_at, status, conclusive)."""
    found = Streak()
    for checked_at, status, conclusive in reversed(history):
        found = found.after(checked_at, status, conclusive)
    return found
