"""How results are shown: one renderer per format, chosen through a table.

Renderers are small and dumb: they turn a `ScanResult` into a string and never
filter findings or decide exit codes. Each renderer module is imported only when
its format is asked for, so `leakguard --help` stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from leakguard import __version__
from leakguard.models import Finding, ScanResult


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    GITLAB = "gitlab"
    JUNIT = "junit"
    CSV = "csv"
    MARKDOWN = "markdown"
    DETECT_SECRETS = "detect-secrets"
    HTML = "html"


@dataclass(frozen=True, slots=True)
class ReportOptions:
    show_secrets: bool = False  # only --show-secrets reveals values
    color: bool = False  # text only; the CLI decides (TTY, --color, NO_COLOR, FORCE_COLOR)
    tool_version: str = __version__
    summary: bool = True  # text: end with the summary line (--quiet leaves it out)
    # When the scan finished (UTC); formats that carry times (gitlab, junit)
    # count the start back from it by the scan's duration. None: now.
    finished_at: datetime | None = None
    # What the command knows of the run beyond the result, as (label, value)
    # pairs (a sweep's repositories, tags, layers read): formats with an
    # overview (html) show them.
    facts: tuple[tuple[str, str], ...] = ()

    def finished(self) -> datetime:
        return self.finished_at or datetime.now(UTC)


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


def for_terminal(text: str) -> str:
    """`printable(text)` with control characters (ESC, newlines, ...) shown as
    escapes, never emitted: a file or member name cannot move the cursor, retitle
    the window or forge a line in a terminal or a CI log."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in printable(text))


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


class _Lazy:
    """A renderer whose module is imported on first use (`leakguard --help` and the
    hooks never import formats they do not print)."""

    def __init__(self, module: str):
        self.module = module

    def __call__(self, result: ScanResult, options: ReportOptions) -> str:
        import importlib

        rendered: str = importlib.import_module(f"leakguard.formats.{self.module}").render(
            result, options
        )
        return rendered


RENDERERS: dict[Format, Renderer] = {
    Format.TEXT: _Lazy("text"),
    Format.JSON: _Lazy("json_report"),
    Format.SARIF: _Lazy("sarif"),
    Format.GITLAB: _Lazy("gitlab"),
    Format.JUNIT: _Lazy("junit"),
    Format.CSV: _Lazy("csv_report"),
    Format.MARKDOWN: _Lazy("markdown"),
    Format.DETECT_SECRETS: _Lazy("detect_secrets_baseline"),
    Format.HTML: _Lazy("html_report"),
}


def shown_value(finding: Finding, options: ReportOptions) -> str:
    """What a report shows of a secret: its redacted form, or with --show-secrets
    the value itself (a finding about a file's presence has none)."""
    if options.show_secrets and finding.has_secret:
        return finding.secret.reveal()
    return finding.redacted


def where(finding: Finding) -> str:
    """One line naming the place: `path:line`, `path@commit:line`,
    `image (layer sha256:0a1b…, env)`. Bytes that are not UTF-8 as `\\xNN`."""
    loc = finding.location
    if loc.image:
        place = loc.image + (f" {loc.path}" if loc.path else "")
        details = [str(loc.origin)] if loc.origin else []
        if loc.layer:
            details.insert(0, f"layer {loc.layer[:19]}")
        if loc.deleted:
            details.append("deleted in a later layer")
        return printable(place + (f" ({', '.join(details)})" if details else ""))
    place = loc.path or f"<{loc.surface}>"
    if loc.commit:
        place += f"@{loc.commit[:12]}"
    if loc.line is not None:
        place += f":{loc.line}"
    if loc.deleted:
        place += " (deleted)"
    return printable(place)


def render(fmt: Format, result: ScanResult, options: ReportOptions) -> str:
    """The whole report as one string, ending with a newline."""
    return RENDERERS[fmt](result, options)
