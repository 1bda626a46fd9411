"""Reading a document: its bytes from a path or stdin, its text in the right encoding, its format."""

from __future__ import annotations

import codecs
import re
import sys
from pathlib import Path

import charset_normalizer

from pipeline.errors import InputError
from pipeline.model import DocumentFormat

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_EXTENSIONS = {
    ".txt": DocumentFormat.TEXT,
    ".text": DocumentFormat.TEXT,
    ".md": DocumentFormat.MARKDOWN,
    ".markdown": DocumentFormat.MARKDOWN,
    ".html": DocumentFormat.HTML,
    ".htm": DocumentFormat.HTML,
    ".xhtml": DocumentFormat.HTML,
}
_HTML_SNIFF = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<meta|<!--)", re.IGNORECASE)
_HTML_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def read_bytes(path: str) -> bytes:
    """The document's bytes; `-` is standard input. InputError for a missing path, a
    directory or an unreadable file."""
    if path == "-":
        return sys.stdin.buffer.read()
    candidate = Path(path)
    if candidate.is_dir():
        raise InputError(f"{path}: is a directory, not a document")
    try:
        return candidate.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


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
    """(text, encoding name). A BOM decides; else UTF-8 when it decodes; else an HTML
    `<meta charset>`; else charset-normalizer's detection (windows-1256 Persian, Latin-1,
    …). Binary data is an InputError, never a UnicodeDecodeError."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                raise InputError(f"{path}: not valid {encoding} text despite its byte order mark") from None
    if b"\x00" in data[:65536]:
        raise InputError(f"{path}: binary file, not a text, Markdown or HTML document")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if fmt is DocumentFormat.HTML:
        declared = _HTML_META_CHARSET.search(data[:8192])
        if declared:
            name = declared.group(1).decode("ascii")
            try:
                return data.decode(name), codecs.lookup(name).name
            except (LookupError, UnicodeDecodeError):
                pass
    best = charset_normalizer.from_bytes(data).best()
    if best is None or _looks_binary(str(best)):
        raise InputError(f"{path}: binary file or unknown encoding, not a text document")
    return str(best), best.encoding


def _looks_binary(text: str) -> bool:
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    return bool(sample) and controls / len(sample) > 0.05
