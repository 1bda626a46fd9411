"""Several archives, asked in order: the Internet Archive, a national archive running pywb, any
Memento archive by its TimeMap, an aggregator (docs/archives.md, "Many archives").

For a claim, the first archive is asked; the next only when the earlier ones have nothing
usable near the claim's date (a capture within `archive_after_window_days` of it). Asking one
after another, not all at once, is deliberate: every archive's limits are low (the Internet
Archive blocks clients that keep asking), most claims are settled by the first, and an
archive not asked costs nothing. When none has a capture near the date, the closest usable
capture across those asked is chosen. Each archive keeps its own limiters, breaker and cache."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.archive.client import ArchiveClient, Cache
from pipeline.archive.model import ArchiveState, Evidence, Lookup, SaveResult, SaveState, Unread
from pipeline.config import Settings
from pipeline.times import date_to_timestamp, timestamp_to_datetime


class Archives:
    """The archives of the settings as one: lookups across them, evidence from the one whose
    capture was chosen, saving in the first that can."""

    def __init__(self, settings: Settings, *, cache_for: Callable[[str, int], Cache | None] = lambda name, n: None) -> None:
        self.settings = settings
        self.clients = [ArchiveClient(settings, config, cache=cache_for(config.name, number))
                        for number, config in enumerate(settings.archive_configs())]
        self._chosen: dict[tuple[str, str | None], ArchiveClient] = {}

    @property
    def requests_made(self) -> int:
        return sum(client.requests_made for client in self.clients)

    def lookup(self, url: str, date: str | None = None) -> Lookup:
        answers: list[tuple[ArchiveClient, Lookup]] = []
        for client in self.clients:
            lookup = client.lookup(url, date)
            answers.append((client, lookup))
            if lookup.state is ArchiveState.FOUND and self._near(lookup, date):
                break
        found = [(client, lookup) for client, lookup in answers if lookup.state is ArchiveState.FOUND]
        if found:
            client, lookup = min(found, key=lambda pair: self._distance(pair[1], date))
        else:  # say what the first archive said, unless another said more (excluded, unavailable)
            client, lookup = next(((c, lk) for c, lk in answers if lk.state is not ArchiveState.NONE), answers[0])
        self._chosen[(url, date)] = client
        return lookup

    def _client(self, url: str, date: str | None) -> ArchiveClient:
        if (url, date) not in self._chosen:
            self.lookup(url, date)
        return self._chosen[(url, date)]

    def evidence(self, url: str, date: str | None = None) -> Evidence | None:
        return self._client(url, date).evidence(url, date)

    def unread(self, url: str, date: str | None = None) -> list[Unread]:
        """The captures the chosen archive listed for the claim but could not read, and why."""
        return list(self._client(url, date).unread.get((url, date), ()))

    def more_evidence(self, url: str, date: str | None, seen: set[str], count: int) -> list[Evidence]:
        return self._client(url, date).more_evidence(url, date, seen, count)

    def save(self, url: str) -> SaveResult:
        for client in self.clients:
            result = client.save(url)
            if result.state is not SaveState.NOT_SAVED:
                return result
        return SaveResult(url, SaveState.NOT_SAVED, None, "no archive in the settings can be asked to save")

    def ping(self) -> str | None:
        """None as soon as an archive answers (in order: usually the first alone is asked);
        else why the first does not."""
        problems = []
        for client in self.clients:
            problem = client.ping()
            if problem is None:
                return None
            problems.append(f"{client.name}: {problem}" if len(self.clients) > 1 else problem)
        return problems[0]

    def close(self) -> None:
        """Close every archive's connections."""
        for client in self.clients:
            client.close()

    def stop(self) -> None:
        """Ctrl-C: cancel every archive's requests in flight or waiting for their pace."""
        for client in self.clients:
            client.stop()

    def __enter__(self) -> Archives:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _near(self, lookup: Lookup, date: str | None) -> bool:
        return date is None or self._distance(lookup, date) <= self.settings.archive_after_window_days

    @staticmethod
    def _distance(lookup: Lookup, date: str | None) -> float:
        """Days between the chosen capture and the claim (0 without a date)."""
        target = date_to_timestamp(date)
        if target is None or lookup.closest is None:
            return 0.0
        span = timestamp_to_datetime(lookup.closest.timestamp) - timestamp_to_datetime(target)
        return abs(span.total_seconds()) / 86400
