"""The sweep store: one private SQLite file that a nightly sweep keeps.

It holds every layer's scan (the layer cache's table, keyed by layer digest and
ruleset version), so the next sweep reads only the layers it has not seen and
rereads all of them when the rule set changes; a layer's scan is written the
moment it is done, so a sweep killed halfway (SIGINT or SIGKILL) resumes
without reading its finished layers again. Each sweep is a run: when it
started and ended (a killed run stays `running`), the images it saw (name and
layer digests) and its findings (redacted value and fingerprint; the secret
itself nowhere, as in the layer cache). The file is 0600: it says where
secrets live.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from leakguard.detectors.image import Image, LayerCache
from leakguard.errors import TargetUnreadable, UsageError
from leakguard.models import (
    Confidence,
    Finding,
    Location,
    Origin,
    RuleId,
    SecretValue,
    Severity,
    Surface,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, host TEXT, version TEXT, started REAL, finished REAL,
    status TEXT, images INTEGER, layers_read INTEGER, layers_stored INTEGER, findings INTEGER
);
CREATE TABLE IF NOT EXISTS images (
    run INTEGER, name TEXT, layers TEXT, PRIMARY KEY (run, name)
);
CREATE TABLE IF NOT EXISTS findings (
    run INTEGER, fingerprint TEXT, rule TEXT, severity TEXT, image TEXT, layer TEXT,
    path TEXT, line INTEGER, deleted INTEGER, inherited TEXT, redacted TEXT,
    confidence TEXT, col INTEGER, origin TEXT, message TEXT, remediation TEXT
);
CREATE INDEX IF NOT EXISTS findings_by_run ON findings (run);
"""


@dataclass(frozen=True)
class Run:
    id: int
    host: str
    version: str
    started: float
    finished: float | None
    status: str  # "running" (still, or killed) | "done"
    images: int | None
    layers_read: int | None
    layers_stored: int | None
    findings: int | None


class SweepStore(LayerCache):
    """A layer cache that also records sweep runs, their images and their findings."""

    def __init__(self, path: Path, version: str, *, read: bool = True):
        super().__init__(path, version, read=read)
        try:
            self.db.executescript(SCHEMA)
        except sqlite3.Error as e:
            raise TargetUnreadable(f"sweep store {path}: {e}", hint="give another --store") from e

    def begin(self, host: str) -> int:
        cursor = self.db.execute(
            "INSERT INTO runs (host, version, started, status) VALUES (?, ?, ?, 'running')",
            (host, self.version, time.time()),
        )
        return int(cursor.lastrowid or 0)

    def finish(
        self,
        run: int,
        images: Sequence[Image],
        findings: Sequence[Finding],
        *,
        layers_read: int,
        layers_stored: int,
    ) -> None:
        """The run's images and findings, and its end, in one transaction."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT OR REPLACE INTO images VALUES (?, ?, ?)",
                [(run, i.name, json.dumps([layer.digest for layer in i.layers])) for i in images],
            )
            self.db.executemany(
                "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run,
                        f.fingerprint,
                        str(f.rule_id),
                        f.severity.value,
                        f.location.image,
                        f.location.layer,
                        f.location.path,
                        f.location.line,
                        int(f.location.deleted),
                        f.location.inherited,
                        f.redacted,
                        f.confidence.value,
                        f.location.column,
                        f.location.origin.value if f.location.origin else None,
                        f.message,
                        f.remediation,
                    )
                    for f in findings
                ],
            )
            self.db.execute(
                "UPDATE runs SET finished=?, status='done', images=?, layers_read=?, "
                "layers_stored=?, findings=? WHERE id=?",
                (time.time(), len(images), layers_read, layers_stored, len(findings), run),
            )
            self.db.execute("COMMIT")
        except sqlite3.Error as e:
            self.db.execute("ROLLBACK")
            raise TargetUnreadable(f"sweep store {self.path}: {e}") from e

    def runs(self) -> list[Run]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY id").fetchall()
        return [Run(*row) for row in rows]

    def layer_count(self) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM layers WHERE version=?", (self.version,)
        ).fetchone()
        return int(row[0])

    def findings_of(self, run: int) -> list[Finding]:
        """A run's findings as recorded: redacted, without the secret itself."""
        rows = self.db.execute(
            "SELECT rule, severity, confidence, image, layer, path, line, col, origin, "
            "deleted, inherited, fingerprint, redacted, message, remediation "
            "FROM findings WHERE run=? ORDER BY rowid",
            (run,),
        ).fetchall()
        out = []
        for row in rows:
            rule, severity, confidence, image, layer, path, line, col, origin = row[:9]
            deleted, inherited, fingerprint, redacted, message, remediation = row[9:]
            location = Location(
                surface=Surface.IMAGE,
                path=path,
                line=line,
                column=col,
                image=image,
                layer=layer,
                origin=Origin(origin) if origin else None,
                deleted=bool(deleted),
                inherited=inherited,
            )
            out.append(
                Finding(
                    rule_id=RuleId(rule),
                    severity=Severity(severity),
                    confidence=Confidence(confidence),
                    location=location,
                    fingerprint=fingerprint,
                    redacted=redacted,
                    message=message,
                    remediation=remediation,
                    secret=SecretValue(b""),
                )
            )
        return out


@dataclass(frozen=True)
class Changes:
    """A run against the run before it: findings new in it, gone from it, still there."""

    new: int
    fixed: int
    remaining: int
    previous: int | None  # the run compared with; None for the first


def _key(f: Finding) -> tuple[object, ...]:
    return (f.rule_id, f.fingerprint, f.location.image, f.location.path)


def report_run(store: SweepStore, since: int | None = None) -> tuple[Run, list[Finding], Changes]:
    """The newest finished run's findings, and what changed since run `since` (default:
    the finished run before it)."""
    done = [r for r in store.runs() if r.status == "done"]
    if not done:
        raise UsageError(
            f"sweep store {store.path}: no finished sweep in it",
            hint="run `leakguard sweep HOST --store FILE` first",
        )
    last = done[-1]
    if since is not None:
        previous = next((r for r in done if r.id == since), None)
        if previous is None:
            raise UsageError(f"sweep store {store.path}: no finished run {since}")
    else:
        previous = done[-2] if len(done) > 1 else None
    findings = store.findings_of(last.id)
    now = {_key(f) for f in findings}
    before = {_key(f) for f in store.findings_of(previous.id)} if previous else set()
    changes = Changes(
        new=len(now - before),
        fixed=len(before - now),
        remaining=len(now & before),
        previous=previous.id if previous else None,
    )
    return last, findings, changes
