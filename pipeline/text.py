"""Text, once: bytes to characters, a page to its readable text, text to its comparable form.

Documents (extraction), pages read to classify a link (liveness) and copies read to verify
a quote (verification) all go through `decode`; every HTML page is parsed once, by
`read_page`, into what both the classifier and the matcher need. The HTML walk is linear in
the size of the tree and not recursive, so a deep or huge page costs its size and no more.
"""

from __future__ import annotations

import codecs
import dataclasses
import html
import io
import itertools
import re
import threading
import time
import unicodedata
from collections.abc import Sequence

import charset_normalizer
from lxml import etree

# --- decoding -------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]{0,500}?charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_DETECT_BYTES = 1_000_000


class Undecodable(ValueError):
    """Bytes that are not text in any encoding we can tell: binary data, or a BOM that lies."""


def header_charset(content_type: str) -> str | None:
    """The charset parameter of a Content-Type header, if any."""
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def decode(data: bytes, *, declared: str | None = None, markup: bool = False) -> tuple[str, str]:
    """(text, encoding name). In order: a byte order mark; the `declared` charset (an HTTP
    header's); for markup, a `<meta charset>`; UTF-8; then charset-normalizer's detection
    (windows-1256 Persian, Latin-1, …). A wrong label is passed over, not trusted.
    Undecodable for binary data (NUL bytes, control characters)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                raise Undecodable(f"not valid {encoding} text despite its byte order mark") from None
    if b"\x00" in data[:65536]:
        raise Undecodable("binary data, not text")
    labels = [declared] if declared else []
    if markup and (match := _META_CHARSET.search(data[:8192])):
        labels.append(match.group(1).decode("ascii"))
    for label in labels:
        try:
            return data.decode(label), codecs.lookup(label).name
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data[:_DETECT_BYTES]).best()
    if best is None:
        raise Undecodable("binary data or an unknown encoding")
    text = data.decode(best.encoding, errors="replace")
    if _looks_binary(text):
        raise Undecodable("binary data or an unknown encoding")
    return text, best.encoding


def decode_lenient(data: bytes, content_type: str = "") -> str:
    """Text for a quick look (classifying a response): never fails, replaces what it cannot read."""
    try:
        return decode(data, declared=header_charset(content_type), markup=True)[0]
    except Undecodable:
        return data.decode("utf-8", errors="replace")


def _looks_binary(text: str) -> bool:
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    return bool(sample) and controls / len(sample) > 0.05


# --- reading a page -------------------------------------------------------------------


class Unreadable(Exception):
    """No text could be read from a copy: an image, a PDF without text, an unknown type."""


@dataclasses.dataclass(frozen=True)
class PageText:
    """A page read once. `paragraphs` is its readable text (what a quote is looked for in);
    `title`, `headings` (the first four h1/h2, " | " between) and `visible` (every word but
    scripts and styles, on one line, at most 20,000 characters) are what a link's
    classification looks at."""

    paragraphs: tuple[str, ...]
    encoding: str
    kind: str  # html, text, pdf
    title: str = ""
    headings: str = ""
    visible: str = ""
    markup_chars: int = 0  # the markup read, less the text of scripts and styles

    @property
    def text_chars(self) -> int:
        return sum(len(p) for p in self.paragraphs)


EMPTY = PageText((), "", "none")

# Dropped from the readable text with all they hold: what is not prose for a reader. No
# container (form, main, nav, header, div…) is dropped for its tag alone: some sites wrap the
# whole page in one <form>, others put the article in a <header>.
_DROP = frozenset({"script", "style", "template", "svg", "math", "canvas", "object", "embed", "iframe", "select",
                   "datalist"})
_INVISIBLE = frozenset({"script", "style", "noscript"})  # what classification never looks at
_BLOCKS = frozenset({"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
                     "ol", "blockquote", "pre", "table", "tr", "td", "th", "dd", "dt", "dl", "figure",
                     "figcaption", "header", "footer", "address", "hr", "caption", "details", "summary"})
_VISIBLE_CHARS = 20_000
CPU_BUDGET = 5.0  # seconds of CPU a page may take to read, at most
# A reading this small next to the page is a failure to read it, not an empty article:
# under 1 character of text for TINY_RATIO of markup (scripts and styles aside), from TINY_FROM up.
TINY_FROM = 20_000
TINY_RATIO = 200
_SPACES = re.compile(r"\s+")


def read_page(body: bytes, content_type: str = "") -> PageText:
    """The text of a page: HTML without scripts, styles, templates, frames, form controls
    and comments (every container kept), blocks kept apart and inline tags joined (a quote
    across a link or an `<em>` is one string); plain text as is; PDF through pypdf.
    Unreadable when no text can be had, or so little next to the markup that the reading
    failed (a page built by script)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/pdf" or body[:5] == b"%PDF-":
        return _read_pdf(body)
    if kind and not (kind.startswith("text/") or "html" in kind or "xml" in kind):
        raise Unreadable(f"not a text page ({kind})")
    try:
        text, encoding = decode(body, declared=header_charset(content_type), markup=kind != "text/plain")
    except Undecodable as exc:
        raise Unreadable(f"the page's encoding could not be told ({exc})") from None
    if kind == "text/plain":
        page = PageText(paragraphs_of(text.split("\n")), encoding, "text", markup_chars=len(text))
        page = dataclasses.replace(page, visible=" ".join(page.paragraphs)[:_VISIBLE_CHARS])
    else:
        page = read_html(text, encoding)
    if not page.paragraphs:
        raise Unreadable(f"no readable text in the page ({len(body)} bytes)")
    if page.markup_chars >= TINY_FROM and page.text_chars * TINY_RATIO < page.markup_chars:
        raise Unreadable(f"only {page.text_chars} characters of text in {page.markup_chars} of markup "
                         "(a page built by script?)")
    return page


def view_of(body: bytes, content_type: str = "") -> PageText:
    """What classification looks at, for any response: the title, the first headings and
    the visible text (no paragraphs). An empty reading when there is no text (an image,
    an empty body, a PDF). Quicker than `read_html`: lxml's own iteration, no walk in Python."""
    if not body:
        return EMPTY
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/pdf" or body[:5] == b"%PDF-" or (kind and not (kind.startswith("text/") or "html" in kind
                                                                             or "xml" in kind)):
        return EMPTY
    if b"\x00" in body[:65536] and not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return EMPTY  # binary: nothing a reader would see
    markup = decode_lenient(body, content_type)
    root = _parse(markup)
    if root is None:
        return _read_flat(markup, "")
    etree.strip_elements(root, *_INVISIBLE, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    title, headings, text = _view(root)
    if not text and "<" in markup:
        return _read_flat(markup, "")  # the parser gave up (nesting past its limit)
    return PageText((), "", "html", title, headings, text)


def anchors_of(body: bytes, content_type: str = "") -> frozenset[str]:
    """The fragments a page answers to: its elements' `id`s and its anchors' `name`s."""
    root = _parse(decode_lenient(body, content_type)) if body else None
    if root is None:
        return frozenset()
    return frozenset(str(value) for value in root.xpath("//@id | //a/@name"))


def read_html(markup: str, encoding: str = "utf-8", *, cpu_budget: float = CPU_BUDGET) -> PageText:
    """The parsed page (lxml) read with lxml's own iteration: the readable paragraphs of the
    body, the title, the first headings and the visible text. Python touches only block
    elements, so the cost is linear in the page and small per element; past `cpu_budget`
    seconds of this thread's CPU the page is Unreadable."""
    root = _parse(markup)
    if root is None:
        return _read_flat(markup, encoding)
    budget_end = time.thread_time() + cpu_budget
    hidden = sum(len(e.text or "") for e in root.iter(*_INVISIBLE))
    etree.strip_elements(root, *_INVISIBLE, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    title, headings, visible = _view(root)
    etree.strip_elements(root, *_DROP, with_tail=False)
    body = root.find("body")
    body = root if body is None else body
    for count, element in enumerate(body.iter("br", *_BLOCKS), 1):
        if not count % 4096 and time.thread_time() > budget_end:
            raise Unreadable(f"reading the page took more than {cpu_budget:g} s of CPU")
        element.tail = "\n" + (element.tail or "")
        if element.tag != "br":  # a block: apart from what comes before and after it
            element.text = "\n" + (element.text or "")
    paragraphs = paragraphs_of("".join(body.itertext()).split("\n"))
    if not paragraphs and not visible and "<" in markup:
        return _read_flat(markup, encoding)  # the parser gave up (nesting past its limit)
    return PageText(paragraphs, encoding, "html", title, headings, visible, max(0, len(markup) - hidden))


def _view(root: etree._Element) -> tuple[str, str, str]:
    """(title, the first four h1/h2 joined by " | ", the visible text up to _VISIBLE_CHARS)
    of a tree whose scripts and styles are gone."""
    title_element = root.find(".//title")
    title = " ".join("".join(title_element.itertext()).split()) if title_element is not None else ""
    headings = [" ".join("".join(h.itertext()).split()) for h in itertools.islice(root.iter("h1", "h2"), 4)]
    visible: list[str] = []
    size = 0
    for piece in root.itertext():
        visible.append(piece)
        size += len(piece) + 1
        if size >= _VISIBLE_CHARS:
            break
    return title, " | ".join(headings), " ".join(" ".join(visible).split())[:_VISIBLE_CHARS]


def _read_flat(markup: str, encoding: str) -> PageText:
    """A plainer reading for markup the parser gives up on (libxml2 stops at 2,048 nested
    elements): scripts and styles dropped with their content, blocks kept apart, other tags
    dropped. Every pattern here is linear: none can run past the next "<"."""
    lower = markup.lower()
    kept: list[str] = []
    position = 0
    for opening in _INVISIBLE_OPEN.finditer(lower):
        if opening.start() < position:
            continue  # inside a script already skipped
        kept.append(markup[position:opening.start()])
        close = lower.find("</" + opening.group(1), opening.end())
        position = len(markup) if close < 0 else close
    kept.append(markup[position:])
    text = _ANY_TAG.sub("", _BLOCK_TAG.sub("\n", "".join(kept)))
    paragraphs = paragraphs_of(html.unescape(text).split("\n"))
    return PageText(paragraphs, encoding, "html", visible=" ".join(paragraphs)[:_VISIBLE_CHARS],
                    markup_chars=len(markup))


_INVISIBLE_OPEN = re.compile(r"<(script|style|noscript)\b")
_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:" + "|".join(sorted(_BLOCKS | {"br"})) + r")\b[^<>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^<>]*>")


_parsers = threading.local()


def _parse(markup: str) -> etree._Element | None:
    if not markup.strip():
        return None
    parser = getattr(_parsers, "html", None)
    if parser is None:  # one per thread: an lxml parser is not to be shared between threads
        parser = _parsers.html = etree.HTMLParser(encoding="utf-8", no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(markup.encode("utf-8", errors="replace"), parser)
    except etree.LxmlError:
        return None
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        return None  # libxml2 stopped (nesting past its limit): what it built is not the whole page
    return root


def paragraphs_of(lines: list[str]) -> tuple[str, ...]:
    """Lines with their white space folded, empty ones dropped."""
    return tuple(p for p in (" ".join(line.split()) for line in lines) if p)


def _read_pdf(body: bytes) -> PageText:
    from pypdf import PdfReader  # only PDF sources need it: keeps every other command's start-up quick
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(body))
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise Unreadable(f"PDF could not be read: {exc}") from exc
    paragraphs = paragraphs_of(text.split("\n"))
    if not paragraphs:
        raise Unreadable("PDF without extractable text (a scan?)")
    return PageText(paragraphs, "pdf", "pdf")


# --- the comparable form --------------------------------------------------------------

ELISION = re.compile(r"\s*(?:\.{3,}|…)\s*")  # an author's marked cut: "...", "....", "…"
_TABLE = str.maketrans({
    **{ch: "'" for ch in "‘’‚‛′`´"},
    **{ch: '"' for ch in "“”„‟″«»‹›"},
    **{ch: "-" for ch in "‐‑‒–—―−"},
    "\u064a": "\u06cc", "\u0649": "\u06cc",  # Arabic yeh, alef maksura → Persian yeh
    "\u0643": "\u06a9",  # Arabic kaf → keheh
    "\u0629": "\u0647",  # teh marbuta → heh
    **{chr(c): None for c in range(0x064B, 0x0660)},  # harakat
    "\u0640": None,  # tatweel
    "\u200c": None, "\u200d": None, "\u200b": None, "\u200e": None, "\u200f": None, "\ufeff": None, "\u00ad": None,
})


def normalize(text: str) -> str:
    """The form both passages and pages are compared in: NFKC, one kind of quote and dash,
    Persian letter forms, no invisible joiners, folded white space, lower case."""
    text = unicodedata.normalize("NFKC", text).translate(_TABLE).lower()
    return _SPACES.sub(" ", text).strip()


def normalize_lines(lines: Sequence[str]) -> list[str]:
    """`normalize` of each line (lines hold no newline), done on all of them at once: a
    page of thousands of short paragraphs costs one pass, not one call each. A newline
    stops NFKC from composing across it, so the result is the same line by line."""
    whole = unicodedata.normalize("NFKC", "\n".join(lines)).translate(_TABLE).lower()
    return [" ".join(line.split()) for line in whole.split("\n")]
