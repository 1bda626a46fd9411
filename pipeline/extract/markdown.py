"""Citations of a Markdown document, read with markdown-it-py (CommonMark, with linkify for bare URLs).

Inline links, reference links, autolinks and bare URLs count; URLs inside code spans and
fenced or indented code do not (the parser never makes links there). A citation is the
paragraph, list item or blockquote holding links.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from pipeline.extract.common import Block, citations_from_blocks
from pipeline.extract.dates import whole_date
from pipeline.extract.urls import canonicalize, find_urls, is_citable
from pipeline.model import Passage, UrlRef

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_REFERENCE = re.compile(r"^( {0,3}\[[^\]]+\]:\s*)<?([^\s>]+)")
_ABSOLUTE = re.compile(r"^(https?://|www\.)", re.IGNORECASE)


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"linkify": True}).enable("linkify")
    assert md.linkify is not None  # enabled above
    md.linkify.set({"fuzzy_email": False})
    # Keep URLs exactly as written: no percent-encoding, no scheme veto (we filter ourselves).
    # markdown-it-py's documented way: the instance's own functions replaced (its README, "normalizeLink").
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    md.normalizeLinkText = lambda link: link  # type: ignore[method-assign]
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


def extract_markdown(text: str) -> tuple[str | None, str | None, list[tuple[int, str | None, list[UrlRef], list[Passage]]]]:
    """(title, date, citation drafts)."""
    title, date, text = _front_matter(text)
    lines = text.splitlines()
    refs = _reference_definitions(lines)
    blocks: list[Block] = []
    containers: list[Token] = []  # open blockquotes and list items, outermost first
    block_for: dict[int, Block] = {}
    tokens = _parser().parse(text)
    heading: str | None = None
    for token in tokens:
        if token.type in ("blockquote_open", "list_item_open"):
            containers.append(token)
        elif token.type in ("blockquote_close", "list_item_close"):
            containers.pop()
        elif token.type == "heading_open":
            heading = token.tag
        elif token.type == "heading_close":
            heading = None
        elif token.type == "inline" and token.map is not None:
            content, links = _read_inline(token, lines, refs)
            line = token.map[0] + 1
            if heading is not None:
                if title is None and heading == "h1":
                    title = content.strip()
                if not links:
                    continue
            if date is None and not blocks and not links and (value := whole_date(content.strip(" *_"))):
                date = value
                continue
            owner = _owner(containers)
            if owner is None:
                block = Block("paragraph", line, [], [])
                blocks.append(block)
            else:
                key = id(owner)
                if key not in block_for:
                    kind = "blockquote" if owner.type == "blockquote_open" else "item"
                    block_for[key] = Block(kind, owner.map[0] + 1 if owner.map else line, [], [])
                    blocks.append(block_for[key])
                block = block_for[key]
            block.paragraphs.append((content, line))
            block.links.extend(links)
    return title, date, citations_from_blocks(blocks)


def _owner(containers: list[Token]) -> Token | None:
    """The block a paragraph belongs to: its outermost blockquote, else its innermost list item."""
    for token in containers:
        if token.type == "blockquote_open":
            return token
    return containers[-1] if containers else None


def _read_inline(token: Token, lines: list[str], refs: dict[str, tuple[int, int]]) -> tuple[str, list[UrlRef]]:
    """The paragraph's text, and its citable links with the line each is on."""
    parts: list[str] = []
    links: list[UrlRef] = []
    children = token.children or []
    assert token.map is not None  # an inline token of a block always has its lines
    first, last = token.map[0], token.map[1]
    for index, child in enumerate(children):
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "link_open":
            href = str(child.attrs.get("href", ""))
            written = href
            if child.markup == "linkify":
                label = children[index + 1].content if index + 1 < len(children) else href
                accepted = list(find_urls(label))
                if not accepted:
                    continue
                written = accepted[0][1]
            if not is_citable(written) or not _ABSOLUTE.match(written):
                continue
            line, column = _locate(written, lines, first, last, refs)
            links.append(UrlRef(written, canonicalize(written), line, column))
    return "".join(parts), links


def _locate(needle: str, lines: list[str], first: int, last: int, refs: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """Line and column of a link: in its paragraph, else at its reference definition."""
    for number in range(first, min(last, len(lines))):
        column = lines[number].find(needle)
        if column >= 0:
            return number + 1, column + 1
    return refs.get(needle, (first + 1, 1))


def _reference_definitions(lines: list[str]) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    for number, line in enumerate(lines, 1):
        match = _REFERENCE.match(line)
        if match:
            found.setdefault(match.group(2), (number, match.start(2) + 1))
    return found


def _front_matter(text: str) -> tuple[str | None, str | None, str]:
    """Title and date from YAML front matter; the front matter blanked, lines kept."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return None, None, text
    title = date = None
    for line in match.group(1).splitlines():
        key, _, value = line.partition(":")
        value = value.strip().strip("\"'")
        if key.strip().lower() == "title" and value:
            title = value
        elif key.strip().lower() == "date" and value:
            date = whole_date(value[:10]) or whole_date(value)
    blank = "\n" * match.group(0).count("\n")
    return title, date, blank + text[match.end():]
