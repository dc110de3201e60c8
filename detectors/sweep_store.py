"""The sweep store: one private SQLite file that a nightly sweep keeps.

It holds every layer's scan (the layer cache's table, keyed by layer digest and
ruleset version), so the next sweep reads only the layers it has not seen and
rereads all of them when the rule set changes; a layer's scan is written the
moment it is done, so a sweep killed halfway (SIGINT or SIGKILL) resumes
without reading its finished layers again. Each sweep is a run: when it
started and ended (a killed run stays `running`), the images it saw (name and
layer digests) and its findings (redacted value and fingerprint; the secret
itself only in the layer table, as in the layer cache). The file is 0600: it
says where secrets live.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from leakguard.detectors.image import Image, LayerCache
from leakguard.errors import TargetUnreadable
from leakguard.models import Finding

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
    path TEXT, line INTEGER, deleted INTEGER, inherited TEXT, redacted TEXT
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

    def __init__(self, path: Path, version: str):
        super().__init__(path, version)
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
                "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
