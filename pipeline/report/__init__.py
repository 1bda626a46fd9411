"""Provenance reports: pure renderers from results to JSON, Markdown and HTML."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline.report import html, json, markdown
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
                  formats: Sequence[str] = ("html", "json", "md")) -> list[str]:
    """Write each document's reports from the store; the paths written. A file is
    replaced whole (written aside, then renamed), so a reader never sees half a report."""
    written = []
    documents = {d["id"]: d for d in store.documents()}
    for document_id in document_ids:
        data = report_data(store, document_id)
        folder = report_dir(out, documents[document_id]["path"])
        folder.mkdir(parents=True, exist_ok=True)
        for name in formats:
            filename, render = RENDERERS[name]
            target = folder / filename
            partial = target.with_suffix(target.suffix + ".part")
            partial.write_text(render(data), encoding="utf-8")
            partial.replace(target)
            written.append(str(target))
    return written
