"""The human report: findings grouped by where they were seen, then by line.

    samples/.env
      3:19  critical  stripe-secret-key  sk_l…  Stripe live secret key
      hint stripe-secret-key: Roll the key in the Stripe dashboard, ...

    1 finding (1 critical) in 6 files, 0.0 MB read, 0.12s

The layout is built once as styled segments; colour (rich) is only a way of
printing them. Text that came from scanned input is made printable, so a file
name cannot smuggle terminal escape codes into the report.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from leakguard.formats import for_terminal, shown_value
from leakguard.models import Finding, Location, ScanResult, Severity, Surface

if TYPE_CHECKING:
    from leakguard.formats import ReportOptions

Segment = tuple[str, str | None]  # (text, rich style)
Line = list[Segment]

SEVERITY_STYLES = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
}
_SEVERITY_ORDER = sorted(Severity, key=lambda s: s.rank, reverse=True)
_GAP: Segment = ("  ", None)


def render(result: ScanResult, options: ReportOptions) -> str:
    lines = layout(result, options)
    if options.color:
        return _colored(lines)
    return "".join("".join(text for text, _ in line) + "\n" for line in lines)


def layout(result: ScanResult, options: ReportOptions) -> list[Line]:
    groups: dict[str, list[Finding]] = {}
    for finding in result.findings:
        groups.setdefault(heading(finding.location), []).append(finding)

    lines: list[Line] = []
    hinted: set[str] = set()
    for title, findings in groups.items():
        lines.append([(for_terminal(title), "bold")])
        lines.extend(_rows(sorted(findings, key=_line_order), options))
        for finding in findings:
            if finding.rule_id not in hinted:
                hinted.add(finding.rule_id)
                hint = (
                    f"  hint {for_terminal(finding.rule_id)}: {for_terminal(finding.remediation)}"
                )
                lines.append([(hint, "dim")])
        lines.append([])

    for title, style, error in (("Could not read:", "bold yellow", True),
                                ("Skipped:", "dim", False)):  # fmt: skip
        these = [s for s in result.skipped if s.error is error]
        if these:
            lines.append([(title, style)])
            lines.extend(
                [(f"  {for_terminal(s.target)}: {for_terminal(s.reason)}", None)] for s in these
            )
            lines.append([])

    if options.summary:
        lines.append([(summary(result), "bold")])
    elif lines and not lines[-1]:
        lines.pop()  # no blank line left dangling at the end
    return lines


def heading(loc: Location) -> str:
    """What a group of findings is about: a path, a path in a commit, an image."""
    if loc.surface is Surface.IMAGE:
        parts = [loc.image or "<image>"]
        if loc.path:
            parts.append(loc.path)
        details = [loc.origin.value] if loc.origin else []
        if loc.layer:
            details.append(f"layer {_short_digest(loc.layer)}")
        if loc.deleted:
            details.append("deleted in a later layer")
        if details:
            parts.append(f"({', '.join(details)})")
        return " ".join(parts)
    title = loc.path or f"<{loc.surface.value}>"
    if loc.commit:
        title += f" @ {loc.commit[:12]}"
    if loc.deleted:
        title += " (deleted)"
    return title


def summary(result: ScanResult) -> str:
    """`3 findings (1 critical, 2 high) in 12 files, 0.3 MB read, 1.23s; 1 could not be read`

    "MB read" is what the rules ran on; what was passed over unread (binary
    files, files over the size bound) is its own figure, never folded into it.
    """
    findings, stats = result.findings, result.stats
    counts = Counter(f.severity for f in findings)
    text = plural(len(findings), "finding")
    if findings:
        text += " (" + ", ".join(f"{counts[s]} {s}" for s in _SEVERITY_ORDER if counts[s]) + ")"
    text += (
        f" in {plural(stats.files, 'file')}, {stats.bytes / 1_000_000:.1f} MB read,"
        f" {stats.duration_s:.2f}s"
    )
    if stats.bytes_skipped:
        text += f"; {_megabytes(stats.bytes_skipped)} passed over (binary or over the size bound)"
    errors = sum(1 for s in result.skipped if s.error)
    if errors:
        text += f"; {errors} could not be read"
    if len(result.skipped) > errors:
        text += f"; {len(result.skipped) - errors} skipped"
    return text


def _megabytes(n: int) -> str:
    """MB with one decimal; a small amount in kB rather than a misleading 0.0 MB."""
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n / 1_000:.1f} kB"


def _rows(findings: list[Finding], options: ReportOptions) -> list[Line]:
    cells = [
        (
            _position(f.location),
            f.severity,
            for_terminal(f.rule_id),
            for_terminal(shown_value(f, options)),
            for_terminal(f.message),
        )
        for f in findings
    ]
    width = [max(len(str(row[i])) for row in cells) for i in range(4)]
    return [
        [
            ("  " + position.ljust(width[0]), None),
            _GAP,
            (severity.value.ljust(width[1]), SEVERITY_STYLES[severity]),
            _GAP,
            (rule.ljust(width[2]), None),
            _GAP,
            (value.ljust(width[3]), None),
            _GAP,
            (message, None),
        ]
        for position, severity, rule, value, message in cells
    ]


def _position(loc: Location) -> str:
    if loc.line is None:
        return "-"
    return f"{loc.line}:{loc.column}" if loc.column is not None else str(loc.line)


def _line_order(finding: Finding) -> tuple[bool, int, int]:
    loc = finding.location
    return (loc.line is None, loc.line or 0, loc.column or 0)


def _short_digest(digest: str) -> str:
    algorithm, sep, value = digest.partition(":")
    return f"{algorithm}:{value[:12]}" if sep else digest[:12]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _colored(lines: list[Line]) -> str:
    from io import StringIO

    from rich.console import Console
    from rich.text import Text

    buffer = StringIO()
    console = Console(
        file=buffer,
        force_terminal=True,
        color_system="standard",
        no_color=False,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
    )
    for line in lines:
        console.print(
            Text.assemble(*(text if style is None else (text, style) for text, style in line))
        )
    return buffer.getvalue()
