"""JUnit XML, the test report Jenkins, GitLab and Azure DevOps show in a test tab.

One `<testsuite>` named after the tool; one `<testcase>` per file, commit file
or image that holds findings, failed with one `<failure>` that lists each
finding on its own line (those readers keep one failure per test case, so
several `<failure>` elements would hide all but one). A target that could not
be read is a test case with an `<error>`; a note (a device in a layer) one
marked `<skipped>`. The files scanned clean are one passing test case, as the
report holds their count, not their names.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from leakguard.formats import printable, shown_value, where
from leakguard.formats.text import heading, plural, summary
from leakguard.models import Finding, ScanResult

if TYPE_CHECKING:
    from leakguard.formats import ReportOptions

# Characters XML 1.0 cannot hold at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", printable(value))


def _attr(value: str) -> str:
    return quoteattr(_text(value), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def render(result: ScanResult, options: ReportOptions) -> str:
    groups: dict[str, list[Finding]] = {}
    for finding in result.findings:
        groups.setdefault(heading(finding.location), []).append(finding)
    cases: list[str] = []
    for name, findings in groups.items():
        worst = max(findings, key=lambda f: f.severity.rank)
        rules = ", ".join(dict.fromkeys(f.rule_id for f in findings))
        message = f"{plural(len(findings), 'secret')} ({rules})"
        body = "\n".join(
            f"{f.severity} {f.rule_id} {where(f)}: {f.message}: {shown_value(f, options)}\n"
            f"  fix: {f.remediation}"
            for f in findings
        )
        cases.append(
            f"    <testcase classname={_attr('leakguard.' + worst.location.surface)} "
            f"name={_attr(name)}>\n"
            f"      <failure type={_attr(str(worst.severity))} message={_attr(message)}>"
            f"{escape(_text(body))}</failure>\n"
            "    </testcase>\n"
        )
    errors = 0
    for skipped in result.skipped:
        reason = _attr(skipped.reason)
        if skipped.error:
            errors += 1
            inner = f'<error type="unreadable" message={reason}/>'
        else:
            inner = f"<skipped message={reason}/>"
        cases.append(
            f'    <testcase classname="leakguard.skipped" name={_attr(skipped.target)}>'
            f"{inner}</testcase>\n"
        )
    clean = result.stats.files - len(groups)
    if clean > 0 or not cases:
        cases.append(
            f'    <testcase classname="leakguard.file" '
            f"name={_attr(plural(max(clean, 0), 'other file') + ' scanned: no finding')}/>\n"
        )
    end = options.finished()
    start = end - timedelta(seconds=max(result.stats.duration_s, 0.0))
    counts = (
        f'tests="{len(cases)}" failures="{len(groups)}" errors="{errors}" '
        f'time="{result.stats.duration_s:.3f}"'
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites name="leakguard" {counts}>\n'
        f'  <testsuite name="leakguard" {counts} skipped="{len(result.skipped) - errors}" '
        f'timestamp="{start.strftime("%Y-%m-%dT%H:%M:%S")}">\n'
        '    <properties><property name="leakguard.version" '
        f"value={_attr(options.tool_version)}/></properties>\n"
        + "".join(cases)
        + f"    <system-out>{escape(_text(summary(result)))}</system-out>\n"
        "  </testsuite>\n"
        "</testsuites>\n"
    )
