"""Gathering the copies of every cited source: the archived capture closest to the claim's
date and, when the link is alive, the live page, each read into text once; then verifying
each citation's passages against them."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

from pipeline.archive import ArchiveClient
from pipeline.config import Settings
from pipeline.extract.urls import url_key as key
from pipeline.http import Response
from pipeline.liveness import check_urls
from pipeline.model import Citation, Extraction, LinkCheck
from pipeline.verify import (
    Copy,
    NormalizedPage,
    QuoteMatch,
    Thresholds,
    Unreadable,
    Verdict,
    citation_verdict,
    read_page,
    verify_passage,
)


@dataclasses.dataclass(frozen=True)
class CitationResult:
    citation: Citation
    verdict: Verdict
    passages: tuple[QuoteMatch, ...]
    copies: tuple[Copy, ...]


@dataclasses.dataclass(frozen=True)
class Verification:
    extraction: Extraction
    checks: dict[str, LinkCheck]  # by canonical URL without fragment
    citations: tuple[CitationResult, ...]


@dataclasses.dataclass(frozen=True)
class ArchivedCopy:
    location: str | None
    timestamp: str | None
    page: NormalizedPage | None
    reason: str


@dataclasses.dataclass(frozen=True)
class LivePage:
    final_url: str
    page: NormalizedPage | None
    reason: str


def read_copy(body: bytes, content_type: str) -> tuple[NormalizedPage | None, str]:
    try:
        return NormalizedPage.of(read_page(body, content_type)), ""
    except Unreadable as exc:
        return None, str(exc)


def live_page(response: Response) -> LivePage:
    page, reason = read_copy(response.body, response.headers.get("Content-Type", ""))
    return LivePage(response.final_url, page, reason)


def archived_copies(archive: ArchiveClient, wanted: Iterable[tuple[str, str | None]]) -> dict[tuple[str, str | None], ArchivedCopy]:
    """The archived copy for each (URL key, date), `archive_threads` at a time; the
    archive's limiters pace them."""
    wanted = list(dict.fromkeys(wanted))
    with ThreadPoolExecutor(max_workers=archive.settings.archive_threads) as pool:
        return dict(zip(wanted, pool.map(lambda item: archived_copy(archive, *item), wanted)))


def archived_copy(archive: ArchiveClient, url_key: str, date: str | None) -> ArchivedCopy:
    evidence = archive.evidence(url_key, date)
    if evidence is None:
        lookup = archive.lookup(url_key, date)
        return ArchivedCopy(None, None, None, lookup.reason or f"archive: {lookup.state.value}")
    page, reason = read_copy(evidence.body, evidence.headers.get("Content-Type", ""))
    return ArchivedCopy(evidence.snapshot.raw_url, evidence.snapshot.timestamp, page, reason)


def verify_citation(
    citation: Citation,
    date: str | None,
    archived: Mapping[tuple[str, str | None], ArchivedCopy],
    live: Mapping[str, LivePage],
    checks: Mapping[str, LinkCheck | str],
    thresholds: Thresholds = Thresholds(),
) -> CitationResult:
    """The citation's passages against the archived copy and the live page of each of its
    URLs. `checks` gives each URL key's check (or just its status) to say why a live page
    is missing."""
    copies: list[Copy] = []
    for ref in citation.urls:
        k = key(ref.canonical)
        found = archived.get((k, date))
        if found is not None:
            copies.append(Copy(ref.url, ref.canonical, "archive", found.location, found.timestamp, found.page, found.reason))
        if k in live:
            page = live[k]
            copies.append(Copy(ref.url, ref.canonical, "live", page.final_url, None, page.page, page.reason))
        elif k in checks:
            status = checks[k]
            status = status if isinstance(status, str) else status.status.value
            copies.append(Copy(ref.url, ref.canonical, "live", None, None, None, f"link is {status}"))
    matches = tuple(verify_passage(p.text, p.line, copies, thresholds) for p in citation.passages)
    verdict = citation_verdict([m.verdict for m in matches]) if matches else Verdict.UNVERIFIABLE
    return CitationResult(citation, verdict, matches, tuple(copies))


def verify_document(
    extraction: Extraction,
    settings: Settings,
    *,
    archive: ArchiveClient | None = None,
    on_check: Callable[[LinkCheck], None] | None = None,
) -> Verification:
    """Check every cited URL (reading the live page of each one alive), read the archived
    capture closest to each citation's date, and verify every passage against them."""
    archive = archive or ArchiveClient(settings)
    live: dict[str, LivePage] = {}

    def keep_page(check: LinkCheck, response: Response) -> None:
        live[key(check.canonical)] = live_page(response)

    urls = extraction.unique_urls()
    reading = dataclasses.replace(settings, check_max_bytes=settings.max_body_bytes)
    checks = check_urls(urls, reading, on_result=on_check, on_page=keep_page) if urls else []
    by_key = {key(c.canonical): c for c in checks}
    doc_date = extraction.document.date
    archived = archived_copies(
        archive, ((key(ref.canonical), c.date or doc_date) for c in extraction.citations for ref in c.urls)
    )
    thresholds = Thresholds.of(settings)
    results = tuple(
        verify_citation(c, c.date or doc_date, archived, live, by_key, thresholds) for c in extraction.citations
    )
    return Verification(extraction, by_key, results)


def to_json(verification: Verification) -> dict[str, object]:
    """The verification as one JSON document: per citation its verdict, passages with
    their evidence, and per source its link status and the copy used."""
    doc = verification.extraction.document
    citations = []
    for result in verification.citations:
        sources = []
        for ref in result.citation.urls:
            check = verification.checks.get(key(ref.canonical))
            archived = next((c for c in result.copies if c.kind == "archive" and c.canonical == ref.canonical), None)
            sources.append({
                "url": ref.url,
                "canonical": ref.canonical,
                "status": check.status.value if check else None,
                "archived_copy": archived.location if archived else None,
                "archived_timestamp": archived.timestamp if archived else None,
                "archive_note": archived.reason if archived else None,
            })
        citations.append({
            "id": result.citation.id,
            "index": result.citation.index,
            "date": result.citation.date,
            "verdict": result.verdict.value,
            "passages": [m.to_json() for m in result.passages],
            "sources": sources,
        })
    return {
        "schema_version": 1,
        "document": {"path": doc.path, "title": doc.title, "date": doc.date, "sha256": doc.sha256},
        "summary": {"citations": len(verification.citations), "verdicts": verdict_counts(verification.citations)},
        "citations": citations,
    }


def verdict_counts(results: Iterable[CitationResult]) -> dict[str, int]:
    return dict(Counter(result.verdict.value for result in results))


def format_verification(verification: Verification, width: int = 100) -> str:
    """The human view: a line per citation, a line per passage, the counts at the end."""
    lines = []
    for result in verification.citations:
        citation = result.citation
        lines.append(f"{citation.index:>3} {result.verdict.value:<13} {citation.date or '-':<10} "
                     f"{citation.urls[0].url if citation.urls else '(no URL)'}"[:width])
        for match in result.passages:
            where = f"{match.copy} {match.timestamp or ''}".strip() if match.copy else ""
            words = " ".join(match.text.split()[:8])
            lines.append(f"      line {match.line:<4} {match.verdict.value:<13} {match.score:>4.0%} {where:<22} {words}"[:width])
    counts = verdict_counts(verification.citations)
    lines.append(", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items())) or "no citations")
    return "\n".join(lines)
