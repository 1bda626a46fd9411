"""TimeGate first (RFC 7089): ask the replay side for the memento closest to the claim's date,
one plentiful replay-class request instead of a scarce CDX search. The memento read is kept
as the evidence, so it is not read twice."""

from __future__ import annotations

import dataclasses
import threading

from pipeline.archive.mementos import MementoReader
from pipeline.archive.model import ArchiveState, ArchiveUnavailable, Evidence, Lookup, Via
from pipeline.times import date_to_timestamp, datetime_to_timestamp, utc_now


class TimeGate:
    def __init__(self, reader: MementoReader) -> None:
        self.reader = reader
        self._lookups: dict[tuple[str, str | None], Lookup | None] = {}
        self._mementos: dict[tuple[str, str | None], Evidence] = {}
        self._lock = threading.Lock()

    def lookup(self, url: str, date: str | None) -> Lookup | None:
        """The closest memento as a lookup (it knows no first, last or counts), or None when
        the TimeGate's answer is not a usable 200 capture (then CDX decides)."""
        key = (url, date)
        with self._lock:
            if key in self._lookups:
                known = self._lookups[key]
                return dataclasses.replace(known, via=Via.CACHE) if known else None
        stamp = date_to_timestamp(date) or datetime_to_timestamp(utc_now())
        try:
            evidence = self.reader.read(self.reader.raw_url(stamp, url))
        except ArchiveUnavailable:
            return None  # not remembered: CDX is asked, and a later call may try again
        found = None
        if evidence is not None and evidence.status == 200:
            found = Lookup(url, ArchiveState.FOUND, closest=evidence.snapshot, queried_url=url, via=Via.TIMEGATE,
                           reason="closest memento from the TimeGate")
        with self._lock:
            self._lookups[key] = found
            if found is not None and evidence is not None:
                self._mementos[key] = evidence
        return found

    def asked(self, url: str, date: str | None) -> bool:
        with self._lock:
            return (url, date) in self._lookups

    def take_memento(self, url: str, date: str | None) -> Evidence | None:
        """The memento the TimeGate gave, once: bodies are not kept all run."""
        with self._lock:
            return self._mementos.pop((url, date), None)
