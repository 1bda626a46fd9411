"""What may be shown of a value that can hold credentials: a URL's user and password become
`***` (an archive endpoint, a PostgreSQL database). Plain data, no I/O: the stores, the
settings and the messages all use it."""

from __future__ import annotations

import urllib.parse


def redact_url(url: str) -> str:
    """A URL as it may be shown or recorded: a user and password in it become `***`. Never
    raises: a URL too broken to parse shows only its scheme, since its credentials cannot be
    told apart from the rest."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket, say
        return url.split("://", 1)[0] + "://***" if "://" in url else "***"
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))
