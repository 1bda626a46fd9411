"""The index report (`reports/index.html`, `.json`, `.md`): every document with its counts and
a link to its own report. Pure renderers, as the document reports' are."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pipeline.report.html_format import render_template
from pipeline.report.markdown_format import escape, link
from pipeline.results import DocumentResults, tally

INDEX_SCHEMA_VERSION = 1


def index_document(documents: Sequence[tuple[DocumentResults, str]]) -> dict[str, Any]:
    """Each document's results with the folder its reports are in."""
    entries: list[dict[str, Any]] = []
    for results, folder in documents:
        sources = results.sources_by_key().values()
        entries.append({
            "path": results.document.path,
            "title": results.document.title,
            "report": f"{folder}/report.html",
            "citations": len(results.citations),
            "verdicts": tally(c.verdict.value for c in results.citations),
            "links": len(sources),
            "link_states": tally(s.state.value for s in sources),
            "not_verified": sum(1 for c in results.citations if not c.verdict.is_verified),
        })
    return {"schema_version": INDEX_SCHEMA_VERSION, "documents": entries,
            "totals": {"documents": len(entries), "citations": sum(e["citations"] for e in entries),
                       "not_verified": sum(e["not_verified"] for e in entries),
                       "dead_links": sum(e["link_states"].get("dead", 0) for e in entries)}}


def render_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def render_markdown(data: dict[str, Any]) -> str:
    lines = ["# Provenance reports", "", "| document | citations | not verified | abridged | paraphrase | dead links |",
             "|---|---|---|---|---|---|"]
    for entry in data["documents"]:
        label = entry["title"] or entry["path"]
        lines.append(f"| {link(label, None)} ([report](<{entry['report']}>)) · {escape(entry['path'])} | "
                     f"{entry['citations']} | {entry['not_verified']} | {entry.get('verdicts', {}).get('abridged', 0)} | "
                     f"{entry.get('verdicts', {}).get('paraphrase', 0)} | {entry['link_states'].get('dead', 0)} |")
    return "\n".join(lines) + "\n"


def render_html(data: dict[str, Any]) -> str:
    return render_template("index.html.j2", data=data)


INDEX_RENDERERS = {"html": ("index.html", render_html), "json": ("index.json", render_json),
                   "md": ("index.md", render_markdown)}
