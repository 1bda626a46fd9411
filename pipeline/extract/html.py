"""Citations of an HTML document, read with beautifulsoup4 (html.parser keeps source lines).

Links are `<a href>` resolved against `<base>` and the document's URL, plus bare URLs in
text; `javascript:`, `mailto:`, `tel:`, `data:` and fragment-only links are not citations.
A citation is the paragraph, list item or blockquote holding links; its passages are the
blockquote's text, `<q>` quotes or quoted text, else its text.
"""

from __future__ import annotations

import re
import urllib.parse
import warnings

from bs4 import BeautifulSoup, Comment, MarkupResemblesLocatorWarning, NavigableString, Tag

from pipeline.extract.common import Block, citations_from_blocks
from pipeline.extract.dates import find_date, whole_date
from pipeline.extract.urls import canonicalize, find_urls, is_citable
from pipeline.model import Passage, UrlRef

_SKIP = {"script", "style", "noscript", "template", "code", "pre", "head", "title", "textarea"}
_ITEMS = {"li", "dd", "dt", "td", "th", "figcaption"}
_PARAGRAPHS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "div", "section", "article", "aside",
               "main", "header", "footer", "figure", "body", "caption"}
_INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "em", "i", "mark", "q", "s", "small", "span",
           "strong", "sub", "sup", "time", "u", "var", "font", "code", "kbd", "samp", "del", "ins"}
_SPACE = re.compile(r"\s+")
_DATE_META = ("article:published_time", "datepublished", "date", "dc.date", "dcterms.date",
              "pubdate", "publish-date", "og:published_time", "sailthru.date")


def extract_html(
    text: str, base_url: str | None = None,
) -> tuple[str | None, str | None, list[tuple[int, str | None, list[UrlRef], list[Passage]]]]:
    """(title, date, citation drafts)."""
    with warnings.catch_warnings():  # a document that is only a URL is a document, not a mistake
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(text, "html.parser")
    title = _title(soup)
    date = _date(soup)
    base = _base(soup, base_url)
    blocks: dict[int, Block] = {}
    order: list[Block] = []

    def block_of(node: Tag | NavigableString) -> Block:
        container = _container(node)
        key = id(container)
        if key not in blocks:
            kind = {"blockquote": "blockquote"}.get(container.name, "item" if container.name in _ITEMS else "paragraph")
            blocks[key] = Block(kind, container.sourceline or 1, _paragraphs(container), [], _quotes(container))
            order.append(blocks[key])
        return blocks[key]

    for node in soup.descendants:
        if isinstance(node, Tag) and node.name == "a" and node.get("href") is not None:
            if _skipped(node) or node.find_parent("nav") is not None:  # site navigation
                continue
            written = str(node["href"]).strip()
            if not is_citable(written):
                continue
            resolved = urllib.parse.urljoin(base, written) if base else written
            if not re.match(r"^https?://", resolved, re.IGNORECASE):
                continue
            block_of(node).links.append(
                UrlRef(written, canonicalize(resolved), node.sourceline or 1, (node.sourcepos or 0) + 1)
            )
        elif isinstance(node, NavigableString) and not isinstance(node, Comment):
            if node.parent is None or _skipped(node) or node.find_parent("a") is not None:
                continue
            for offset, url in find_urls(str(node)):
                line, column = _position(node, offset)
                block_of(node).links.append(UrlRef(url, canonicalize(url), line, column))
    return title, date, citations_from_blocks(order)


def _skipped(node: Tag | NavigableString) -> bool:
    return any(parent.name in _SKIP for parent in node.parents if isinstance(parent, Tag)) or (
        isinstance(node, Tag) and node.name in _SKIP
    )


def _container(node: Tag | NavigableString) -> Tag:
    """The outermost blockquote holding the node, else the nearest item, else paragraph."""
    quotes = [p for p in node.parents if isinstance(p, Tag) and p.name == "blockquote"]
    if quotes:
        return quotes[-1]
    for parent in node.parents:
        if isinstance(parent, Tag) and (parent.name in _ITEMS or parent.name in _PARAGRAPHS):
            return parent
    return node.find_parent() or node  # type: ignore[return-value]


def _text(tag: Tag) -> str:
    """Text with inline tags joined (a quote across <a> or <em> is one string) and runs
    of whitespace folded."""
    pieces = []
    for node in tag.descendants:
        if isinstance(node, NavigableString) and not isinstance(node, Comment) and not _skipped_below(node, tag):
            pieces.append(str(node))
        elif isinstance(node, Tag) and node.name == "br":
            pieces.append(" ")
        elif isinstance(node, Tag) and node.name not in _INLINE:
            pieces.append(" ")
    return _SPACE.sub(" ", "".join(pieces)).strip()


def _skipped_below(node: NavigableString, top: Tag) -> bool:
    for parent in node.parents:
        if parent is top:
            return False
        if parent.name in _SKIP - {"code"}:
            return True
    return False


def _paragraphs(container: Tag) -> list[tuple[str, int]]:
    inner = container.find_all(["p", "li"])
    if inner:
        return [(_text(p), p.sourceline or 1) for p in inner if _text(p)]
    text = _text(container)
    return [(text, container.sourceline or 1)] if text else []


def _quotes(container: Tag) -> list[tuple[str, int]]:
    return [(_text(q), q.sourceline or 1) for q in container.find_all(["q", "blockquote"]) if _text(q)]


def _position(node: NavigableString, offset: int) -> tuple[int, int]:
    parent = node.parent
    line = (parent.sourceline or 1) if isinstance(parent, Tag) else 1
    before = str(node)[:offset]
    return line + before.count("\n"), offset - (before.rfind("\n") + 1) + 1


def _title(soup: BeautifulSoup) -> str | None:
    for candidate in (soup.title, soup.find("h1")):
        if candidate is not None and (text := _SPACE.sub(" ", candidate.get_text()).strip()):
            return text
    return None


def _date(soup: BeautifulSoup) -> str | None:
    for meta in soup.find_all("meta"):
        name = str(meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if name in _DATE_META and meta.get("content"):
            if value := _iso_or_text(str(meta["content"])):
                return value
    time_tag = soup.find("time")
    if time_tag is not None:
        if value := _iso_or_text(str(time_tag.get("datetime") or time_tag.get_text())):
            return value
    return None


def _iso_or_text(value: str) -> str | None:
    value = value.strip()
    return whole_date(value[:10]) or whole_date(value) or find_date(value)


def _base(soup: BeautifulSoup, base_url: str | None) -> str | None:
    """<base href> resolved against the document's URL (given, else its canonical link)."""
    document_url = base_url
    if document_url is None:
        canonical = soup.find("link", rel="canonical", href=True)
        if canonical is not None:
            document_url = str(canonical["href"])
    base_tag = soup.find("base", href=True)
    if base_tag is not None:
        href = str(base_tag["href"]).strip()
        return urllib.parse.urljoin(document_url, href) if document_url else href
    return document_url
