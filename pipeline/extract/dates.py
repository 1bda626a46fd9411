"""Dates as writers put them before an excerpt ("22 May 2007:", "1 Aug 2012:", "2009:"),
kept at the precision written: YYYY, YYYY-MM or YYYY-MM-DD."""

from __future__ import annotations

import calendar
import re

_MONTHS = {
    name.lower(): number
    for number in range(1, 13)
    for name in (calendar.month_name[number], calendar.month_abbr[number])
}
_MONTHS["sept"] = 9
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?:(?:" + "|".join(d.lower() for d in calendar.day_name) + r"|" + "|".join(
    d.lower() for d in calendar.day_abbr
) + r")\.?,?\s+)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"

_FORMS = [
    re.compile(_WEEKDAY + _DAY + r"\s+" + _MONTH + r",?\s+" + _YEAR, re.IGNORECASE),  # 22 May 2007
    re.compile(_WEEKDAY + _MONTH + r"\s+" + _DAY + r",?\s+" + _YEAR, re.IGNORECASE),  # December 09, 2016
    re.compile(_YEAR + r"-(?P<month>\d\d)-(?P<day>\d\d)"),  # 2016-12-09
    re.compile(_MONTH + r",?\s+" + _YEAR, re.IGNORECASE),  # May 2016
    re.compile(_YEAR + r"-(?P<month>\d\d)(?!\d)"),  # 2016-05
    re.compile(_YEAR),  # 2009
]
_END = r"(?![\w/.-])"


def _normalise(match: re.Match[str]) -> str | None:
    groups = match.groupdict()
    year = int(groups["year"])
    month_text = groups.get("month")
    if month_text is None:
        return f"{year:04d}"
    month = int(month_text) if month_text.isdigit() else _MONTHS[month_text.lower()]
    if not 1 <= month <= 12:
        return None
    day_text = groups.get("day")
    if day_text is None:
        return f"{year:04d}-{month:02d}"
    day = int(day_text)
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def date_prefix(line: str) -> tuple[str, str] | None:
    """(date, rest of the line) when the line starts with a date and a colon:
    "22 May 2007: British troops…" → ("2007-05-22", "British troops…")."""
    stripped = line.lstrip()
    for form in _FORMS:
        match = form.match(stripped)
        if match:
            after = stripped[match.end():]
            colon = re.match(r"\s*:\s?", after)
            if colon and (value := _normalise(match)):
                return value, after[colon.end():]
            return None  # the longest form that matched is not a prefix: no shorter one is
    return None


def whole_date(line: str) -> str | None:
    """The date when the line is nothing but a date ("Friday, December 09, 2016")."""
    stripped = line.strip().rstrip(":").strip()
    for form in _FORMS:
        match = form.fullmatch(stripped)
        if match:
            return _normalise(match)
    return None


def find_date(text: str) -> str | None:
    """The first full date (day, month, year) anywhere in `text`, for formats where the
    date is not a prefix (a Markdown paragraph, an HTML list item)."""
    for form in _FORMS[:3]:
        match = form.search(text)
        if match and (value := _normalise(match)):
            return value
    return None
