"""Extraction: a document's cited URLs and the claims they support, from text, Markdown or HTML; no network."""

from __future__ import annotations

import hashlib
from typing import Any

from pipeline.extract.common import number
from pipeline.extract.html import extract_html
from pipeline.extract.markdown import extract_markdown
from pipeline.extract.reading import decode, detect_format, read_bytes
from pipeline.extract.text import extract_text
from pipeline.inert import path_shown
from pipeline.model import Document, DocumentFormat, Extraction

SCHEMA_VERSION = 1

__all__ = ["SCHEMA_VERSION", "extract", "extract_bytes", "extraction_json"]


def extract(path: str, *, fmt: DocumentFormat | None = None, base_url: str | None = None) -> Extraction:
    """Read the document at `path` (`-` for stdin) and extract its citations.
    Raises InputError for a missing, binary or unreadable document."""
    return extract_bytes(read_bytes(path), path, fmt=fmt, base_url=base_url)


def extract_bytes(
    data: bytes, path: str, *, fmt: DocumentFormat | None = None, base_url: str | None = None
) -> Extraction:
    fmt = detect_format(path, data, fmt)
    text, encoding = decode(data, path, fmt)
    if fmt is DocumentFormat.HTML:
        title, date, drafts = extract_html(text, base_url)
    elif fmt is DocumentFormat.MARKDOWN:
        title, date, drafts = extract_markdown(text)
    else:
        result = extract_text(text)
        title, date, drafts = result.title, result.date, result.drafts
    document = Document(
        path=path_shown(path),  # a name that is not UTF-8 (git allows any bytes) shown as \xNN, stored as shown
        title=title,
        date=date,
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
        encoding=encoding,
    )
    return Extraction(document, number(drafts))


def extraction_json(extraction: Extraction) -> dict[str, Any]:
    """The extract JSON contract (docs/usage.md, `extract`): document, citations, URLs, passages."""
    doc = extraction.document
    return {
        "schema_version": SCHEMA_VERSION,
        "document": {
            "path": doc.path,
            "title": doc.title,
            "date": doc.date,
            "sha256": doc.sha256,
            "format": doc.format.value,
            "encoding": doc.encoding,
            "citation_count": len(extraction.citations),
            "url_count": extraction.url_count,
        },
        "citations": [
            {
                "id": c.id,
                "index": c.index,
                "line_start": c.line_start,
                "date": c.date,
                "urls": [{"url": u.url, "canonical": u.canonical, "line": u.line, "column": u.column} for u in c.urls],
                "passages": [{"text": p.text, "line": p.line} for p in c.passages],
            }
            for c in extraction.citations
        ],
    }
