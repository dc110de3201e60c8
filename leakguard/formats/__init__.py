"""How results are shown: one renderer per format, chosen through a table.

Renderers are small and dumb: they turn a `ScanResult` into a string and never
filter findings or decide exit codes. Each renderer module is imported only when
its format is asked for, so `leakguard --help` stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from leakguard import __version__
from leakguard.models import ScanResult


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


@dataclass(frozen=True, slots=True)
class ReportOptions:
    show_secrets: bool = False  # only --show-secrets reveals values
    color: bool = False  # text only; the CLI decides (TTY, --color, NO_COLOR)
    tool_version: str = __version__


Renderer = Callable[[ScanResult, ReportOptions], str]

_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with every byte that was not UTF-8 shown as `\\xNN`.

    Names read from a disk, a tarball or git are decoded as UTF-8 with each
    undecodable byte kept as a lone surrogate (U+DC80..U+DCFF), which no UTF-8
    output can hold. Every format shows such a byte the same way: a file named
    b"bad\\xff.env" is reported as `bad\\xff.env`. Any other lone surrogate
    (one a JSON document spelled out) is shown as `\\uXXXX`.
    """
    if text.isascii():
        return text
    return _SURROGATE.sub(_escape_surrogate, text)


def _escape_surrogate(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def printable_tree(value: object) -> object:
    """A JSON-shaped value with `printable` applied to every string in it."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_tree(k): printable_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable_tree(v) for v in value]
    return value


# How json.dumps (ASCII output) spells a surrogate: a lone one, or half of a pair.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def json_dumps(value: object) -> str:
    """`json.dumps(value, indent=2)` with `printable` applied to every string.

    Dumped first as it is: only output that spells a surrogate (rare: a name
    that is not UTF-8, or a character beyond U+FFFF) is dumped again through
    `printable_tree`, so large reports do not pay for a second walk.
    """
    import json

    text = json.dumps(value, indent=2)
    if _SURROGATE_ESCAPE.search(text):
        text = json.dumps(printable_tree(value), indent=2)
    return text


def raw_bytes(text: str) -> bytes:
    """The bytes a decoded name stood for: each U+DC80..U+DCFF back to its byte."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # another lone surrogate: keep it, as its code point
        return text.encode("utf-8", "surrogatepass")


def _text(result: ScanResult, options: ReportOptions) -> str:
    from leakguard.formats import text

    return text.render(result, options)


def _json(result: ScanResult, options: ReportOptions) -> str:
    from leakguard.formats import json_report

    return json_report.render(result, options)


def _sarif(result: ScanResult, options: ReportOptions) -> str:
    from leakguard.formats import sarif

    return sarif.render(result, options)


RENDERERS: dict[Format, Renderer] = {
    Format.TEXT: _text,
    Format.JSON: _json,
    Format.SARIF: _sarif,
}


def render(fmt: Format, result: ScanResult, options: ReportOptions) -> str:
    """The whole report as one string, ending with a newline."""
    return RENDERERS[fmt](result, options)
