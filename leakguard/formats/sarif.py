"""SARIF 2.1.0 in the subset GitHub code scanning reads.

One run; one rule per rule id seen in the findings; skipped targets become
tool-execution notifications. Messages carry the redacted value, never the
secret unless `show_secrets`.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from leakguard.formats import json_dumps, raw_bytes, shown_value
from leakguard.models import Finding, Location, ScanResult, Severity, Surface

if TYPE_CHECKING:
    from leakguard.formats import ReportOptions

# The `id` of the published schema (tests validate against a vendored copy).
SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "leakguard/v1"

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
}
# GitHub ranks alerts of rules tagged "security" by this score (0.0-10.0):
# >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, below 4.0 low.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
}

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:/")


def render(result: ScanResult, options: ReportOptions) -> str:
    return json_dumps(log(result, options)) + "\n"


def log(result: ScanResult, options: ReportOptions) -> dict[str, Any]:
    worst: dict[str, Severity] = {}
    for finding in result.findings:
        seen = worst.get(finding.rule_id)
        if seen is None or finding.severity.rank > seen.rank:
            worst[finding.rule_id] = finding.severity

    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for finding in result.findings:
        if finding.rule_id not in index:
            index[finding.rule_id] = len(rules)
            rules.append(_rule(finding, worst[finding.rule_id]))

    results = [_result(f, index[f.rule_id], options) for f in result.findings]
    # Content that could hold a secret and was not read is an error, and the run
    # did not complete; a note (a device in a layer, a managed secret file) is not.
    notifications = [
        {
            "level": "error" if s.error else "note",
            "message": {
                "text": f"{'Could not read' if s.error else 'Skipped'} {s.target}: {s.reason}"
            },
            "properties": {"target": s.target, "reason": s.reason, "error": s.error},
        }
        for s in result.skipped
    ]
    complete = not any(s.error for s in result.skipped)
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "leakguard",
                        "version": options.tool_version,
                        "rules": rules,
                    }
                },
                "invocations": [
                    {"executionSuccessful": complete, "toolExecutionNotifications": notifications}
                ],
                "results": results,
                **_bases(result),
            }
        ],
    }


def _bases(result: ScanResult) -> dict[str, Any]:
    images = dict.fromkeys(
        f.location.image
        for f in result.findings
        if f.location.surface is Surface.IMAGE and f.location.image
    )
    if not images:
        return {}
    return {"originalUriBaseIds": {image_base_id(i): _image_base(i) for i in images if i}}


def _rule(finding: Finding, severity: Severity) -> dict[str, Any]:
    return {
        "id": finding.rule_id,
        "name": _pascal(finding.rule_id),
        "shortDescription": {"text": finding.message},
        "help": {"text": finding.remediation},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {
            "tags": ["security", "secret"],
            "security-severity": SECURITY_SEVERITY[severity],
        },
    }


def _result(finding: Finding, rule_index: int, options: ReportOptions) -> dict[str, Any]:
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": f"{finding.message}: {shown_value(finding, options)}"},
        "locations": [_location(finding.location)],
        "partialFingerprints": {FINGERPRINT_KEY: identity_fingerprint(finding)},
        "properties": _properties(finding),
    }


def identity_fingerprint(finding: Finding) -> str:
    """sha256 over rule id, path (else image ref) and secret fingerprint.

    No line or column: the alert survives the secret moving within its file.
    """
    loc = finding.location
    where = loc.path or loc.image or ""
    return hashlib.sha256(
        raw_bytes("\0".join((finding.rule_id, where, finding.fingerprint)))
    ).hexdigest()


def _location(loc: Location) -> dict[str, Any]:
    artifact: dict[str, Any] = {"uri": artifact_uri(loc)}
    if loc.surface is Surface.IMAGE and loc.image:
        artifact["uriBaseId"] = image_base_id(loc.image)
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if loc.line is not None and loc.line >= 1:
        region: dict[str, int] = {"startLine": loc.line}
        if loc.column is not None and loc.column >= 1:
            region["startColumn"] = loc.column
        physical["region"] = region
    out: dict[str, Any] = {"physicalLocation": physical}
    if loc.surface is Surface.IMAGE and loc.image:
        out["logicalLocations"] = _image_logical_locations(loc, loc.image)
    return out


def image_base_id(image: str) -> str:
    """The `uriBaseId` of an image: paths in its layers are relative to it, and
    `run.originalUriBaseIds` says which image it stands for."""
    return "IMAGE_" + hashlib.sha256(raw_bytes(image)).hexdigest()[:12]


def _image_base(image: str) -> dict[str, Any]:
    return {
        "uri": "oci:" + quote(raw_bytes(image), safe="/@") + "/",
        "description": {"text": f"container image {image}"},
    }


def _image_logical_locations(loc: Location, image: str) -> list[dict[str, Any]]:
    """image > layer > file in the layer (or env, label, history): a place that is
    no path of the repository."""
    out = [{"name": image, "fullyQualifiedName": image, "kind": "image"}]
    qualified = image
    if loc.layer:
        qualified += f"@{loc.layer}"
        out.append({"name": loc.layer, "fullyQualifiedName": qualified, "kind": "layer"})
    if loc.path:
        out.append({"name": loc.path, "fullyQualifiedName": f"{qualified}:{loc.path}",
                    "kind": "file"})  # fmt: skip
    elif loc.origin:
        out.append({"name": str(loc.origin), "fullyQualifiedName": f"{qualified}:{loc.origin}",
                    "kind": str(loc.origin)})  # fmt: skip
    return out


def artifact_uri(loc: Location) -> str:
    """A URI reference: a relative path with forward slashes where there is one.

    Paths inside an image are relative to the image's root (its `uriBaseId`); an
    image finding without a path (env, label, history) is named by what it is
    in, relative to the image too.
    """
    if loc.path:
        path = loc.path.replace("\\", "/")
        if loc.surface is Surface.IMAGE:
            path = path.lstrip("/")
        elif path.startswith("/"):
            return "file://" + quote(raw_bytes(path))
        elif _WINDOWS_DRIVE.match(path):
            return "file:///" + quote(raw_bytes(path))
        while path.startswith("./"):
            path = path[2:]
        return quote(raw_bytes(path)) or "."
    if loc.surface is Surface.IMAGE and loc.image:
        return str(loc.origin or "config")
    if loc.image:
        return quote(raw_bytes(loc.image), safe="/@")
    if loc.commit:
        return quote(raw_bytes(loc.commit))
    return "."


def _properties(finding: Finding) -> dict[str, Any]:
    loc = finding.location
    props: dict[str, Any] = {
        "severity": finding.severity.value,
        "confidence": finding.confidence.value,
        "surface": loc.surface.value,
    }
    for name in ("commit", "image", "layer"):
        value = getattr(loc, name)
        if value is not None:
            props[name] = value
    if loc.origin is not None:
        props["origin"] = loc.origin.value
    if loc.deleted:
        props["deleted"] = True
    return props


def _pascal(rule_id: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", rule_id) if part)
