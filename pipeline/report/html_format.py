"""The report as one self-contained HTML file: no external scripts, styles, fonts or
images, so it opens from file:// offline; a Content-Security-Policy that allows only its
own inline script (by hash) and no network at all; every string from a document or a page
escaped by Jinja2's autoescape, and only http(s) URLs ever made into links."""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse
from pathlib import Path
from typing import Any

import jinja2

from pipeline.model import Verdict
from pipeline.report.document import look_words, needs_a_look
from pipeline.support import content_words
from pipeline.times import datetime_to_timestamp, human_date, parse_iso

TEMPLATES = Path(__file__).parent / "templates"
SCRIPT = (TEMPLATES / "filters.js").read_text(encoding="utf-8")
VERDICT_COLOURS = {"verified": "#1a7f37", "verified_live": "#0969da", "abridged": "#1b7c83", "paraphrase": "#bc4c00",
                   "misquoted": "#8250df", "partial": "#9a6700",
                   "not_found": "#cf222e", "unverifiable": "#57606a"}
# Link states in colours of their own, on outlined badges (verdicts are filled): no colour
# means both a link state and a verdict (a dead link is not a passage not found).
STATE_COLOURS = {"alive": "#116329", "dead": "#82071e", "uncertain": "#6e4600"}

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


# Characters that reorder what follows them (bidi embeddings, overrides, isolates, marks):
# in a URL or a quote they can make `…/exe.png` of `…/‮gnp.exe`. The report shows them as
# visible marks instead, and isolates every URL and quote (<bdi>).
BIDI_CONTROLS = {c: f"[U+{c:04X}]" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}


_ESCAPED_CONTROLS = {c: urllib.parse.quote(chr(c)) for c in BIDI_CONTROLS}


def visible_controls(text: str | None) -> str:
    return (text or "").translate(BIDI_CONTROLS)


_environment.filters["shown"] = visible_controls


_environment.filters["human_date"] = human_date

# A link's class in words of its own, so that no word means both a link class and a verdict
# (`not_found` is both): the class stays in the tooltip and in report.json.
LINK_WORDS = {"ok": "answers", "redirected": "moved, answers", "soft_404": "answers that the page is gone",
              "not_found": "page gone", "server_error": "server error", "blocked": "blocks checkers",
              "rate_limited": "rate limited", "timeout": "timed out", "dns_error": "no such host",
              "connection_error": "no connection", "tls_error": "certificate error", "redirect_loop": "redirect loop",
              "invalid_url": "not a web address", "refused": "refused (a private address)",
              "skipped": "not checked (a rule)", "fragment_not_found": "anchor missing"}
_environment.filters["link_words"] = lambda status: LINK_WORDS.get(status, status) if status else "unchecked"


def render_template(name: str, **values: Any) -> str:
    """A template of `templates/`, with the report's escaping and filters."""
    return _environment.get_template(name).render(**values)


def safe_href(url: str | None) -> str | None:
    """The URL when it is http(s), else None: javascript:, data: and the like never become links."""
    if url and re.match(r"^https?://[^\s]+$", url.strip(), re.IGNORECASE):
        return url.strip().translate(_ESCAPED_CONTROLS)  # a browser would send them escaped anyway
    return None


def text_fragment(url: str | None, matched: str) -> str | None:
    """A link that scrolls to and highlights the quote (`#:~:text=start,end`, the URL
    Fragment Text Directives draft) in browsers that support it."""
    href = safe_href(url)
    if href is None or not matched.strip():
        return href
    words = matched.split()
    quote = lambda part: urllib.parse.quote(part, safe="")  # noqa: E731  commas, dashes and ampersands too
    if len(words) <= 8:
        directive = quote(" ".join(words))
    else:
        directive = f"{quote(' '.join(words[:4]))},{quote(' '.join(words[-4:]))}"
    return f"{href.split('#', 1)[0]}#:~:text={directive}"


def runs(text: str, missing: list[str], found_any: bool) -> list[tuple[str, bool]]:
    """The passage cut into (words, found) runs: the segments not found, the rest found
    (when anything was)."""
    spans: list[tuple[int, int]] = []
    for segment in missing:
        start = text.find(segment)
        if start >= 0:
            spans.append((start, start + len(segment)))
    pieces, cursor = [], 0
    for start, end in sorted(spans):
        if start < cursor:
            continue
        if start > cursor:
            pieces.append((text[cursor:start], found_any))
        pieces.append((text[start:end], False))
        cursor = end
    if cursor < len(text):
        pieces.append((text[cursor:], found_any))
    return pieces


_TOKENS = re.compile(r"(\w+(?:['’]\w+)*)", re.UNICODE)


def shared_words(sentence: str, passage: str) -> list[tuple[str, bool]]:
    """The sentence cut into (text, shared) runs: a word is shared when its stem is one of
    the passage's content words (what the reader compares)."""
    wanted = set(content_words(passage))
    pieces = [p for p in _TOKENS.split(sentence) if p]
    marks = [bool(_TOKENS.fullmatch(p)) and bool(set(content_words(p)) & wanted) for p in pieces]
    for i in range(1, len(pieces) - 1):  # a space between two shared words is part of the run
        marks[i] = marks[i] or (pieces[i].isspace() and marks[i - 1] and marks[i + 1])
    runs: list[tuple[str, bool]] = []
    for piece, shared in zip(pieces, marks):
        if runs and runs[-1][1] == shared:
            runs[-1] = (runs[-1][0] + piece, shared)
        else:
            runs.append((piece, shared))
    return runs


def bars(counts: dict[str, int], colours: dict[str, str], label: str) -> dict[str, Any]:
    total = sum(counts.values()) or 1
    x, items = 0.0, []
    for name, count in counts.items():
        width = 100 * count / total
        items.append({"name": name, "count": count, "x": x, "width": width, "colour": colours.get(name, "#57606a")})
        x += width
    return {"label": label, "segments": items, "total": sum(counts.values())}


def local_copy(replay_prefix: str | None, evidence: dict[str, Any] | None) -> str | None:
    """The kept copy as `citewatch evidence serve` replays it: at its URL and its own date."""
    if not replay_prefix or not evidence:
        return None
    try:
        stamp = datetime_to_timestamp(parse_iso(evidence.get("date", "")))
    except ValueError:
        return None
    return safe_href(f"{replay_prefix}{stamp}/{evidence['url']}")


def attention_lines(data: dict[str, Any]) -> list[dict[str, Any]]:
    """`document.needs_a_look`, each item in the words the cards use."""
    return [{**item, "what": look_words(item, str, human_date)} for item in needs_a_look(data["citations"])]


def render(data: dict[str, Any]) -> str:
    citations = []
    replay_prefix = (data.get("run") or {}).get("settings", {}).get("evidence_replay_url")
    for c in data["citations"]:
        passages = []
        for p in c["passages"]:
            found_any = Verdict(p["verdict"]).found_any
            beside = [] if Verdict(p["verdict"]).is_verified else [
                {**s, "runs": shared_words(s["text"], p["text"]), "href": text_fragment(p.get("location"), s["text"])}
                for s in p.get("support") or ()]
            passages.append({**p, "found_any": found_any, "runs": runs(p["text"], p.get("missing", []), found_any),
                             "evidence_href": text_fragment(p.get("location"), p.get("matched", "")) if found_any else None,
                             "local_href": local_copy(replay_prefix, p.get("evidence")), "beside": beside})
        sources = []
        for s in c["sources"]:
            snapshot = s.get("snapshot")
            sources.append({"failing_since": None, "failures": 0, "last_alive": None,  # reports before schema 4.1
                            **s, "href": safe_href(s["url"]) or safe_href(s["canonical"]),
                            "archived_href": safe_href(snapshot["replay_url"]) if snapshot else None,
                            "first_href": safe_href(s["first"]["replay_url"]) if s.get("first") else None,
                            "last_href": safe_href(s["last"]["replay_url"]) if s.get("last") else None})
        citations.append({
            **c, "passages": passages, "sources": sources,
            "dead": any(s["state"] == "dead" for s in c["sources"]),
            "failing": min((s["failing_since"] for s in sources if s["failing_since"] and s["state"] != "dead"),
                           default=None),
            "unverified": not Verdict(c["verdict"]).is_verified,
            "misquoted": any(p["verdict"] == Verdict.MISQUOTED.value for p in c["passages"]),
            "changed": any(p.get("changed_since_cited") for p in c["passages"]),
        })
    summary = data["summary"]
    attention = attention_lines(data)
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode()
    return render_template(
        "report.html.j2",
        data=data, citations=citations, script=SCRIPT, script_hash=script_hash, attention=attention,
        verdict_bars=bars(summary["verdicts"], VERDICT_COLOURS, "Citations by verdict"),
        state_bars=bars(summary["link_states"], STATE_COLOURS, "Links by state"),
        verdict_colours=VERDICT_COLOURS, state_colours=STATE_COLOURS,
    )
