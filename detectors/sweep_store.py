"""The sweep store: one private SQLite file that a nightly sweep keeps.

What it holds, table by table:

* `layers`: every layer's scan (the layer cache's table, keyed by layer digest
  and ruleset version), so a sweep reads only the layers it has not seen and
  rereads all of them when the rule set changes. A layer's scan is written the
  moment it is done, so a sweep killed halfway (SIGINT or SIGKILL) resumes
  without reading its finished layers again.
* `runs`: each sweep, when it started and ended, the ruleset version and the
  options that change results, its status (`running`: still, or killed;
  `interrupted`: stopped by SIGINT; `done`) and whether it was complete (every
  tag and layer read).
* `repositories`: every repository a sweep saw, with the runs it was first and
  last seen in.
* `tags`: what each run saw of each tag: the digest it resolved to, whether the
  run fetched its manifests or found them unchanged (a HEAD answered the digest
  it had before) and whether everything under it was read.
* `images`: each run's images (one per platform of a multi-arch tag): the tag,
  the platform manifest's digest and the index's, the config's `created` time,
  the length of its history and its layer digests.
* `findings`: each run's findings, with the repository, tag and manifest digest
  that carry them (redacted value and fingerprint; the secret itself nowhere,
  as in the layer cache).
* `places`: per place of a finding (host, rule, fingerprint, image, path), the
  start of the first and of the latest finished run that saw it, kept up to
  date by each run's end; a run's own rows can then be pruned
  (`SweepStore(keep_runs=N)`) without losing when a secret was first seen.
* `feeds` and `events`: the registry's push and delete notifications, as
  `leakguard listen` receives them (`detectors/sweep_feed.py`): each listener
  run (its start, its last heartbeat, its stop) and the repository each event
  names, and the requests it refused. A sweep with `feed=True` lists only the
  repositories named since the last complete sweep, when one listener ran
  without a break since then, heard from the registry and refused nothing.

A finding's first and last sight are read from `places`; the tags that carry it
and whether the newest tag of its repository still does, from the run's `findings`.
The newest tag of a repository is the tag whose image config says the latest
`created` time (for a multi-arch tag, the latest of its platforms; a tie goes
to the greater tag name). The file is 0600: it says where secrets live.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path

from leakguard.detectors.image import LayerCache
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

# 1: runs, images and findings per run. 2: repositories, tags (digest per run),
# images with their tag, manifest digests, created time and history; findings
# with the repository, tag and digest that carry them. A format-1 store is
# migrated in place (its runs keep their findings; none of them is reused).
# 3: feeds and events (a registry's notifications); each run's repository scope;
# places (first and last sight of each finding's place), so that old runs' rows can
# be pruned. A store without `places` gets it filled from its findings when opened.
STORE_FORMAT = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
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
CREATE TABLE IF NOT EXISTS repositories (
    id INTEGER PRIMARY KEY, host TEXT, name TEXT, first_run INTEGER, last_run INTEGER,
    UNIQUE (host, name)
);
CREATE TABLE IF NOT EXISTS tags (
    run INTEGER, repository INTEGER, tag TEXT, digest TEXT, fetched INTEGER,
    complete INTEGER, PRIMARY KEY (run, repository, tag)
);
CREATE TABLE IF NOT EXISTS feeds (
    id INTEGER PRIMARY KEY, host TEXT, started REAL, seen REAL, stopped REAL,
    refused INTEGER DEFAULT 0, last_refused REAL
);
CREATE TABLE IF NOT EXISTS events (
    feed INTEGER, received REAL, repository TEXT, action TEXT, tag TEXT, digest TEXT
);
"""

# Columns format 2 adds to format-1 tables (appended, so `SELECT *` keeps its order).
_ADDED = {
    "runs": [
        "options TEXT", "complete INTEGER", "tags INTEGER", "tags_fetched INTEGER", "scope TEXT"
    ],
    "images": [
        "repo TEXT", "tag TEXT", "digest TEXT", "top TEXT", "created TEXT", "history INTEGER"
    ],
    "findings": ["repo TEXT", "tag TEXT", "digest TEXT"],
}  # fmt: skip
_INDEXES = """
CREATE INDEX IF NOT EXISTS images_by_tag ON images (run, repo, tag);
CREATE INDEX IF NOT EXISTS findings_by_tag ON findings (run, repo, tag);
CREATE INDEX IF NOT EXISTS events_by_time ON events (received);
"""
# Made (and filled from the findings of the finished runs) whenever a store lacks it,
# whatever its format: a store written before it existed keeps its first sights.
# Without rowid, the key is stored once (half the size); a finding without an image
# or path has "" there.
_PLACES = """
CREATE TABLE places (
    host TEXT NOT NULL, rule TEXT NOT NULL, fingerprint TEXT NOT NULL, image TEXT NOT NULL,
    path TEXT NOT NULL, first_seen REAL, last_seen REAL,
    PRIMARY KEY (host, rule, fingerprint, image, path)
) WITHOUT ROWID
"""
_PLACES_FROM_FINDINGS = """
INSERT INTO places SELECT u.host, f.rule, f.fingerprint, COALESCE(f.image, ''),
    COALESCE(f.path, ''), MIN(u.started), MAX(u.started)
FROM findings f JOIN runs u ON u.id = f.run
WHERE u.status IN ('done', 'pruned') GROUP BY 1, 2, 3, 4, 5
"""

# A listener writes a heartbeat this often; one whose last is older than
# FEED_ALIVE seconds is taken for dead (killed, or its machine gone).
FEED_HEARTBEAT = 2.0
FEED_ALIVE = 6.0


@dataclass(frozen=True)
class Run:
    id: int
    host: str
    version: str
    started: float
    finished: float | None
    # "running" (still, or killed) | "interrupted" | "done" | "pruned" (was done; its
    # tags, images and findings were deleted to keep the store's size bounded)
    status: str
    images: int | None
    layers_read: int | None
    layers_stored: int | None
    findings: int | None
    options: str | None = None
    complete: bool | None = None
    tags: int | None = None
    tags_fetched: int | None = None
    scope: str | None = None


@dataclass(frozen=True)
class Event:
    """A change a registry notified: `action` is "push", "delete" or "mount"."""

    repository: str
    action: str
    tag: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class FeedChanges:
    """What the event feed says since run `base` started: the repositories it named."""

    base: Run
    repositories: frozenset[str]


@dataclass(frozen=True)
class ImageRecord:
    """An image as the store keeps it: where it comes from, never its config."""

    name: str
    repo: str
    tag: str
    layers: tuple[str, ...]
    digest: str | None = None  # this platform's manifest
    top: str | None = None  # what the tag resolved to (an index, or this manifest)
    created: str | None = None
    history: int | None = None


@dataclass(frozen=True)
class TagSeen:
    repo: str
    tag: str
    digest: str | None
    fetched: bool  # manifests read in this run (False: unchanged since `digest` was stored)
    complete: bool  # every image, layer and config under it read


@dataclass(frozen=True)
class Carried:
    """A tag unchanged since `run`: its images and findings, as that run recorded them."""

    run: int
    digest: str


@dataclass(frozen=True)
class Stored:
    """A finding as a run recorded it, with the repository and tag that carry it."""

    finding: Finding
    repo: str | None  # None in runs of a format-1 store
    tag: str | None


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SweepStore(LayerCache):
    """A layer cache that also records sweep runs, their tags, images and findings.

    With `keep_runs`, each finished run prunes the tags, images and findings of the
    host's finished runs but the newest `keep_runs` and the newest complete run under
    the current rules of each (options, scope): the base of a `--feed` sweep."""

    def __init__(
        self,
        path: Path,
        version: str,
        *,
        read: bool = True,
        threads: bool = False,
        keep_runs: int | None = None,
    ):
        if keep_runs is not None and keep_runs < 2:
            raise UsageError(
                f"--keep-runs {keep_runs}: a report compares a run with the one before it",
                hint="keep at least 2 runs",
            )
        self.keep_runs = keep_runs
        super().__init__(path, version, read=read, threads=threads)
        try:
            self._migrate()
        except sqlite3.Error as e:
            raise TargetUnreadable(f"sweep store {path}: {e}", hint="give another --store") from e

    def _migrate(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            row = self.db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
            if row is not None and not str(row[0]).isdigit():
                raise TargetUnreadable(
                    f"sweep store {self.path}: its format ({str(row[0])[:20]!r}) is not a number",
                    hint="give another --store",
                )
            found = int(row[0]) if row is not None else None
            if found is not None and found > STORE_FORMAT:
                raise TargetUnreadable(
                    f"sweep store {self.path}: written by a newer leakguard "
                    f"(store format {found}; this one knows {STORE_FORMAT})",
                    hint="upgrade leakguard, or give another --store",
                )
            if found != STORE_FORMAT:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                for table, columns in _ADDED.items():
                    have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
                    for column in columns:
                        if column.split()[0] not in have:
                            self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
                for statement in _INDEXES.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('format', ?)", (str(STORE_FORMAT),)
                )
            if not self.db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='places'"
            ).fetchone():
                self.db.execute(_PLACES)
                self.db.execute(_PLACES_FROM_FINDINGS)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # -- a sweep writes ------------------------------------------------------

    def begin(self, host: str, options: str = "", scope: str = "") -> int:
        """A new run; `scope` says which repositories it sweeps (patterns, a list)."""
        cursor = self.db.execute(
            "INSERT INTO runs (host, version, started, status, options, scope) "
            "VALUES (?, ?, ?, 'running', ?, ?)",
            (host, self.version, time.time(), options, scope),
        )
        return int(cursor.lastrowid or 0)

    def interrupted(self, run: int) -> None:
        """A run stopped by SIGINT: said so, its layers kept."""
        try:
            self.db.execute(
                "UPDATE runs SET status='interrupted', finished=? WHERE id=? AND status='running'",
                (time.time(), run),
            )
        except sqlite3.Error:
            pass  # a store that cannot be written: the run stays `running`

    def unchanged_candidates(self, host: str, options: str) -> dict[tuple[str, str], Carried]:
        """Per (repository, tag): the digest of its latest complete record, from a finished
        run with this ruleset version and these options (a tag whose HEAD still answers
        that digest need not be read again)."""
        rows = self.db.execute(
            "SELECT r.name, t.tag, t.digest, MAX(t.run) FROM tags t "
            "JOIN repositories r ON r.id = t.repository JOIN runs u ON u.id = t.run "
            "WHERE r.host=? AND u.status='done' AND u.version=? AND u.options=? "
            "AND t.complete=1 AND t.digest IS NOT NULL GROUP BY r.name, t.tag",
            (host, self.version, options),
        ).fetchall()
        return {(name, tag): Carried(run, digest) for name, tag, digest, run in rows}

    def feed_changes(self, host: str, options: str, scope: str) -> FeedChanges | str:
        """The repositories the event feed named since the last complete run with these
        rules, options and scope started; or why the feed cannot stand in for listing
        the registry (no such run; no listener up without a break since it; one that
        refused a request since it, or never heard from the registry)."""
        row = self.db.execute(
            "SELECT id FROM runs WHERE host=? AND status='done' AND complete=1 AND version=? "
            "AND options=? AND scope=? ORDER BY id DESC LIMIT 1",
            (host, self.version, options, scope),
        ).fetchone()
        if row is None:
            return "the store has no complete sweep of these repositories with these rules"
        base = next(r for r in self.runs() if r.id == row[0])
        # One listener, up since before the run started and still beating: no push
        # since then can have gone unrecorded (a restarted listener is another one).
        feed = self.db.execute(
            "SELECT id FROM feeds WHERE host=? AND started<=? AND stopped IS NULL AND seen>=?",
            (host, base.started, time.time() - FEED_ALIVE),
        ).fetchone()
        if feed is None:
            return f"no event listener for {host} has run without a break since run {base.id}"
        # A listener that is up is not yet one the registry reaches: one that refused a
        # notification (a wrong token, a payload it does not know) may have lost a
        # change, and one that never heard from the registry may be the wrong address.
        refused, last_refused = self.db.execute(
            "SELECT refused, last_refused FROM feeds WHERE id=?", (feed[0],)
        ).fetchone()
        if last_refused is not None and last_refused >= base.started:
            return (
                f"the event listener refused {refused} request(s) since it started, one "
                f"since run {base.id} (a wrong token, or a payload it does not know)"
            )
        if self.db.execute("SELECT 1 FROM events WHERE feed=? LIMIT 1", feed).fetchone() is None:
            return (
                f"the event listener for {host} has received no notification yet "
                "(is the registry configured to send them to it?)"
            )
        names = self.db.execute(
            "SELECT DISTINCT repository FROM events WHERE feed=? AND received>=?",
            (feed[0], base.started),
        )
        return FeedChanges(base, frozenset(name for (name,) in names))

    def tags_by_repository(self, run: int) -> dict[str, list[tuple[str, str | None]]]:
        """Repository → [(tag, digest)] as run `run` saw them."""
        out: dict[str, list[tuple[str, str | None]]] = {}
        for name, tag, digest in self.db.execute(
            "SELECT r.name, t.tag, t.digest FROM tags t JOIN repositories r "
            "ON r.id = t.repository WHERE t.run=? ORDER BY r.name, t.tag",
            (run,),
        ):
            out.setdefault(name, []).append((tag, digest))
        return out

    def carried_repositories(
        self, run: int, repos: set[str]
    ) -> tuple[list[ImageRecord], list[Finding]]:
        """The images and findings run `run` recorded for these repositories."""
        rows = self.db.execute(
            "SELECT name, layers, repo, tag, digest, top, created, history FROM images "
            "WHERE run=? ORDER BY name",
            (run,),
        ).fetchall()
        images = [
            ImageRecord(name, repo, tag, tuple(json.loads(layers)), digest, top, created, history)
            for name, layers, repo, tag, digest, top, created, history in rows
            if repo in repos
        ]
        stored = self._findings("run=?", (run,))
        return images, [s.finding for s in stored if s.repo in repos]

    # -- a listener writes ---------------------------------------------------

    def open_feed(self, host: str) -> int:
        now = time.time()
        cursor = self.db.execute(
            "INSERT INTO feeds (host, started, seen) VALUES (?, ?, ?)", (host, now, now)
        )
        return int(cursor.lastrowid or 0)

    def feed_alive(self, feed: int) -> None:
        self.db.execute("UPDATE feeds SET seen=? WHERE id=?", (time.time(), feed))

    def feed_refused(self, feed: int) -> None:
        """A request the listener could not take as a notification."""
        self.db.execute(
            "UPDATE feeds SET refused=refused+1, last_refused=? WHERE id=?", (time.time(), feed)
        )

    def close_feed(self, feed: int) -> None:
        now = time.time()
        self.db.execute("UPDATE feeds SET seen=?, stopped=? WHERE id=?", (now, now, feed))

    def record(self, feed: int, events: Sequence[Event]) -> None:
        """Events received now, in one transaction (all or none)."""
        now = time.time()
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                [(feed, now, e.repository, e.action, e.tag, e.digest) for e in events],
            )
            self.db.execute("UPDATE feeds SET seen=? WHERE id=?", (now, feed))
            self.db.execute("COMMIT")
        except sqlite3.Error:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def carried(
        self, carried: Carried, repo: str, tag: str
    ) -> tuple[list[ImageRecord], list[Finding]]:
        """A tag's images and findings as run `carried.run` recorded them."""
        rows = self.db.execute(
            "SELECT name, layers, digest, top, created, history FROM images "
            "WHERE run=? AND repo=? AND tag=? ORDER BY name",
            (carried.run, repo, tag),
        ).fetchall()
        images = [
            ImageRecord(name, repo, tag, tuple(json.loads(layers)), digest, top, created, history)
            for name, layers, digest, top, created, history in rows
        ]
        stored = self._findings("run=? AND repo=? AND tag=?", (carried.run, repo, tag))
        return images, [s.finding for s in stored]

    def finish(
        self,
        run: int,
        host: str,
        tags: Sequence[TagSeen],
        images: Sequence[ImageRecord],
        findings: Sequence[Finding],
        *,
        layers_read: int,
        layers_stored: int,
        complete: bool,
    ) -> None:
        """The run's repositories, tags, images and findings, its end, the first and
        last sight of each place it found something at, and (with `keep_runs`) the
        pruning of older runs, in one transaction."""
        by_name = {i.name: i for i in images}
        pruned = False
        try:
            self.db.execute("BEGIN IMMEDIATE")
            repos = sorted({t.repo for t in tags} | {i.repo for i in images})
            self.db.executemany(
                "INSERT OR IGNORE INTO repositories (host, name, first_run) VALUES (?, ?, ?)",
                [(host, name, run) for name in repos],
            )
            self.db.executemany(
                "UPDATE repositories SET last_run=? WHERE host=? AND name=?",
                [(run, host, name) for name in repos],
            )
            ids = dict(self.db.execute("SELECT name, id FROM repositories WHERE host=?", (host,)))
            self.db.executemany(
                "INSERT OR REPLACE INTO tags VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (run, ids[t.repo], t.tag, t.digest, int(t.fetched), int(t.complete))
                    for t in tags
                ],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO images (run, name, layers, repo, tag, digest, top, "
                "created, history) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run,
                        i.name,
                        json.dumps(list(i.layers)),
                        i.repo,
                        i.tag,
                        i.digest,
                        i.top,
                        i.created,
                        i.history,
                    )
                    for i in images
                ],  # fmt: skip
            )
            rows = []
            for f in findings:
                where = by_name.get(f.location.image or "")
                rows.append(
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
                        where.repo if where else None,
                        where.tag if where else None,
                        where.digest if where else None,
                    )
                )
            self.db.executemany(
                "INSERT INTO findings (run, fingerprint, rule, severity, image, layer, path, "
                "line, deleted, inherited, redacted, confidence, col, origin, message, "
                "remediation, repo, tag, digest) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self.db.execute(
                "UPDATE runs SET finished=?, status='done', images=?, layers_read=?, "
                "layers_stored=?, findings=?, complete=?, tags=?, tags_fetched=? WHERE id=?",
                (
                    time.time(),
                    len(images),
                    layers_read,
                    layers_stored,
                    len(findings),
                    int(complete),
                    len(tags),
                    sum(t.fetched for t in tags),
                    run,
                ),
            )
            self._sighted(run, host, findings)
            if self.keep_runs is not None:
                pruned = self._prune(host, self.keep_runs)
            self.db.execute("COMMIT")
        except sqlite3.Error as e:
            self.db.execute("ROLLBACK")
            raise TargetUnreadable(f"sweep store {self.path}: {e}") from e
        if pruned:
            self._reclaim()

    def _sighted(self, run: int, host: str, findings: Sequence[Finding]) -> None:
        """Each place run `run` found something at: first seen now, or seen again."""
        (started,) = self.db.execute("SELECT started FROM runs WHERE id=?", (run,)).fetchone()
        places = dict.fromkeys(
            (host, str(f.rule_id), f.fingerprint, f.location.image or "", f.location.path or "")
            for f in findings
        )
        self.db.executemany(
            "INSERT INTO places VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (host, rule, fingerprint, image, path) DO UPDATE SET "
            "first_seen=MIN(first_seen, excluded.first_seen), "
            "last_seen=MAX(last_seen, excluded.last_seen)",
            [(*place, started, started) for place in places],
        )

    def _prune(self, host: str, keep: int) -> bool:
        """Deletes the tags, images and findings of the host's finished runs but the
        newest `keep` and the newest complete run of each (options, scope) under the
        current rules, and marks those runs `pruned`; also the notifications no kept
        run needs and the layer scans made under other rules. In the caller's
        transaction (a prune is all done or not at all, and the next run's end prunes
        what is still there). Whether anything was deleted."""
        rows = self.db.execute(
            "SELECT id, version, options, scope, complete, started FROM runs "
            "WHERE host=? AND status='done' ORDER BY id DESC",
            (host,),
        ).fetchall()
        kept = {row[0] for row in rows[:keep]}
        # A --feed sweep starts from the newest complete run of its options and scope
        # under the current rules (runs under other rules can no longer be one).
        bases: dict[tuple[object, ...], float] = {}
        for run, version, options, scope, complete, started in rows:
            if complete and version == self.version and (options, scope) not in bases:
                bases[(options, scope)] = started
                kept.add(run)
        gone = [(row[0],) for row in rows if row[0] not in kept]
        for table in ("tags", "images", "findings"):
            self.db.executemany(f"DELETE FROM {table} WHERE run=?", gone)
        self.db.executemany("UPDATE runs SET status='pruned' WHERE id=?", gone)
        if bases:  # notifications received before every base started: no sweep needs them
            self.db.execute(
                "DELETE FROM events WHERE received < ? AND feed IN "
                "(SELECT id FROM feeds WHERE host=?)",
                (min(bases.values()), host),
            )
        # Layer scans made under other rules are never read again.
        layers = self.db.execute("DELETE FROM layers WHERE version != ?", (self.version,))
        return bool(gone) or layers.rowcount > 0

    def _reclaim(self) -> None:
        """After a prune: the freed pages are reused by the next runs' rows; the file is
        rewritten smaller only when more than half of it is free (the first prune of a
        long history). A store busy elsewhere is left as it is, for the next time."""
        free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        total = self.db.execute("PRAGMA page_count").fetchone()[0]
        if 2 * free <= total:
            return
        try:
            self.db.execute("VACUUM")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass

    # -- reports read --------------------------------------------------------

    def runs(self) -> list[Run]:
        names = [f.name for f in fields(Run)]
        rows = self.db.execute(f"SELECT {', '.join(names)} FROM runs ORDER BY id").fetchall()
        out = []
        for row in rows:
            values = dict(zip(names, row, strict=True))
            if values["complete"] is not None:
                values["complete"] = bool(values["complete"])
            out.append(Run(**values))
        return out

    def layer_count(self) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM layers WHERE version=?", (self.version,)
        ).fetchone()
        return int(row[0])

    def findings_of(self, run: int) -> list[Finding]:
        """A run's findings as recorded: redacted, without the secret itself."""
        return [s.finding for s in self._findings("run=?", (run,))]

    def tags_of(self, run: int) -> dict[tuple[str, str], str | None]:
        """(repository, tag) → digest, for every tag run `run` saw."""
        rows = self.db.execute(
            "SELECT r.name, t.tag, t.digest FROM tags t JOIN repositories r "
            "ON r.id = t.repository WHERE t.run=?",
            (run,),
        )
        return {(name, tag): digest for name, tag, digest in rows}

    def newest_tags(self, run: int) -> dict[str, str]:
        """Repository → its newest tag in run `run`: the latest config `created` time
        (the latest of a multi-arch tag's platforms; a tie goes to the greater name)."""
        rows = self.db.execute(
            "SELECT repo, tag, MAX(created) FROM images WHERE run=? AND repo IS NOT NULL "
            "AND created IS NOT NULL GROUP BY repo, tag",
            (run,),
        ).fetchall()
        newest: dict[str, tuple[str, str]] = {}
        for repo, tag, created in rows:
            moment = _instant(created)
            if repo not in newest or (moment, tag) > newest[repo]:
                newest[repo] = (moment, tag)
        return {repo: tag for repo, (_, tag) in newest.items()}

    def sightings(self) -> dict[tuple[object, ...], tuple[float, float]]:
        """Per place of a finding: when finished runs (pruned ones too) first and last
        saw it (the start of each run)."""
        rows = self.db.execute(
            "SELECT rule, fingerprint, image, path, MIN(first_seen), MAX(last_seen) "
            "FROM places GROUP BY 1, 2, 3, 4"
        )
        return {
            (r, fp, image or None, path or None): (first, last)
            for r, fp, image, path, first, last in rows
        }

    def _findings(self, where: str, args: tuple[object, ...]) -> list[Stored]:
        rows = self.db.execute(
            "SELECT rule, severity, confidence, image, layer, path, line, col, origin, "
            "deleted, inherited, fingerprint, redacted, message, remediation, repo, tag "
            f"FROM findings WHERE {where} ORDER BY rowid",
            args,
        ).fetchall()
        out = []
        for row in rows:
            rule, severity, confidence, image, layer, path, line, col, origin = row[:9]
            deleted, inherited, fingerprint, redacted, message, remediation = row[9:15]
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
            finding = Finding(
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
            out.append(Stored(finding, row[15], row[16]))
        return out


def _instant(created: str) -> str:
    """An RFC 3339 time as a sortable UTC string ("" when it is not one)."""
    # Go writes nanoseconds: keep the microseconds Python reads.
    text = re.sub(r"(\.\d{6})\d+", r"\1", created.strip()).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


@dataclass(frozen=True)
class Fixed:
    finding: Finding  # as the earlier run saw it
    reason: str  # "tag gone" | "no longer in the tag" | "no longer in the run"


@dataclass(frozen=True)
class StoreReport:
    """A finished run's findings (first and last seen, newest tag filled in) and what
    changed since an earlier run: new in it, fixed, remaining."""

    run: Run
    previous: Run | None  # the run compared with; None for the first
    findings: list[Finding]
    new: list[Finding]
    fixed: list[Fixed]
    remaining: int


def _key(f: Finding) -> tuple[object, ...]:
    return (str(f.rule_id), f.fingerprint, f.location.image, f.location.path)


def report_run(store: SweepStore, since: int | None = None) -> StoreReport:
    """The newest finished run, against run `since` (default: the finished run before it)."""
    done = [r for r in store.runs() if r.status == "done"]
    if not done:
        raise UsageError(
            f"sweep store {store.path}: no finished sweep in it",
            hint="run `leakguard sweep HOST --store FILE` first",
        )
    last = done[-1]
    previous: Run | None
    if since is not None:
        previous = next((r for r in done if r.id == since), None)
        if previous is None or previous.id == last.id:
            ids = ", ".join(str(r.id) for r in done[:-1]) or "none"
            raise UsageError(
                f"--since {since}: not a finished run before run {last.id}",
                hint=f"finished runs before it: {ids}",
            )
    else:
        previous = done[-2] if len(done) > 1 else None
    seen = store.sightings()
    newest = store.newest_tags(last.id)
    now = store._findings("run=?", (last.id,))
    carriers = {
        (s.repo, str(s.finding.rule_id), s.finding.fingerprint)
        for s in now
        if s.repo is not None and s.tag == newest.get(s.repo)
    }

    def placed(s: Stored) -> Finding:
        first, latest = seen.get(_key(s.finding), (None, None))
        in_newest = None
        if s.repo is not None and s.repo in newest:
            in_newest = (s.repo, str(s.finding.rule_id), s.finding.fingerprint) in carriers
        location = replace(
            s.finding.location,
            first_seen=iso(first) if first is not None else None,
            last_seen=iso(latest) if latest is not None else None,
            in_newest_tag=in_newest,
        )
        return replace(s.finding, location=location)

    findings = [placed(s) for s in now]
    before = store._findings("run=?", (previous.id,)) if previous else []
    earlier = {_key(s.finding) for s in before}
    current = {_key(f) for f in findings}
    tags = store.tags_of(last.id)
    fixed = []
    for s in before:
        if _key(s.finding) in current:
            continue
        current.add(_key(s.finding))  # once per place
        if s.repo is None:
            reason = "no longer in the run"
        elif (s.repo, s.tag) not in tags:
            reason = "tag gone"
        else:
            reason = "no longer in the tag"
        fixed.append(Fixed(placed(s), reason))
    new = list({_key(f): f for f in findings if _key(f) not in earlier}.values())
    remaining = len({_key(f) for f in findings} & earlier)
    return StoreReport(last, previous, findings, new, fixed, remaining)
