"""What is reported and what the exit code says: decided here, never in a renderer."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from leakguard.baseline import Baseline
from leakguard.errors import ExitCode
from leakguard.models import Confidence, Finding, ScanResult, Severity, Surface
from leakguard.rules.values import KNOWN_EXAMPLES


def apply_policy(
    result: ScanResult,
    *,
    baseline: Baseline | None = None,
    min_confidence: Confidence = Confidence.LOW,
    disable: Collection[str] = (),
    min_severity: Severity = Severity.LOW,
) -> ScanResult:
    """Drop duplicates, disabled checks, documented example credentials and made-up
    test values, baselined and low-confidence findings, and findings below
    `min_severity` (`--min-severity`).

    Two surfaces may see the same secret at the same place (a Compose file's
    `env_file`, and the same file on the walk): it is reported once, by the
    surface that knows more about it.
    """
    kept = []
    seen = set()
    disabled = set(disable)
    for finding in sorted(result.findings, key=_most_specific_first):
        loc = finding.location
        key = (finding.rule_id, loc.path, loc.line, loc.column, loc.commit, loc.image,
               loc.layer, loc.origin, finding.fingerprint)  # fmt: skip
        if key in seen:
            continue
        seen.add(key)
        if finding.rule_id in disabled:
            continue
        if finding.made_up or finding.fingerprint in KNOWN_EXAMPLES:
            # Published in vendor docs, SDKs or their tests, or a test's made-up wrong
            # input: it opens nothing.
            result.stats.suppressed_examples += 1
            continue
        if finding.confidence.rank < min_confidence.rank:
            continue
        if baseline is not None and finding in baseline:
            result.stats.suppressed_baseline += 1
            continue
        if finding.confidence is Confidence.LOW and finding.severity is not Severity.LOW:
            finding = replace(finding, severity=Severity.LOW)  # a note, whatever the rule
        if finding.severity.rank < min_severity.rank:
            continue
        kept.append(finding)
    out = ScanResult(findings=kept, skipped=list(result.skipped), stats=result.stats)
    out.sort()
    return out


def _most_specific_first(finding: Finding) -> bool:
    return finding.location.surface == Surface.FILE


def exit_code_for(result: ScanResult, fail_on: Severity = Severity.LOW) -> ExitCode:
    """3 when anything could not be read (even with findings), else 1 for findings
    at or above `fail_on` (`--fail-on`), else 0: findings below it are reported
    and do not fail the run."""
    if any(s.error for s in result.skipped):
        return ExitCode.UNREADABLE
    if failing(result, fail_on):
        return ExitCode.FINDINGS
    return ExitCode.CLEAN


def failing(result: ScanResult, fail_on: Severity = Severity.LOW) -> list[Finding]:
    return [f for f in result.findings if f.severity.rank >= fail_on.rank]


def explain(result: ScanResult, code: ExitCode, fail_on: Severity = Severity.LOW) -> str:
    """The exit code and why, in one line: `exit 1: 2 findings at or above high`."""
    errors = sum(1 for s in result.skipped if s.error)
    bar = "" if fail_on is Severity.LOW else f" at or above {fail_on}"
    failed = len(failing(result, fail_on))
    below = len(result.findings) - failed
    also = f" ({below} below {fail_on}, reported only)" if below else ""
    if code is ExitCode.UNREADABLE:
        what = "target" if errors == 1 else "targets"
        found = len(result.findings)
        rest = f"{found} finding{'' if found == 1 else 's'} in" if found else "nothing found in"
        return f"exit 3: {errors} {what} could not be read ({rest} the rest)"
    if code is ExitCode.FINDINGS:
        return f"exit 1: {failed} finding{'' if failed == 1 else 's'}{bar}{also}"
    if code is ExitCode.CLEAN:
        return f"exit 0: no finding{bar}{also}"
    return f"exit {int(code)}"
