"""What the `evidence` commands and `verify --offline` do, over the database and the
evidence folder the settings name: plain data in, plain data out."""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.errors import UsageError
from pipeline.evidence import package
from pipeline.evidence.model import (
    EvidenceError,
    EvidenceMissing,
    EvidenceRef,
    NoEvidenceStore,
    Payload,
)
from pipeline.evidence.reverify import Reader, reverify, verification_from_json
from pipeline.evidence.store import INDEX, EvidenceStore, folder_for, read_payload
from pipeline.jobs import database_errors, open_database
from pipeline.report import report_names
from pipeline.report.document import SCHEMA_VERSION, report_document
from pipeline.results import Verification
from pipeline.store import Store
from pipeline.times import now_iso
from pipeline.verify import Thresholds

REPORT_CAP = 1 << 30  # a report.json read from a WACZ at most


def evidence_folder(settings: Settings) -> Path:
    return folder_for(settings.db, settings.evidence_dir)


def _evidence(settings: Settings, folder: Path | None = None) -> EvidenceStore:
    """The evidence store the settings name, which must exist (a context manager)."""
    return EvidenceStore.open(folder or evidence_folder(settings), label="evidence", create=False)


def _document(store: Store, path: str) -> dict[str, Any]:
    """A document of the database by its path as run (or the same file by another path)."""
    wanted = Path(path)
    documents = store.documents()
    for document in documents:
        if str(Path(document["path"])) == str(wanted):
            return document
    for document in documents:
        if Path(document["path"]).resolve() == wanted.resolve():
            return document
    raise UsageError(f"no document {path} in {store.path}; run `citewatch run {path}` first")


# --- verify --offline -----------------------------------------------------------------


def _reader(folder: Path) -> tuple[Reader, EvidenceStore | None]:
    """Reads kept copies from `folder`: through its index when it has one that opens, else
    straight from the WARC files, writing nothing there (a copy of someone else's store, an
    unpacked WACZ); with no folder at all, every copy is missing (said copy by copy)."""
    if (folder / INDEX).is_file():
        try:
            store = EvidenceStore.open(folder, label="reverify", create=False)
            return store.read, store
        except (EvidenceError, NoEvidenceStore):
            pass

    def read(ref: EvidenceRef) -> Payload:
        if not folder.is_dir():
            raise EvidenceMissing(f"record {ref.record_id} ({ref.url}): no evidence folder {folder}")
        return read_payload(folder, ref, [(ref.warc, ref.offset)])

    return read, None


def _outcome(name: str, verifications: dict[str, Verification], folder: Path, thresholds: Thresholds) -> dict[str, Any]:
    read, store = _reader(folder)
    try:
        done = reverify(verifications, read, thresholds)
    finally:
        if store is not None:
            store.close()
    changed = [r for r in done if r.changed]
    problems = [p for r in done for p in r.problems]
    return {
        "document": name,
        "evidence": str(folder),
        "citations": [r.to_json() for r in done],
        "summary": {"citations": len(done), "same": len(done) - len(changed), "changed": len(changed),
                    "problems": len(problems)},
    }


@database_errors
def reverify_targets(targets: Sequence[str], settings: Settings, evidence: str | None = None) -> list[dict[str, Any]]:
    """Each target made again offline: a document as run (its record in the database), a
    report.json, or a WACZ that `evidence export` wrote (its own report and WARC)."""
    thresholds = Thresholds.of(settings)
    folder = Path(evidence) if evidence else evidence_folder(settings)
    outcomes = []
    for target in targets:
        path = Path(target)
        if path.suffix == ".wacz":
            outcomes.append(_reverify_wacz(path, thresholds))
        elif path.suffix == ".json":
            outcomes.append(_outcome(target, _recorded_in_report(_load_report(path)), folder, thresholds))
        else:
            with open_database(settings) as store:
                results = store.load_results(_document(store, target)["id"])
            recorded = {c.citation.id: c.verification for c in results.citations if c.verification is not None}
            outcomes.append(_outcome(target, recorded, folder, thresholds))
    return outcomes


def _load_report(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not a readable report.json ({exc})") from exc
    if not isinstance(report, dict) or "citations" not in report:
        raise UsageError(f"{path}: not a citewatch report.json")
    if report.get("schema_version") != SCHEMA_VERSION:
        raise UsageError(f"{path}: schema_version {report.get('schema_version')}: only reports of schema "
                         f"{SCHEMA_VERSION} name the bytes their verdicts rest on")
    return report


def _recorded_in_report(report: dict[str, Any]) -> dict[str, Verification]:
    recorded = {}
    for citation in report["citations"]:
        try:
            verification = verification_from_json(citation)
        except (KeyError, ValueError, TypeError) as exc:
            raise UsageError(f"citation {citation.get('id')}: not a verdict record ({exc})") from exc
        if verification is not None:
            recorded[citation["id"]] = verification
    return recorded


def _reverify_wacz(path: Path, thresholds: Thresholds) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="citewatch-reverify-") as work:
        try:
            with zipfile.ZipFile(path) as wacz:
                names = wacz.namelist()
                if package.REPORT_IN_WACZ not in names:
                    raise UsageError(f"{path}: no {package.REPORT_IN_WACZ}: not a WACZ citewatch wrote")
                for name in names:
                    if name.startswith("archive/") and name.endswith(".warc.gz") and "/" not in name[8:]:
                        with wacz.open(name) as source, open(Path(work) / name[8:], "wb") as target:
                            shutil.copyfileobj(source, target)  # streamed: a WARC may be large
                report_path = Path(work) / "report.json"
                if wacz.getinfo(package.REPORT_IN_WACZ).file_size > REPORT_CAP:
                    raise UsageError(f"{path}: its report is over {REPORT_CAP:,} bytes")
                report_path.write_bytes(wacz.read(package.REPORT_IN_WACZ))
        except (OSError, zipfile.BadZipFile) as exc:
            raise UsageError(f"{path}: not a readable WACZ ({exc})") from exc
        return _outcome(str(path), _recorded_in_report(_load_report(report_path)), Path(work), thresholds) | \
            {"evidence": str(path)}


# --- the evidence commands ------------------------------------------------------------


@database_errors
def list_evidence(settings: Settings, document: str | None = None) -> dict[str, Any]:
    """Without a document: each WARC file (the run that wrote it, its records, its size).
    With one: every copy its current verdicts rest on, and whether its record is kept."""
    folder = evidence_folder(settings)
    with _evidence(settings, folder) as evidence:
        if document is None:
            files = evidence.files()
            return {"folder": str(folder), "files": files, "bytes": evidence.size(), "budget": settings.evidence_budget}
        with open_database(settings) as store:
            results = store.load_results(_document(store, document)["id"])
        report = report_document(results)
        refs = package.refs_of(report)
        indexed = evidence.records(ref.record_id for ref in refs)
        kept = {k: row for k, row in indexed.items() if evidence.on_disk(row["warc"])}  # the index alone is no copy
        copies = []
        for citation in report["citations"]:
            for copy in citation["copies"]:
                ref = copy["evidence"]
                row = kept.get(ref["record_id"]) if ref else None
                copies.append({"citation": citation["id"], "verdict": citation["verdict"], "kind": copy["kind"],
                               "url": copy["url"], "date": ref["date"] if ref else copy["timestamp"],
                               "sha256": ref["sha256"] if ref else None, "warc": row["warc"] if row else None,
                               "record_id": ref["record_id"] if ref else None,
                               "bytes": row["payload_bytes"] if row else None,
                               "kept": bool(row), "reason": copy["reason"]})
        return {"folder": str(folder), "document": document, "copies": copies}


@database_errors
def prune_evidence(settings: Settings) -> dict[str, Any]:
    """Drop every record no current verdict rests on, under the database's lock (a run
    going on may be writing revisits of kept records)."""
    with open_database(settings) as store:
        store.acquire_lock(now_iso())
        try:
            needed = store.evidence_in_use()
            with _evidence(settings) as evidence:
                before = evidence.size()
                pruned = evidence.prune(needed)
                return {**pruned, "bytes_before": before, "bytes_after": evidence.size(), "kept_records": len(needed)}
        finally:
            store.release_lock()


@database_errors
def export_document(settings: Settings, document: str, out: str | None = None) -> dict[str, Any]:
    """One document's evidence as a WACZ: default `<reports>/<document-name>/evidence.wacz`."""
    with open_database(settings) as store:
        row = _document(store, document)
        report = report_document(store.load_results(row["id"]))
        name = report_names(d["path"] for d in store.documents())[row["path"]]
    target = Path(out) if out else Path(settings.reports_dir) / name / "evidence.wacz"
    with _evidence(settings) as evidence:
        return package.export_wacz(report, evidence, target, title=f"citewatch evidence: {document}")


@database_errors
def serve_evidence(settings: Settings, host: str, port: int) -> int:
    with _evidence(settings) as evidence:
        return package.serve(evidence, host, port)
