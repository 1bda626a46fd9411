"""Evidence you can keep: the bytes every verdict rests on, as WARC (docs/evidence.md).

- `model`     the values: `Exchange` (a copy as read), `EvidenceRef` (where its bytes are)
- `store`     the folder of WARC files and its index: keep, read back, list, prune
- `reverify`  verdicts recomputed from the kept bytes alone
- `package`   one document's evidence as a WACZ; replay through pywb
"""

from pipeline.evidence.model import (
    EvidenceAltered,
    EvidenceError,
    EvidenceMissing,
    EvidenceRef,
    Exchange,
    Keep,
)

__all__ = ["EvidenceAltered", "EvidenceError", "EvidenceMissing", "EvidenceRef", "Exchange", "Keep"]
