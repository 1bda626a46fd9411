"""What the terminal shows: short, plain text for each command's results. Every value that came
from a document, a file name or a page goes through `inert.field`: one line, no control
characters, no workflow command."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.archive.model import ArchiveState, Lookup, SaveResult
from pipeline.inert import field
from pipeline.model import LinkCheck
from pipeline.results import DocumentResults, count_by_status, tally
from pipeline.times import human_date, timestamp_to_datetime


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
    if news := format_news(data):
        lines += ["newly broken:"] + [f"  {line}" for line in news.splitlines()]
    elif data["status"] == "done":
        lines.append(_no_news(data))
    if failing := data.get("failing"):
        lines.append("failing, not dead yet (checked again each run):")
        lines += [f"  {field(f['url'])}: failing since {field(human_date(f['since']))} ({f['failures']} check"
                  f"{'s' * (f['failures'] != 1)}), cited in {_places(f['cited'])}" for f in failing]
    for saved in data.get("saved", []):
        lines.append(f"save {field(saved['url'])}: {saved['state']} ({field(saved['reason'])})")
    for document in data["documents"]:
        if reports := document.get("reports"):
            others = ", ".join(Path(path).suffix.lstrip(".") for path in reports[1:])
            lines.append(f"report: {field(reports[0])}" + (f" (and {field(others)})" if others else ""))
    for path in data.get("index", []):
        lines.append(f"index: {field(path)}")
    if evidence := data.get("evidence"):
        pruned = evidence.get("pruned")
        lines.append(f"evidence: {evidence.get('responses', 0)} new copies, {evidence.get('revisits', 0)} revisits "
                     f"({evidence.get('bytes', 0):,} bytes) in {field(evidence.get('folder', ''))}"
                     + (f"; pruned {pruned['records_dropped']} records, {pruned['bytes_freed']:,} bytes" if pruned else ""))
    lines += [f"note: {field(note)}" for note in data["notes"]]
    return "\n".join(lines)


def format_news(summary: Any) -> str:
    """What newly broke in a run, a line each, naming the documents and lines that cite it;
    empty when nothing did (what `-q run` prints, so that cron mails only then)."""
    data = summary.to_json() if hasattr(summary, "to_json") else summary
    lines = []
    for problem in data.get("new_problems", []):
        places = _places(problem["cited"])
        what = "died" if problem["kind"] == "dead-link" else "now differs from its source"
        lines.append(f"{field(problem['url'])} {what}" + (f": cited in {places}" if places else ""))
    return "\n".join(lines)


def _no_news(data: dict[str, Any]) -> str:
    """What a run without news may say, and no more than its evidence shows."""
    if not data["checked"] and not data["verified"]:
        return "nothing checked or verified this run: every link was fresh (max-age)"
    if data["run_id"] == 1:
        return "first run of this database: no link can be dead yet (dead takes failing checks over days)"
    return "nothing newly broken since the last run"


def _places(cited: list[dict[str, Any]]) -> str:
    return ", ".join(f"{field(p['path'])} line {p['line']}" for p in cited)


def format_reverified(outcome: dict[str, Any]) -> str:
    """`verify --offline` for one document: what changed, what could not be read back."""
    summary = outcome["summary"]
    lines = [f"{field(outcome['document'])}: {summary['citations']} citations made again from "
             f"{field(outcome['evidence'])}: "
             f"{summary['same']} same, {summary['changed']} changed, {summary['problems']} evidence problems"]
    for citation in outcome["citations"]:
        if citation["changed"]:
            lines.append(f"  {citation['id']}: {citation['verdict_then']} → {citation['verdict_now']}")
            lines += [f"    line {p['line']}: {p['then']} → {p['now']} ({field(p['note'])})" for p in citation["passages"]
                      if p["then"] != p["now"]]
        lines += [f"  {field(str(citation['id']))}: {field(problem)}" for problem in citation["problems"]]
    return "\n".join(lines)


def format_evidence(listing: dict[str, Any]) -> str:
    """`evidence ls`: the files of the store, or the copies one document rests on."""
    if "copies" not in listing:
        lines = [f"{listing['folder']}: {len(listing['files'])} WARC files, {listing['bytes']:,} bytes"
                 + (f" (budget {listing['budget']:,})" if listing["budget"] else "")]
        lines += [f"  {f['name']}  {f['label']}  {f['started_at']}  {f['responses']} copies, {f['revisits']} revisits, "
                  f"{f['on_disk']:,} bytes" for f in listing["files"]]
        return "\n".join(lines)
    lines = [f"{listing['document']}: {len(listing['copies'])} copies its verdicts rest on ({listing['folder']})"]
    for copy in listing["copies"]:
        if copy["sha256"]:
            where = f"{copy['warc']} {copy['bytes']:,} bytes" if copy["kept"] else "NOT KEPT"
            lines.append(f"  {copy['citation']}  {copy['kind']:7}  {copy['date']}  sha256:{copy['sha256'][:12]}  "
                         f"{where}  {field(copy['url'])}")
        else:
            lines.append(f"  {copy['citation']}  {copy['kind']:7}  no bytes ({field(copy['reason'])})  {field(copy['url'])}")
    return "\n".join(lines)


def format_provenance(citations: list[dict[str, Any]]) -> str:
    """Each citation: its verdict, each passage's verdict and evidence, each source."""
    lines = []
    for citation in citations:
        lines.append(f"citation {citation['id']} (#{citation['index']}, {citation['date'] or 'undated'}): "
                     f"{citation['verdict'] or 'not verified yet'}")
        for source in citation["sources"]:
            snapshot = source.get("snapshot") or {}
            lines.append(f"  source {field(source['url'])}: {source['status'] or 'unchecked'}, {source['state'] or 'uncertain'}"
                         + (f"; archived {snapshot['timestamp']} {field(snapshot['replay_url'])}" if snapshot
                            else "; no archived copy"))
        for passage in citation["passages"]:
            words = field(" ".join(passage["text"].split()[:10]))
            lines.append(f"  line {passage['line']}: {passage['verdict']} ({passage['score']:.0%}) {words}…")
            if passage.get("note"):
                lines.append(f"    {field(passage['note'])}")
            if passage.get("context"):
                lines.append(f"    in context: {field(passage['context'])}")
            if passage.get("support") and passage["verdict"] not in ("verified", "verified_live"):
                best = passage["support"][0]
                lines.append(f"    the source says ({best['score']:.0%} of its words): {field(best['text'])}")
            if passage.get("absent"):
                lines.append("    the source never mentions: " + ", ".join(field(fact) for fact in passage["absent"]))
            for difference in passage.get("differences", []):
                lines.append(f"    differs: the quote says {field(repr(difference['quote'] or '(nothing)'))}, "
                             f"the source {field(repr(difference['source'] or '(nothing)'))}")
    return "\n".join(lines)


def format_history(history: dict[str, Any]) -> str:
    known_as = f" ({field(history['canonical'])})" if history["canonical"] != history["url"] else ""
    lines = [f"{field(history['url'])}{known_as}: {history['state'] or 'never checked'}"]
    if history["checks"]:
        lines.append(f"  {'checked at':<20}  {'class':<16} {'HTTP':>4}  {'state':<9}  reason")
    for check in history["checks"]:
        http_status = check["http_status"] if check["http_status"] is not None else "-"
        lines.append(f"  {check['checked_at']}  {check['status']:<16} {http_status:>4}  "
                     f"{check['state_after'] or '-':<9}  {field(check['reason'])}")
    if history["events"]:
        lines.append("changes of state:")
        for event in history["events"]:
            lines.append(f"  {event['at']}  {event['old_state'] or 'new'} -> {event['new_state']} (run {event['run_id']})")
    return "\n".join(lines)


def format_checks(checks: Sequence[LinkCheck], width: int = 100) -> str:
    """Status, HTTP status, time and URL a line, the reason under it, and the counts per class."""
    lines = []
    for check in checks:
        http_status = str(check.http_status) if check.http_status is not None else "-"
        head = f"{check.status.value:<16} {http_status:>3} {check.elapsed_ms:>7.0f} ms  {field(check.url)}"
        lines.append(head if len(head) <= width else head[: width - 1] + "…")
        lines.append(f"{'':<16} {field(check.reason)}"[:width])
    lines.append(", ".join(f"{count} {name}" for name, count in count_by_status(checks).items()))
    return "\n".join(lines)


def format_lookup(lookup: Lookup, saved: SaveResult | None = None) -> str:
    """A lookup (and a save, when one was asked for)."""
    head = {ArchiveState.FOUND: "found", ArchiveState.NONE: "no usable capture",
            ArchiveState.EXCLUDED: "excluded by the archive (its copies are not shown)",
            ArchiveState.UNAVAILABLE: "archive unavailable"}[lookup.state]
    lines = [f"{field(lookup.url)}: {head}" + (f" ({lookup.archive})" if lookup.archive else "")
             + (f", {lookup.captures} captures, {lookup.digests} versions" if lookup.captures else "")]
    if lookup.reason:
        lines.append(f"  {field(lookup.reason)}")
    if lookup.queried_url and lookup.queried_url != lookup.url:
        lines.append(f"  archived as {field(lookup.queried_url)}")
    for name, snap in (("closest", lookup.closest), ("first", lookup.first), ("last", lookup.last)):
        if snap is not None:
            when = timestamp_to_datetime(snap.timestamp).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"  {name:<8}{when}  {snap.status if snap.status is not None else '-':>3}  {field(snap.replay_url)}")
    if saved is not None:
        lines.append(f"  save: {saved.state.value}" + (f" at {saved.timestamp}" if saved.timestamp else "")
                     + f" ({field(saved.reason)})")
    return "\n".join(lines)


def format_verification(results: DocumentResults, width: int = 100) -> str:
    """A line per citation, a line per passage, the counts at the end."""
    lines = []
    for result in results.citations:
        citation = result.citation
        lines.append(f"{citation.index:>3} {result.verdict.value:<13} {citation.date or '-':<10} "
                     f"{field(citation.urls[0].url) if citation.urls else '(no URL)'}"[:width])
        for match in result.passages:
            where = f"{match.copy.value} {match.timestamp or ''}".strip() if match.copy else ""
            words = field(" ".join(match.text.split()[:8]))
            lines.append(f"      line {match.line:<4} {match.verdict.value:<13} {match.score:>4.0%} {where:<22} {words}"[:width])
    counts = tally(result.verdict.value for result in results.citations)
    lines.append(", ".join(f"{n} {verdict}" for verdict, n in counts.items()) or "no citations")
    return "\n".join(lines)
