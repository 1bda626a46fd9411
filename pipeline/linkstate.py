"""A URL's state over time: dead only after repeated failures spread over days.

One failed check is not a dead link. A URL is **dead** after `failures` failing checks in a
row spread over at least `days` days, **alive** after a good check, else **uncertain**.
Blocked, rate-limited, timed-out and skipped checks, and failures too fast to be the site's,
neither count towards dead nor break a run of failures; a good check does, so a flapping
link never becomes dead.
"""

from __future__ import annotations

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
