"""The JSON report; its contract is `report.schema.json`, next to this module.

Location and stats fields are copied field by field from the models, so a field
added there shows up here and the schema test asks for the schema to follow.
"""

from __future__ import annotations

from dataclasses import fields
from enum import Enum
from typing import TYPE_CHECKING, Any

from leakguard.formats import json_dumps
from leakguard.models import Finding, Location, ScanResult, ScanStats, Skipped

if TYPE_CHECKING:
    from leakguard.formats import ReportOptions


def render(result: ScanResult, options: ReportOptions) -> str:
    # Names with bytes that are not UTF-8 are shown with `\\xNN` escapes, as in
    # every format: the report is valid UTF-8 that any JSON parser takes.
    return json_dumps(report(result, options)) + "\n"


def report(result: ScanResult, options: ReportOptions) -> dict[str, Any]:
    return {
        "tool": "leakguard",
        "version": options.tool_version,
        "findings": [_finding(f, options.show_secrets) for f in result.findings],
        "skipped": [_skipped(s) for s in result.skipped],
        "stats": _stats(result.stats),
    }


def _finding(finding: Finding, show_secrets: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule_id": str(finding.rule_id),
        "severity": finding.severity.value,
        "confidence": finding.confidence.value,
        "fingerprint": finding.fingerprint,
        "redacted": finding.redacted,
        "message": finding.message,
        "remediation": finding.remediation,
        "location": _location(finding.location),
    }
    if show_secrets and finding.has_secret:  # a presence finding has no value to show
        out["secret"] = finding.secret.reveal()
    return out


def _location(location: Location) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in fields(location):
        value = getattr(location, field.name)
        out[field.name] = value.value if isinstance(value, Enum) else value
    return out


def _skipped(skipped: Skipped) -> dict[str, str | bool]:
    # error: true means content that could hold a secret was not read (unreadable,
    # truncated, over --max-file-size or the archive depth bound): exit code 3.
    # false is a note (a device in a layer, a managed secret file)
    return {"target": skipped.target, "reason": skipped.reason, "error": skipped.error}


def _stats(stats: ScanStats) -> dict[str, int | float]:
    out: dict[str, int | float] = {f.name: getattr(stats, f.name) for f in fields(stats)}
    out["duration_s"] = round(stats.duration_s, 3)
    return out
