"""The JSON form of a migration plan (`leakguard migrate --format json`).

It names what would change and where each secret would go, never a value:
moves carry the redacted form and the sha256 fingerprint, and the diff is the
plan's own, with every value it moves (and any other it saw) redacted. The
plan is read through its public fields only, so the core does not import the
migrators.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leakguard import __version__
from leakguard.formats import json_dumps, printable
from leakguard.models import Skipped


def render(
    plan: Any,
    unread: Sequence[Skipped] = (),
    *,
    applied: Any = None,
    tool_version: str = __version__,
) -> str:
    return json_dumps(document(plan, unread, applied=applied, tool_version=tool_version)) + "\n"


def document(
    plan: Any,
    unread: Sequence[Skipped] = (),
    *,
    applied: Any = None,
    tool_version: str = __version__,
) -> dict[str, Any]:
    edits = [
        {
            "path": _path(edit.path),
            "new_file": edit.before_sha256 is None,
            "before_sha256": edit.before_sha256,
            "after_sha256": hashlib.sha256(
                edit.after_text.encode("utf-8", "surrogateescape")
            ).hexdigest(),
        }
        for edit in plan.edits
    ]
    moves = [
        {
            "name": move.name,
            "destination": move.destination,
            "used_by": list(move.consumers),
            "fingerprint": move.fingerprint,
            "redacted": move.redacted,
            "local_file": None if move.local_file is None else _path(move.local_file),
            "note": move.note or None,
        }
        for move in plan.moves
    ]
    manual = [
        {
            "rule_id": str(skip.finding.rule_id),
            "path": skip.finding.location.path,
            "line": skip.finding.location.line,
            "fingerprint": skip.finding.fingerprint,
            "redacted": skip.finding.redacted,
            "reason": plan.redact(skip.reason),
        }
        for skip in plan.skipped
    ]
    out: dict[str, Any] = {
        "tool": "leakguard",
        "version": tool_version,
        "applied": applied is not None,
        "edits": edits,
        "moves": moves,
        "manual": manual,
        "notes": [plan.redact(n) for n in plan.notes],
        "skipped": [{"target": s.target, "reason": s.reason, "error": s.error} for s in unread],
        "diff": plan.diff(),
    }
    if applied is not None:
        out["written"] = [_path(p) for p in applied.written]
        out["secret_files"] = [_path(p) for p in applied.secret_files]
    return out


def _path(path: Path | str) -> str:
    return printable(str(path))
