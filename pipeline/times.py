"""Every way citewatch writes, reads and compares times, in one place.

Three forms meet here: ISO 8601 UTC strings (what the store and the reports hold), the
archive's 14-digit timestamps (`YYYYMMDDhhmmss`, CDX and replay URLs), and HTTP dates
(`Memento-Datetime`, `Retry-After`). Nothing here does I/O except reading the clock.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """`2026-11-27T11:18:07Z`: seconds, UTC, with a Z."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(utc_now())


def parse_iso(text: str) -> datetime:
    """An ISO 8601 time; `Z` is UTC, and so is a time without an offset."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def clock(pretend: str = "") -> Clock:
    """Now, or the fixed time `pretend` (the `now` setting: tests and backfills)."""
    if pretend:
        fixed = parse_iso(pretend)
        return lambda: fixed
    return utc_now


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION = 100 * 365.25 * 86400


def parse_duration(text: str) -> float:
    """Seconds in "90s", "15m", "12h", "7d", "2w" or a bare number of seconds."""
    match = _DURATION.fullmatch(text or "")
    if not match:
        raise ValueError(f"{text!r} is not a duration (use 90s, 15m, 12h, 7d or 2w)")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DURATION:
        raise ValueError(f"{text!r} is longer than a century")
    return seconds


_CLAIM_DATE_FORMS = {4: "%Y", 7: "%Y-%m", 10: "%Y-%m-%d"}


def is_claim_date(text: str) -> bool:
    """A real date written YYYY, YYYY-MM or YYYY-MM-DD (the precision a claim keeps)."""
    form = _CLAIM_DATE_FORMS.get(len(text))
    if form is None:
        return False
    try:
        datetime.strptime(text, form)
    except ValueError:
        return False
    return True


# --- the archive's 14-digit timestamps ------------------------------------------------


def date_to_timestamp(date: str | None) -> str | None:
    """A claim's date at the precision written, as the start of its period:
    "2009" → "20090101000000", "2016-05-23" → "20160523000000"."""
    if not date:
        return None
    digits = date.replace("-", "")
    return (digits + "0101000000"[len(digits) - 4:])[:14] if len(digits) < 14 else digits[:14]


def timestamp_to_datetime(timestamp: str) -> datetime:
    """A (possibly shortened) 14-digit archive timestamp as a UTC time."""
    return datetime.strptime(timestamp[:14].ljust(14, "0"), "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def datetime_to_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


# --- HTTP dates -----------------------------------------------------------------------


def http_date(value: str | None) -> datetime | None:
    """An HTTP date (RFC 9110, IMF-fixdate and the obsolete forms) as a UTC time."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def memento_timestamp(header: str | None) -> str | None:
    """A `Memento-Datetime` header (RFC 7089: an HTTP date) as 14 digits."""
    moment = http_date(header)
    return datetime_to_timestamp(moment) if moment else None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (RFC 9110 §10.2.3: delay-seconds or an
    HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = http_date(value)
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def human_date(value: str | None) -> str:
    """An archive's 14-digit timestamp, or an ISO time (a check's), as a reader says it
    (`10 July 2019`); anything else as it is."""
    if not value:
        return ""
    try:
        if re.fullmatch(r"\d{8}(\d{6})?", value):
            moment = timestamp_to_datetime(value.ljust(14, "0"))
        elif re.match(r"\d{4}-\d{2}-\d{2}T", value):
            moment = parse_iso(value)
        else:
            return value
    except ValueError:
        return value
    return f"{moment.day} {moment:%B %Y}"
