"""The git surface: every line a commit adds, over the whole history.

One `git log -p` process streams the patches of every commit reachable from
the chosen revisions (all refs by default: branches, tags, remote-tracking
refs, the stash). This module reads that stream line by line and, per file of
each commit, hands the lines the commit *adds* to the engine, with the path,
the line number in that commit's version of the file, the commit, its author
and date. git produces the patches on one core while the engine runs on the
other; nothing is held in memory but the current file's added lines (flushed
in bounded chunks) and the findings.

- Context lines are never produced (`-U0`): only what a commit adds is read.
- Merges are read as dense combined diffs (`--cc`): only lines new against
  every parent (conflict resolutions) count, not a re-scan of both sides.
- Renames, copies and mode changes add no lines, so they add no findings.
- The same change (same old and new blob) met in many commits (cherry-picks,
  rebased copies on other branches) is scanned once.
- Binary blobs are skipped, except credential files named by their path
  (a keystore, a DER key): their presence is the finding.
- Dockerfiles, Compose files and files of command lines (shell scripts,
  Makefiles, CI pipeline files) go to their detectors, as `leakguard scan`
  sends them, whole, at the commit's version; only what that commit
  introduced is kept (findings none of its parents' versions gives).
  The files they name (a Compose file's `env_file`, `.env`, `include:`,
  `extends:`; a Dockerfile's build context) are read from the same commit (for
  pre-commit: the index), never from the working tree or the current folder,
  and a secret is reported under the file that holds it.
- Commit messages are scanned too (`Context.kind == "commit-message"`).

The same secret at the same path seen in many commits is one finding,
attributed to the oldest commit that added it, with the number of commits it
was seen in; whether the secret is still in that file at HEAD is checked at
the end (`Location.deleted` is true when it is gone).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from leakguard.detectors import AS_PLAIN_TEXT, StructuredScanner, can_fork, scanner_for
from leakguard.detectors.credfiles import presence
from leakguard.engine import CHUNK_SIZE
from leakguard.errors import TargetUnreadable, UsageError
from leakguard.models import Finding, Location, ScanResult, Skipped, Surface
from leakguard.progress import NO_PROGRESS, Progress
from leakguard.rules import Context
from leakguard.rules.filekinds import credential_file_kind
from leakguard.tree import NO_FILES, GitObjects, GitTree, SourceTree, git_env

if TYPE_CHECKING:
    from leakguard.engine import Engine

log = logging.getLogger(__name__)

NULL_SHA = "0" * 40
COMMIT_MESSAGE = "commit-message"
# git configuration that would change the shape of the patch stream.
_GIT_CONFIG = (
    "-c", "core.quotepath=off", "-c", "color.ui=never", "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicprefix=false", "-c", "log.showSignature=false",
    "-c", "diff.external=", "-c", "log.decorate=false",
)  # fmt: skip
_HEADER = "%x00%H %P%x00%an <%ae>%x00%aI%x00%n%B%x00"
_PATCH_ARGS = (
    "-p", "--cc", "-U0", "--full-index", "--no-color", "--no-ext-diff", "--no-textconv",
    "-M", "--no-abbrev", "--submodule=short", "--format=" + _HEADER,
)  # fmt: skip


@dataclass(frozen=True)
class HistoryOptions:
    """Which part of the history to read. No revisions means every ref."""

    revs: tuple[str, ...] = ()
    since: str | None = None
    max_commits: int | None = None
    max_blob_size: int | None = None  # None: no bound
    scan_messages: bool = True
    # Whether each finding's secret is still at HEAD (one more git process).
    check_head: bool = True


@dataclass
class GitScan:
    """A scan's result plus what only the git surface knows."""

    result: ScanResult
    commits: int = 0
    patch_bytes: int = 0
    # finding identity -> number of commits the secret was seen in at that path
    occurrences: dict[tuple[object, ...], int] = field(default_factory=dict)
    # finding identity -> (commit, author date) of every commit that added it, newest first
    sightings: dict[tuple[object, ...], list[tuple[str, str | None]]] = field(default_factory=dict)


# -- repositories ---------------------------------------------------------------


def git_dir(repo: str) -> str:
    """The repository's git directory; TargetUnreadable when `repo` is none."""
    if not os.path.exists(repo):
        raise TargetUnreadable(f"{repo} does not exist", hint="give the path of a git repository")
    proc = _git(repo, "rev-parse", "--absolute-git-dir")
    if proc.returncode != 0:
        reason = _first_line(proc.stderr) or "git rev-parse failed"
        raise TargetUnreadable(
            f"{repo} is not a readable git repository ({reason})",
            hint="give the path of a repository's work tree or of a bare repository",
        )
    return proc.stdout.decode("utf-8", "replace").strip()


def verify_revision(repo: str, rev: str) -> None:
    """UsageError (exit 2) unless `rev` (or both ends of `A..B`) names a commit."""
    ends = rev.replace("...", "..").split("..") if ".." in rev else [rev]
    for end in ends:
        if not end:
            continue  # `A..` means A..HEAD
        name = end.lstrip("^")
        proc = _git(
            repo, "rev-parse", "--verify", "--quiet", "--end-of-options", name + "^{commit}"
        )
        if proc.returncode != 0 or name.startswith("-"):
            raise UsageError(
                f"unknown revision {name!r} in {repo}",
                hint="name a branch, tag or commit that exists (see `git branch -a`, `git tag`)",
            )


def _git(repo: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-C", repo, *_GIT_CONFIG, *args],
            input=stdin,
            capture_output=True,
            check=False,
            env=git_env(),
        )
    except FileNotFoundError:
        raise TargetUnreadable(
            "git is not installed", hint="install git; leakguard runs it to read history"
        ) from None


def _first_line(raw: bytes) -> str:
    for line in raw.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("fatal: ").removeprefix("error: ")
    return ""


# -- the patch stream -------------------------------------------------------------


@dataclass
class _Commit:
    sha: str | None = None
    author: str | None = None
    date: str | None = None
    parents: int = 1
    # The parents' ids, in order (a combined diff's old blobs follow it).
    parent_shas: tuple[str, ...] = ()

    def location(self, path: str | None) -> Location:
        return Location(
            surface=Surface.GIT, path=path, commit=self.sha, author=self.author, date=self.date
        )


@dataclass
class _FileDiff:
    path: str | None = None
    blobs: str = ""  # "old..new" or "old1,old2..new" as in the `index` line
    new_blob: str | None = None
    binary: bool = False
    combined: bool = False
    ncols: int = 1
    deleted: bool = False
    in_hunk: bool = False
    next_line: int = 0
    added: list[bytes] = field(default_factory=list)
    line_nos: list[int] = field(default_factory=list)
    added_bytes: int = 0
    any_added: bool = False


class _Scanner:
    """Turns a patch stream into findings; shared by history, pre-push and pre-commit."""

    def __init__(
        self, engine: Engine, repo: str, options: HistoryOptions, progress: Progress = NO_PROGRESS
    ):
        self.engine = engine
        self.repo = repo
        self.options = options
        self.progress = progress  # advanced at each commit's header
        self._reported_bytes = 0
        self.blobs = GitObjects(repo, options.max_blob_size)
        # rev (None: the index) -> the files a structured detector may name
        self._trees: dict[str | None, GitTree] = {}
        self.result = ScanResult()
        self._skips = _Skips(self.result.skipped)
        self.commits = 0
        self.patch_bytes = 0
        # identity -> (oldest finding so far, count of commits)
        self.kept: dict[tuple[object, ...], list[Any]] = {}
        self._seen_changes: set[int] = set()
        self._change_findings: dict[int, list[tuple[object, ...]]] = {}
        self._counted: set[tuple[object, ...]] = set()
        self._identities: list[tuple[object, ...]] = []
        self._current = _Commit()
        self.sightings: dict[tuple[object, ...], list[tuple[str, str | None]]] = {}

    # -- stream parsing ----------------------------------------------------------

    def feed(self, stream: Iterable[bytes], commit: _Commit | None = None) -> None:
        current = self._current = commit or _Commit()
        diff: _FileDiff | None = None
        in_message = False
        message: list[bytes] = []
        for line in stream:
            self.patch_bytes += len(line)
            if in_message:
                end = line.find(b"\0")
                if end < 0:
                    message.append(line)
                    continue
                message.append(line[:end])
                in_message = False
                self._message(current, b"".join(message))
                continue
            first = line[:1]
            if diff is not None and diff.in_hunk:
                if first == b"+" or first == b" " or first == b"-":
                    self._hunk_line(diff, line)
                    continue
                if first == b"\\":
                    continue
            if first == b"\0":
                if diff is not None:
                    self._flush(current, diff)
                    diff = None
                current = self._current = _parse_header(line)
                self.commits += 1
                self.progress.advance(1, self.patch_bytes - self._reported_bytes)
                self._reported_bytes = self.patch_bytes
                self._counted = set()
                in_message, message = True, []
                continue
            if line.startswith(b"diff --"):
                if diff is not None:
                    self._flush(current, diff)
                diff = _start_diff(line)
                if diff.combined:
                    diff.ncols = current.parents
                continue
            if diff is None:
                continue
            if first == b"@":
                diff.in_hunk = True
                diff.next_line = _hunk_start(line)
            elif not diff.in_hunk:
                _diff_header(diff, line)
        if diff is not None:
            self._flush(current, diff)

    def _hunk_line(self, diff: _FileDiff, line: bytes) -> None:
        n = diff.ncols
        cols = line[:n]
        if b"-" in cols:
            return  # a removed line: not in the new version
        number = diff.next_line
        diff.next_line += 1
        if cols.count(b"+") == n:
            text = line[n:]
            diff.added.append(text)
            diff.line_nos.append(number)
            diff.added_bytes += len(text)
            if diff.added_bytes >= CHUNK_SIZE and not self._structured(diff):
                self._flush_plain(self._current, diff)

    # -- scanning ------------------------------------------------------------------

    def _structured(self, diff: _FileDiff) -> bool:
        """Whether the file's added lines must be held whole (a structured detector
        reads the whole file); a file of command lines is flushed in chunks."""
        scanner = self._dispatch(diff, fetch=False)
        return scanner is not None and scanner is not _shell_scan()

    def _dispatch(self, diff: _FileDiff, fetch: bool = True) -> StructuredScanner | None:
        """The detector `leakguard scan` would send this file to. A file whose name
        says nothing but that could be a script by its `#!` line is looked at: its
        first added line when the commit wrote line 1, else (`fetch`) its blob."""
        path = diff.path or ""
        scanner = scanner_for(path)
        if scanner is not None or not _script_by_shebang(path):
            return scanner
        if diff.line_nos and diff.line_nos[0] == 1:
            return scanner_for(path, diff.added[0])
        if not fetch:
            return None
        return scanner_for(path, (self.blobs.get(diff.new_blob or "") or b"")[:256])

    def _flush(self, commit: _Commit, diff: _FileDiff) -> None:
        if diff.deleted or diff.path is None:
            return
        # The same change (old blobs -> new blob at a path) in another commit
        # adds the same lines: scan it once, count it again.
        change = hash((diff.blobs, diff.path)) if diff.blobs and not diff.any_added else None
        if change is not None:
            if change in self._seen_changes:
                for identity in self._change_findings.get(change, ()):
                    self._count(identity)
                return
            self._seen_changes.add(change)
        self.result.stats.files += 1
        before = len(self._identities)
        if diff.binary:
            self._binary(commit, diff)
        elif diff.added:
            structured = self._dispatch(diff)
            if structured is _shell_scan():
                self._flush_commands(commit, diff)
            elif structured is not None:
                self._flush_structured(commit, diff, structured)
            else:
                self._flush_plain(commit, diff)
        if change is not None and len(self._identities) > before:
            self._change_findings[change] = self._identities[before:]

    def _flush_plain(self, commit: _Commit, diff: _FileDiff) -> None:
        path = diff.path
        data = b"".join(diff.added)
        numbers = diff.line_nos
        diff.any_added = diff.any_added or diff.added_bytes >= CHUNK_SIZE
        diff.added, diff.line_nos, diff.added_bytes = [], [], 0
        self.result.stats.bytes += len(data)
        context = Context(path=path, kind=credential_file_kind(path or ""))
        for finding in self.engine.scan_bytes(data, commit.location(path), context):
            line = finding.location.line
            real = numbers[line - 1] if line is not None and 0 < line <= len(numbers) else None
            self._keep(
                replace(finding, location=finding.location.at(real, finding.location.column))
            )

    def _flush_commands(self, commit: _Commit, diff: _FileDiff) -> None:
        """A shell script, Makefile or CI file: the added lines through the engine, as
        any file, and the command-line analysis of the logical lines that hold them
        (in a CI file, of the job scripts that do), read from the commit's version.
        A credential the token scan already reported on these lines is not reported
        again. (Of more than 8 MiB added at once, only the last chunk's commands.)"""
        from leakguard.detectors.shell import command_findings, may_hold_credential

        path = diff.path or ""
        numbers = list(diff.line_nos)
        hinted = may_hold_credential(b"".join(diff.added))
        before = len(self._identities)
        self._flush_plain(commit, diff)
        blob = self.blobs.get(diff.new_blob or "") if numbers and hinted else None
        if blob is None:
            return
        tokens = {identity[2] for identity in self._identities[before:]}

        base = commit.location(path)
        for finding in command_findings(blob, path, numbers):
            if finding.fingerprint not in tokens:
                where = base.at(finding.location.line, finding.location.column)
                self._keep(replace(finding, location=where))

    def _flush_structured(self, commit: _Commit, diff: _FileDiff, scanner: Any) -> None:
        """The whole file at this commit, through its structured detector.

        What the commit introduced is what the detector reports for the new
        version and for none of the parents' versions: a RUN added below an
        old `ARG PASSWORD` is this commit's doing even though the ARG line is not.
        """
        blob = self.blobs.get(diff.new_blob or "")
        if blob is None:
            self._flush_plain(commit, diff)  # too large or unreadable: the added lines alone
            return
        path = diff.path or ""
        diff.added, diff.line_nos, diff.added_bytes = [], [], 0
        self.result.stats.bytes += len(blob)
        # Each version is read with the files of its own commit: the parents' for
        # the old blobs (in the order of the `index` line), this commit's (or the
        # index's) for the new one.
        before: set[tuple[str, str]] = set()
        olds = diff.blobs.partition("..")[0].split(",")
        for k, old in enumerate(olds):
            old_blob = self.blobs.get(old)
            if old_blob is not None:
                parents = commit.parent_shas
                tree = self._tree(parents[k]) if k < len(parents) else NO_FILES
                before.update(
                    (f.rule_id, f.fingerprint)
                    for f in scanner(self.engine, old_blob, path, tree).findings
                )
        base = commit.location(path)
        found = scanner(self.engine, blob, path, self._tree(commit.sha))
        for finding in found.findings:
            if (finding.rule_id, finding.fingerprint) in before:
                continue
            # A secret in a file the detector followed (`.env`) is reported there.
            where = replace(
                base,
                path=finding.location.path or path,
                line=finding.location.line,
                column=finding.location.column,
            )
            self._keep(replace(finding, location=where))
        self._skips.add(found.skipped, commit)

    def _tree(self, rev: str | None) -> GitTree:
        """The files of commit `rev` (None: the index), sharing the one cat-file reader."""
        tree = self._trees.get(rev)
        if tree is None:
            if len(self._trees) >= 8:
                self._trees.clear()  # commits are read in order: old ones are done
            tree = self._trees[rev] = GitTree(self.blobs, rev, self.repo)
        return tree

    def _binary(self, commit: _Commit, diff: _FileDiff) -> None:
        path = diff.path or ""
        if credential_file_kind(path) is None:
            self.result.stats.skipped_binary += 1
            return
        blob = self.blobs.get(diff.new_blob or "")
        if blob is None:
            self.result.skipped.append(
                Skipped(
                    f"{path} @ {(commit.sha or 'index')[:12]}",
                    "credential file not read: its blob is missing, or over --max-file-size",
                )  # fmt: skip
            )
            return
        for finding in presence(self.engine, blob, path, commit.location(path)):
            self._keep(finding)

    def _message(self, commit: _Commit, text: bytes) -> None:
        if not self.options.scan_messages or not text.strip():
            return
        context = Context(path=None, kind=COMMIT_MESSAGE)
        for finding in self.engine.scan_bytes(text, commit.location(None), context):
            self._keep(finding)

    def _keep(self, finding: Finding) -> None:
        identity = (finding.rule_id, finding.location.path, finding.fingerprint)
        self._identities.append(identity)
        entry = self.kept.get(identity)
        if entry is None:
            self.kept[identity] = [finding, 0]
        elif finding.location.commit != entry[0].location.commit:
            # The stream is newest first: a later sighting is an older commit.
            entry[0] = finding
        self._count(identity)

    def _count(self, identity: tuple[object, ...]) -> None:
        if identity in self._counted:
            return  # once per commit
        self._counted.add(identity)
        self.kept[identity][1] += 1
        commit = self._current
        if commit.sha:
            self.sightings.setdefault(identity, []).append((commit.sha, commit.date))

    def close(self) -> None:
        self.blobs.close()
        where = f"history of {self.repo}"
        self.result.skipped.extend(Skipped(where, why) for why in self.engine.take_gave_up())


class _Skips:
    """What a detector could not read in a commit's file, reported once per file
    and cause (not once per commit), under the oldest commit it was met in.

    A file the detector named that the commit does not hold: one note per file.
    A file it could not parse and scanned as plain text: a note (every byte was
    read). Anything else keeps the detector's verdict (exit 3).
    """

    def __init__(self, out: list[Skipped]):
        self.out = out
        self._noted: set[str] = set()
        self._at: dict[tuple[str, str], int] = {}  # (file, cause) -> index in out

    def add(self, skipped: Sequence[Skipped], commit: _Commit) -> None:
        for skip in skipped:
            if not skip.error:
                if skip.target not in self._noted:
                    self._noted.add(skip.target)
                    self.out.append(skip)
                continue
            entry = Skipped(
                f"{skip.target} @ {(commit.sha or 'index')[:12]}",
                skip.reason,
                error=not skip.reason.endswith(AS_PLAIN_TEXT),
            )
            key = (skip.target, _cause(skip.reason))
            at = self._at.get(key)
            if at is None:
                self._at[key] = len(self.out)
                self.out.append(entry)
            else:
                self.out[at] = entry  # the stream is newest first: this commit is older


def _shell_scan() -> StructuredScanner:
    from leakguard.detectors import shell

    return shell.scan


def _script_by_shebang(path: str) -> bool:
    """Whether a `#!` line would make this file a script (its name alone does not)."""
    from leakguard.detectors.shell import script_kind

    return script_kind(path) is None and script_kind(path, b"#!/bin/sh\n") is not None


_DETAIL = re.compile(r"\d+")
_COMMIT_SUFFIX = re.compile(r"^(.*) @ ([0-9a-f]{12}|index)$", re.DOTALL)


def _cause(reason: str) -> str:
    """What kind of problem a reason names, without its details (which line, which
    YAML error): a file that stays broken over many commits is one entry."""
    head = re.split(r"[(:]", reason, maxsplit=1)[0]
    return _DETAIL.sub("N", head).strip()


def _skip_key(skip: Skipped) -> tuple[object, ...]:
    """What makes two skipped entries of history the same problem."""
    match = _COMMIT_SUFFIX.match(skip.target)
    if match is None:
        return ("note", skip.target) if not skip.error else ("entry", id(skip))
    return ("file", match.group(1), _cause(skip.reason), skip.error)


def _parse_header(line: bytes) -> _Commit:
    parts = line.rstrip(b"\n").split(b"\0")
    # ["", "sha parents...", "author", "date", ""]
    shas = parts[1].split() if len(parts) > 1 else []
    text = [p.decode("utf-8", "replace") for p in parts]
    return _Commit(
        sha=shas[0].decode() if shas else None,
        author=text[2] if len(text) > 2 else None,
        date=text[3] if len(text) > 3 else None,
        parents=max(1, len(shas) - 1),
        parent_shas=tuple(p.decode() for p in shas[1:]),
    )


def _start_diff(line: bytes) -> _FileDiff:
    text = line.rstrip(b"\n")
    if text.startswith(b"diff --git "):
        rest = text[len(b"diff --git ") :]
        diff = _FileDiff()
        if rest.startswith(b'"'):
            first, _, _ = _unquote_prefix(rest)
            diff.path = _path(first.removeprefix(b"a/"))
        else:
            # "a/P b/P": unambiguous when the two sides are equal (no rename).
            half = (len(rest) - 5) // 2
            if half > 0 and rest[2 : 2 + half] == rest[5 + half :]:
                diff.path = _path(rest[2 : 2 + half])
        return diff
    # "diff --cc PATH" / "diff --combined PATH"
    raw = text.split(b" ", 2)[2] if text.count(b" ") >= 2 else b""
    if raw.startswith(b'"'):
        raw = _unquote_prefix(raw)[0]
    return _FileDiff(path=_path(raw), combined=True)


def _diff_header(diff: _FileDiff, line: bytes) -> None:
    text = line.rstrip(b"\n")
    if text.startswith(b"+++ "):
        target = text[4:]
        if target == b"/dev/null":
            diff.deleted = True
        else:
            if target.startswith(b'"'):
                target = _unquote_prefix(target)[0]
            diff.path = _path(target.removeprefix(b"b/"))
    elif text.startswith(b"index "):
        blobs = text[6:].split(b" ")[0].decode("ascii", "replace")
        diff.blobs = blobs
        new = blobs.rpartition("..")[2]
        diff.new_blob = new
        if diff.combined:
            diff.ncols = blobs.partition("..")[0].count(",") + 1
    elif text.startswith((b"rename to ", b"copy to ")):
        target = text.split(b" ", 2)[2]
        if target.startswith(b'"'):
            target = _unquote_prefix(target)[0]
        diff.path = _path(target)
    elif text.startswith(b"deleted file mode"):
        diff.deleted = True
    elif text.startswith(b"Binary files ") or text == b"GIT binary patch":
        diff.binary = True
        if text.endswith(b" and /dev/null differ"):
            diff.deleted = True


def _hunk_start(line: bytes) -> int:
    """The first new-file line of a hunk: `@@ -a,b +c,d @@` or `@@@ ... +e,f @@@`."""
    for part in line.split(b" ")[1:]:
        if part.startswith(b"+"):
            return int(part[1:].split(b",")[0] or b"1")
    return 1


_ESCAPES = {ord("n"): 10, ord("t"): 9, ord('"'): 34, ord("\\"): 92, ord("a"): 7, ord("b"): 8,
            ord("f"): 12, ord("r"): 13, ord("v"): 11}  # fmt: skip


def _unquote_prefix(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """git's C-style quoted name at the start of `raw`: (name, quote, rest)."""
    out = bytearray()
    i = 1
    while i < len(raw):
        c = raw[i]
        if c == 34:
            return bytes(out), b'"', raw[i + 1 :].lstrip(b" ")
        if c == 92 and i + 1 < len(raw):
            nxt = raw[i + 1]
            if 48 <= nxt <= 55 and i + 3 < len(raw):
                out.append(int(raw[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out), b"", b""


def _path(raw: bytes) -> str:
    # A byte that is not UTF-8 is kept (as a surrogate escape), not replaced: the
    # path still names the file in HEAD, and reports show the byte as \xNN.
    return raw.decode("utf-8", "surrogateescape")


# -- entry points ----------------------------------------------------------------


def _selection(options: HistoryOptions) -> list[str]:
    args = ["--date-order"]
    if options.since:
        args.append(f"--since={options.since}")
    if options.max_commits:
        args.append(f"--max-count={options.max_commits}")
    args.extend(options.revs or ("--all",))
    return args


def log_command(
    repo: str, options: HistoryOptions, window: tuple[int, int] | None = None
) -> list[str]:
    """The `git log` that streams the patches; `window` = (skip, count) of the commits."""
    args = ["git", "-C", repo, *_GIT_CONFIG, "log", *_PATCH_ARGS]
    if window is not None:
        skip, count = window
        if options.max_commits:
            count = max(0, min(count, options.max_commits - skip))
        args += [f"--skip={skip}", f"--max-count={count}"]
        selection = [a for a in _selection(options) if not a.startswith("--max-count=")]
    else:
        selection = _selection(options)
    return [*args, *selection, "--"]


# Below this many commits one git process and one parser are faster than a pool.
PARALLEL_MIN_COMMITS = 1500


@dataclass
class _Part:
    """What one partition of the history produced (crosses process boundaries)."""

    kept: list[tuple[tuple[object, ...], Finding, int]]
    result: ScanResult
    commits: int
    patch_bytes: int
    error: str | None
    sightings: dict[tuple[object, ...], list[tuple[str, str | None]]] = field(default_factory=dict)


def scan_history(
    engine: Engine,
    repo: str,
    options: HistoryOptions | None = None,
    *,
    jobs: int = 1,
    progress: Progress = NO_PROGRESS,
    verified: bool = False,
) -> GitScan:
    """Every line added by the commits `options` selects, as findings.

    With `jobs` > 1 and a long history, the commits (newest first) are cut
    into `jobs` consecutive partitions, each read by its own `git log` and
    parser process. `verified`: the revisions are known to exist (they came
    from git itself), so the repository and revision checks are skipped.
    """
    options = options or HistoryOptions()
    started = time.perf_counter()
    if not verified:
        git_dir(repo)
        for rev in options.revs:
            if not rev.startswith("--"):
                verify_revision(repo, rev)
    parts: list[_Part]
    progress.phase(f"reading the history of {repo}")
    split = jobs > 1 and can_fork()
    # The count is a `git rev-list`: paid for a display's done/total, or to split.
    total = _commit_count(repo, options) if split or progress is not NO_PROGRESS else 0
    progress.start(total or None, "commits")
    if split and total >= PARALLEL_MIN_COMMITS:
        size = -(-total // jobs)
        ranges = [(i * size, size) for i in range(jobs) if i * size < total]
        parts = _run_parallel(engine, repo, options, ranges, progress)
    else:
        parts = [_run_part(engine, repo, options, None, progress)]
    # Partitions are newest first: a later partition's sighting is the older commit.
    kept: dict[tuple[object, ...], list[Any]] = {}
    sightings: dict[tuple[object, ...], list[tuple[str, str | None]]] = {}
    result = ScanResult()
    for part in parts:
        for identity, seen in part.sightings.items():
            sightings.setdefault(identity, []).extend(seen)
        for identity, finding, count in part.kept:
            entry = kept.setdefault(identity, [finding, 0])
            entry[0] = finding
            entry[1] += count
        result.extend(part.result)
    if len(parts) > 1:
        _one_entry_per_cause(result)
    commits = sum(p.commits for p in parts)
    patch_bytes = sum(p.patch_bytes for p in parts)
    findings = [entry[0] for entry in kept.values()]
    present: list[bool | None] = [None] * len(findings)  # not checked
    if options.check_head:
        progress.phase("checking which secrets are still at HEAD")
        present = _present_in_head(engine, repo, findings, options.max_blob_size, result.skipped)
    for (finding, count), here in zip(kept.values(), present, strict=True):
        location = with_history_fields(finding.location, present_in_head=here, occurrences=count)
        result.findings.append(replace(finding, location=location))
    errors = sorted({p.error for p in parts if p.error})
    for reason in errors:
        result.skipped.append(
            Skipped(f"git history of {repo}", f"{reason} (`git fsck` shows what is damaged)")
        )
    result.stats.duration_s = time.perf_counter() - started
    log.debug(
        "read %d commit(s) in %d partition(s), %d bytes of patches in %.2fs: %d finding(s)",
        commits, len(parts), patch_bytes, result.stats.duration_s, len(result.findings),
    )  # fmt: skip
    return GitScan(
        result=result,
        commits=commits,
        patch_bytes=patch_bytes,
        occurrences={ident: entry[1] for ident, entry in kept.items()},
        sightings=sightings,
    )


def _one_entry_per_cause(result: ScanResult) -> None:
    """Partitions each report what they met: one note per missing referenced file
    (the first), one entry per file and cause, under the oldest commit (the last,
    as partitions run newest first)."""
    at: dict[tuple[object, ...], int] = {}
    kept: list[Skipped] = []
    for skip in result.skipped:
        key = _skip_key(skip)
        if key not in at:
            at[key] = len(kept)
            kept.append(skip)
        elif key[0] == "file":
            kept[at[key]] = skip
    result.skipped = kept


def _run_part(
    engine: Engine,
    repo: str,
    options: HistoryOptions,
    window: tuple[int, int] | None,
    progress: Progress = NO_PROGRESS,
) -> _Part:
    """One `git log` over the selected commits (or the `window` = (skip, count) of them)."""
    scanner = _Scanner(engine, repo, options, progress)
    command = log_command(repo, options, window)
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL,
            env=git_env(), bufsize=1024 * 1024,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            scanner.feed(proc.stdout)
            progress.advance(0, scanner.patch_bytes - scanner._reported_bytes)
        finally:
            proc.stdout.close()
            rc = proc.wait()
            scanner.close()
        errors.seek(0)
        stderr = errors.read()
    error = (_first_line(stderr) or f"git log exited with {rc}") if rc != 0 else None
    return _Part(
        kept=[(identity, entry[0], entry[1]) for identity, entry in scanner.kept.items()],
        result=scanner.result,
        commits=scanner.commits,
        patch_bytes=scanner.patch_bytes,
        error=error,
        sightings=scanner.sightings,
    )


def _commit_count(repo: str, options: HistoryOptions) -> int:
    args = ["rev-list", "--count", *_selection(options), "--"]
    proc = _git(repo, *args)
    try:
        return int(proc.stdout) if proc.returncode == 0 else 0
    except ValueError:
        return 0


_WORKER: tuple[Engine, str, HistoryOptions, Any] | None = None


def _worker_part(window: tuple[int, int]) -> _Part:
    assert _WORKER is not None
    engine, repo, options, shared = _WORKER
    progress = _SharedCount(shared) if shared is not None else NO_PROGRESS
    return _run_part(engine, repo, options, window, progress)


class _SharedCount:
    """A worker's progress: commits and patch bytes added to counters in shared
    memory, which the parent reads while the partitions run."""

    def __init__(self, shared: Any) -> None:
        self.shared = shared

    def phase(self, text: str) -> None:
        pass

    def start(self, total: int | None, unit: str, total_bytes: int | None = None) -> None:
        pass

    def advance(self, n: int = 1, nbytes: int = 0) -> None:
        with self.shared.get_lock():
            self.shared[0] += n
            self.shared[1] += nbytes


def _run_parallel(
    engine: Engine,
    repo: str,
    options: HistoryOptions,
    windows: list[tuple[int, int]],
    progress: Progress = NO_PROGRESS,
) -> list[_Part]:
    import multiprocessing

    global _WORKER
    context = multiprocessing.get_context("fork")
    shared = context.Array("q", 2) if progress is not NO_PROGRESS else None
    _WORKER = (engine, repo, options, shared)  # inherited by the forked workers
    try:
        with context.Pool(processes=len(windows)) as pool:
            pending = pool.map_async(_worker_part, windows, chunksize=1)
            reported = (0, 0)
            while shared is not None and not pending.ready():
                pending.wait(0.25)
                with shared.get_lock():
                    now = (shared[0], shared[1])
                progress.advance(now[0] - reported[0], now[1] - reported[1])
                reported = now
            return pending.get()
    finally:
        _WORKER = None


def scan_staged(engine: Engine, repo: str) -> GitScan:
    """What `git commit` would record now: the index against HEAD."""
    started = time.perf_counter()
    git_dir(repo)
    options = HistoryOptions(scan_messages=False)
    scanner = _Scanner(engine, repo, options)
    head = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    # The staged version reads the index's files; HEAD's version HEAD's.
    parents = (head.stdout.decode().strip(),) if head.returncode == 0 else ()
    args = ["diff", "--cached", *(a for a in _PATCH_ARGS if not a.startswith("--format")
                                  and a != "--cc")]  # fmt: skip
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            ["git", "-C", repo, *_GIT_CONFIG, *args, "--"],
            stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, env=git_env(),
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            scanner.feed(proc.stdout, _Commit(sha=None, parent_shas=parents))
        finally:
            proc.stdout.close()
            rc = proc.wait()
            scanner.close()
        errors.seek(0)
        stderr = errors.read()
    result = ScanResult(
        findings=[entry[0] for entry in scanner.kept.values()],
        skipped=scanner.result.skipped,
        stats=scanner.result.stats,
    )
    if rc != 0:
        result.skipped.append(Skipped(f"staged changes in {repo}", _first_line(stderr)))
    result.stats.duration_s = time.perf_counter() - started
    return GitScan(result=result, commits=0, patch_bytes=scanner.patch_bytes)


def with_history_fields(location: Location, *, present_in_head: bool | None,
                        occurrences: int) -> Location:  # fmt: skip
    """`deleted` means: no longer in HEAD's version of the file."""
    return replace(location, deleted=present_in_head is False,
                   present_in_head=present_in_head, occurrences=occurrences)  # fmt: skip


def _present_in_head(
    engine: Engine,
    repo: str,
    findings: Sequence[Finding],
    max_size: int | None,
    skipped: list[Skipped] | None = None,
) -> list[bool | None]:
    """For each finding: does HEAD's version of its file still have it? None for messages.

    HEAD's file is scanned the way history is (structured detector, binary
    credential file, or the engine) and a finding is present when the same
    rule reports the same secret there; a file too large to read counts as
    present when it contains the secret's bytes. What the detectors could not
    read there is added to `skipped` unless history already reports it.
    """
    paths = sorted({f.location.path for f in findings if f.location.path})
    seen: dict[str, set[tuple[str, str]]] = {}
    if paths:
        head = _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        head_sha = head.stdout.decode().strip() if head.returncode == 0 else ""
        blobs = GitObjects(repo, max_size)
        tree = GitTree(blobs, head_sha, repo)  # what HEAD's files name is HEAD's too
        try:
            for path in paths:
                blob = blobs.get(f"{head_sha}:{path}") if head_sha else None
                if blob is not None:
                    found = _scan_whole(engine, blob, path, tree)
                    seen[path] = {
                        (f.rule_id, f.fingerprint)
                        for f in found.findings
                        if f.location.path in (path, None)
                    }
                    if skipped is not None:
                        _add_head_skips(skipped, found.skipped, head_sha)
        finally:
            blobs.close()
    out: list[bool | None] = []
    for f in findings:
        if not f.location.path:
            out.append(None)
            continue
        here = seen.get(f.location.path)
        out.append(here is not None and (f.rule_id, f.fingerprint) in here)
    return out


def _add_head_skips(skipped: list[Skipped], found: Sequence[Skipped], head_sha: str) -> None:
    at_head: list[Skipped] = []
    _Skips(at_head).add(found, _Commit(sha=head_sha))
    known = {_skip_key(s) for s in skipped}
    skipped.extend(s for s in at_head if _skip_key(s) not in known)


def _scan_whole(engine: Engine, blob: bytes, path: str, tree: SourceTree) -> ScanResult:
    if b"\0" in blob[:8192]:
        return ScanResult(findings=presence(engine, blob, path))
    structured = scanner_for(path, blob[:256])
    if structured is not None:
        return structured(engine, blob, path, tree)
    context = Context(path=path, kind=credential_file_kind(path))
    location = Location(surface=Surface.GIT, path=path)
    return ScanResult(findings=engine.scan_bytes(blob, location, context))


def file_equivalent(finding: Finding, root: str) -> Finding:
    """The finding as a scan of the work tree would report it (for baselines)."""
    path = finding.location.path
    where = Location(surface=Surface.FILE, path=os.path.join(root, path) if path else None)
    return replace(finding, location=where)
