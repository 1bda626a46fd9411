"""The report document: `report.json` (schema in report.schema.json), made from a
document's results. Every renderer draws from it, and it is also what `verify --json` and
`recheck --json` print for each citation (`citation_json`, the one provenance serializer).
Pure: no store, no network."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pipeline.archive.model import ArchiveState
from pipeline.model import Verdict
from pipeline.results import CitationResult, DocumentResults, SourceResult, tally

SCHEMA_VERSION = 4  # 2: the misquoted verdict; passages carry similarity and differences; 3: evidence (kept bytes);
# 4: the abridged and paraphrase verdicts; passages carry support (the source's sentences) and absent (facts)
EVIDENCE_SCHEMAS = (3, 4)  # the report versions that name the bytes their verdicts rest on


def source_json(source: SourceResult) -> dict[str, Any]:
    check, lookup = source.check, source.lookup
    return {
        "url": source.ref.url,
        "canonical": source.ref.canonical,
        "line": source.ref.line,
        "column": source.ref.column,
        "status": check.status.value if check else None,
        "state": source.state.value,
        "http_status": check.http_status if check else None,
        "final_url": check.final_url if check else None,
        "checked_at": check.checked_at if check else None,
        "reason": check.reason if check else None,
        "paywall": check.paywall if check else False,
        "failing_since": source.streak.failing_since,
        "failures": source.streak.failures,
        "last_alive": source.streak.last_alive,
        "archive_state": lookup.state.value if lookup else None,
        "archive": lookup.archive or None if lookup else None,
        "snapshot": lookup.closest.to_json() if lookup and lookup.closest else None,
        "first": lookup.first.to_json() if lookup and lookup.first else None,
        "last": lookup.last.to_json() if lookup and lookup.last else None,
        "captures": lookup.captures if lookup else 0,
        "versions": lookup.digests if lookup else 0,
    }


def _not_verified_yet(result: CitationResult) -> list[dict[str, Any]]:
    return [
        {"text": p.text, "line": p.line, "verdict": Verdict.UNVERIFIABLE.value, "score": 0.0, "source": None,
         "copy": None, "location": None, "timestamp": None, "matched": "", "context": "", "missing": [],
         "changed_since_cited": False, "note": "not verified yet", "similarity": None, "differences": [],
         "evidence": None, "support": [], "absent": []}
        for p in result.citation.passages
    ]


def citation_json(result: CitationResult) -> dict[str, Any]:
    """A citation's provenance: its verdict, each passage with its evidence, each source
    with its check, state and archived copy."""
    verification = result.verification
    citation = result.citation
    return {
        "id": citation.id,
        "index": citation.index,
        "line_start": citation.line_start,
        "date": citation.date,
        "verdict": result.verdict.value,
        "verified_at": verification.verified_at if verification else None,
        "passages": [m.to_json() for m in verification.passages] if verification else _not_verified_yet(result),
        "sources": [source_json(source) for source in result.sources],
        "copies": [copy.to_json() for copy in verification.copies] if verification else [],
    }


def report_document(results: DocumentResults) -> dict[str, Any]:
    document, run = results.document, results.run
    citations = [citation_json(result) for result in results.citations]
    return {
        "schema_version": SCHEMA_VERSION,
        "document": {"path": document.path, "title": document.title, "date": document.date,
                     "sha256": document.sha256, "format": document.format.value},
        "run": {
            "id": run.id if run else None,
            "tool_version": run.tool_version if run else None,
            "started_at": run.started_at if run else None,
            "finished_at": run.finished_at if run else None,
            "settings": dict(run.settings) if run else {},
        },
        "summary": _summary(results, citations),
        "citations": citations,
    }


def _summary(results: DocumentResults, citations: list[dict[str, Any]]) -> dict[str, Any]:
    urls = list(results.sources_by_key().values())
    states = [u.lookup.state if u.lookup else None for u in urls]
    archived = states.count(ArchiveState.FOUND)
    return {
        "citations": len(citations),
        "verdicts": tally(c["verdict"] for c in citations),
        "passages": sum(len(c["passages"]) for c in citations),
        "changed_since_cited": sum(1 for c in citations for p in c["passages"] if p.get("changed_since_cited")),
        "links": len(urls),
        "link_states": tally(u.state.value for u in urls),
        "link_classes": tally(u.status for u in urls),
        "archive": {
            "archived": archived,
            "not_archived": states.count(ArchiveState.NONE),
            "excluded": states.count(ArchiveState.EXCLUDED),
            "unavailable": states.count(ArchiveState.UNAVAILABLE),
            "coverage": round(archived / len(urls), 3) if urls else 0.0,
        },
    }


def needs_a_look(citations: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What a report shows first, from its citations (report.json's): each with a dead or
    failing source, a misquote, or a passage not verified, worst first (dead, misquoted,
    failing, the rest): its index, line, what is wrong (`dead`: the dead URLs; `failing_since`:
    the earliest failing source's first failure)."""
    found = []
    for c in citations:
        dead = [s["url"] for s in c["sources"] if s["state"] == "dead"]
        failing = [s.get("failing_since") for s in c["sources"] if s.get("failing_since") and s["state"] != "dead"]
        misquoted = any(p["verdict"] == Verdict.MISQUOTED.value for p in c["passages"])
        unverified = not Verdict(c["verdict"]).is_verified and not misquoted
        if dead or misquoted or failing or unverified:
            found.append({"index": c["index"], "line": c["line_start"], "dead": dead, "misquoted": misquoted,
                          "failing_since": min(failing) if failing else None,
                          "verdict": c["verdict"] if unverified else None,
                          "rank": 0 if dead else 1 if misquoted else 2 if failing else 3})
    return sorted(found, key=lambda item: (item["rank"], item["index"]))


def look_words(item: Mapping[str, Any], url: Callable[[str], str], day: Callable[[str], str]) -> str:
    """What is wrong with a `needs_a_look` item, in the words the reports use; `url` and `day`
    write a URL and a date for the format at hand (a Markdown link, a human date)."""
    words = []
    if item["dead"]:
        words.append("source dead (" + ", ".join(url(u) for u in item["dead"]) + ")")
    if item["misquoted"]:
        words.append("misquoted")
    if item["failing_since"]:
        words.append(f"source failing since {day(item['failing_since'])}")
    if item["verdict"]:
        words.append(item["verdict"].replace("_", " "))
    return "; ".join(words)
