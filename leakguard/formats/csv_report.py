"""CSV: one row per finding, RFC 4180 (CRLF line ends, quotes doubled), with a header.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and, in some,
a tab or carriage return) as a formula, so a file named `=HYPERLINK(...)`
could run when the report is opened: such a cell is written with a leading
`'`, which shows it as text.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from leakguard.formats import printable, shown_value
from leakguard.models import Finding, ScanResult

if TYPE_CHECKING:
    from leakguard.formats import ReportOptions

COLUMNS = (
    "severity", "confidence", "rule_id", "surface", "path", "line", "column", "commit",
    "image", "layer", "origin", "deleted", "value", "fingerprint", "message", "remediation",
)  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """The cell as text a spreadsheet will not run."""
    value = printable(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def render(result: ScanResult, options: ReportOptions) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    writer.writerows([safe_cell(cell) for cell in _row(f, options)] for f in result.findings)
    return buffer.getvalue()


def _row(finding: Finding, options: ReportOptions) -> list[str]:
    loc = finding.location

    def text(value: object) -> str:
        return "" if value is None else str(value)

    return [
        str(finding.severity), str(finding.confidence), finding.rule_id, str(loc.surface),
        text(loc.path), text(loc.line), text(loc.column), text(loc.commit), text(loc.image),
        text(loc.layer), text(loc.origin), "true" if loc.deleted else "false",
        shown_value(finding, options), finding.fingerprint, finding.message, finding.remediation,
    ]  # fmt: skip
