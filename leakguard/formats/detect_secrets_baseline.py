"""`--format detect-secrets`: a `.secrets.baseline` that detect-secrets opens.

The document is detect-secrets' own (version, plugins_used, filters_used,
results, generated_at). Each result says where a secret is (filename,
line_number) and holds its `hashed_secret`: the SHA-1 detect-secrets uses,
computed here from the value, which is never written. One result per secret,
file and type, as detect-secrets keeps them.

A result's `type` names the detect-secrets plugin that finds the secret, which
`detect-secrets audit` runs again over the file to show it:

- a finding of a rule that covers a detect-secrets plugin (`leakguard rules`
  shows which): that plugin's type, hashed as it hashes (detect-secrets' GitHub
  and GitLab plugins hash only the token's prefix);
- a finding of a custom plugin (`--detect-secrets-plugin`): the plugin's
  `secret_type`, and its file is named in `plugins_used`, as detect-secrets
  names custom plugins;
- a finding no detect-secrets plugin makes: listed under `leakguard_only`, in
  the same shape with the leakguard rule id as its type. detect-secrets reads no
  key but its own, and its audit stops at a type no plugin it knows has.

Names that are not UTF-8 are written as the other formats show them (`\\xNN`).
detect-secrets' default filters are listed except the one that verifies secrets
with their providers: audit sends no secret over the network. Findings in git
history are written under their path in the repository, image findings under
`IMAGE:PATH`.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from leakguard.baseline import PREFIX_HASHED
from leakguard.formats import json_dumps
from leakguard.models import Finding, ScanResult, Surface

if TYPE_CHECKING:
    from leakguard.formats import ReportOptions

_PREFIX_TYPES = frozenset({"GitHub Token", "GitLab Token"})
_VERIFY_FILTER = "detect_secrets.filters.common.is_ignored_due_to_verification_policies"


def render(result: ScanResult, options: ReportOptions) -> str:
    return json_dumps(baseline(result)) + "\n"


def baseline(result: ScanResult) -> dict[str, Any]:
    from detect_secrets.__version__ import VERSION
    from detect_secrets.settings import default_settings

    from leakguard.rules.detect_secrets_plugins import plugin_of

    types = _builtin_types()
    custom: dict[str, dict[str, str]] = {}  # plugins_used entries of plugins loaded by path
    results: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    others: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for finding in sorted(result.findings, key=lambda f: f.location.line or 0):
        loaded = plugin_of(finding.rule_id)
        place = results
        if loaded is not None:
            secret_type = finding.message  # a plugin rule's description is its secret_type
            custom[loaded[1]] = {"name": loaded[1], "path": "file://" + loaded[0]}
        elif finding.rule_id in types:
            secret_type = types[finding.rule_id]
        else:
            secret_type, place = finding.rule_id, others
        filename = _filename(finding)
        hashed = _hashed(finding, secret_type)
        entry: dict[str, Any] = {
            "type": secret_type,
            "filename": filename,
            "hashed_secret": hashed,
            "is_verified": False,
        }
        if finding.location.line:
            entry["line_number"] = finding.location.line
        place.setdefault(filename, {}).setdefault((secret_type, hashed), entry)
    with default_settings() as settings:
        used = settings.json()
    doc: dict[str, Any] = {
        "version": VERSION,
        "plugins_used": sorted([*used["plugins_used"], *custom.values()], key=_name),
        "filters_used": [f for f in used["filters_used"] if f["path"] != _VERIFY_FILTER],
        "results": _sorted(results),
    }
    if others:
        doc["leakguard_only"] = _sorted(others)
    doc["generated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return doc


def _name(plugin: dict[str, Any]) -> str:
    return str(plugin["name"])


def _sorted(found: dict[str, dict[tuple[str, str], dict[str, Any]]]) -> dict[str, Any]:
    return {
        name: sorted(entries.values(), key=lambda e: (e.get("line_number", 0), e["hashed_secret"]))
        for name, entries in sorted(found.items())
    }


def _builtin_types() -> dict[str, str]:
    from leakguard.rules import builtin_rules

    return {
        rule.id: rule.detect_secrets_type
        for rule in builtin_rules()
        if rule.detect_secrets_type is not None
    }


def _hashed(finding: Finding, secret_type: str) -> str:
    raw = finding.secret.raw
    if not finding.has_secret:  # a file's presence: no value, the place stands for it
        raw = f"{finding.rule_id}:{finding.location.path}".encode()
    elif secret_type in _PREFIX_TYPES and (m := PREFIX_HASHED.match(raw)):
        raw = m[1]
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()


def _filename(finding: Finding) -> str:
    loc = finding.location
    path = loc.path or f"<{loc.surface}>"
    if loc.surface is Surface.IMAGE and loc.image:
        return f"{loc.image}:{path}"
    return path
