"""Robust Links: the source document rewritten so each cited link also carries its archived
copy. HTML links get the Robust Links attributes (data-versionurl, data-versiondate; see
robustlinks.mementoweb.org); Markdown and plain-text links get an "(archived)" link after them."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from bs4 import BeautifulSoup

from pipeline.extract.urls import canonicalize


def archived_versions(data: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """canonical URL → (replay URL, YYYY-MM-DD) of the snapshot the report chose."""
    versions: dict[str, tuple[str, str]] = {}
    for citation in data["citations"]:
        for source in citation["sources"]:
            snapshot = source.get("snapshot")
            if snapshot and source["canonical"] not in versions:
                stamp = snapshot["timestamp"]
                versions[source["canonical"]] = (snapshot["replay_url"], f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}")
    return versions


def robust_html(text: str, versions: dict[str, tuple[str, str]], base_url: str | None = None) -> str:
    soup = BeautifulSoup(text, "html.parser")
    base_tag = soup.find("base", href=True)
    base = urllib.parse.urljoin(base_url or "", str(base_tag["href"])) if base_tag else base_url
    for anchor in soup.find_all("a", href=True):
        href = str(anchor["href"]).strip()
        target = urllib.parse.urljoin(base, href) if base else href
        found = versions.get(canonicalize(target))
        if found:
            anchor["data-versionurl"], anchor["data-versiondate"] = found
    return str(soup)


def robust_markdown(text: str, versions: dict[str, tuple[str, str]], written: dict[str, str]) -> str:
    """`written` maps each URL as written in the document to its canonical form."""
    for url, canonical in sorted(written.items(), key=lambda item: -len(item[0])):
        if canonical not in versions:
            continue
        replay, date = versions[canonical]
        suffix = f" ([archived {date}](<{replay}>))"
        escaped = re.escape(url)
        pattern = re.compile(
            rf"\[[^\]]*\]\(\s*<?{escaped}>?(?:\s+\"[^\"]*\")?\s*\)|<{escaped}>|(?<![\w/(<\[]){escaped}(?![\w/])"
        )

        def add(match: re.Match[str], text: str = text, suffix: str = suffix) -> str:
            line_start = text.rfind("\n", 0, match.start()) + 1
            if re.match(r"\s{0,3}\[[^\]]+\]:", text[line_start:match.start() + 1]):  # a reference definition
                return match.group(0)
            return match.group(0) + suffix

        text = pattern.sub(add, text)
    return text
