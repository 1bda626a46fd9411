"""The evidence store: a folder of WARC files (written with warcio) and their index.

Every copy verification reads is kept as it is read: a `response` record whose payload is
the bytes the verdict was made on (the memento's own date as `WARC-Date`, its original URL
as `WARC-Target-URI`), then for an archived copy a `metadata` record naming its replay URL.
A payload already kept (same SHA-256) is written again only as a `revisit` record that
points at the first. The index (`index.sqlite` in the folder; for a PostgreSQL database, in
that database, so that workers on many machines can share one folder on a network file
system) finds a record by id and a payload by digest; it is a cache of what the WARC files
say, and the files stand alone.

Each writer appends to its own file, `<name>.warc.gz.open`, holding an exclusive lock on it,
and renames it to `<name>.warc.gz` when done. A record enters the index only once its
bytes are flushed, so a killed writer leaves complete records plus perhaps a torn tail:
the next store opened on the folder cuts the tail off at the last indexed record and
renames the file. Readers and `evidence serve` only ever see whole records.

A folder may hold what someone else wrote (a copy of their store, an unpacked WACZ, a
folder two databases share), so every name taken from the index or a report must be a plain
file name of the folder, and only regular files are opened, renamed, cut or deleted: a
symbolic link, a FIFO or a device named `*.warc.gz` is refused (docs/security.md). Each
file records which database wrote it (`owner`, a hash of the database's path), so that one
database's prune never drops what another's verdicts rest on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import io
import logging
import os
import secrets
import sqlite3
import stat
import threading
import zlib
from base64 import b32decode, b32encode
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline import __version__
from pipeline.database import Database, DatabaseError, SQLiteDatabase, driver_errors, is_postgres, open_database, statements
from pipeline.evidence.model import (
    EvidenceAltered,
    EvidenceError,
    EvidenceMissing,
    EvidenceRef,
    Exchange,
    NoEvidenceStore,
    Payload,
)
from pipeline.model import CopyKind
from pipeline.redact import redact_url
from pipeline.times import now_iso

log = logging.getLogger(__name__)
INDEX = "index.sqlite"
OPEN = ".open"  # a file still being written
PRUNING = ".pruning"  # a file being rewritten by prune
SUFFIX = ".warc.gz"
# What warcio raises on a damaged or torn file (a record cut inside its headers: AttributeError).
UNREADABLE = (ArchiveLoadFailed, zlib.error, EOFError, ValueError, OSError, AttributeError)
READ_CAP = 256 * 2**20  # a payload read back at most when no setting says less (readers pass max_body_bytes)
_CORRUPT = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB: an index that is no database; a full disk is not that
# Headers that describe the transfer, not the payload kept: the body is stored decoded.
_TRANSFER = {"content-encoding", "transfer-encoding", "content-length", "connection", "keep-alive"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    record_id TEXT PRIMARY KEY,
    warc TEXT NOT NULL,
    "offset" INTEGER NOT NULL,
    length INTEGER NOT NULL,
    type TEXT NOT NULL,
    kind TEXT,
    url TEXT NOT NULL,
    date TEXT NOT NULL,
    sha256 TEXT,
    payload_bytes INTEGER,
    refers_to TEXT,
    written_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_payload ON records (sha256, type);
CREATE INDEX IF NOT EXISTS records_by_file ON records (warc, "offset");
CREATE TABLE IF NOT EXISTS files (
    name TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    owner TEXT
);
"""


def owner_of(db: str) -> str:
    """The name a database's files carry in a shared evidence folder: a hash of its path
    (the path itself would travel in every exported WARC)."""
    where = db if db == ":memory:" else redact_url(db) if is_postgres(db) else str(Path(db).resolve())
    return hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def plain_name(name: str) -> bool:
    """Whether a name taken from an index or a report is a WARC file's own name in the
    folder: no folder part, no `..`, nothing but a `.warc.gz` name."""
    return isinstance(name, str) and name.endswith(SUFFIX) and "/" not in name and "\x00" not in name


def regular_file(path: Path) -> bool:
    """A regular file itself, not a link to one, nor a FIFO, device or socket."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def open_regular(path: Path, *, follow: bool = False) -> BinaryIO | None:
    """`path` opened to read when it is a regular file, never blocking on a FIFO, and never
    following a link unless `follow`; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except OSError:
        os.close(fd)
        return None


def folder_for(db: str, evidence_dir: str = "") -> Path:
    """Where evidence is kept: `evidence_dir`, else `citewatch-evidence` next to the database
    (in the working folder for a database that is no file: `:memory:`, a PostgreSQL URL)."""
    if evidence_dir:
        return Path(evidence_dir)
    return (Path(db).parent if db != ":memory:" and not is_postgres(db) else Path.cwd()) / "citewatch-evidence"


@dataclasses.dataclass(frozen=True)
class Written:
    """What one writer added: new payloads, revisits of kept ones, bytes on disk."""

    responses: int = 0
    revisits: int = 0
    bytes: int = 0

    def __add__(self, other: Written) -> Written:
        return Written(self.responses + other.responses, self.revisits + other.revisits, self.bytes + other.bytes)

    def to_json(self) -> dict[str, int]:
        return dataclasses.asdict(self)


class EvidenceStore:
    """One evidence folder. `keep` may be called from many threads at once."""

    def __init__(self, folder: Path, db: Database, label: str, owner: str | None = None,
                 read_cap: int = READ_CAP) -> None:
        self.folder = folder
        self.db = db
        self.label = label
        self.owner = owner  # the database whose verdicts this writer's records serve (owner_of)
        self.read_cap = read_cap  # a payload read back at most (the runs' max_body_bytes)
        self.notes: list[str] = []  # what opening the store had to repair
        self.written = Written()
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        self._writer_of_file: WARCWriter | None = None
        self._name = ""

    @classmethod
    def open(cls, folder: str | Path, *, label: str = "verify", create: bool = True,
             owner: str | None = None, read_cap: int = READ_CAP, index: str | None = None) -> EvidenceStore:
        """The store in `folder` (created when missing, unless `create` is false), with the
        leftovers of killed writers made whole first. Only for a folder of the operator's
        own: a received one is read with `read_payload`, which changes nothing. The index is
        `index.sqlite` in the folder, or with `index` (a PostgreSQL URL) in that database."""
        folder = Path(folder)
        notes = []
        try:
            if not folder.is_dir():
                if not create:
                    raise NoEvidenceStore(f"{folder}: no evidence kept here; `citewatch run` keeps it, "
                                          "next to the database unless evidence_dir says otherwise")
                folder.mkdir(parents=True, exist_ok=True)
            if index is not None:
                db, fresh = _connect_database(index)
            else:
                fresh = not (folder / INDEX).exists()
            try:
                if index is None:
                    db = _connect(folder)
            except sqlite3.DatabaseError as exc:  # not a database any more: set aside, made again
                if (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF not in _CORRUPT:
                    raise  # a full disk, a lock, no permission: said as it is, the index left as it is
                aside = folder / f"{INDEX}.broken-{secrets.token_hex(3)}"
                os.replace(folder / INDEX, aside)
                for extra in ("-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(folder / (INDEX + extra))
                notes.append(f"the index of {folder} could not be read ({exc}); it was set aside as {aside.name} "
                             "and made again from the WARC files")
                db, fresh = _connect(folder), True
        except _failures() as exc:
            raise EvidenceError(f"{folder}: cannot open the evidence store: {exc}") from exc
        store = cls(folder, db, label, owner, read_cap)
        store.notes = notes
        if fresh and any(folder.glob("*" + SUFFIX)):
            store.reindex()
            if not notes:
                store.notes.append(f"{folder} had no index: it was made again from the WARC files")
        store.recover()
        for note in store.notes:
            log.warning(note)
        return store

    @classmethod
    def of_database(cls, db: str, evidence_dir: str = "", *, read_cap: int = READ_CAP, label: str = "evidence",
                    create: bool = True) -> EvidenceStore:
        """The evidence store of a database (its folder as `folder_for` says): the files it
        writes carry the database's name (`owner_of`), and payloads are read back within
        `read_cap` (the settings' max_body_bytes)."""
        return cls.open(folder_for(db, evidence_dir), label=label, create=create, owner=owner_of(db),
                        read_cap=read_cap, index=db if is_postgres(db) else None)

    # --- writing ----------------------------------------------------------------------

    def keep(self, exchange: Exchange) -> EvidenceRef:
        """Write one copy as read; return where its payload is kept."""
        sha = exchange.sha256
        with self._lock:
            try:
                return self._keep(exchange, sha)
            except _failures() as exc:
                raise EvidenceError(f"{self.folder}: cannot write evidence: {exc}") from exc

    def _keep(self, exchange: Exchange, sha: str) -> EvidenceRef:
        stream, writer = self._writer()
        page_headers, archive_headers = split_headers(exchange)
        http_headers = _http_headers(exchange.status, page_headers, len(exchange.body))
        digest = "sha256:" + b32encode(bytes.fromhex(sha)).decode()
        warc_date = exchange.date
        known = self.db.execute(
            'SELECT record_id, warc, "offset", url, date FROM records WHERE sha256 = ? AND type = \'response\' '
            "ORDER BY written_at LIMIT 1", (sha,)).fetchone()
        extra = {"WARC-Truncated": "length"} if exchange.truncated else {}
        if known is None:
            record = writer.create_warc_record(
                exchange.url, "response", payload=io.BytesIO(exchange.body), length=len(exchange.body),
                http_headers=http_headers,
                warc_headers_dict={"WARC-Date": warc_date, "WARC-Payload-Digest": digest, **extra})
        else:
            record = writer.create_revisit_record(
                exchange.url, digest, known["url"], known["date"], http_headers=http_headers,
                warc_headers_dict={"WARC-Date": warc_date, "WARC-Refers-To": known["record_id"], **extra})
        record_id = record.rec_headers.get_header("WARC-Record-ID")
        start = stream.tell()
        try:
            rows = [self._append(stream, writer, record, exchange, sha, known["record_id"] if known else None)]
            if exchange.kind is CopyKind.ARCHIVE:
                rows.append(self._append(stream, writer, _metadata(writer, exchange, record_id, sha, archive_headers),
                                         exchange, None, record_id))
            stream.flush()
            with self._transaction():
                self.db.executemany(
                    'INSERT INTO records (record_id, warc, "offset", length, type, kind, url, date, sha256, '
                    "payload_bytes, refers_to, written_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except BaseException:
            # a record half written (a full disk) or not indexed is taken back, so that the
            # next one starts where a reader expects a record
            with contextlib.suppress(OSError):
                stream.seek(start)
                stream.truncate()
            raise
        added = sum(row[3] for row in rows)
        content_type = http_headers.get_header("Content-Type") or ""  # what the verdict reads the bytes as
        if known is None:
            self.written += Written(1, 0, added)
            return EvidenceRef(sha, self._name, record_id, rows[0][2], exchange.url, exchange.date,
                               content_type=content_type)
        self.written += Written(0, 1, added)
        return EvidenceRef(sha, known["warc"], known["record_id"], known["offset"], exchange.url, exchange.date,
                           revisit=record_id, content_type=content_type)

    def _append(self, stream: BinaryIO, writer: WARCWriter, record: Any, exchange: Exchange, sha: str | None,
                refers_to: str | None) -> tuple:
        offset = stream.tell()
        writer.write_record(record)
        kind = record.rec_headers.get_header("WARC-Type")
        return (record.rec_headers.get_header("WARC-Record-ID"), self._name, offset, stream.tell() - offset, kind,
                exchange.kind.value, exchange.url, exchange.date, sha,
                len(exchange.body) if kind != "metadata" else None, refers_to, now_iso())

    def _writer(self) -> tuple[BinaryIO, WARCWriter]:
        if self._file is None:
            stamp = now_iso().replace("-", "").replace(":", "").replace("T", "").rstrip("Z")
            self._name = f"citewatch-{stamp}-{os.getpid()}-{secrets.token_hex(3)}{SUFFIX}"
            stream = open(self.folder / (self._name + OPEN), "xb")
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._file = stream
            with self._transaction():
                self.db.execute("INSERT INTO files (name, label, started_at, owner) VALUES (?, ?, ?, ?)",
                                (self._name, self.label, now_iso(), self.owner))
            writer = WARCWriter(stream, gzip=True, warc_version="1.1")
            info = writer.create_warcinfo_record(self._name, {"software": f"citewatch {__version__}",
                                                              "format": "WARC File Format 1.1",
                                                              "description": f"evidence of {self.label}",
                                                              **({"citewatch-owner": self.owner} if self.owner else {})})
            writer.write_record(info)
            stream.flush()
            self._writer_of_file = writer
        assert self._writer_of_file is not None
        return self._file, self._writer_of_file

    def close(self) -> None:
        """Finish this writer's file (renamed into place) and close the index."""
        with self._lock:
            if self._file is not None:
                self._file.flush()
                os.fsync(self._file.fileno())
                os.replace(self.folder / (self._name + OPEN), self.folder / self._name)
                self._file.close()
                self._file = None
                with self._transaction():
                    self.db.execute("UPDATE files SET finished_at = ? WHERE name = ?", (now_iso(), self._name))
            self.db.close()

    def __enter__(self) -> EvidenceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        return self.db.transaction()

    def reindex(self) -> int:
        """Make the index again from what the finished WARC files say (the index is a cache
        of them): each record's place, type, URL, date and payload digest; a copy's kind
        from the metadata record beside it. Returns the records indexed."""
        rows: list[list[Any]] = []
        kinds: dict[str, str] = {}
        files: list[tuple[str, str, str, str | None]] = []
        for path in self.warc_paths():
            started, label, owner = "", "reindexed", None
            stream = open_regular(path)
            if stream is None:
                continue
            with stream:
                records = ArchiveIterator(stream)
                try:
                    for record in records:
                        headers = record.rec_headers
                        kind = record.rec_type
                        body = record.raw_stream.read(READ_CAP) if kind in ("response", "metadata", "warcinfo") \
                            else b""
                        records.read_to_end(record)
                        fields = _fields(body) if kind in ("metadata", "warcinfo") else {}
                        if kind == "warcinfo":
                            started = headers.get_header("WARC-Date") or ""
                            label = fields.get("description", "").removeprefix("evidence of ") or label
                            owner = fields.get("citewatch-owner") or None
                            continue
                        record_id = headers.get_header("WARC-Record-ID")
                        sha = hashlib.sha256(body).hexdigest() if kind == "response" else \
                            _hex_digest(headers.get_header("WARC-Payload-Digest"))
                        refers_to = headers.get_header("WARC-Refers-To") or headers.get_header("WARC-Concurrent-To")
                        if kind == "metadata":
                            kinds[refers_to or ""] = fields.get("citewatch-kind", CopyKind.ARCHIVE.value)
                            sha = None
                        length = int(record.http_headers.get_header("Content-Length") or 0) \
                            if kind == "revisit" and record.http_headers else len(body)
                        rows.append([record_id, path.name, records.get_record_offset(), records.get_record_length(),
                                     kind, None, headers.get_header("WARC-Target-URI") or "",
                                     headers.get_header("WARC-Date") or "", sha,
                                     None if kind == "metadata" else length, refers_to, now_iso()])
                except UNREADABLE:
                    self.notes.append(f"{path.name}: a damaged record; the records after it are not indexed")
            files.append((path.name, label, started or now_iso(), owner))
        for row in rows:
            row[5] = kinds.get(row[0], CopyKind.LIVE.value)
        with self._transaction():
            self.db.execute("DELETE FROM records")
            self.db.execute("DELETE FROM files")
            self.db.executemany('INSERT INTO records (record_id, warc, "offset", length, type, kind, url, date, '
                                "sha256, payload_bytes, refers_to, written_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                                "ON CONFLICT DO NOTHING", rows)
            self.db.executemany("INSERT INTO files (name, label, started_at, finished_at, owner) VALUES (?, ?, ?, ?, ?)",
                                [(name, label, started, started, owner) for name, label, started, owner in files])
        return len(rows)

    # --- the leftovers of killed writers ------------------------------------------------

    def recover(self) -> list[str]:
        """Files of writers that died: cut at the end of their last indexed record and
        renamed into place (an unindexed tail may be torn). Files being written are left."""
        done = []
        for partial in sorted(self.folder.glob("*" + SUFFIX + OPEN)):
            name = partial.name[:-len(OPEN)]
            if not regular_file(partial):  # a link or a FIFO planted in the folder: never cut, never renamed
                self.notes.append(f"{partial.name}: not a regular file; left alone")
                continue
            try:
                fd = os.open(partial, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                continue
            with os.fdopen(fd, "r+b") as stream:
                try:
                    fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its writer is alive
                end = self.db.execute('SELECT MAX("offset" + length) FROM records WHERE warc = ?', (name,)).fetchone()[0]
                if end is None:
                    partial.unlink()
                    continue
                stream.truncate(end)
                os.fsync(stream.fileno())
            os.replace(partial, self.folder / name)
            done.append(name)
        for leftover in self.folder.glob("*" + PRUNING):  # a prune that died before it committed
            if regular_file(leftover):
                leftover.unlink()
        return done

    # --- reading ----------------------------------------------------------------------

    def read(self, ref: EvidenceRef) -> Payload:
        """The payload a reference names, its SHA-256 checked. Raises EvidenceMissing (no
        such record) or EvidenceAltered (the bytes or the file changed)."""
        row = self.db.execute('SELECT warc, "offset" FROM records WHERE record_id = ?', (ref.record_id,)).fetchone()
        places = [(row["warc"], row["offset"])] if row else []
        places.append((ref.warc, ref.offset))
        return read_payload(self.folder, ref, places, cap=self.read_cap)

    # --- what is kept -----------------------------------------------------------------

    def files(self) -> list[dict[str, Any]]:
        """Each WARC file: the writer that made it, when, its records and size."""
        rows = self.db.execute(
            "SELECT f.name, f.label, f.started_at, f.finished_at, "
            "SUM(CASE WHEN r.type = 'response' THEN 1 ELSE 0 END) AS responses, "
            "SUM(CASE WHEN r.type = 'revisit' THEN 1 ELSE 0 END) AS revisits, "
            "COALESCE(SUM(r.length), 0) AS bytes FROM files f LEFT JOIN records r ON r.warc = f.name "
            # in the order they were made (PostgreSQL has no rowid: within a second, by name)
            f"GROUP BY f.name ORDER BY f.started_at, {'f.rowid' if self.db.kind == 'sqlite' else 'f.name'}")
        return [dict(row) | {"responses": row["responses"] or 0, "revisits": row["revisits"] or 0,
                             "on_disk": self._size(row["name"])} for row in rows]

    def written_since(self, at: str) -> Written:
        """What every writer of this index added since `at` (a run shared with workers: each
        wrote its own part)."""
        row = self.db.execute(
            "SELECT SUM(CASE WHEN type = 'response' THEN 1 ELSE 0 END), SUM(CASE WHEN type = 'revisit' THEN 1 ELSE 0 END), "
            "COALESCE(SUM(length), 0) FROM records WHERE written_at >= ?", (at,)).fetchone()
        return Written(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))

    def on_disk(self, name: str) -> bool:
        """Whether the WARC file `name` is in the folder (finished, or still being written)."""
        return plain_name(name) and (regular_file(self.folder / name) or regular_file(self.folder / (name + OPEN)))

    def _size(self, name: str) -> int:
        for candidate in (self.folder / name, self.folder / (name + OPEN)):
            if plain_name(name) and regular_file(candidate):
                return candidate.stat().st_size
        return 0

    def size(self) -> int:
        """Bytes of the WARC files on disk."""
        return sum(p.stat().st_size for p in self.folder.iterdir()
                   if p.name.endswith((SUFFIX, SUFFIX + OPEN)) and regular_file(p))

    def records(self, record_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = list(record_ids)
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self.db.execute(f"SELECT * FROM records WHERE record_id IN ({','.join('?' * len(chunk))})", chunk)
            found.update((row["record_id"], dict(row)) for row in rows)
        return found

    def with_metadata(self, record_ids: Iterable[str]) -> list[dict[str, Any]]:
        """The records `record_ids` name and the metadata records that describe them, in
        file order (what a package of them holds)."""
        found = self.records(record_ids)
        ids = list(found)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self.db.execute(f"SELECT * FROM records WHERE type = 'metadata' AND refers_to IN "
                                   f"({','.join('?' * len(chunk))})", chunk)
            found.update((row["record_id"], dict(row)) for row in rows)
        return sorted(found.values(), key=lambda row: (row["warc"], row["offset"]))

    def raw_record(self, row: Mapping[str, Any]) -> bytes:
        """A record's bytes as stored (one gzip member)."""
        stream = _open_warc(self.folder, row["warc"])
        if stream is None:
            raise EvidenceMissing(f"{row['warc']} is not in {self.folder}")
        with stream:
            stream.seek(row["offset"])
            return stream.read(row["length"])

    def warc_paths(self) -> list[Path]:
        """The finished WARC files (regular files only)."""
        return warc_files(self.folder)

    # --- pruning ----------------------------------------------------------------------

    def prune(self, needed: Iterable[str]) -> dict[str, int]:
        """Drop every record of this database's files that no reference in `needed` (record
        ids) rests on: a file whose records are all needed stays as it is, one with none
        goes, one with some is rewritten with those (and their metadata), under its own
        name. Files being written are left alone, and so are the files of other databases
        sharing the folder and every record theirs refer to; a file written before files
        named their database counts as this one's only when no other database has written
        here. A name the index gives that is not a plain WARC file of the folder is never
        touched."""
        with self._lock:
            owners = {row[0] for row in self.db.execute("SELECT DISTINCT owner FROM files WHERE owner IS NOT NULL")}
            others = owners - {self.owner}
            mine = {row["name"] for row in self.db.execute("SELECT name, owner FROM files")
                    if row["owner"] == self.owner or (row["owner"] is None and not others)}
            keep = set(needed)
            keep |= {row["refers_to"] for row in self.db.execute("SELECT warc, refers_to FROM records WHERE "
                                                                 "refers_to IS NOT NULL") if row["warc"] not in mine}
            keep |= {row["record_id"] for row in self.db.execute("SELECT record_id, refers_to FROM records "
                                                                  "WHERE type = 'metadata'") if row["refers_to"] in keep}
            freed = dropped = 0
            shared = 0
            for name in [row["name"] for row in self.db.execute("SELECT DISTINCT warc AS name FROM records")]:
                if name not in mine:
                    shared += 1
                    continue
                path = self.folder / name
                if not plain_name(name) or not regular_file(path):
                    continue  # being written (.open), gone, or a name no file of ours has
                rows = self.db.execute('SELECT * FROM records WHERE warc = ? ORDER BY "offset"', (name,)).fetchall()
                kept = [row for row in rows if row["record_id"] in keep]
                if len(kept) == len(rows):
                    continue
                before = path.stat().st_size
                dropped += len(rows) - len(kept)
                if not kept:
                    with self._transaction():
                        self.db.execute("DELETE FROM records WHERE warc = ?", (name,))
                        self.db.execute("DELETE FROM files WHERE name = ?", (name,))
                    path.unlink()
                    freed += before
                    continue
                freed += before - self._rewrite(path, kept)
            return {"records_dropped": dropped, "bytes_freed": freed, "files_of_other_databases": shared}

    def _rewrite(self, path: Path, kept: list[Any]) -> int:
        """The file again, with its warcinfo record and the kept records' bytes (whole gzip
        members, copied as they are), under its own name: written aside, then renamed over
        it as the index takes the new offsets. A reference keeps naming the right file; its
        offset is a hint the record id checks (a crash between the two is read correctly)."""
        aside = self.folder / (path.name + PRUNING)
        moved = []
        source = open_regular(path)
        if source is None:
            return path.stat().st_size
        with source, open(aside, "xb") as target:
            head = self.db.execute('SELECT MIN("offset") FROM records WHERE warc = ?', (path.name,)).fetchone()[0]
            target.write(source.read(head or 0))  # the warcinfo record, which names the writer
            for row in kept:
                source.seek(row["offset"])
                moved.append((target.tell(), row["record_id"]))
                target.write(source.read(row["length"]))
            target.flush()
            os.fsync(target.fileno())
            size = target.tell()
        with self._transaction():
            self.db.execute(f"DELETE FROM records WHERE warc = ? AND record_id NOT IN ({','.join('?' * len(kept))})",
                            [path.name, *(row["record_id"] for row in kept)])
            self.db.executemany('UPDATE records SET "offset" = ? WHERE record_id = ?', moved)
            os.replace(aside, path)
        return size


def read_payload(folder: Path, ref: EvidenceRef, places: Iterable[tuple[str, int]], *,
                 cap: int = READ_CAP) -> Payload:
    """The payload of the response record `ref` names, looked for at `places` (file,
    offset), else in every WARC file of the folder; its SHA-256 must be the one recorded,
    and its Content-Type too when the reference recorded one. Reads at most `cap` bytes of
    it; writes nothing, so a received folder can be read as it is."""
    tried: set[tuple[str, int]] = set()
    for warc, offset in places:
        if (warc, offset) in tried:
            continue
        tried.add((warc, offset))
        found = _read_at(folder, warc, offset, ref, cap)
        if found is not None:
            return found
    for path in warc_files(folder):  # the slow way: a folder without its index, or moved records
        found = _scan(path, ref, cap)
        if found is not None:
            return found
    raise EvidenceMissing(f"record {ref.record_id} ({ref.url}) is not in {folder}")


def warc_files(folder: Path) -> list[Path]:
    """The finished WARC files of a folder: regular files named `*.warc.gz`, no link."""
    return sorted(p for p in folder.glob("*" + SUFFIX) if regular_file(p))


def _open_warc(folder: Path, name: str) -> BinaryIO | None:
    """A WARC file of the folder by name (finished, or still being written); None for a
    name that is not one (a report from elsewhere may name anything) or a file that is not
    a regular one (a link, a FIFO)."""
    if not plain_name(name):
        return None
    for candidate in (folder / name, folder / (name + OPEN)):
        stream = open_regular(candidate)
        if stream is not None:
            return stream
    return None


def _read_at(folder: Path, warc: str, offset: int, ref: EvidenceRef, cap: int) -> Payload | None:
    stream = _open_warc(folder, warc)
    if stream is None or offset < 0:
        return None
    with stream:
        stream.seek(offset)
        try:
            for record in ArchiveIterator(stream):
                if record.rec_headers.get_header("WARC-Record-ID") != ref.record_id:
                    return None
                return _payload(record, ref, cap)
        except UNREADABLE as exc:
            raise EvidenceAltered(f"{warc}: the record of {ref.url} cannot be read ({exc})") from exc
    return None


def _scan(path: Path, ref: EvidenceRef, cap: int) -> Payload | None:
    stream = open_regular(path)
    if stream is None:
        return None
    with stream:
        try:
            for record in ArchiveIterator(stream):
                if record.rec_headers.get_header("WARC-Record-ID") == ref.record_id:
                    return _payload(record, ref, cap)
        except UNREADABLE:
            return None
    return None


def _payload(record: Any, ref: EvidenceRef, cap: int) -> Payload:
    body = record.raw_stream.read(cap + 1)
    if len(body) > cap:
        raise EvidenceAltered(f"the kept copy of {ref.url} is over {cap:,} bytes (max_body_bytes): not read; "
                              "no copy citewatch keeps under these settings is larger")
    actual = hashlib.sha256(body).hexdigest()
    if actual != ref.sha256:
        raise EvidenceAltered(f"the kept copy of {ref.url} has changed: its SHA-256 is {actual[:12]}…, "
                              f"the verdict was made on {ref.sha256[:12]}…")
    http = record.http_headers
    status = int(http.get_statuscode() or 0) if http else 0
    headers = dict(http.headers) if http else {}
    payload = Payload(ref, status, headers, body)
    if ref.content_type is not None and payload.content_type != ref.content_type:
        raise EvidenceAltered(f"the kept copy of {ref.url} has changed: its Content-Type is "
                              f"{payload.content_type!r}, the verdict read it as {ref.content_type!r}")
    return payload


def _failures() -> tuple[type[Exception], ...]:
    """What a file or the index may raise when it cannot be written or read."""
    return (OSError, DatabaseError, *driver_errors())


def _connect(folder: Path) -> Database:
    """The folder's own index, `index.sqlite` (WAL: a record's row outlives a killed process;
    the files are fsynced at close)."""
    db = SQLiteDatabase(str(folder / INDEX))
    for statement in statements(_SCHEMA):
        db.execute(statement)
    if "owner" not in {row[1] for row in db.execute("PRAGMA table_info(files)")}:  # an index made before owners
        db.execute("ALTER TABLE files ADD COLUMN owner TEXT")
    return db


def _connect_database(url: str) -> tuple[Database, bool]:
    """The index in a PostgreSQL database (the run's own), for a folder that many workers on
    many machines share (a network file system, where SQLite's locks cannot be trusted); and
    whether it was made now."""
    db = open_database(url)
    with db.exclusive():
        fresh = db.execute("SELECT to_regclass('records')").fetchone()[0] is None
        for statement in statements(_SCHEMA):
            db.execute(statement)
    return db, fresh


def _fields(body: bytes) -> dict[str, str]:
    """A warcinfo or metadata record's `name: value` lines (the first of each name)."""
    found: dict[str, str] = {}
    for line in body.decode("utf-8", "replace").splitlines():
        name, colon, value = line.partition(": ")
        if colon:
            found.setdefault(name, value)
    return found


def _hex_digest(value: str | None) -> str | None:
    """`sha256:<base32>` (a WARC payload digest) as hex; None for another algorithm."""
    if not value or not value.startswith("sha256:"):
        return None
    try:
        return b32decode(value[7:]).hex()
    except ValueError:
        return None


def split_headers(exchange: Exchange) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(the page's own headers, the archive's): an archive answers a raw memento with the
    original headers renamed `X-Archive-Orig-*` (the Internet Archive, pywb) or as they
    were, beside headers of its own (Memento-Datetime, Link, ...). The page's are what a
    response record holds; the archive's go in the metadata record."""
    items = list(exchange.headers.items())
    if exchange.kind is not CopyKind.ARCHIVE:
        return items, []
    prefix = "x-archive-orig-"
    renamed = any(k.lower().startswith(prefix) for k, _ in items)
    own, archive = [], []
    for name, value in items:
        lower = name.lower()
        if lower.startswith(prefix):
            own.append((name[len(prefix):], value))
        elif lower == "content-type" or not renamed and lower not in _ARCHIVE_HEADERS and not lower.startswith("x-archive"):
            own.append((name, value))
        else:
            archive.append((name, value))
    return own, archive


_ARCHIVE_HEADERS = {"memento-datetime", "link", "content-location"}


def _http_headers(status: int, page_headers: list[tuple[str, str]], length: int) -> StatusAndHeaders:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    headers = [(k, v) for k, v in page_headers if k.lower() not in _TRANSFER]
    headers.append(("Content-Length", str(length)))
    return StatusAndHeaders(f"{status} {phrase}", headers, protocol="HTTP/1.1")


def _metadata(writer: WARCWriter, exchange: Exchange, record_id: str, sha: str,
              archive_headers: list[tuple[str, str]]) -> Any:
    fields = [("citewatch-kind", exchange.kind.value), ("citewatch-archive", exchange.archive),
              ("citewatch-replay-url", exchange.replay_url or ""), ("citewatch-raw-url", exchange.raw_url or ""),
              ("citewatch-payload-sha256", sha)]
    fields += [("citewatch-archive-header", f"{name}: {value}") for name, value in archive_headers]
    text = "".join(f"{k}: {' '.join(v.split())}\r\n" for k, v in fields if v).encode("utf-8")
    return writer.create_warc_record(
        exchange.url, "metadata", payload=io.BytesIO(text), length=len(text),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Date": exchange.date, "WARC-Concurrent-To": record_id})
