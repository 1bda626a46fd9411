"""Provenance reports: pure renderers from a document's report document (`report.json`) to
JSON, Markdown and HTML, and writing them to disk. Nothing here reads the store: the
caller hands in `DocumentResults`."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.extract.reading import decode, read_bytes
from pipeline.model import DocumentFormat
from pipeline.report import html_format, json_format, markdown_format, robust
from pipeline.report.document import report_document
from pipeline.results import DocumentResults

RENDERERS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "html": ("report.html", html_format.render),
    "json": ("report.json", json_format.render),
    "md": ("report.md", markdown_format.render),
}


def report_dir(base: str | Path, document_path: str) -> Path:
    """reports/<document-name>/ : the file's name without its extension, made safe."""
    name = Path(document_path).stem if document_path not in ("-", "") else "stdin"
    return Path(base) / (re.sub(r"[^\w.-]+", "_", name) or "document")


def write_reports(results: DocumentResults, out: str | Path, formats: Sequence[str] = ("html", "json", "md"), *,
                  robust_links: bool = False) -> list[str]:
    """Write one document's reports; the paths written. A file is replaced whole (written
    aside, then renamed), so a reader never sees half a report. With `robust_links`, also
    the source document with its links' archived copies."""
    data = report_document(results)
    folder = report_dir(out, results.document.path)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in formats:
        filename, render = RENDERERS[name]
        written.append(_replace(folder / filename, render(data)))
    if robust_links:
        written.append(_write_robust(results, data, folder))
    return written


def _replace(target: Path, text: str) -> str:
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)
    return str(target)


def _write_robust(results: DocumentResults, data: dict[str, Any], folder: Path) -> str:
    document = results.document
    text, _ = decode(read_bytes(document.path), document.path, document.format)
    versions = robust.archived_versions(data)
    if document.format is DocumentFormat.HTML:
        return _replace(folder / "robust.html", robust.robust_html(text, versions))
    written = {ref.url: ref.canonical for c in results.citations for ref in c.citation.urls}
    if not written and document.format is not DocumentFormat.MARKDOWN:
        raise InputError(f"{document.path}: no links to make robust")
    name = "robust.md" if document.format is DocumentFormat.MARKDOWN else "robust.txt"
    return _replace(folder / name, robust.robust_markdown(text, versions, written))
