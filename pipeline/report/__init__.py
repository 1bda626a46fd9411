"""Provenance reports: pure renderers from a document's report document (`report.json`) to
JSON, Markdown and HTML, and writing them to disk. Nothing here reads the store: the
caller hands in `DocumentResults`."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.extract.reading import decode, read_bytes
from pipeline.model import DocumentFormat
from pipeline.report import ci_formats, html_format, index, json_format, markdown_format, robust
from pipeline.report.document import report_document
from pipeline.results import DocumentResults

RENDERERS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "html": ("report.html", html_format.render),
    "json": ("report.json", json_format.render),
    "md": ("report.md", markdown_format.render),
    "junit": ("report.junit.xml", ci_formats.render_junit),
    "sarif": ("report.sarif", ci_formats.render_sarif),
    "github": ("report.github.txt", ci_formats.render_github),  # the run also prints them (GitHub reads stdout)
}


def _plain_name(document_path: str) -> str:
    name = Path(document_path).stem if document_path not in ("-", "") else "stdin"
    return re.sub(r"[^\w.-]+", "_", name).strip(".") or "document"  # never "..", never empty


def report_names(document_paths: Iterable[str]) -> dict[str, str]:
    """Each document's folder name: its file name without the extension, made safe; where
    two documents share that name (`a/doc.txt`, `b/doc.txt`), the name and a short hash of
    the path, so that neither overwrites the other."""
    paths = list(dict.fromkeys(document_paths))
    plain = {path: _plain_name(path) for path in paths}
    taken = Counter(plain.values())
    return {
        path: name if taken[name] == 1 else f"{name}-{hashlib.sha256(os.path.normpath(path).encode()).hexdigest()[:8]}"
        for path, name in plain.items()
    }


def report_dir(base: str | Path, name: str) -> Path:
    """reports/<name>/, always inside the reports folder."""
    root = Path(base).resolve()
    folder = (root / name).resolve()
    if folder.parent != root:
        raise ValueError(f"report folder {name!r} would leave {root}")
    return folder


def write_reports(results: DocumentResults, out: str | Path, formats: Sequence[str] = ("html", "json", "md"), *,
                  name: str | None = None, data: dict[str, Any] | None = None) -> list[str]:
    """Write one document's reports in `out/<name>/` (by default the document's plain name);
    the paths written. A file is replaced whole (written aside under a name of its own,
    then renamed), so a reader never sees half a report and two writers never share a file."""
    data = report_document(results) if data is None else data  # `data`: the report document, when made already
    folder = report_dir(out, name or _plain_name(results.document.path))
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for format_name in formats:
        filename, render = RENDERERS[format_name]
        written.append(_replace(folder / filename, render(data)))
    return written


def write_index(documents: Sequence[tuple[DocumentResults, str]], out: str | Path,
                formats: Sequence[str] = ("html", "json", "md")) -> list[str]:
    """The index report beside the documents' folders: every document with its counts; with
    `sarif`, every document's problems in one SARIF log (`index.sarif`, for one upload)."""
    from_index = index.index_document(documents)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    written = [_replace(root / filename, render(from_index))
               for name, (filename, render) in index.INDEX_RENDERERS.items() if name in formats]
    if "sarif" in formats:
        every = [report_document(results) for results, _ in documents]
        written.append(_replace(root / "index.sarif", ci_formats.render_sarif_of(every)))
    return written


def write_file(path: str | Path, text: str) -> str:
    """`text` written whole to `path` (never half a file); a path that cannot be written is an
    InputError naming it."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return _replace(target, text)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _umask() -> int:
    """The process's umask, read without changing it (os.umask sets it while it reads, which
    another thread's file would see): Linux says it in /proc; elsewhere the one at import."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return _UMASK_AT_IMPORT


def _umask_at_import() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK_AT_IMPORT = _umask_at_import()


def _replace(target: Path, text: str) -> str:
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # as open() would make it: a web server may serve it (mkstemp: 0600)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    return str(target)


def write_robust_links(results: DocumentResults, out: str | Path, name: str | None = None) -> str:
    """The source document rewritten with each link's archived copy, beside its reports.
    InputError when the document cannot be read again (moved, or read from standard input)."""
    document = results.document
    if document.path in ("-", ""):
        raise InputError(f"{document.path or '(no path)'}: the document was read from standard input; "
                         "there is no copy of it to rewrite")
    folder = report_dir(out, name or _plain_name(document.path))
    folder.mkdir(parents=True, exist_ok=True)
    text, _ = decode(read_bytes(document.path), document.path, document.format)
    versions = robust.archived_versions(report_document(results))
    if document.format is DocumentFormat.HTML:
        return _replace(folder / "robust.html", robust.robust_html(text, versions))
    written = {ref.url: ref.canonical for c in results.citations for ref in c.citation.urls}
    if not written and document.format is not DocumentFormat.MARKDOWN:
        raise InputError(f"{document.path}: no links to make robust")
    name = "robust.md" if document.format is DocumentFormat.MARKDOWN else "robust.txt"
    return _replace(folder / name, robust.robust_markdown(text, versions, written))
