"""Text that came from someone else (a document, a file name, a page, a received report) made
inert for the place it is printed: it is shown, never obeyed (docs/security.md).

Each output channel has its own dangers:
- a terminal or a CI log: control characters (a carriage return that rewrites the line, an
  escape sequence), and the workflow commands GitHub's runner parses from every line of a
  job's output: `::name ...::` at the start of a line (after white space) and the legacy
  `##[name]` anywhere in a line;
- a workflow command's own message and properties: `%`, CR and LF are escaped as the
  Actions toolkit does, `:` and `,` too in properties;
- Markdown a bot posts: `@mentions` that ping people and bare URLs GitHub turns into links;
- XML: characters XML 1.0 forbids (most control characters, lone surrogates);
- a SARIF `artifactLocation.uri`: a URI reference, so `%`, spaces, `#`, `?` are escaped.

Commands are broken by a zero-width space (U+200B) inside their marker: the text reads the
same, and the runner, which trims only white space, no longer sees a command.
"""

from __future__ import annotations

import json
import re
import urllib.parse

BREAK = "\u200b"
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")  # tab aside
_CONTROL_BUT_LF = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_COMMAND = re.compile(r"^(\s*):(?=:)", re.MULTILINE)
_LEGACY_COMMAND = "##["
_LEGACY_BROKEN = "#" + BREAK + "#["
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp)(?=://)|\b(www)(?=\.)")
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def field(text: str) -> str:
    """One value from elsewhere, for a terminal or a CI log, on one line: control
    characters (CR and LF among them) shown as escapes, workflow commands broken."""
    return lines(_CONTROL.sub(_escaped, _surrogates_shown(text)))


def lines(text: str) -> str:
    """Output citewatch wrote (its own line breaks kept) for a terminal or a CI log: no line
    starts a workflow command, no `##[` is left anywhere, no escape sequence or carriage
    return survives."""
    text = _CONTROL_BUT_LF.sub(_escaped, _surrogates_shown(text))
    text = _LINE_COMMAND.sub(lambda m: m.group(1) + ":" + BREAK, text)
    return text.replace(_LEGACY_COMMAND, _LEGACY_BROKEN)


def _escaped(match: re.Match[str]) -> str:
    """A control character as Python writes it: `\\n`, `\\x1b`."""
    return repr(match.group())[1:-1]


def command_data(text: str, *, property_value: bool = False) -> str:
    """A workflow command's message (or, with `property_value`, a property such as
    `file=`): escaped as the Actions toolkit escapes it, and `##[` broken."""
    text = _surrogates_shown(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    text = text.replace(_LEGACY_COMMAND, _LEGACY_BROKEN)
    return text.replace(":", "%3A").replace(",", "%2C") if property_value else text


def for_bots(text: str) -> str:
    """Markdown text (already escaped as Markdown) that a bot will post: `@name` pings no
    one and a bare `http://…` or `www.…` is not turned into a link."""
    text = _MENTION.sub("@" + BREAK, text)
    return _AUTOLINK.sub(lambda m: (m.group(1) or m.group(2)) + BREAK, text)


def json_text(value: object) -> str:
    """A value as JSON for a terminal or a CI log: the data unchanged once parsed, but no
    line of it a workflow command: `##[` is written `#\\u0023[`, and DEL, the C1 controls and
    lone surrogates (a file name's stray bytes; JSON allows them raw) as `\\uXXXX` escapes."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    text = re.sub(r"[\x7f-\x9f\u2028\u2029\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)
    return text.replace(_LEGACY_COMMAND, "#\\u0023[")


def xml_text(text: str) -> str:
    """Text with every character XML 1.0 forbids replaced by U+FFFD (after that, the usual
    escaping of `<`, `&` and quotes still applies)."""
    return _NOT_XML.sub("\ufffd", text)


def uri_reference(path: str) -> str:
    """A relative file path as a URI reference (RFC 3986): every byte but unreserved
    characters and `/` percent-encoded; a name that is not UTF-8 keeps its own bytes."""
    return urllib.parse.quote(path.encode("utf-8", "surrogateescape"), safe="/")


def path_shown(path: str) -> str:
    """A file name as it may be shown: bytes that are not UTF-8 (kept by Python as lone
    surrogates) written as `\\xNN`, so that printing it cannot fail."""
    return _surrogates_shown(path)


def _surrogates_shown(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:  # a file name's own bytes, as Python keeps them
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # any other lone surrogate (a report's "\ud800")
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
