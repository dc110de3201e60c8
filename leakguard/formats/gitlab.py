"""GitLab's secret-detection report (`artifacts:reports:secret_detection`).

Written to GitLab's published security report schema for secret detection,
version `SCHEMA_VERSION` (tests validate against a vendored copy). One
vulnerability per finding:

- `id`: a UUID-shaped sha256 of the rule, the place (path or image, line,
  commit, layer, origin) and the secret's fingerprint, so the same finding
  keeps its id from one pipeline to the next;
- `identifiers`: the rule (`leakguard_rule_id`), which GitLab uses to group;
- `location`: file, lines and commit. The schema requires a commit; a finding
  outside git history carries GitLab's own placeholder sha, `0000000`;
- `raw_source_code_extract`: the redacted value (the secret only with
  `--show-secrets`).

Skipped targets become scan messages; when content that could hold a secret
was not read, the scan's status is `failure`.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from leakguard.formats import json_dumps, printable, raw_bytes, shown_value
from leakguard.models import Finding, ScanResult, Severity, Surface

if TYPE_CHECKING:
    from leakguard.formats import ReportOptions

SCHEMA_VERSION = "15.2.1"
SCHEMA_URI = (
    "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/"
    f"v{SCHEMA_VERSION}/dist/secret-detection-report-format.json"
)
NO_COMMIT = "0000000"  # what GitLab's own analyzer writes for a scan outside git
SEVERITIES = {
    Severity.CRITICAL: "Critical",
    Severity.HIGH: "High",
    Severity.MEDIUM: "Medium",
    Severity.LOW: "Low",
}
_TIME = "%Y-%m-%dT%H:%M:%S"  # the schema's pattern: UTC, no zone, no fraction
_MAX_SOLUTION = 7000  # the schema's maxLength
_MAX_NAME = 255


def render(result: ScanResult, options: ReportOptions) -> str:
    return json_dumps(report(result, options)) + "\n"


def report(result: ScanResult, options: ReportOptions) -> dict[str, Any]:
    end = options.finished()
    start = end - timedelta(seconds=max(result.stats.duration_s, 0.0))
    tool = {
        "id": "leakguard",
        "name": "leakguard",
        "version": options.tool_version,
        "vendor": {"name": "leakguard"},
    }
    scan: dict[str, Any] = {
        "analyzer": tool,
        "scanner": tool,
        "type": "secret_detection",
        "start_time": start.strftime(_TIME),
        "end_time": end.strftime(_TIME),
        "status": "failure" if any(s.error for s in result.skipped) else "success",
    }
    messages = [
        {
            "level": "warn" if s.error else "info",
            "value": f"{'could not read' if s.error else 'skipped'} {s.target}: {s.reason}",
        }
        for s in result.skipped
    ]
    if messages:
        scan["messages"] = messages
    return {
        "version": SCHEMA_VERSION,
        "schema": SCHEMA_URI,
        "scan": scan,
        "vulnerabilities": [_vulnerability(f, options) for f in result.findings],
    }


def vulnerability_id(finding: Finding) -> str:
    """A UUID-shaped digest of what makes this finding this one."""
    loc = finding.location
    parts = (
        finding.rule_id, loc.path or "", str(loc.line or ""), loc.commit or "", loc.image or "",
        loc.layer or "", str(loc.origin or ""), finding.fingerprint,
    )  # fmt: skip
    digest = hashlib.sha256(raw_bytes("\0".join(parts))).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _vulnerability(finding: Finding, options: ReportOptions) -> dict[str, Any]:
    loc = finding.location
    description = f"{finding.message} ({finding.redacted}), in {_place(finding)}"
    if loc.deleted:
        description += "; removed later, still in history" if loc.commit else "; deleted later"
    out: dict[str, Any] = {
        "id": vulnerability_id(finding),
        "name": finding.message[:_MAX_NAME],
        "description": description,
        "severity": SEVERITIES[finding.severity],
        "solution": finding.remediation[:_MAX_SOLUTION],
        "identifiers": [
            {
                "type": "leakguard_rule_id",
                "name": f"leakguard rule {finding.rule_id}",
                "value": str(finding.rule_id),
            }
        ],
        "location": _location(finding),
        "raw_source_code_extract": shown_value(finding, options),
    }
    return out


def _place(finding: Finding) -> str:
    loc = finding.location
    if loc.surface is Surface.IMAGE:
        what = f"image {loc.image}"
        if loc.layer:
            what += f", layer {loc.layer}"
        if loc.path:
            what += f", file {loc.path}"
        elif loc.origin:
            what += f", {loc.origin}"
        return printable(what)
    return printable(loc.path or f"<{loc.surface}>")


def _location(finding: Finding) -> dict[str, Any]:
    loc = finding.location
    commit: dict[str, Any] = {"sha": loc.commit or NO_COMMIT}
    if loc.author:
        commit["author"] = loc.author
    if loc.date:
        commit["date"] = loc.date
    out: dict[str, Any] = {}
    if loc.surface is Surface.IMAGE:
        # No file of the repository: the image and the place in it.
        out["file"] = f"{loc.image or '<image>'}:{loc.path or '/' + str(loc.origin or '')}"
    elif loc.path:
        out["file"] = loc.path
    if loc.line is not None and loc.line >= 1:
        out["start_line"] = loc.line
        out["end_line"] = loc.line
    out["commit"] = commit
    return out
