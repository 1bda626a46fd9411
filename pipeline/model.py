"""The plain data every stage takes and returns: documents, citations, passages, URLs."""

from __future__ import annotations

import dataclasses
import enum
import urllib.parse


class DocumentFormat(str, enum.Enum):
    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"


def url_key(canonical: str) -> str:
    """The form a URL is checked, looked up and stored under: its canonical form without
    the fragment, which never reaches a server."""
    return urllib.parse.urldefrag(canonical)[0]


@dataclasses.dataclass(frozen=True)
class UrlRef:
    """A cited URL: `url` exactly as written, `canonical` its normal form (fragment kept, as
    the document meant it), `key` what it is checked and stored under; where it stands."""

    url: str
    canonical: str
    line: int
    column: int = 1

    @property
    def key(self) -> str:
        return url_key(self.canonical)


@dataclasses.dataclass(frozen=True)
class Passage:
    """A stretch of quoted or claimed text, to be found in the cited source."""

    text: str
    line: int


@dataclasses.dataclass(frozen=True)
class Citation:
    """A claim and its sources: the URLs of one block and the passages they support.
    `date` keeps the precision written: YYYY, YYYY-MM or YYYY-MM-DD."""

    id: str
    index: int
    line_start: int
    date: str | None
    urls: tuple[UrlRef, ...]
    passages: tuple[Passage, ...]


@dataclasses.dataclass(frozen=True)
class Document:
    path: str
    title: str | None
    date: str | None
    sha256: str
    format: DocumentFormat
    encoding: str


@dataclasses.dataclass(frozen=True)
class Extraction:
    """What `extract` found in one document."""

    document: Document
    citations: tuple[Citation, ...]

    @property
    def url_count(self) -> int:
        return sum(len(c.urls) for c in self.citations)

    def unique_urls(self) -> list[str]:
        """Canonical URLs in order of first appearance, each once."""
        return list(dict.fromkeys(ref.canonical for c in self.citations for ref in c.urls))

    def dated(self) -> list[tuple[Citation, str | None]]:
        """Each citation with the date its sources are judged at: its own, else the document's."""
        return [(c, c.date or self.document.date) for c in self.citations]


class LinkStatus(str, enum.Enum):
    """The class of one check (docs/architecture.md, "Closed sets"), plus `refused` (the
    private-address guard said no) and `skipped` (a per-domain rule said not to check)."""

    OK = "ok"
    REDIRECTED = "redirected"
    SOFT_404 = "soft_404"
    NOT_FOUND = "not_found"
    SERVER_ERROR = "server_error"
    BLOCKED = "blocked"
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    DNS_ERROR = "dns_error"
    CONNECTION_ERROR = "connection_error"
    TLS_ERROR = "tls_error"
    REDIRECT_LOOP = "redirect_loop"
    INVALID_URL = "invalid_url"
    REFUSED = "refused"
    SKIPPED = "skipped"
    FRAGMENT_NOT_FOUND = "fragment_not_found"  # the page is there, the #fragment it was cited with is not

    @property
    def alive(self) -> bool:
        return self in (LinkStatus.OK, LinkStatus.REDIRECTED)

    @property
    def page_there(self) -> bool:
        """The page answered: alive, or alive without the #fragment it was cited with (a
        broken citation, never a dead page)."""
        return self.alive or self is LinkStatus.FRAGMENT_NOT_FOUND

    @property
    def broken(self) -> bool:
        """A failure that says something about the link. Blocked, rate-limited, timed-out
        and skipped checks say nothing either way."""
        return not self.alive and self not in (
            LinkStatus.BLOCKED, LinkStatus.RATE_LIMITED, LinkStatus.TIMEOUT, LinkStatus.SKIPPED,
        )


@dataclasses.dataclass(frozen=True)
class RedirectHop:
    """One redirect followed: the URL asked, its status, where it pointed."""

    url: str
    status: int
    location: str


@dataclasses.dataclass(frozen=True)
class LinkCheck:
    """The outcome of checking one URL now. `conclusive` is false when the failure came
    back too fast to be the site's (a local resolver or proxy refusing)."""

    url: str
    canonical: str
    status: LinkStatus
    http_status: int | None
    final_url: str | None
    redirects: tuple[RedirectHop, ...]
    elapsed_ms: float
    checked_at: str  # ISO 8601, UTC
    reason: str
    tries: int = 1
    paywall: bool = False
    conclusive: bool = True
    queued_ms: float = 0.0  # waited for a free place for the host before the last try was sent
    anchors: frozenset[str] | None = dataclasses.field(default=None, compare=False, repr=False)  # with --include-fragments

    def to_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "canonical": self.canonical,
            "status": self.status.value,
            "http_status": self.http_status,
            "final_url": self.final_url,
            "redirects": [dataclasses.asdict(hop) for hop in self.redirects],
            "elapsed_ms": self.elapsed_ms,
            "checked_at": self.checked_at,
            "reason": self.reason,
            "tries": self.tries,
            "paywall": self.paywall,
            "conclusive": self.conclusive,
            "queued_ms": self.queued_ms,
        }


class CopyKind(str, enum.Enum):
    """Which copy of a source: an archived capture or the live page."""

    ARCHIVE = "archive"
    LIVE = "live"


class Verdict(str, enum.Enum):
    """A passage's or a citation's verdict (docs/architecture.md, "Closed sets")."""

    VERIFIED = "verified"
    VERIFIED_LIVE = "verified_live"
    ABRIDGED = "abridged"  # every word in order within one stretch, words of the source left out unmarked
    PARAPHRASE = "paraphrase"  # not verbatim; the best sentences share its facts and most of its words
    MISQUOTED = "misquoted"  # aligns with a place in a copy, but its words differ there
    PARTIAL = "partial"
    NOT_FOUND = "not_found"
    UNVERIFIABLE = "unverifiable"

    @property
    def is_verified(self) -> bool:
        """Every passage found, in an archived copy or at least in the live page: what
        `--fail-on unverified` and the "not verified" filter leave alone. An abridged quote
        is not: the reader was not told that words were left out, so it is flagged with
        what was left out; a paraphrase is not a quote."""
        return self in (Verdict.VERIFIED, Verdict.VERIFIED_LIVE)

    @property
    def found_any(self) -> bool:
        """Some of the text was found somewhere (a misquote's too: most of its words are there)."""
        return self.is_verified or self in (Verdict.ABRIDGED, Verdict.PARTIAL, Verdict.MISQUOTED)
