"""What is reported and what the exit code says: decided here, never in a renderer."""

from __future__ import annotations

from leakguard.baseline import Baseline
from leakguard.errors import ExitCode
from leakguard.models import Confidence, ScanResult


def apply_policy(
    result: ScanResult,
    *,
    baseline: Baseline | None = None,
    min_confidence: Confidence = Confidence.LOW,
) -> ScanResult:
    """Drop baselined and low-confidence findings; count what was dropped."""
    kept = []
    for finding in result.findings:
        if finding.confidence.rank < min_confidence.rank:
            continue
        if baseline is not None and finding in baseline:
            result.stats.suppressed_baseline += 1
            continue
        kept.append(finding)
    out = ScanResult(findings=kept, skipped=list(result.skipped), stats=result.stats)
    out.sort()
    return out


def exit_code_for(result: ScanResult) -> ExitCode:
    """3 when anything could not be read (even with findings), else 1 for findings, else 0."""
    if any(s.error for s in result.skipped):
        return ExitCode.UNREADABLE
    if result.findings:
        return ExitCode.FINDINGS
    return ExitCode.CLEAN
