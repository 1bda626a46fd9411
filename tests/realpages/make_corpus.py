"""How tests/realpages/corpus.json was made (run by hand, not by the suite).

The pages are real web pages saved by the trafilatura project as test data (its 0.9.0 sdist on
PyPI, tests/cache/). The sentences that "really are in the article" are drawn from what an
independent extractor, trafilatura 2.3.1 (Apache-2.0), takes to be each page's main text: not
from citewatch's own reading, which is what the suite then tests.

    python3 -m venv /tmp/tv && /tmp/tv/bin/pip install trafilatura==2.3.1 lxml_html_clean
    /tmp/tv/bin/python tests/realpages/make_corpus.py /path/to/trafilatura-0.9.0/tests/cache
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

import trafilatura

HERE = Path(__file__).parent
PAGES = HERE / "pages"
PER_PAGE = 6
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜÀ-Ý\"“„«])")


def sentences(text: str) -> list[str]:
    found = []
    for paragraph in text.split("\n"):
        for sentence in SENTENCE.split(paragraph.strip()):
            words = sentence.split()
            if 8 <= len(words) <= 45 and 60 <= len(sentence) <= 300 and "…" not in sentence and "..." not in sentence \
                    and "[" not in sentence and sentence[-1] in ".!?":
                found.append(sentence)
    return found


def main(cache: Path, names: list[str]) -> None:
    PAGES.mkdir(exist_ok=True)
    corpus = []
    for name in names:
        raw = (cache / name).read_bytes()
        text = trafilatura.extract(raw, include_comments=False, include_tables=False, favor_precision=True) or ""
        chosen = sentences(text)
        if len(chosen) < 3:
            continue
        step = max(1, len(chosen) // PER_PAGE)
        picked = chosen[::step][:PER_PAGE]
        (PAGES / (name + ".gz")).write_bytes(gzip.compress(raw, mtime=0))
        corpus.append({"page": name + ".gz", "sentences": picked})
    (HERE / "corpus.json").write_text(json.dumps(corpus, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(corpus)} pages, {sum(len(p['sentences']) for p in corpus)} sentences")


if __name__ == "__main__":
    main(Path(sys.argv[1]), NAMES := [
        "theguardian.com.academics.html", "reuters.com.parasite.html", "salon.com.emissions.html",
        "scmp.com.playbook.html", "theverge.com.ios13.html", "threatpost.com.android.html",
        "vancouversun.com.microsoft.html", "vice.com.amazon.html", "nature.com.telescope.html",
        "phys.org.tool.html", "nationalgeographic.co.uk.goats.html", "knowtechie.com.rally.html",
        "boingboing.net.millenials.html", "lemire.me.json.html", "gregoryszorc.com.python3.html",
        "blog.python.org.html", "github.blog.spiceland.html", "caktusgroup.com.django.html",
        "wikimediafoundation.org.turkey.html", "creativecommons.org.html", "dw.com.colonial.html",
        "dw.com.uncork.html", "en.wikipedia.org.tsne.html", "womencantalksports.com.top10.html",
        "theplanetarypress.com.forestlands.html", "luxuriousmagazine.com.polo.html",
        "spiegel.de.albtraum.html", "zeit.de.zugverkehr.html", "sueddeutsche.de.flixtrain.html",
        "faz.net.streaming.html", "heise.de.lithium.html", "netzpolitik.org.abmahnungen.html",
        "spektrum.de.engelbart.html", "correctiv.org.zusage.html", "futurezone.at.lyft.html",
        "meedia.de.freenet.html", "spreeblick.com.habeck.html", "telemedicus.info.rezension.html",
        "internet-law.de.pseudonymen.html", "computerbase.de.htc.html", "rnz.de.witzel.html",
        "lanouvellerepublique.fr.martin.html", "laviedesidees.fr.evaluation.html",
        "franceculture.fr.idees.html", "blog.mondediplo.net.turpitude.html", "mixed.de.vrodo.html",
        "ndr.de.podcastcoronavirus140.html", "chip.de.beef.html",
    ])
