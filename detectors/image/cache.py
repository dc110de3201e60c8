"""The layer cache: scans by (uncompressed digest, ruleset version) in SQLite."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import stat
import zlib
from pathlib import Path

from leakguard.detectors.image.model import ImageOptions, LayerScan
from leakguard.engine import Engine
from leakguard.errors import TargetUnreadable
from leakguard.models import (
    Confidence,
    Finding,
    Location,
    Origin,
    RuleId,
    SecretValue,
    Severity,
    Skipped,
    Surface,
)

log = logging.getLogger(__name__)


_RESULT_MODULES = (
    "leakguard.engine",
    "leakguard.detectors.credfiles",
    "leakguard.detectors.dockerfile",
    "leakguard.detectors.shell",
)


def ruleset_version(engine: Engine, options: ImageOptions) -> str:
    """Changes whenever a rule, leakguard itself or a bound that changes results changes."""
    from leakguard import __version__

    parts: list[str] = [
        __version__,
        repr((options.max_file_size, options.nested_depth, options.nested_max)),
    ]
    # The code that turns bytes into findings: a changed check function or
    # detector must not be answered from results its old version produced.
    import importlib

    import leakguard.rules

    sources = sorted(Path(leakguard.rules.__file__ or ".").parent.glob("*.py"))
    sources += sorted(Path(__file__).parent.glob("*.py"))  # every part of this package
    for name in _RESULT_MODULES:
        try:
            sources.append(Path(importlib.import_module(name).__file__ or ""))
        except ImportError as e:
            parts.append(f"{name}: {e}")
    for source in sources:
        try:
            parts.append(source.read_text("utf-8", "replace"))
        except OSError as e:
            parts.append(f"{source}: {e}")
    for rule in engine.rules:
        check = getattr(rule.check, "__qualname__", "") if rule.check else ""
        parts.append(
            repr(
                (
                    rule.id,
                    rule.pattern,
                    rule.keywords,
                    rule.prefilter,
                    rule.severity,
                    rule.confidence,
                    rule.multiline,
                    check,
                    rule.source,
                )
            )
        )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def default_cache_path() -> Path | None:
    explicit = os.environ.get("LEAKGUARD_CACHE_DIR")
    if explicit is not None:
        return Path(explicit) / "layers.sqlite" if explicit else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "leakguard" / "layers.sqlite"


class LayerCache:
    """Layer scans by (uncompressed digest, ruleset version), in a private SQLite file.

    The file holds where secrets were found, their redacted forms and
    fingerprints, never a value: a cached finding's `secret` is empty, so a run
    that needs the values (`--show-secrets`, a baseline matched by value
    hashes) passes `read=False` and reads the layers again (still storing what
    it finds). It is created 0600 in a 0700 folder. Layers that could not be
    read completely are never stored.
    """

    # 1: entries hold no secret values (before: base64 of each value).
    FORMAT = 1

    def __init__(self, path: Path, version: str, *, read: bool = True, threads: bool = False):
        """`threads`: the connection may be used from other threads than this one (the
        caller makes sure one at a time)."""
        self.path = path
        self.version = version
        self.read = read
        try:
            # SQLite would put its journal beside a device or FIFO, and the chmod
            # below would change a device's permissions: a cache is a file.
            if not stat.S_ISREG(os.stat(path).st_mode):
                raise TargetUnreadable(
                    f"layer cache {path}: not a regular file",
                    hint="give the path of a file, or pass --no-cache",
                )
        except FileNotFoundError:
            pass
        except OSError as e:
            raise TargetUnreadable(f"layer cache {path}: {e.strerror}") from e
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            self.db = sqlite3.connect(
                str(path), timeout=30, isolation_level=None, check_same_thread=not threads
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS layers ("
                "digest TEXT, version TEXT, data BLOB, PRIMARY KEY (digest, version))"
            )
            if self.db.execute("PRAGMA user_version").fetchone()[0] < self.FORMAT:
                # Entries of an older leakguard hold secret values: drop them, and
                # VACUUM so that no free page of the file keeps their bytes.
                self.db.execute("DELETE FROM layers")
                self.db.execute("VACUUM")
                self.db.execute(f"PRAGMA user_version = {self.FORMAT}")
        except sqlite3.Error as e:
            raise TargetUnreadable(
                f"layer cache {path}: {e}", hint="remove it, or pass --no-cache"
            ) from e
        # What the layers hold is private whatever the umask: the database and the
        # journal files SQLite made next to it.
        for private in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            with contextlib.suppress(OSError):
                if private.stat().st_uid == os.getuid():
                    os.chmod(private, 0o600)
        if path == default_cache_path():  # never a folder the user named (/tmp ...)
            with contextlib.suppress(OSError):
                os.chmod(path.parent, 0o700)

    def get(self, digest: str) -> LayerScan | None:
        if not self.read:
            return None
        try:
            row = self.db.execute(
                "SELECT data FROM layers WHERE digest=? AND version=?", (digest, self.version)
            ).fetchone()
        except sqlite3.Error as e:
            log.debug("cache read failed: %s", e)
            return None
        if row is None:
            return None
        try:
            scan = _decode(digest, zlib.decompress(row[0]))
        except (ValueError, KeyError, TypeError, zlib.error) as e:
            log.debug("ignoring cache entry for %s: %s", digest, e)
            return None
        scan.cached = True
        return scan

    def put(self, scan: LayerScan) -> None:
        if not scan.complete or scan.cached:
            return
        data = zlib.compress(_encode(scan), 6)
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO layers VALUES (?, ?, ?)", (scan.digest, self.version, data)
            )
        except sqlite3.Error as e:
            log.debug("cache write failed: %s", e)

    def close(self) -> None:
        self.db.close()


def _encode(scan: LayerScan) -> bytes:
    findings = [
        {
            "rule": f.rule_id,
            "severity": f.severity.value,
            "confidence": f.confidence.value,
            "path": f.location.path,
            "line": f.location.line,
            "column": f.location.column,
            "origin": f.location.origin.value if f.location.origin else None,
            "fingerprint": f.fingerprint,
            "redacted": f.redacted,
            "message": f.message,
            "remediation": f.remediation,
        }
        for f in scan.findings
    ]
    body = {
        "findings": findings,
        "skipped": [[s.target, s.reason] for s in scan.skipped],
        "stats": [
            scan.stats.files,
            scan.stats.bytes,
            scan.stats.skipped_binary,
            scan.stats.bytes_skipped,
        ],
        "whiteouts": sorted(scan.whiteouts),
        "opaque": sorted(scan.opaque),
        "entries": sorted(scan.entries),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _decode(digest: str, data: bytes) -> LayerScan:
    body = json.loads(data)
    scan = LayerScan(digest)
    for f in body["findings"]:
        location = Location(
            surface=Surface.IMAGE,
            path=f["path"],
            line=f["line"],
            column=f["column"],
            layer=digest,
            origin=Origin(f["origin"]) if f["origin"] else None,
        )
        scan.findings.append(
            Finding(
                rule_id=RuleId(f["rule"]),
                severity=Severity(f["severity"]),
                confidence=Confidence(f["confidence"]),
                location=location,
                fingerprint=f["fingerprint"],
                redacted=f["redacted"],
                message=f["message"],
                remediation=f["remediation"],
                secret=SecretValue(b""),  # never stored: see LayerCache
            )
        )
    scan.skipped = [Skipped(t, r, error=False) for t, r in body["skipped"]]
    scan.stats.files, scan.stats.bytes, scan.stats.skipped_binary, scan.stats.bytes_skipped = body[
        "stats"
    ]
    scan.whiteouts = set(body["whiteouts"])
    scan.opaque = set(body["opaque"])
    scan.entries = set(body["entries"])
    return scan
