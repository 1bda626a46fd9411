"""The rules people bring from other link checkers: URLs to leave alone (`.citewatchignore`,
`--exclude`) and statuses to accept (`200..=299,403`, as lychee writes them)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import re2

from pipeline.errors import ConfigError

IGNORE_FILE = ".citewatchignore"
IGNORE_FILE_CAP = 1_000_000  # bytes of an ignore file read at most
_REGEX_ONLY = re.compile(r"[\\^$()\[\]+{}|]|\.\*")


def host_under(host: str, domain: str) -> bool:
    """`host` is `domain` or a name under it (any case, a final dot ignored)."""
    host, domain = host.lower().rstrip("."), domain.lower().strip(".")
    return bool(domain) and (host == domain or host.endswith("." + domain))


def most_specific_domain(host: str, domains: Iterable[str]) -> str | None:
    """The entry of `domains` that `host` is or is under, the longest when several are
    (`news.example.org` before `example.org`); as written, so that it keys its rule."""
    return max((d for d in domains if host_under(host, d)), key=lambda d: len(d.strip(".")), default=None)


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is said once, by us, not logged by the engine too


def url_pattern(line: str) -> Any:
    """A line of an ignore file or an --exclude: a glob when it has `*` or `?` and nothing
    only a regular expression would have (`.*`, `^`, `(`, `[`, `\\`…), else a regular
    expression searched anywhere in the URL. Compiled by RE2, whose matching time is linear
    in the URL whatever the pattern: a repository's `.citewatchignore` cannot hang a run with
    `(a+)+$`. Raises re.error for what RE2 cannot run (backreferences, lookaround)."""
    if ("*" in line or "?" in line) and not _REGEX_ONLY.search(line):
        line = "(?s:" + "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in line) + r")\z"
    try:
        return re2.compile(line, options=_RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise re.error(reason) from None


def read_ignore_file(path: Path) -> list[tuple[str, str]]:
    """(pattern, where) for each line of an ignore file; blank lines and `#` comments skipped."""
    if not path.is_file():
        return []
    try:
        with open(path, "rb") as stream:  # a repository's file: read no more than an ignore file needs
            lines = stream.read(IGNORE_FILE_CAP).decode("utf-8", "replace").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return [(line.strip(), f"{path.name} line {number}") for number, line in enumerate(lines, 1)
            if line.strip() and not line.strip().startswith("#")]


class Exclusions:
    """The URLs not to check, and why."""

    def __init__(self, patterns: Sequence[tuple[str, str]]) -> None:
        """`patterns`: (text, where it was given); ConfigError names where one is not a pattern."""
        self.patterns = []
        for text, where in patterns:
            try:
                self.patterns.append((url_pattern(text), where))
            except re.error as exc:
                raise ConfigError(f"{where}: {text!r} is not a regular expression: {exc}") from None

    def reason(self, url: str) -> str | None:
        for pattern, where in self.patterns:
            if pattern.search(url):
                return f"excluded by {where} ({pattern.pattern})"
        return None


_RANGE = re.compile(r"^\s*(\d{3})\s*(?:\.\.(=?)\s*(\d{3}))?\s*$")


@functools.cache  # asked for each URL checked, with a handful of distinct texts
def parse_accept(text: str) -> frozenset[int]:
    """`200..=299,403` (inclusive), `200..300` (300 left out), `403`: the statuses accepted."""
    accepted: set[int] = set()
    for part in text.split(","):
        if not part.strip():
            continue
        match = _RANGE.match(part)
        if not match:
            raise ValueError(f"{part.strip()!r} is not a status or a range like 200..=299")
        low = int(match.group(1))
        high = int(match.group(3)) if match.group(3) else low
        if match.group(3) and not match.group(2):
            high -= 1  # `..` leaves the end out, `..=` keeps it
        if not 100 <= low <= high <= 599:
            raise ValueError(f"{part.strip()!r} is not a range of HTTP statuses (100 to 599)")
        accepted.update(range(low, high + 1))
    return frozenset(accepted)
