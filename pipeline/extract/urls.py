"""Finding URLs in text and canonicalising them into lookup keys.

Detection is linkify-it-py's, the Python port of the linkify-it engine that markdown-it uses:
it knows where a URL ends in prose (sentence punctuation, quotes, balanced Wikipedia-style
parentheses), handles IDN hosts, Unicode paths and percent-escapes, and is maintained with
markdown-it-py, which reads our Markdown. Canonical forms build on w3lib's canonicalize_url
(Scrapy's: IDNA hosts, normalised percent-escapes, dot segments), plus the tracking noise we
remove and the default ports we drop.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Iterator

from linkify_it import LinkifyIt
from w3lib.url import canonicalize_url

# Query parameters that only track the reader, never choose the page. Prefixes end in "_".
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
    "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
    "wickedid", "rb_clickid", "s_cid", "ncid", "cmpid", "ito", "sr_share", "spm",
})
TRACKING_PREFIXES = ("utm_", "pk_", "hsa_")
# Fragments that only track: Tynt's "#ixzz…" (copy-paste tracking) and a bare "#".
TRACKING_FRAGMENT = re.compile(r"^(ixzz[0-9A-Za-z]+|\.[0-9A-Za-z]+)?$")

NOT_CITATION_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "about:", "file:")
_TRAILING = ".,;:!?\"'”’»›)]}*_"
_PAIRS = {")": "(", "]": "[", "}": "{"}

_BARE_URL_LINE = re.compile(r"^\s*(https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[^\s<>\"“”«»]*)?)\s*$", re.IGNORECASE)
_ONE_TOKEN = re.compile(r"^\s*[^\s/]+\.[^\s/]+/\S*\s*$")
_linkify = LinkifyIt(options={"fuzzy_email": False, "fuzzy_ip": True})


def find_urls(text: str, *, whole_line_fuzzy: bool = False) -> Iterator[tuple[int, str]]:
    """(column offset, URL as written) for each http(s) URL in `text`.

    URLs need a scheme or a `www.` prefix, so prose such as "Amazon.com" is not a citation;
    with `whole_line_fuzzy`, a line that is nothing but a schemeless URL ("ara.tv/28pa5")
    is one."""
    if "://" not in text and "www." not in text.lower() and not (whole_line_fuzzy and _ONE_TOKEN.match(text)):
        return  # most lines of a document: no linkify work at all
    bare = _BARE_URL_LINE.match(text)
    if bare and "(" not in text:  # a line that is one plain URL: nothing for linkify to weigh
        yield bare.start(1), _trim(bare.group(1))
        return
    for match in _linkify.match(text) or ():
        raw = _trim(match.raw)
        schema = match.schema.lower()
        if schema in ("http:", "https:"):
            yield match.index, raw
        elif schema == "" and raw.lower().startswith("www."):
            yield match.index, raw
        elif schema == "" and whole_line_fuzzy and raw == text.strip() and "/" in raw:
            yield match.index, raw


def _trim(raw: str) -> str:
    """Drop trailing sentence punctuation and closing quotes linkify kept; keep a closing
    bracket that the URL itself opened."""
    while raw and raw[-1] in _TRAILING:
        last = raw[-1]
        if last in _PAIRS and raw.count(_PAIRS[last]) >= raw.count(last):
            break
        raw = raw[:-1]
    return raw


def is_citable(url: str) -> bool:
    """False for links that are not citations: javascript:, mailto:, tel:, data:, #fragment."""
    stripped = url.strip().lower()
    return bool(stripped) and not stripped.startswith("#") and not stripped.startswith(NOT_CITATION_SCHEMES)


@functools.lru_cache(maxsize=4096)
def canonicalize(url: str) -> str:
    """The lookup key of a URL: scheme added when missing, host lowercased and
    IDNA-encoded, default port and user info dropped, percent-escapes normalised, dot
    segments resolved, query sorted, tracking parameters and tracking fragments (`#ixzz…`, a
    bare `#`) removed. Any other fragment is kept: `model.url_key` drops it for what is checked
    and stored, and `include_fragments` checks it in the page."""
    url = url.strip()
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url):
        url = "http://" + url.lstrip("/")
    try:
        canonical = canonicalize_url(url, keep_blank_values=True, keep_fragments=True)
    except ValueError:  # an unparsable port, a host IDNA refuses: keep what was written
        return url
    parts = urllib.parse.urlsplit(canonical)
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    query = "&".join(
        pair for pair in parts.query.split("&")
        if pair and not _is_tracking(urllib.parse.unquote_plus(pair.split("=", 1)[0]))
    )
    fragment = "" if TRACKING_FRAGMENT.match(parts.fragment) else parts.fragment
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path or "/", query, fragment))


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)
