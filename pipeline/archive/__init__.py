"""Web archives: which captures a URL has, the one closest to a claim's date, the memento to
read as evidence, and saving (docs/archives.md). `client.ArchiveClient` (and `many.Archives`
for several) is the whole surface the rest of citewatch uses; the modules beside it are its
parts. Nothing is imported here, so that reading the values (`model`) never loads a client:

- `model`     the values: Capture, Snapshot, Lookup, Evidence, SaveResult, ArchiveState
- `choose`    which capture serves a claim (pure)
- `policy`    per-class pacing, 429 pauses, tries again, the circuit breaker
- `index`     CDX searches, in the Internet Archive's or pywb's dialect
- `timemap`   captures from any Memento archive's TimeMap
- `mementos`  reading raw mementos, archived redirects followed inside the archive
- `timegate`  the closest memento first (RFC 7089)
- `save`      Save Page Now 2, pywb's record mode
- `client`    the composition; `many` several archives as one
"""
