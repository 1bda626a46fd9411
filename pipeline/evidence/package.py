"""One document's evidence as a WACZ (py-wacz), and the store replayed through pywb. Both
come with the `replay` extra: `pip install 'citewatch[replay]'`."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError
from pipeline.evidence.model import EvidenceError, EvidenceMissing, EvidenceRef
from pipeline.evidence.store import SUFFIX, EvidenceStore
from pipeline.model import CopyKind

# The document's report.json, packed as py-wacz packs extra files: under logs/, listed and hashed in
# datapackage.json. Not named *report.json: frictionless, which validates the package, reads a
# resource so named as a validation report of its own.
REPORT_IN_WACZ = "logs/citewatch-provenance.json"
COLLECTION = "evidence"


def _require(module: str, command: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise UsageError(f"{command} needs the replay extra: pip install 'citewatch[replay]'")


def refs_of(report: Mapping[str, Any]) -> list[EvidenceRef]:
    """Every kept copy a report's verdicts name (passages' evidence and the copies they
    were judged against), once each."""
    found: dict[str, EvidenceRef] = {}
    for citation in report.get("citations", ()):
        for item in [*citation.get("passages", ()), *citation.get("copies", ())]:
            ref = EvidenceRef.from_json(item.get("evidence"))
            if ref is not None:
                found.setdefault(ref.record_id, ref)
    return list(found.values())


def export_wacz(report: Mapping[str, Any], store: EvidenceStore, out: Path, *, title: str = "") -> dict[str, Any]:
    """Write a WACZ holding the records the report's verdicts rest on (as stored, one WARC),
    the pages index, and the report itself. Written aside and renamed."""
    _require("wacz", "citewatch evidence export")
    from wacz.main import main as wacz_main

    refs = refs_of(report)
    if not refs:
        raise UsageError("the report names no kept copy: run it with keep_evidence on first")
    rows = store.with_metadata(ref.record_id for ref in refs)
    missing = {ref.record_id for ref in refs} - {row["record_id"] for row in rows}
    if missing:
        raise EvidenceMissing(f"{len(missing)} of the {len(refs)} records the report names are not in {store.folder}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="citewatch-wacz-") as work:
        warc = Path(work) / ("evidence" + SUFFIX)
        with open(warc, "wb") as stream:
            for row in rows:
                stream.write(store.raw_record(row))
        logs = Path(work) / "logs"
        logs.mkdir()
        (logs / Path(REPORT_IN_WACZ).name).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        pages = Path(work) / "pages.jsonl"
        pages.write_text(_pages(rows, title), encoding="utf-8")
        aside = out.with_name(out.name + ".part")
        arguments = ["create", "-o", str(aside), "-p", str(pages), "-l", str(logs), str(warc)]
        if title:
            arguments += ["--title", title]
        chatter = io.StringIO()
        with contextlib.redirect_stdout(chatter):
            code = wacz_main(arguments)
        if code:
            with contextlib.suppress(FileNotFoundError):
                aside.unlink()
            raise UsageError(f"py-wacz could not write {out}: {chatter.getvalue().strip()[-500:]}")
        os.replace(aside, out)
    return {"path": str(out), "records": len(rows), "copies": len(refs), "bytes": out.stat().st_size}


def _pages(rows: Iterable[Mapping[str, Any]], title: str) -> str:
    """The pages index: each kept copy, at its URL and date, as a page to open."""
    lines = [{"format": "json-pages-1.0", "id": "pages", "title": title or "citewatch evidence"}]
    seen = set()
    for row in rows:
        if row["type"] == "response" and (row["date"], row["url"]) not in seen:
            seen.add((row["date"], row["url"]))
            what = "archived copy" if row["kind"] == CopyKind.ARCHIVE.value else "live page as read"
            lines.append({"url": row["url"], "ts": row["date"], "title": f"{what}: {row['url']}"})
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def validate_wacz(path: Path) -> tuple[bool, str]:
    """py-wacz's own check: structure, datapackage.json, every file's digest."""
    _require("wacz", "validating a WACZ")
    from wacz.main import main as wacz_main

    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter):
        code = wacz_main(["validate", "-f", str(path)])
    return code == 0, chatter.getvalue().strip()


def replay_root(store: EvidenceStore, paths: Iterable[Path] | None = None) -> Path:
    """A pywb root over the store's finished WARC files, in place (no copy): config.yaml
    and a CDXJ index under `<store>/.replay/`."""
    _require("pywb", "citewatch evidence serve")
    from pywb.indexer.cdxindexer import write_multi_cdx_index

    root = store.folder.resolve() / ".replay"
    with contextlib.suppress(FileExistsError):
        root.mkdir()
    if root.is_symlink() or not root.is_dir():  # a link planted in the folder: never written through
        raise EvidenceError(f"{root} is not a folder of its own (a link?): not written; remove it to serve")
    for name in ("index.cdxj", "config.yaml"):
        if (root / name).is_symlink() or ((root / name).exists() and not (root / name).is_file()):
            raise EvidenceError(f"{root / name} is not a regular file (a link?): not written; remove it to serve")
    warcs = [str(p) for p in (paths if paths is not None else store.warc_paths())]
    index = root / "index.cdxj"
    if warcs:
        write_multi_cdx_index(str(index), warcs, sort=True, cdxj=True, include_all=False)
    else:
        index.write_text("", encoding="utf-8")
    config = {
        "collections": {COLLECTION: {"index_paths": str(index), "archive_paths": str(store.folder.resolve()) + "/"}},
        "framed_replay": False,
        "enable_memento": True,
    }
    (root / "config.yaml").write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML
    return root


def serve(store: EvidenceStore, host: str, port: int) -> int:
    """Replay the kept copies at http://HOST:PORT/evidence/<timestamp>/<url> until stopped:
    Ctrl-C or SIGTERM stop pywb too (a service manager's stop must not leave the port taken)."""
    root = replay_root(store)
    command = [sys.executable, "-c", "from pywb.apps.cli import wayback; wayback()", "-b", host, "-p", str(port)]
    child = subprocess.Popen(command, cwd=root)

    def stop(signum: int, _frame: object) -> None:
        child.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.terminate()
        return child.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:
            child.kill()
            child.wait()
