"""Gathering the copies of every cited source: the archived capture closest to the claim's
date and, when the link is alive, the live page, each read into text once."""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pipeline.archive import ArchiveClient
from pipeline.config import Settings
from pipeline.http import Response
from pipeline.liveness import check_urls
from pipeline.model import Citation, Extraction, LinkCheck
from pipeline.verify import Copy, NormalizedPage, QuoteMatch, Unreadable, Verdict, citation_verdict, read_page, verify_passage


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


def key(canonical: str) -> str:
    return urllib.parse.urldefrag(canonical)[0]


def read_copy(body: bytes, content_type: str) -> tuple[NormalizedPage | None, str]:
    try:
        return NormalizedPage.of(read_page(body, content_type)), ""
    except Unreadable as exc:
        return None, str(exc)


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
    live_pages: dict[str, tuple[str, NormalizedPage | None, str]] = {}

    def keep_page(check: LinkCheck, response: Response) -> None:
        page, reason = read_copy(response.body, response.headers.get("Content-Type", ""))
        live_pages[key(check.canonical)] = (response.final_url, page, reason)

    urls = extraction.unique_urls()
    reading = dataclasses.replace(settings, check_max_bytes=settings.max_body_bytes)
    checks = check_urls(urls, reading, on_result=on_check, on_page=keep_page) if urls else []
    by_key = {key(c.canonical): c for c in checks}

    wanted = {(key(ref.canonical), c.date or extraction.document.date) for c in extraction.citations for ref in c.urls}
    with ThreadPoolExecutor(max_workers=4) as pool:  # the archive's limiters pace them
        archived = dict(zip(wanted, pool.map(lambda item: _archived_copy(archive, *item), wanted)))

    results = []
    for citation in extraction.citations:
        date = citation.date or extraction.document.date
        copies: list[Copy] = []
        for ref in citation.urls:
            k = key(ref.canonical)
            location, timestamp, page, reason = archived[(k, date)]
            copies.append(Copy(ref.url, ref.canonical, "archive", location, timestamp, page, reason))
            check = by_key.get(k)
            if k in live_pages:
                final_url, live_page, live_reason = live_pages[k]
                copies.append(Copy(ref.url, ref.canonical, "live", final_url, None, live_page, live_reason))
            elif check is not None:
                copies.append(Copy(ref.url, ref.canonical, "live", None, None, None, f"link is {check.status.value}"))
        matches = tuple(verify_passage(p.text, p.line, copies) for p in citation.passages)
        verdict = citation_verdict([m.verdict for m in matches]) if matches else Verdict.UNVERIFIABLE
        results.append(CitationResult(citation, verdict, matches, tuple(copies)))
    return Verification(extraction, by_key, tuple(results))


def _archived_copy(archive: ArchiveClient, canonical: str, date: str | None) -> tuple[str | None, str | None, NormalizedPage | None, str]:
    evidence = archive.evidence(canonical, date)
    if evidence is None:
        lookup = archive.lookup(canonical, date)
        return None, None, None, lookup.reason or f"archive: {lookup.state.value}"
    page, reason = read_copy(evidence.body, evidence.headers.get("Content-Type", ""))
    return evidence.snapshot.raw_url, evidence.snapshot.timestamp, page, reason


def to_json(verification: Verification) -> dict[str, object]:
    """The verification as one JSON document: per citation its verdict, passages with
    their evidence, and per source its link status and the copy used."""
    doc = verification.extraction.document
    counts: dict[str, int] = {}
    for result in verification.citations:
        counts[result.verdict.value] = counts.get(result.verdict.value, 0) + 1
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
        "summary": {"citations": len(verification.citations), "verdicts": counts},
        "citations": citations,
    }


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
    counts: dict[str, int] = {}
    for result in verification.citations:
        counts[result.verdict.value] = counts.get(result.verdict.value, 0) + 1
    lines.append(", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items())) or "no citations")
    return "\n".join(lines)
