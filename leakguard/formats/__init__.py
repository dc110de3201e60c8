"""How results are shown: one renderer per format, chosen through a table.

Renderers are small and dumb: they turn a `ScanResult` into a string and never
filter findings or decide exit codes. Each renderer module is imported only when
its format is asked for, so `leakguard --help` stays fast.
"""

from __future__ import annotations

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
