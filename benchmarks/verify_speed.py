"""Quote matching speed: 40 citations of 10 passages each against 200 KB pages.

Run: .venv/bin/python benchmarks/verify_speed.py [--citations 40] [--passages 10] [--kb 200] [--repeat 3]
A third of the passages are verbatim, a third slightly altered (fuzzy), a third absent.
Prints reading (HTML to normalised text) and matching separately, passages per second, and
what that means for the sample document's passages. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from pipeline.extract import extract  # noqa: E402
from pipeline.text import read_page  # noqa: E402
from pipeline.verify import NormalizedPage, score_passage  # noqa: E402

WORDS = ("iran taliban tehran officials said weapons province afghan border report according government "
         "support fighters commander kabul training camps rockets ministry helmand governor insurgents "
         "diplomat sanctions embassy militia convoy smugglers mortar shipment").split()


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(12, 30))]
    return " ".join(words).capitalize() + "."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--citations", type=int, default=40)
    parser.add_argument("--passages", type=int, default=10)
    parser.add_argument("--kb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(11)
    pages, passages = [], []
    for _ in range(args.citations):
        paragraphs = []
        while sum(len(p) for p in paragraphs) < args.kb * 1024:
            paragraphs.append(" ".join(sentence(rng) for _ in range(4)))
        body = ("<html><body><nav>menu</nav>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</body></html>").encode()
        pages.append(body)
        chosen = []
        for k in range(args.passages):
            text = rng.choice(paragraphs)
            if k % 3 == 1:  # altered: a word swapped
                words = text.split()
                words[len(words) // 2] = "changed"
                text = " ".join(words)
            elif k % 3 == 2:  # absent
                text = " ".join(sentence(rng) for _ in range(3))
            chosen.append(text)
        passages.append(chosen)

    read_times, match_times = [], []
    for _ in range(args.repeat):
        started = time.process_time()
        normalized = [NormalizedPage.of(read_page(body, "text/html")) for body in pages]
        read_times.append(time.process_time() - started)
        started = time.process_time()
        for page, chosen in zip(normalized, passages):
            for text in chosen:
                score_passage(text, page)
        match_times.append(time.process_time() - started)
    count = args.citations * args.passages
    read, match = statistics.median(read_times), statistics.median(match_times)
    sample = sum(len(c.passages) for c in extract(os.path.join(os.path.dirname(__file__), "..", "data",
                                                               "000_7d4670f58732b56e.txt")).citations)
    print(f"{args.citations} pages of {args.kb} KB, {count} passages; medians of {args.repeat}, CPU time")
    print(f"reading pages: {read:.2f} s ({read / args.citations * 1000:.0f} ms a page)")
    print(f"matching: {match:.2f} s, {count / match:.0f} passages/s")
    print(f"the sample document's {sample} passages would take {sample / (count / match):.2f} s of matching CPU")


if __name__ == "__main__":
    main()
