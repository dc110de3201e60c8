"""Baselines: findings a team has accepted, so they are not reported again.

A baseline holds fingerprints (sha256 of each secret), never the secrets.
Identity is (rule, location without line, fingerprint): a baselined secret
stays baselined when the lines around it move. File paths are stored
relative to the baseline's own folder (by default the repository's root, or
the config file's folder), so the baseline works from any working directory;
paths in git history are relative to the repository's root.

Baselines written by detect-secrets (`.secrets.baseline`) can be imported: their
entries carry a SHA-1 of the secret and a file name. The files are scanned again
and each entry becomes the leakguard entry of the finding whose value has that
SHA-1 in that file; an entry no finding matches is kept by SHA-1 and file, and
matches the same value found there later.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leakguard import __version__, safejson
from leakguard.errors import BaselineError
from leakguard.fsutil import atomic_write, open_regular, private_mode
from leakguard.models import Finding, Surface

FORMAT = "leakguard-baseline"
FORMAT_VERSION = 1
DEFAULT_NAME = ".leakguard-baseline.json"


@dataclass(frozen=True, slots=True)
class Entry:
    rule_id: str | None
    surface: str
    path: str | None
    fingerprint: str | None  # sha256
    sha1: str | None = None  # from an imported detect-secrets baseline
    commit: str | None = None
    image: str | None = None
    layer: str | None = None
    origin: str | None = None
    line: int | None = None  # informational only

    def key(self) -> tuple[object, ...]:
        return (self.rule_id, self.surface, self.path, self.commit, self.image, self.layer,
                self.origin, self.fingerprint)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in _entry_fields(self).items() if v is not None}


def _entry_fields(e: Entry) -> dict[str, Any]:
    return {name: getattr(e, name) for name in Entry.__slots__}


# Surfaces whose paths name files on this machine (git paths are relative to
# the repository, image paths to the image's root).
_ON_DISK = frozenset({Surface.FILE, Surface.DOCKERFILE, Surface.COMPOSE})


class Baseline:
    def __init__(self, folder: Path, entries: Iterable[Entry]):
        self.folder = folder.resolve()
        self.entries = sorted(
            set(entries), key=lambda e: (e.path or "", e.line or 0, e.rule_id or "")
        )
        self._keys = {e.key() for e in self.entries if e.fingerprint}
        self._sha1 = {(e.path, e.sha1) for e in self.entries if e.sha1}

    def __len__(self) -> int:
        return len(self.entries)

    # -- matching --------------------------------------------------------------

    def entry_for(self, finding: Finding) -> Entry:
        loc = finding.location
        path = loc.path
        if loc.surface in _ON_DISK and path and path != "-":
            path = os.path.relpath(_real(path), self.folder).replace(os.sep, "/")
        return Entry(
            rule_id=finding.rule_id,
            surface=loc.surface.value,
            path=path,
            fingerprint=finding.fingerprint,
            commit=loc.commit,
            image=loc.image,
            layer=loc.layer,
            origin=loc.origin.value if loc.origin else None,
            line=loc.line,
        )

    def __contains__(self, finding: object) -> bool:
        if not isinstance(finding, Finding):
            return False
        entry = self.entry_for(finding)
        if entry.key() in self._keys:
            return True
        if self._sha1:
            return any((entry.path, sha1) in self._sha1 for sha1 in _detect_secrets_hashes(finding))
        return False

    # -- files -----------------------------------------------------------------

    @classmethod
    def from_findings(cls, path: Path, findings: Iterable[Finding]) -> Baseline:
        empty = cls(path.parent, [])
        return cls(path.parent, [empty.entry_for(f) for f in findings])

    def entries_under(self, targets: Iterable[str]) -> list[Entry]:
        """Entries of files at or below any of `targets` (paths on this machine)."""
        roots = [_real(t) for t in targets if t and t != "-"]
        if not roots:
            return []

        def under(entry: Entry) -> bool:
            if entry.surface not in _ON_DISK or not entry.path:
                return False
            full = os.path.normpath(os.path.join(self.folder, entry.path))
            return any(full == r or full.startswith(r.rstrip(os.sep) + os.sep) for r in roots)

        return [e for e in self.entries if under(e)]

    def merged_with(self, other: Baseline) -> Baseline:
        return Baseline(self.folder, [*self.entries, *other.entries])

    def save(self, path: Path) -> None:
        doc = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "tool_version": __version__,
            "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "entries": [e.to_json() for e in self.entries],
        }
        try:  # 0600: it says where secrets live
            atomic_write(path, (json.dumps(doc, indent=2) + "\n").encode(), mode=private_mode())
        except OSError as e:
            raise BaselineError(f"cannot write {path}: {e.strerror}") from e

    @classmethod
    def load(cls, path: Path) -> Baseline:
        doc = _read_json(path)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            if isinstance(doc, dict) and "plugins_used" in doc and "results" in doc:
                raise BaselineError(
                    f"{path} is a detect-secrets baseline",
                    hint=f"convert it once with `leakguard baseline import {path}`",
                )
            raise BaselineError(f"{path} is not a leakguard baseline")
        if doc.get("version") != FORMAT_VERSION:
            raise BaselineError(f"{path}: baseline format version {doc.get('version')} is unknown")
        try:
            entries = [Entry(**_known(e)) for e in doc.get("entries", [])]
        except TypeError as e:
            raise BaselineError(f"{path}: malformed entry ({e})") from e
        return cls(path.parent, entries)


@dataclass(frozen=True, slots=True)
class DetectSecretsEntry:
    """One result of a detect-secrets baseline, as detect-secrets' loader reads it."""

    path: str  # absolute
    sha1: str
    line: int | None
    is_secret: bool | None  # audited as a real secret, as a false positive, or not audited


@dataclass(frozen=True, slots=True)
class Imported:
    baseline: Baseline
    matched: int  # secrets (file, SHA-1) a leakguard finding matched: stored by fingerprint
    unmatched: int  # secrets no leakguard finding matched: kept by their SHA-1
    real: int  # secrets audited as real (`is_secret: true`): left out


def read_detect_secrets(source: Path) -> list[DetectSecretsEntry]:
    """The results of a `.secrets.baseline`, through detect-secrets' own loader (which
    upgrades baselines written by older detect-secrets versions). File names are taken
    as relative to the baseline's folder, where detect-secrets is usually run."""
    from detect_secrets.core.baseline import upgrade
    from detect_secrets.core.secrets_collection import SecretsCollection

    doc = _read_json(source)
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise BaselineError(f"{source} is not a detect-secrets baseline (no `results`)")
    try:
        collection = SecretsCollection.load_from_baseline(upgrade(doc))
        found = list(collection)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise BaselineError(
            f"{source}: detect-secrets cannot read this baseline ({type(e).__name__}: {e})"
        ) from None
    folder = source.parent
    return [
        DetectSecretsEntry(
            path=os.path.abspath(os.path.join(folder, filename)),
            sha1=str(secret.secret_hash),
            line=secret.line_number or None,
            is_secret=secret.is_secret,
        )
        for filename, secret in found
    ]


def import_detect_secrets(
    entries: Sequence[DetectSecretsEntry], findings: Iterable[Finding], target: Path
) -> Imported:
    """A leakguard baseline at `target` from a detect-secrets baseline's entries and
    the findings of a scan of the files they name.

    detect-secrets keeps a SHA-1 of each secret, leakguard a sha256: an entry is
    matched to the leakguard findings in its file whose value has its SHA-1 (or, for
    GitHub and GitLab tokens, whose prefix has it: detect-secrets hashes only that),
    and those findings are stored as leakguard entries. An entry no finding matches
    is kept by its SHA-1 and file. Entries audited as real secrets (`is_secret:
    true`) are left out: they stay findings. Unaudited entries are accepted, as
    detect-secrets itself does not report anything its baseline holds.
    """
    empty = Baseline(target.parent, [])
    lines = {(_real(e.path), e.sha1): e.line for e in entries if e.is_secret is not True}
    real = {(_real(e.path), e.sha1) for e in entries if e.is_secret is True}
    wanted = lines.keys() - real
    matched: set[tuple[str, str]] = set()
    shadowed: set[tuple[str, str]] = set()  # accepted under one type, real under another
    out: list[Entry] = []
    for finding in findings:
        if not finding.has_secret or finding.location.path is None:
            continue
        place = _real(finding.location.path)
        keys = {(place, sha1) for sha1 in _detect_secrets_hashes(finding)}
        if keys & real:  # the same value audited as real (under any type): still reported
            shadowed |= keys
        elif keys & wanted:
            matched |= keys & wanted
            out.append(empty.entry_for(finding))
    for place, sha1 in sorted(wanted - matched - shadowed):
        path = os.path.relpath(place, empty.folder).replace(os.sep, "/")
        out.append(Entry(rule_id=None, surface="file", path=path, fingerprint=None, sha1=sha1,
                         line=lines[place, sha1]))  # fmt: skip
    kept = len(wanted - matched - shadowed)
    return Imported(Baseline(target.parent, out), len(matched), kept, len(real))


def _real(path: str) -> str:
    """The absolute path with its folders' links resolved (not the file's own): one
    spelling whichever way the current folder was reached, as `Baseline.folder` is."""
    full = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(full)), os.path.basename(full))


def project_root(config_root: Path | None, paths: Sequence[str] = ()) -> Path | None:
    """Where baselines live by default: the config file's folder, else the top of the
    git work tree that holds the first scanned path (else the current folder's);
    None outside both."""
    if config_root is not None:
        return config_root.resolve()
    return _work_tree_top(paths)


def _work_tree_top(paths: Sequence[str]) -> Path | None:
    # realpath, not Path.resolve(): a symlink loop given as a PATH is reported by
    # the walk, it must not raise here.
    start = Path(os.path.realpath(next((p for p in paths if p and p != "-"), ".")))
    here = start if start.is_dir() else start.parent
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return None


def default_path(config_root: Path | None, paths: Sequence[str] = ()) -> Path:
    """The baseline `baseline create` writes when not told where: at the project root."""
    return (project_root(config_root, paths) or Path.cwd().resolve()) / DEFAULT_NAME


def candidates(config_root: Path | None, paths: Sequence[str] = ()) -> list[Path]:
    """Where a baseline is looked for when neither an option nor the config names one:
    the config's folder, the repository's root, then (outside a repository, or for a
    baseline made where one stood) the current folder."""
    out: list[Path] = []
    top = _work_tree_top(paths)
    for folder in (config_root and config_root.resolve(), top, Path.cwd().resolve()):
        if folder is not None and folder / DEFAULT_NAME not in out:
            out.append(folder / DEFAULT_NAME)
    return out


# detect-secrets' GitHub and GitLab plugins hash only the token's prefix
# ("ghp", "glpat"): its regexes capture the prefix group, not the token.
PREFIX_HASHED = re.compile(rb"^(gh[pousr]|glpat|gldt|glft|glsoat|glrt)(?=[_-])")


def _detect_secrets_hashes(finding: Finding) -> Iterator[str]:
    raw = finding.secret.raw
    yield hashlib.sha1(raw, usedforsecurity=False).hexdigest()
    if m := PREFIX_HASHED.match(raw):
        yield hashlib.sha1(m[1], usedforsecurity=False).hexdigest()


def _known(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise TypeError("entry is not an object")
    fields = {k: v for k, v in raw.items() if k in Entry.__slots__}
    if not isinstance(fields.get("surface"), str):
        raise TypeError("entry has no `surface`")
    if not isinstance(fields.get("fingerprint") or fields.get("sha1"), str):
        raise TypeError("entry has neither `fingerprint` nor `sha1`")
    # to_json() leaves out empty fields; an imported entry has no rule or sha256
    return {"rule_id": None, "path": None, "fingerprint": None, **fields}


def _read_json(path: Path) -> Any:
    try:
        with open_regular(path) as fh:
            return safejson.loads(fh.read())
    except FileNotFoundError:
        hint = "create one with `leakguard baseline create`"
        raise BaselineError(f"baseline {path} does not exist", hint=hint) from None
    except OSError as e:
        raise BaselineError(f"cannot read baseline {path}: {e.strerror}") from e
    except ValueError as e:
        raise BaselineError(f"{path} is not valid JSON: {e}") from e
