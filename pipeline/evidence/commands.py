"""What the `evidence` commands and `verify --offline` do, over the database and the
evidence folder the settings name: plain data in, plain data out.

`verify --offline` changes nothing it reads: a report, an evidence folder or a WACZ may be
someone else's, so it is read as data (docs/security.md): no recovery, no index rebuilt, no
file renamed; every name it gives is a plain file name of the folder; every record is read
with the page's byte cap; and whatever in a report cannot be made again is a problem named,
never a citation silently passed."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.errors import UsageError
from pipeline.evidence import package
from pipeline.evidence.model import (
    EvidenceMissing,
    EvidenceRef,
    Payload,
)
from pipeline.evidence.reverify import Reader, reverify, verification_from_json
from pipeline.evidence.store import INDEX, EvidenceStore, folder_for, open_regular, plain_name, read_payload
from pipeline.history import database_errors, open_database
from pipeline.model import Verdict
from pipeline.report import report_names
from pipeline.report.document import EVIDENCE_SCHEMAS, report_document
from pipeline.results import Verification
from pipeline.store import Store
from pipeline.times import now_iso
from pipeline.verify import Thresholds

REPORT_CAP = 256 * 2**20  # a report.json read at most (from a file or a WACZ)
WACZ_RATIO = 20  # a WACZ's members unpack to at most this many times its size (its WARCs are already gzip)
_DEPTH = 64  # a report nested deeper than this is not one citewatch wrote


def evidence_folder(settings: Settings) -> Path:
    return folder_for(settings.db, settings.evidence_dir)


def open_evidence(settings: Settings, *, label: str = "evidence", create: bool = True) -> EvidenceStore:
    """The operator's own evidence store, as the settings name it (a context manager): its
    files carry this database's name, and payloads are read back within max_body_bytes."""
    return EvidenceStore.of_database(settings.db, settings.evidence_dir, read_cap=settings.max_body_bytes, label=label,
                                     create=create)


def _evidence(settings: Settings) -> EvidenceStore:
    """The evidence store the settings name, which must exist."""
    return open_evidence(settings, create=False)


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


@contextlib.contextmanager
def _reader(folder: Path, cap: int, *, own: bool) -> Iterator[Reader]:
    """Reads kept copies from `folder`, writing nothing there. The operator's own folder is
    looked up in its index (opened read-only); a received one (a copy of someone else's
    store, an unpacked WACZ) only by the places its report names, then file by file; with no
    folder at all, every copy is missing (said copy by copy)."""
    index = None
    if own and (folder / INDEX).is_file():
        with contextlib.suppress(sqlite3.Error):
            index = sqlite3.connect(f"{(folder / INDEX).resolve().as_uri()}?mode=ro", uri=True)

    def places(ref: EvidenceRef) -> list[tuple[str, int]]:
        if index is None:
            return []
        try:
            row = index.execute("SELECT warc, offset FROM records WHERE record_id = ?", (ref.record_id,)).fetchone()
        except sqlite3.Error:
            return []
        return [(row[0], row[1])] if row else []

    def read(ref: EvidenceRef) -> Payload:
        if not folder.is_dir():
            raise EvidenceMissing(f"record {ref.record_id} ({ref.url}): no evidence folder {folder}")
        return read_payload(folder, ref, [*places(ref), (ref.warc, ref.offset)], cap=cap)

    try:
        yield read
    finally:
        if index is not None:
            index.close()


def _outcome(name: str, recorded: Recorded, folder: Path, thresholds: Thresholds, cap: int, *,
             own: bool) -> dict[str, Any]:
    with _reader(folder, cap, own=own) as read:
        done = reverify(recorded.verifications, read, thresholds)
    changed = [r for r in done if r.changed]
    citations = [r.to_json() for r in done]
    unmade = dict(recorded.problems)
    for citation in citations:
        citation["problems"] += unmade.pop(citation["id"], [])
    citations += [{"id": citation_id, "verdict_then": None, "verdict_now": None, "changed": False,
                   "problems": problems, "passages": []} for citation_id, problems in unmade.items()]
    problems = sum(len(c["problems"]) for c in citations)
    return {
        "document": name,
        "evidence": str(folder),
        "citations": citations,
        "summary": {"citations": len(done), "same": len(done) - len(changed), "changed": len(changed),
                    "problems": problems},
    }


@database_errors
def reverify_targets(targets: Sequence[str], settings: Settings, evidence: str | None = None) -> list[dict[str, Any]]:
    """Each target made again offline: a document as run (its record in the database), a
    report.json, or a WACZ that `evidence export` wrote (its own report and WARC). A folder
    given with `evidence` that is not this database's own is read as someone else's."""
    thresholds = Thresholds.of(settings)
    own_folder = evidence_folder(settings)
    folder = Path(evidence) if evidence else own_folder
    own = folder.resolve() == own_folder.resolve()
    cap = settings.max_body_bytes
    outcomes = []
    for target in targets:
        path = Path(target)
        if path.suffix == ".wacz":
            outcomes.append(_reverify_wacz(path, thresholds, cap))
        elif path.suffix == ".json":
            outcomes.append(_outcome(target, recorded_in_report(_load_report(path)), folder, thresholds, cap, own=own))
        else:
            with open_database(settings) as store:
                results = store.load_results(_document(store, target)["id"])
            recorded = Recorded({c.citation.id: c.verification for c in results.citations
                                 if c.verification is not None}, {})
            outcomes.append(_outcome(target, recorded, folder, thresholds, cap, own=own))
    return outcomes


def _load_report(path: Path, data: bytes | None = None) -> dict[str, Any]:
    """A report.json (its bytes when already read): UsageError (bad input, exit 2) for one
    that is not readable, too large, too deep, or not of the schema that names evidence."""
    try:
        if data is None:
            stream = _regular_stream(path)
            with stream:
                data = stream.read(REPORT_CAP + 1)
        if len(data) > REPORT_CAP:
            raise UsageError(f"{path}: over {REPORT_CAP:,} bytes: not a report citewatch wrote")
        if _depth(data) > _DEPTH:
            raise UsageError(f"{path}: nested deeper than {_DEPTH} levels: not a report citewatch wrote")
        report = json.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise UsageError(f"{path}: not a readable report.json ({exc})") from exc
    if not isinstance(report, dict) or not isinstance(report.get("citations"), list):
        raise UsageError(f"{path}: not a citewatch report.json")
    if report.get("schema_version") not in EVIDENCE_SCHEMAS:
        raise UsageError(f"{path}: schema_version {report.get('schema_version')}: only reports of schema "
                         f"{' or '.join(map(str, EVIDENCE_SCHEMAS))} name the bytes their verdicts rest on")
    return report


def _depth(data: bytes) -> int:
    """How deep JSON brackets nest (strings skipped), without parsing: json.loads recurses."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


@dataclasses.dataclass(frozen=True)
class Recorded:
    """What a report records, ready to be made again: the verifications by citation id, and
    what in the report cannot be (by citation id, or `#n` for a citation with no usable id)."""

    verifications: dict[str, Verification]
    problems: dict[str, list[str]]


def recorded_in_report(report: dict[str, Any]) -> Recorded:
    """Each citation of a report as a recorded verification. Whatever cannot be made again is
    a problem named, never dropped: a citation that is not a record, an id given twice, a
    verdict that names no copy it was made on, a passage's bytes that are none of the
    copies'."""
    verifications: dict[str, Verification] = {}
    problems: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for number, citation in enumerate(report["citations"], 1):
        given = citation.get("id") if isinstance(citation, dict) else None
        key = given if isinstance(given, str) else f"#{number}"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            problems.setdefault(key, []).append(f"citation id {key} is given more than once: a report names each "
                                                "citation once, so which record holds is not known")
            verifications.pop(key, None)
        if seen[key] > 1:
            continue
        try:
            verification = verification_from_json(citation)
            trouble = _unbacked(citation, verification)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            problems.setdefault(key, []).append(f"not a verdict record ({type(exc).__name__}: {exc})")
            continue
        if trouble:
            problems.setdefault(key, []).extend(trouble)
        if verification is not None:
            verifications[key] = verification
    return Recorded(verifications, problems)


def _unbacked(citation: dict[str, Any], verification: Verification | None) -> list[str]:
    """What a citation claims that its own record does not back."""
    verdict = citation.get("verdict")
    if verification is None:
        if verdict not in (None, Verdict.UNVERIFIABLE.value):
            return [f"recorded as {verdict} but names no copy it was made on: nothing to make it again from"]
        return []
    kept = {copy.evidence.sha256 for copy in verification.copies if copy.evidence is not None}
    trouble = []
    for passage in verification.passages:
        if passage.evidence is not None and passage.evidence.sha256 not in kept:
            trouble.append(f"line {passage.line}: its evidence (sha256:{passage.evidence.short}) is none of the "
                           "copies the citation names")
    return trouble


def _reverify_wacz(path: Path, thresholds: Thresholds, cap: int) -> dict[str, Any]:
    """A WACZ's report made again from its own WARCs, unpacked to a folder of our own (its
    members streamed out; in all at most WACZ_RATIO times the package's size)."""
    with tempfile.TemporaryDirectory(prefix="citewatch-reverify-") as work:
        try:
            stream = _regular_stream(path)
            budget = WACZ_RATIO * max(path.stat().st_size, 1 << 20)
            with stream, zipfile.ZipFile(stream) as wacz:
                names = wacz.namelist()
                if package.REPORT_IN_WACZ not in names:
                    raise UsageError(f"{path}: no {package.REPORT_IN_WACZ}: not a WACZ citewatch wrote")
                for name in dict.fromkeys(names):
                    member = name[len("archive/"):]
                    if name.startswith("archive/") and plain_name(member):
                        with wacz.open(name) as source, open(Path(work) / member, "xb") as target:
                            budget -= _copy_capped(source, target, budget, f"{path}: its WARCs unpack to more "
                                                   f"than {WACZ_RATIO} times its size: not unpacked")
                with wacz.open(package.REPORT_IN_WACZ) as member_stream:
                    data = member_stream.read(REPORT_CAP + 1)
        except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
            raise UsageError(f"{path}: not a readable WACZ ({exc})") from exc
        report = _load_report(path, data)
        return _outcome(str(path), recorded_in_report(report), Path(work), thresholds, cap, own=False) | \
            {"evidence": str(path)}


def _regular_stream(path: Path) -> Any:
    """A received file opened to read: a regular file, not a FIFO or a device that would
    block or never end."""
    stream = open_regular(path, follow=True)  # named by the user: a link to it will do
    if stream is None:
        if not path.exists():
            raise UsageError(f"{path}: no such file")
        raise UsageError(f"{path}: not a regular file (a FIFO, a device): not read")
    return stream


def _copy_capped(source: Any, target: Any, budget: int, message: str) -> int:
    """Copy in chunks; UsageError with `message` past `budget` bytes. Returns bytes copied."""
    copied = 0
    while chunk := source.read(1 << 20):
        copied += len(chunk)
        if copied > budget:
            raise UsageError(message)
        target.write(chunk)
    return copied


# --- the evidence commands ------------------------------------------------------------


@database_errors
def list_evidence(settings: Settings, document: str | None = None) -> dict[str, Any]:
    """Without a document: each WARC file (the run that wrote it, its records, its size).
    With one: every copy its current verdicts rest on, and whether its record is kept."""
    folder = evidence_folder(settings)
    with _evidence(settings) as evidence:
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
