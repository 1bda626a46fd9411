"""What a page says about itself: "not found", a bot challenge, a paywall, a login or cookie
wall. Text patterns only (pure): liveness uses them to classify a live response, and
verification to tell an archived copy that cannot hold the article (a challenge or an error
page saved with status 200) from one that does not."""

from __future__ import annotations

import re

from pipeline.text import PageText

SOFT_404_TITLE = re.compile(
    r"(\b404\b|not found|page (?:cannot|can't|could not) be found|(?:does not|doesn't) exist|"
    r"no longer (?:available|exists)|page introuvable|nicht gefunden|no encontrad[ao]|non trovata|"
    r"niet gevonden|não encontrada|не найдена|bulunamad|nie znaleziono|غير موجودة|پیدا نشد|یافت نشد|"
    r"找不到|不存在|見つかりません)",
    re.IGNORECASE,
)
SOFT_404_TEXT = re.compile(
    r"(the (?:page|article|story) you (?:are looking for|requested|were looking for|tried to access) "
    r"(?:could not|cannot|can't|does not|doesn't|no longer|is no longer|was not)|"
    r"sorry,? (?:we |but we )?(?:couldn't|could not|can't|cannot) find (?:that|the|this|what)|"
    r"this page (?:doesn't|does not) exist|we can't find the page|error 404)",
    re.IGNORECASE,
)
_SOFT_404_WORDS = ("found", "exist", "find", "404")  # SOFT_404_TEXT cannot match without one
BOT_WALL = re.compile(
    r"(just a moment\.\.\.|attention required|are you a robot|captcha|verify you are (?:a )?human|"
    r"access denied|ddos protection|security check|bot verification|please enable (?:js|javascript and) cookies)",
    re.IGNORECASE,
)
PAYWALL = re.compile(
    r"(\"isAccessibleForFree\"\s*:\s*\"?false|content_tier\"?\s+content=\"(?:locked|metered)|"
    r"subscribe to (?:continue|read)|already a subscriber\?)",
    re.IGNORECASE,
)
_PAYWALL_HINTS = (b"ccessibleForFree", b"content_tier", b"ubscribe", b"subscriber")
WALL = re.compile(
    r"((?:sign|log) ?in to (?:continue|read|view|access)|please (?:sign|log) ?in|you must be logged in|"
    r"create a free account to|register to (?:continue|read)|accept (?:all )?cookies|cookie (?:consent|settings|policy)|"
    r"we use cookies|consent to (?:the use of )?cookies|privacy choices|before you continue)",
    re.IGNORECASE,
)
SHORT_TEXT = 1500  # a wall's whole text: an article is longer


def says_not_found_in_title(view: PageText) -> bool:
    return bool(SOFT_404_TITLE.search(view.title) or SOFT_404_TITLE.search(view.headings))


def says_cannot_be_found(view: PageText) -> bool:
    """The start of the page says the page cannot be found."""
    start = view.visible[:3000]
    lowered = start.lower()
    return any(word in lowered for word in _SOFT_404_WORDS) and bool(SOFT_404_TEXT.search(start))


def is_bot_wall(view: PageText) -> bool:
    return bool(BOT_WALL.search(view.title or view.visible[:500]))


def is_paywalled(body: bytes) -> bool:
    """Marked as subscriber-only (schema.org `isAccessibleForFree: false`, a metered or
    locked content tier) or asking to subscribe to read on."""
    head = body[:200_000]
    return any(hint in head for hint in _PAYWALL_HINTS) and bool(PAYWALL.search(head.decode("utf-8", "replace")))


def unusable_copy(view: PageText, body: bytes) -> str | None:
    """Why a copy cannot be taken as evidence that a passage is absent (it is a challenge,
    an error page, a teaser, a wall), or None. Such a copy still verifies what it holds."""
    text = " ".join(view.paragraphs)
    if is_bot_wall(view):
        return "the copy is a bot challenge page"
    if says_not_found_in_title(view) or says_cannot_be_found(view):
        return "the copy is a \"not found\" page saved as a page"
    if is_paywalled(body):
        return "the copy is a paywall teaser"
    if len(text) < SHORT_TEXT and WALL.search(view.visible[:SHORT_TEXT * 2]):
        return "the copy is a login or cookie wall"
    return None
