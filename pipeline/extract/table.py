"""The human view of an extraction: one row a citation that fits a terminal's width."""

from __future__ import annotations

from pipeline.model import Extraction


def format_table(extraction: Extraction, width: int = 100) -> str:
    """Index, id (what `recheck` takes), date, URLs (the first, and how many more) and the
    first words of the first passage, each row cut to `width`; a header line and a closing
    count."""
    doc = extraction.document
    lines = [
        f"{doc.path}: {doc.title or '(untitled)'}" + (f", {doc.date}" if doc.date else ""),
        f"{'#':>3}  {'id':<12}  {'date':<10}  {'source':<{_url_width(width)}}  first words",
    ]
    for citation in extraction.citations:
        url = citation.urls[0].url if citation.urls else "(no URL)"
        more = f" +{len(citation.urls) - 1}" if len(citation.urls) > 1 else ""
        url_cell = _cut(url, _url_width(width) - len(more)) + more
        words = " ".join(citation.passages[0].text.split()) if citation.passages else ""
        row = f"{citation.index:>3}  {citation.id:<12}  {citation.date or '-':<10}  {url_cell:<{_url_width(width)}}  {words}"
        lines.append(_cut(row, width))
    unique = len(extraction.unique_urls())
    lines.append(
        f"{len(extraction.citations)} citations, {extraction.url_count} URLs ({unique} unique)"
    )
    return "\n".join(lines)


def _url_width(width: int) -> int:
    return max(20, min(60, (width - 33) // 2))


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"
