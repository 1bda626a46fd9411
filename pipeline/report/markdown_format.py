"""The report as Markdown, for repositories and pull-request comments."""

from __future__ import annotations

import re
from typing import Any

from pipeline.report.document import look_words, needs_a_look
from pipeline.report.html_format import safe_href, visible_controls

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def escape(text: str | None) -> str:
    """Text from a document or a page, inert in Markdown: no emphasis, links or HTML."""
    return _SPECIAL.sub(r"\\\1", visible_controls(text).replace("&", "&amp;")).replace("\n", " ")


def link(label: str, url: str | None) -> str:
    """A link only for http(s) URLs; anything else (javascript:, data:) stays text."""
    href = safe_href(url.strip().replace(" ", "%20") if url else None)
    if href:
        return f"[{escape(label)}](<{href.replace('>', '%3E')}>)"
    return escape(label)


def _needs_a_look(data: dict[str, Any]) -> list[str]:
    """The section a reader sees first: what is wrong, worst first, linked to its citation."""
    items = needs_a_look(data["citations"])
    if not items:
        return ["Nothing needs a look: every citation is verified and every source alive.", ""]
    lines = ["## Needs a look", ""]
    for item in items:
        what = look_words(item, lambda url: link(url, url), lambda day: escape(day[:10]))
        lines.append(f"- [Citation {item['index']}](#citation-{item['index']}) (line {item['line']}): {what}")
    return [*lines, ""]


def render(data: dict[str, Any]) -> str:
    doc, summary = data["document"], data["summary"]
    lines = [
        f"# Provenance report: {escape(doc['title'] or doc['path'])}",
        "",
        f"Document {escape(doc['path'])}" + (f", dated {doc['date']}" if doc["date"] else "")
        + (f"; checked {data['run']['finished_at'] or data['run']['started_at']}" if data["run"]["started_at"] else ""),
        "",
        "| citations | " + " | ".join(summary["verdicts"]) + " |",
        "|---|" + "---|" * len(summary["verdicts"]),
        f"| {summary['citations']} | " + " | ".join(str(n) for n in summary["verdicts"].values()) + " |",
        "",
        f"Links: {summary['links']} (" + ", ".join(f"{n} {s}" for s, n in summary["link_states"].items())
        + f"); archived: {summary['archive']['archived']} of {summary['links']}.",
        "",
        *_needs_a_look(data),
        "| # | date | verdict | sources |",
        "|---|---|---|---|",
    ]
    for c in data["citations"]:
        sources = "<br>".join(f"{link(s['url'], s['url'])} ({s['state']}, {s['status'] or 'unchecked'})" for s in c["sources"])
        lines.append(f"| [{c['index']}](#citation-{c['index']}) | {c['date'] or '–'} | {c['verdict']} | {sources or 'no URL'} |")
    for c in data["citations"]:
        lines += ["", f"## Citation {c['index']}", "", f"<a id=\"citation-{c['index']}\"></a>",
                  f"Verdict: **{c['verdict']}**" + (f" · dated {c['date']}" if c["date"] else "") + f" · id `{c['id']}`", ""]
        for s in c["sources"]:
            snapshot = s.get("snapshot")
            at = f" at {escape(s['archive'])}" if s.get("archive") else ""
            archived = (f"; archived {link(snapshot['timestamp'], snapshot['replay_url'])}{at}" if snapshot
                        else "; no archived copy")
            lines.append(f"- {link(s['url'], s['url'])}: {s['state']}, {s['status'] or 'unchecked'}"
                         + (" (paywall)" if s.get("paywall") else "") + archived)
        lines.append("")
        for p in c["passages"]:
            lines.append(f"> {escape(p['text'])}")
            lines.append(">")
            lines.append(f"> — *{p['verdict']}* ({p['score']:.0%}){': ' + escape(p['note']) if p.get('note') else ''}")
            if evidence := p.get("evidence"):
                lines.append(f"> — judged on the bytes kept as `sha256:{evidence['sha256'][:12]}` "
                             f"({escape(evidence['date'])}, {escape(evidence['warc'])})")
            lines.append("")
            for d in p.get("differences", []):
                lines.append(f"- quote: ~~{escape(d['quote']) or '∅'}~~ → source: **{escape(d['source']) or '∅'}**")
            if p.get("differences"):
                lines.append("")
            if p.get("support") and p["verdict"] not in ("verified", "verified_live"):
                lines.append("What the source says, best first:")
                lines += [f"{n}. {escape(s['text'])} ({s['score']:.0%} of the claim's words)"
                          for n, s in enumerate(p["support"], 1)]
                lines.append("")
            if p.get("absent"):
                lines += ["The source never mentions " + ", ".join(f"**{escape(a)}**" for a in p["absent"]) + ".", ""]
    return "\n".join(lines).rstrip() + "\n"
