"""The JSON form of a remediation plan (`leakguard remediate --format json`).

What the text form prints (the pull request's title and body, and the diff),
as one document: every secret with its redacted form and fingerprint, where it
is now, the commits that added it, the images that carry it and where it
moves; the migration plan in the shape of `migrate --format json`. No value:
every string is passed through the guide's scrub (each value it found,
replaced by its redacted form) before it is written. The guide is read
through its public fields only, so the core does not import the remediation
code.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from leakguard import __version__
from leakguard.formats import json_dumps, plan_json


def render(guides: Sequence[tuple[Any, dict[str, Any]]], **extra: Any) -> str:
    """One document: each (guide, fields about where it was made) as a repository
    entry, and `extra` top-level fields (already free of values)."""
    repositories = [{**about, **document(guide)} for guide, about in guides]
    out = {"tool": "leakguard", "version": __version__, **extra, "repositories": repositories}
    return json_dumps(out) + "\n"


def document(guide: Any) -> dict[str, Any]:
    secrets = [
        {
            "fingerprint": e.fingerprint,
            "redacted": e.redacted,
            "rules": list(e.rules),
            "what": e.what,
            "remediation": e.remediation,
            "at_head": list(e.at_head),
            "commits": [{"sha": c.sha, "date": c.date, "path": c.path} for c in e.commits],
            "images": list(e.images),
            "moves_to": [{"name": m.name, "destination": m.destination} for m in e.moves],
            "manual": list(e.manual),
        }
        for e in guide.exposures
    ]
    plan = plan_json.document(guide.plan)
    for key in ("tool", "version", "applied"):
        del plan[key]
    # Paths as the repository has them: a plan made in a temporary worktree (a
    # sweep's revision) names files that are gone once the command ends.
    for entry in (*plan["edits"], *plan["manual"]):
        entry["path"] = _relative(guide.root, entry["path"])
    out = {
        "nothing_to_fix": guide.nothing_to_fix,
        "title": guide.title,
        "secrets": secrets,
        "manual": list(guide.manual),
        "resolved_by_the_change": list(guide.done),
        "notes": list(guide.notes),
        "plan": plan,
        "body": guide.body,
    }
    scrubbed: dict[str, Any] = _scrub(out, guide.scrub)
    return scrubbed


def _relative(root: Any, path: str | None) -> str | None:
    if not path or not os.path.isabs(path):
        return path
    base = os.path.realpath(root)
    full = os.path.realpath(path)
    return os.path.relpath(full, base) if full.startswith(base + os.sep) else path


def _scrub(value: Any, scrub: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub(v, scrub) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, scrub) for v in value]
    return value
