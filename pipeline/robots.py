"""robots.txt (RFC 9309), read once per site with the standard library's parser, so that
citewatch asks a site only for what it allows: always for the made-up URL of the soft-404
probe (no reader of a document ever asked for it), and for the cited URLs themselves when the
`robots` setting says `all`.

A robots.txt that is missing (4xx) allows everything; one that cannot be read (5xx, a
timeout, refused) allows nothing, as the RFC says, and the reason is given."""

from __future__ import annotations

import asyncio
import urllib.parse
import urllib.robotparser

from pipeline.http import Fetcher, FetchError

AGENT = "citewatch"  # the product token robots.txt groups are matched against
MAX_BYTES = 512 * 1024  # RFC 9309 §2.5: at least 500 KiB is parsed


class Robots:
    """Each site's robots.txt, fetched once through `fetcher` and shared by waiters."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self._sites: dict[str, asyncio.Task[tuple[urllib.robotparser.RobotFileParser | None, str]]] = {}

    async def allows(self, url: str) -> tuple[bool, str]:
        """(may citewatch ask for `url`, why not when it may not)."""
        parts = urllib.parse.urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        if site not in self._sites:
            self._sites[site] = asyncio.ensure_future(self._read(site))
        parser, problem = await self._sites[site]
        if parser is None:
            return False, problem
        if parser.can_fetch(AGENT, url):
            return True, ""
        return False, f"{site}/robots.txt disallows it"

    async def _read(self, site: str) -> tuple[urllib.robotparser.RobotFileParser | None, str]:
        parser = urllib.robotparser.RobotFileParser(f"{site}/robots.txt")
        try:
            response = await self.fetcher.fetch(f"{site}/robots.txt", max_bytes=MAX_BYTES)
        except FetchError as error:
            return None, f"{site}/robots.txt could not be read ({error.reason}): nothing is allowed"
        if 400 <= response.status < 500:
            parser.parse([])  # nothing disallowed: RFC 9309 §2.3.1.3
        elif not 200 <= response.status < 300:
            return None, f"{site}/robots.txt answered {response.status}: nothing is allowed"
        else:
            parser.parse(response.text.splitlines())
        return parser, ""
