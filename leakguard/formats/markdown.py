"""Markdown: a table fit for a pull-request comment or a job summary
(`>> "$GITHUB_STEP_SUMMARY"`).

Text from scanned input is escaped so that a file name cannot close the table,
open a link, or inject HTML: each Markdown character that could mean something
there is backslash-escaped, and line breaks become spaces. Values are code spans.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from leakguard.formats import printable, shown_value, where
from leakguard.formats.text import summary
from leakguard.models import ScanResult

if TYPE_CHECKING:
    from leakguard.formats import ReportOptions

# What could start emphasis, code, a link, HTML, an entity, maths or a table
# cell inside a table row or list item (block markers such as `#` or `-` only
# act at the start of a line, which escaped text never is).
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&$])")
_BREAKS = re.compile(r"[\r\n\t\f\v\x00-\x1f\x7f\u2028\u2029]+")


def escape(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", _BREAKS.sub(" ", printable(text)))


def code(text: str) -> str:
    """A code span: the value shown as it is (a table cell's `|` escaped, as GFM asks)."""
    text = _BREAKS.sub(" ", printable(text)).replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def render(result: ScanResult, options: ReportOptions) -> str:
    lines = ["### leakguard", ""]
    if options.summary:
        lines += [escape(summary(result)), ""]
    if result.findings:
        lines += [
            "| Severity | Rule | Where | Value | Message |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {f.severity} | {escape(f.rule_id)} | {escape(where(f))} "
            f"| {code(shown_value(f, options))} | {escape(f.message)} |"
            for f in result.findings
        ]
        lines.append("")
        hints = {f.rule_id: f.remediation for f in result.findings}
        lines += [f"- **{escape(rule)}**: {escape(hint)}" for rule, hint in hints.items()]
        lines.append("")
    else:
        lines += ["No secrets found.", ""]
    for title, error in (("Could not read", True), ("Skipped", False)):
        these = [s for s in result.skipped if s.error is error]
        if these:
            lines += [f"**{title}:**", ""]
            lines += [f"- {escape(s.target)}: {escape(s.reason)}" for s in these]
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
