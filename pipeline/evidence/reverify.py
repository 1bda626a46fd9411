"""Verdicts made again from the kept bytes alone: no network, no archive. Each citation's
record names every copy its verdicts were made against; each copy's payload is read back
from the evidence store, its SHA-256 checked, read as a page again, and the passages are
verified against those copies with the rules in force now. What differs from the record
is said: a changed verdict (the matching rules changed, or a copy is gone or altered) and
each copy that could not be read back."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from pipeline.evidence.model import (
    EvidenceAltered,
    EvidenceMissing,
    EvidenceRef,
    Payload,
)
from pipeline.flow import verify_citation_copies
from pipeline.model import Verdict
from pipeline.results import Copy, QuoteMatch, Verification
from pipeline.signals import unusable_copy
from pipeline.text import Unreadable, read_page
from pipeline.verify import NormalizedPage, Thresholds

Reader = Callable[[EvidenceRef], Payload]


@dataclasses.dataclass(frozen=True)
class Reverified:
    """One citation: its recorded verification, the one made now, and the copies that
    could not be read back (missing, altered, never kept)."""

    citation_id: str
    then: Verification
    now: Verification
    problems: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.then.verdict is not self.now.verdict or \
            [p.verdict for p in self.then.passages] != [p.verdict for p in self.now.passages]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.citation_id,
            "verdict_then": self.then.verdict.value,
            "verdict_now": self.now.verdict.value,
            "changed": self.changed,
            "problems": list(self.problems),
            "passages": [{"line": then.line, "text": then.text, "then": then.verdict.value, "now": now.verdict.value,
                          "evidence": now.evidence.to_json() if now.evidence else None, "note": now.note}
                         for then, now in zip(self.then.passages, self.now.passages)],
        }


def reverify(verifications: Mapping[str, Verification], read: Reader,
             thresholds: Thresholds = Thresholds()) -> list[Reverified]:
    """Each recorded verification (by citation id) made again from the kept copies."""
    pages: dict[str, tuple[NormalizedPage | None, str, str | None]] = {}  # record id → page, reason, problem
    uses = Counter(_key(copy.evidence) for then in verifications.values() for copy in then.copies if copy.evidence)

    def page_of(ref: EvidenceRef) -> tuple[NormalizedPage | None, str, str | None]:
        """A kept copy read as a page, once, and forgotten after the last citation that
        names it: a large report holds only the pages still to be used."""
        key = _key(ref)
        found = pages[key] if key in pages else _read_copy(ref, read)
        uses[key] -= 1
        if uses[key] > 0:
            pages[key] = found
        else:
            pages.pop(key, None)
        return found

    done = []
    for citation_id, then in verifications.items():
        copies: list[Copy] = []
        problems: list[str] = []
        if not then.copies and any(p.verdict is not Verdict.UNVERIFIABLE for p in then.passages):
            problems.append("recorded without the copies it was made on (before citewatch kept evidence): "
                            "run its document again to keep them")
        for copy in then.copies:
            if copy.evidence is None:
                if not copy.reason:  # read then, but its bytes were not kept
                    problems.append(f"{copy.kind.value} copy of {copy.url}: its bytes were not kept")
                    copy = dataclasses.replace(copy, reason="its bytes were not kept")
                copies.append(copy)
                continue
            page, reason, problem = page_of(copy.evidence)
            if problem:
                problems.append(problem)
            copies.append(dataclasses.replace(copy, page=page, reason=reason))
        passages = tuple((p.text, p.line) for p in then.passages)
        now = verify_citation_copies(passages, copies, thresholds, then.verified_at)
        done.append(Reverified(citation_id, then, _as_recorded(now, then), tuple(dict.fromkeys(problems))))
    return done


def _key(ref: EvidenceRef) -> str:
    return f"{ref.record_id} {ref.sha256}"


def _read_copy(ref: EvidenceRef, read: Reader) -> tuple[NormalizedPage | None, str, str | None]:
    try:
        payload = read(ref)
    except (EvidenceMissing, EvidenceAltered) as exc:
        return None, f"evidence unusable: {exc}", str(exc)
    try:
        text = read_page(payload.body, payload.content_type)
    except Unreadable as exc:
        return None, str(exc), None
    return NormalizedPage.of(text, unusable_copy(text, payload.body)), "", None


def _as_recorded(now: Verification, then: Verification) -> Verification:
    """Passages in the record's order, each with its recorded text and line."""
    passages = tuple(dataclasses.replace(n, text=t.text, line=t.line) for n, t in zip(now.passages, then.passages))
    return dataclasses.replace(now, passages=passages)


def verification_from_json(citation: Mapping[str, Any]) -> Verification | None:
    """A citation of a report.json as a recorded verification (None: not verified then)."""
    if not citation.get("verified_at") and not citation.get("copies"):
        return None
    return Verification(Verdict(citation["verdict"]), tuple(QuoteMatch.from_json(p) for p in citation["passages"]),
                        citation.get("verified_at"), tuple(Copy.from_json(c) for c in citation.get("copies", ())))
