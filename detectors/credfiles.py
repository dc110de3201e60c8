"""Credential files: files whose very name says they hold credentials.

Tools keep their logins in well-known places (`~/.docker/config.json`,
`~/.npmrc`, `~/.aws/credentials`, `~/.kube/config`, ...). When one of them
ends up in a build context or an image layer, the leak is the file itself,
whatever token format it holds. `credential_file_kind` names such a file from
its path alone; the engine's rules then read its structure (the rules that only
make sense in one kind of file look at `Context.kind`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leakguard.models import ScanResult

if TYPE_CHECKING:
    from leakguard.engine import Engine
    from leakguard.models import Finding, Location

from leakguard.rules.filekinds import (  # noqa: F401 - re-exported for the detectors
    BINARY_KINDS,
    CREDENTIAL_FILE_RULE,
    KINDS,
    credential_file_kind,
)


def scan(engine: Engine, data: bytes, path: str) -> ScanResult:
    """Scan a credential file's text with the kind it has as the rules' context.

    The engine derives the same context from the path by itself
    (`kind_of_path`); this entry point is for surfaces that hold a file's
    content under a path that is not on disk (an image layer, a git blob).
    """
    from leakguard.models import Location
    from leakguard.rules import Context

    result = ScanResult()
    location = Location(path=path)
    if b"\0" in data[:8192]:
        result.findings.extend(presence(engine, data, path))
        return result
    context = Context(path=path, kind=credential_file_kind(path))
    result.findings.extend(engine.scan_bytes(data, location, context))
    return result


def presence(
    engine: Engine, data: bytes, path: str, location: Location | None = None
) -> list[Finding]:
    """The `credential-file` finding for a binary credential file (a PKCS#12 or
    Java keystore, a DER key, gcloud's credentials database): no pattern can
    read it, its presence is the leak. Empty when the path names no credential
    file or the rule is disabled."""
    from leakguard.models import Finding, Location, RuleId, SecretValue, fingerprint

    kind = credential_file_kind(path)
    rule = engine.ruleset.by_id.get(RuleId(CREDENTIAL_FILE_RULE))
    if kind is None or rule is None or not data:
        return []
    where = location if location is not None else Location(path=path)
    return [
        Finding(
            rule_id=rule.id,
            severity=rule.severity,
            confidence=rule.confidence,
            location=where,
            fingerprint=fingerprint(data),
            redacted=f"<{kind}, {len(data)} bytes>",
            message=f"{rule.description}: {kind}",
            remediation=rule.remediation,
            secret=SecretValue(data),
        )
    ]
