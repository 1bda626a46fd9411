"""What may be shown of a value that can hold credentials: a URL's user and password become
`***` (an archive endpoint, a PostgreSQL database). Plain data, no I/O: the stores, the
settings and the messages all use it."""

from __future__ import annotations

import urllib.parse


def redact_url(url: str) -> str:
    """A URL as it may be shown or recorded: a user and password in it become `***`."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = "***@" + (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
