"""The report's data, assembled from the store: what every renderer draws from.

This is `report.json` (schema in report.schema.json): the document, the run that made it,
a summary, and per citation its verdict, passages with their evidence, and sources with
their latest check, link state and snapshots. No network.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pipeline.extract.urls import url_key
from pipeline.store import Store

SCHEMA_VERSION = 1
NOT_YET = "unverifiable"  # a citation never verified has no readable evidence yet


def report_data(store: Store, document_id: int) -> dict[str, Any]:
    document = next(d for d in store.documents() if d["id"] == document_id)
    run = store.run(document["last_run_id"]) if document["last_run_id"] else None
    citations = []
    url_rows: dict[str, dict[str, Any]] = {}
    for record in store.citations(document_id):
        date = record["date"] or document["date"]
        match = store.latest_match(document_id, record["id"])
        sources = []
        for ref in record["urls"]:
            canonical = url_key(ref["canonical"])
            latest = store.latest_check(canonical)
            lookup = store.latest_snapshot(canonical, date) or {}
            source = {
                "url": ref["url"],
                "canonical": ref["canonical"],
                "line": ref["line"],
                "status": latest.status if latest else None,
                "state": store.url_state(canonical) or "uncertain",
                "http_status": latest.http_status if latest else None,
                "final_url": latest.final_url if latest else None,
                "checked_at": latest.checked_at if latest else None,
                "reason": latest.reason if latest else None,
                "paywall": bool(latest.paywall) if latest else False,
                "archive_state": lookup.get("state"),
                "snapshot": lookup.get("closest"),
                "first": lookup.get("first"),
                "last": lookup.get("last"),
                "captures": lookup.get("captures", 0),
                "versions": lookup.get("digests", 0),
            }
            sources.append(source)
            url_rows.setdefault(canonical, source)
        passages = match["passages"] if match else [
            {"text": p["text"], "line": p["line"], "verdict": NOT_YET, "score": 0.0, "source": None, "copy": None,
             "location": None, "timestamp": None, "matched": "", "context": "", "missing": [],
             "changed_since_cited": False, "note": "not verified yet"}
            for p in record["passages"]
        ]
        citations.append({
            "id": record["id"],
            "index": record["index"],
            "line_start": record["line_start"],
            "date": record["date"],
            "verdict": match["verdict"] if match else NOT_YET,
            "verified_at": match["verified_at"] if match else None,
            "passages": passages,
            "sources": sources,
        })
    return {
        "schema_version": SCHEMA_VERSION,
        "document": {key: document[key] for key in ("path", "title", "date", "sha256", "format")},
        "run": {
            "id": run["id"] if run else None,
            "tool_version": run["tool_version"] if run else None,
            "started_at": run["started_at"] if run else None,
            "finished_at": run["finished_at"] if run else None,
            "settings": run["settings"] if run else {},
        },
        "summary": _summary(citations, url_rows),
        "citations": citations,
    }


def _summary(citations: list[dict[str, Any]], urls: dict[str, dict[str, Any]]) -> dict[str, Any]:
    def count(values: list[str]) -> dict[str, int]:
        return dict(sorted(Counter(values).items()))

    archived = sum(1 for u in urls.values() if u["archive_state"] == "found")
    return {
        "citations": len(citations),
        "verdicts": count([c["verdict"] for c in citations]),
        "passages": sum(len(c["passages"]) for c in citations),
        "changed_since_cited": sum(1 for c in citations for p in c["passages"] if p.get("changed_since_cited")),
        "links": len(urls),
        "link_states": count([u["state"] for u in urls.values()]),
        "link_classes": count([u["status"] or "unchecked" for u in urls.values()]),
        "archive": {
            "archived": archived,
            "not_archived": sum(1 for u in urls.values() if u["archive_state"] == "none"),
            "unavailable": sum(1 for u in urls.values() if u["archive_state"] == "archive_unavailable"),
            "coverage": round(archived / len(urls), 3) if urls else 0.0,
        },
    }
