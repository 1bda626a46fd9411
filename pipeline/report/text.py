"""What the terminal shows after run, recheck and history: short, plain text."""

from __future__ import annotations

from typing import Any


def format_summary(summary: Any) -> str:
    """A run in a few lines: citations and verdicts, links by state, what newly died."""
    data = summary.to_json() if hasattr(summary, "to_json") else summary
    verdicts = ", ".join(f"{n} {v}" for v, n in data["verdicts"].items()) or "none"
    links = ", ".join(f"{n} {s}" for s, n in data["links"].items() if n) or "none"
    lines = [
        f"run {data['run_id']} {data['status']}: {data['citations']} citations ({verdicts})",
        f"links: {links}; {data['checked']} checked, {data['reused']} fresh (not checked again), "
        f"{data['verified']} citations verified",
    ]
    if data["classes"]:
        lines.append("classes: " + ", ".join(f"{n} {c}" for c, n in data["classes"].items()))
    if data["newly_dead"]:
        lines.append("newly dead: " + ", ".join(data["newly_dead"]))
    for saved in data.get("saved", []):
        lines.append(f"save {saved['url']}: {saved['state']} ({saved['reason']})")
    for document in data["documents"]:
        for path in document.get("reports", []):
            lines.append(f"report: {path}")
    lines += [f"note: {note}" for note in data["notes"]]
    return "\n".join(lines)


def format_provenance(citations: list[dict[str, Any]]) -> str:
    """Each citation: its verdict, each passage's verdict and evidence, each source."""
    lines = []
    for citation in citations:
        lines.append(f"citation {citation['id']} (#{citation['index']}, {citation['date'] or 'undated'}): "
                     f"{citation['verdict'] or 'not verified yet'}")
        for source in citation["sources"]:
            snapshot = source.get("snapshot") or {}
            lines.append(f"  source {source['url']}: {source['status'] or 'unchecked'}, {source['state'] or 'uncertain'}"
                         + (f"; archived {snapshot['timestamp']} {snapshot['replay_url']}" if snapshot else "; no archived copy"))
        for passage in citation["passages"]:
            words = " ".join(passage["text"].split()[:10])
            lines.append(f"  line {passage['line']}: {passage['verdict']} ({passage['score']:.0%}) {words}…")
            if passage.get("note"):
                lines.append(f"    {passage['note']}")
            if passage.get("context"):
                lines.append(f"    in context: {passage['context']}")
    return "\n".join(lines)


def format_history(history: dict[str, Any]) -> str:
    lines = [f"{history['url']} ({history['canonical']}): {history['state'] or 'never checked'}"]
    for check in history["checks"]:
        http_status = check["http_status"] if check["http_status"] is not None else "-"
        lines.append(f"  {check['checked_at']}  {check['status']:<16} {http_status:>3}  "
                     f"{check['state_after'] or '-':<9}  {check['reason']}")
    if history["events"]:
        lines.append("changes of state:")
        for event in history["events"]:
            lines.append(f"  {event['at']}  {event['old_state'] or 'new'} -> {event['new_state']} (run {event['run_id']})")
    return "\n".join(lines)
