"""The index report (`reports/index.html`, `.json`, `.md`): every document with its counts and
a link to its own report. Pure renderers, as the document reports' are."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pipeline.report.html_format import STATE_COLOURS, VERDICT_COLOURS, render_template
from pipeline.report.markdown_format import escape
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


# The index's columns: (heading, where the count is), verdicts first, then link states.
COLUMNS = (("citations", ("citations",)), ("verified", ("verdicts", "verified")),
           ("verified live only", ("verdicts", "verified_live")), ("abridged", ("verdicts", "abridged")),
           ("paraphrase", ("verdicts", "paraphrase")), ("misquoted", ("verdicts", "misquoted")),
           ("partial", ("verdicts", "partial")), ("not found", ("verdicts", "not_found")),
           ("unverifiable", ("verdicts", "unverifiable")), ("links dead", ("link_states", "dead")),
           ("links failing or unchecked", ("link_states", "uncertain")))


def counts(entry: dict[str, Any]) -> list[int]:
    """The entry's count for each column (0 where an older index has none)."""
    found = []
    for _, where in COLUMNS:
        value: Any = entry
        for key in where:
            value = value.get(key, 0) if isinstance(value, dict) else 0
        found.append(int(value or 0))
    return found


def render_markdown(data: dict[str, Any]) -> str:
    lines = ["# Provenance reports", "", "| document | " + " | ".join(name for name, _ in COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    for entry in data["documents"]:
        label = entry["title"] or entry["path"]
        lines.append(f"| {escape(label)} ([report](<{entry['report']}>)) · {escape(entry['path'])} | "
                     + " | ".join(str(n) for n in counts(entry)) + " |")
    return "\n".join(lines) + "\n"


def render_html(data: dict[str, Any]) -> str:
    """The index as a page styled like the reports: a column per verdict and per link state,
    the counts that need a look in the colour the reports give them."""
    colours = {"misquoted": VERDICT_COLOURS["misquoted"], "partial": VERDICT_COLOURS["partial"],
               "not found": VERDICT_COLOURS["not_found"], "links dead": STATE_COLOURS["dead"],
               "links failing or unchecked": STATE_COLOURS["uncertain"]}
    columns = [(name, colours.get(name, "")) for name, _ in COLUMNS]
    return render_template("index.html.j2", data=data, columns=columns,
                           rows=[(entry, counts(entry)) for entry in data["documents"]])


INDEX_RENDERERS = {"html": ("index.html", render_html), "json": ("index.json", render_json),
                   "md": ("index.md", render_markdown)}
