"""Provenance reports: pure renderers from results to JSON, Markdown and HTML."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline.report import html, json, markdown, robust
from pipeline.report.data import report_data
from pipeline.store import Store

RENDERERS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "html": ("report.html", html.render),
    "json": ("report.json", json.render),
    "md": ("report.md", markdown.render),
}


def report_dir(base: str | Path, document_path: str) -> Path:
    """reports/<document-name>/ : the file's name without its extension, made safe."""
    name = Path(document_path).stem if document_path not in ("-", "") else "stdin"
    return Path(base) / (re.sub(r"[^\w.-]+", "_", name) or "document")


def write_reports(store: Store, document_ids: Sequence[int], out: str | Path,
                  formats: Sequence[str] = ("html", "json", "md"), *, robust_links: bool = False) -> list[str]:
    """Write each document's reports from the store; the paths written. A file is
    replaced whole (written aside, then renamed), so a reader never sees half a report.
    With `robust_links`, also the source document with its links' archived copies."""
    written = []
    documents = {d["id"]: d for d in store.documents()}
    for document_id in document_ids:
        data = report_data(store, document_id)
        folder = report_dir(out, documents[document_id]["path"])
        folder.mkdir(parents=True, exist_ok=True)
        for name in formats:
            filename, render = RENDERERS[name]
            written.append(_replace(folder / filename, render(data)))
        if robust_links:
            written.append(_write_robust(store, documents[document_id], data, folder))
    return written


def _replace(target: Path, text: str) -> str:
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(target)
    return str(target)


def _write_robust(store: Store, document: dict[str, Any], data: dict[str, Any], folder: Path) -> str:
    from pipeline.errors import InputError
    from pipeline.extract.reading import decode, read_bytes
    from pipeline.model import DocumentFormat

    fmt = DocumentFormat(document["format"])
    raw = read_bytes(document["path"])
    text, _ = decode(raw, document["path"], fmt)
    versions = robust.archived_versions(data)
    if fmt is DocumentFormat.HTML:
        return _replace(folder / "robust.html", robust.robust_html(text, versions))
    written = {u["url"]: u["canonical"] for c in store.citations(document["id"]) for u in c["urls"]}
    if not written and fmt is not DocumentFormat.MARKDOWN:
        raise InputError(f"{document['path']}: no links to make robust")
    name = "robust.md" if fmt is DocumentFormat.MARKDOWN else "robust.txt"
    return _replace(folder / name, robust.robust_markdown(text, versions, written))
