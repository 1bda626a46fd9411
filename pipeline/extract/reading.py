"""Reading a document: its bytes from a path or stdin, its text in the right encoding, its format."""

from __future__ import annotations

import codecs
import re
import sys
from pathlib import Path
from typing import BinaryIO

from pipeline import text
from pipeline.errors import InputError
from pipeline.model import DocumentFormat

_EXTENSIONS = {
    ".txt": DocumentFormat.TEXT,
    ".text": DocumentFormat.TEXT,
    ".md": DocumentFormat.MARKDOWN,
    ".markdown": DocumentFormat.MARKDOWN,
    ".html": DocumentFormat.HTML,
    ".htm": DocumentFormat.HTML,
    ".xhtml": DocumentFormat.HTML,
}
DOCUMENT_SUFFIXES = frozenset(_EXTENSIONS)  # what a folder's documents end in
_HTML_SNIFF = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<meta|<!--)", re.IGNORECASE)


MAX_DOCUMENT_BYTES = 200_000_000  # a document larger than this is not a document (/dev/zero, a disk image)


def read_bytes(path: str, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The document's bytes; `-` is standard input. InputError for a missing path, a
    directory, an unreadable file, a closed standard input, or more than `limit` bytes."""
    if path == "-":
        if sys.stdin is None or sys.stdin.closed:
            raise InputError("-: standard input is closed")
        try:
            return _capped(sys.stdin.buffer, "standard input", limit)
        except (OSError, ValueError) as exc:
            raise InputError(f"-: cannot read standard input: {exc}") from None
    candidate = Path(path)
    if candidate.is_dir():
        raise InputError(f"{path}: is a directory, not a document")
    try:
        with candidate.open("rb") as stream:
            return _capped(stream, path, limit)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _capped(stream: BinaryIO, name: str, limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{name}: more than {limit:,} bytes: too large to be a document")
    return data


def detect_format(path: str, data: bytes, forced: DocumentFormat | None = None) -> DocumentFormat:
    """The format forced, else the extension's, else HTML when the bytes look like HTML."""
    if forced is not None:
        return forced
    suffix = Path(path).suffix.lower() if path != "-" else ""
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    head = data[:4096].lstrip(codecs.BOM_UTF8)
    if _HTML_SNIFF.match(head) or (b"<a href" in head.lower() and b"</" in head):
        return DocumentFormat.HTML
    return DocumentFormat.TEXT


def decode(data: bytes, path: str, fmt: DocumentFormat = DocumentFormat.TEXT) -> tuple[str, str]:
    """(text, encoding name), by `pipeline.text.decode` (a BOM, an HTML `<meta charset>`,
    UTF-8, then detection). Binary data is an InputError, never a UnicodeDecodeError."""
    try:
        return text.decode(data, markup=fmt is DocumentFormat.HTML)
    except text.Undecodable as exc:
        raise InputError(f"{path}: {exc}, not a text, Markdown or HTML document") from None
