"""The index report (`reports/index.html`, `.json`, `.md`): every document with its counts and
a link to its own report. Pure renderers, as the document reports' are."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jinja2

from pipeline.report.html_format import visible_controls
from pipeline.report.markdown_format import escape, link
from pipeline.results import DocumentResults, tally

INDEX_SCHEMA_VERSION = 1


def index_document(documents: Sequence[tuple[DocumentResults, str]]) -> dict[str, Any]:
    """Each document's results with the folder its reports are in."""
    entries = []
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
    lines = ["# Provenance reports", "", "| document | citations | not verified | dead links |", "|---|---|---|---|"]
    for entry in data["documents"]:
        label = entry["title"] or entry["path"]
        lines.append(f"| {link(label, None)} ([report](<{entry['report']}>)) · {escape(entry['path'])} | "
                     f"{entry['citations']} | {entry['not_verified']} | {entry['link_states'].get('dead', 0)} |")
    return "\n".join(lines) + "\n"


_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_ENVIRONMENT.filters["shown"] = visible_controls
_TEMPLATE = _ENVIRONMENT.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Provenance reports</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem;border-bottom:1px solid #d0d7de}
td.n{text-align:right}</style></head><body>
<h1>Provenance reports</h1>
<p>{{ data.totals.documents }} documents, {{ data.totals.citations }} citations, {{ data.totals.not_verified }} not verified, {{ data.totals.dead_links }} dead links.</p>
<table><thead><tr><th scope="col">Document</th><th scope="col">Citations</th><th scope="col">Not verified</th><th scope="col">Dead links</th></tr></thead><tbody>
{% for e in data.documents %}<tr><td><a href="{{ e.report }}"><bdi>{{ (e.title or e.path)|shown }}</bdi></a><br><small><bdi dir="ltr">{{ e.path|shown }}</bdi></small></td><td class="n">{{ e.citations }}</td><td class="n">{{ e.not_verified }}</td><td class="n">{{ e.link_states.get('dead', 0) }}</td></tr>
{% endfor %}</tbody></table></body></html>
""")


def render_html(data: dict[str, Any]) -> str:
    return _TEMPLATE.render(data=data)


INDEX_RENDERERS = {"html": ("index.html", render_html), "json": ("index.json", render_json),
                   "md": ("index.md", render_markdown)}
