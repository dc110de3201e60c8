"""Build contexts: what `docker build` sends, and what a broad COPY puts in the image.

`.dockerignore` is read and matched the way Docker does it (moby's
patternmatcher), which differs from `.gitignore` in ways that matter here:
patterns are anchored at the context root (`*.env` does not match
`config/app.env`; `**/*.env` does), a pattern that matches a folder excludes
everything in it, `!` re-includes, the last matching line wins, and an
excluded folder is not descended into unless a `!` pattern starts with its
path. BuildKit's `<Dockerfile>.dockerignore` next to the Dockerfile takes
precedence over the context's `.dockerignore`.

Given a Dockerfile, `scan_context` reports each credential file that a
`COPY`/`ADD` from the context would put into the image (at the COPY line, with
the `.dockerignore` line to add), and, when asked, the secrets found in every
copied file.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, BinaryIO

from leakguard.detectors.dockerfile import (
    DockerfileSyntaxError,
    Instruction,
    parse_dockerfile,
)
from leakguard.errors import TargetUnreadable
from leakguard.fsutil import open_regular
from leakguard.models import (
    Confidence,
    Finding,
    Location,
    RuleId,
    ScanResult,
    SecretValue,
    Severity,
    Skipped,
    Surface,
    fingerprint,
)
from leakguard.progress import NO_PROGRESS, Progress
from leakguard.rules import Context
from leakguard.rules.container import CONTEXT_CHECKS, CONTEXT_REMEDIATION, CONTEXT_RULE_ID
from leakguard.rules.filekinds import credential_file_kind
from leakguard.tree import DISK

if TYPE_CHECKING:
    from leakguard.engine import Engine
    from leakguard.tree import SourceTree

RULE_ID = CONTEXT_RULE_ID
REMEDIATION = CONTEXT_REMEDIATION
CHECKS = CONTEXT_CHECKS
# Bounds for walking a context from `leakguard scan` (names only).
MAX_CONTEXT_FILES = 100_000
# A .dockerignore is read up to this size (Docker reads it whole; no real one comes near).
MAX_IGNORE_FILE = 16 * 1024 * 1024

# -- .dockerignore --------------------------------------------------------------------

_ESCAPE_IN_REGEX = set(".+()|{}$")
# The pieces of a translated pattern that match any number of characters.
_STAR, _DIRS, _ANY = "[^/]*", "(.*/)?", ".*"
_UNBOUNDED = frozenset({_STAR, _DIRS, _ANY})
# A regex with this many unbounded pieces can backtrack for minutes (`**/` sixty
# times); from two, a long path costs its length squared. Such patterns and paths
# are matched by `_Glob` stepping over positions instead.
_BACKTRACKS = 3
_LONG_PATH = 512


class _Glob:
    """A pattern translated to a regex, matched in time linear in the path.

    The regex is a run of pieces: fixed ones (a character, a class, `[^/]`) and
    unbounded ones (`[^/]*`, `(.*/)?`, `.*`). Where backtracking could blow up,
    the pieces are applied in turn to the set of positions the path can be at,
    as a non-backtracking matcher does: O(len(path)) work a piece.
    """

    __slots__ = ("regex", "_steps", "_unbounded")

    def __init__(self, pieces: Sequence[str], splittable: bool = True) -> None:
        self.regex = re.compile("^" + "".join(pieces) + "$", re.S)
        steps: list[str | re.Pattern[str]] = []
        fixed = ""
        for piece in pieces:
            if piece in _UNBOUNDED:
                if fixed:
                    steps.append(re.compile(fixed, re.S))
                    fixed = ""
                steps.append(piece)
            else:
                fixed += piece
        if fixed:
            try:
                steps.append(re.compile(fixed, re.S))
            except re.error:
                splittable = False
        self._unbounded = sum(1 for piece in pieces if piece in _UNBOUNDED)
        self._steps = steps if splittable else None

    def _stepping(self, path: str) -> bool:
        return self._steps is not None and (
            self._unbounded >= _BACKTRACKS or (self._unbounded >= 2 and len(path) > _LONG_PATH)
        )

    def match(self, path: str) -> bool:
        if self._steps is None or not self._stepping(path):
            return self.regex.match(path) is not None
        return self._match_steps(self._steps, path)

    def match_here_or_above(self, path: str) -> bool:
        """Whether the pattern matches `path` or one of its parent folders: with
        the stepping matcher, one pass gives every prefix the pattern matches."""
        if self._steps is None or not self._stepping(path):
            return self.regex.match(path) is not None or any(
                self.regex.match(path[:k]) is not None for k in _slashes(path, 0)
            )
        n = len(path)
        for end in self._ends(self._steps, path):
            if end == n or path[end] == "/":
                return True
            if path[end] == "\n" and (end + 1 == n or path[end + 1] == "/"):
                return True  # `$` matches before a final line feed
        return False

    @staticmethod
    def _match_steps(steps: Sequence[str | re.Pattern[str]], path: str) -> bool:
        at = _Glob._ends(steps, path)
        n = len(path)
        return bool(at) and (at[-1] == n or (at[-1] == n - 1 and path.endswith("\n")))

    @staticmethod
    def _ends(steps: Sequence[str | re.Pattern[str]], path: str) -> list[int]:
        """Every e such that the pieces match path[:e] whole, in order."""
        n = len(path)
        at = [0]  # positions the path can be at, in order
        for step in steps:
            if not at:
                return at
            if isinstance(step, re.Pattern):
                at = [m.end() for m in map(step.match, itertools.repeat(path), at) if m]
                at = sorted(set(at))
            elif step == _ANY:
                at = list(range(at[0], n + 1))
            elif step == _DIRS:  # stay, or go past any later "/"
                after = {i + 1 for i in _slashes(path, at[0])}
                at = sorted(after.union(at))
            else:  # _STAR: anywhere up to the next "/"
                out: list[int] = []
                reach = -1
                for start in at:
                    if start > reach:
                        slash = path.find("/", start)
                        reach = n if slash < 0 else slash
                        out.extend(range(max(start, out[-1] + 1 if out else 0), reach + 1))
                at = out
        return at


def _slashes(path: str, start: int) -> Iterator[int]:
    i = path.find("/", start)
    while i >= 0:
        yield i
        i = path.find("/", i + 1)


@dataclass(frozen=True, slots=True)
class IgnorePattern:
    text: str  # cleaned, as Docker keeps it ("!" removed)
    exclusion: bool  # a "!" line: re-include
    line: int  # line in the ignore file
    glob: _Glob | None
    kind: str  # "exact" | "prefix" | "suffix" | "regexp"

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix[:1] == "/" and path == suffix[1:]
        assert self.glob is not None
        return self.glob.match(path)

    def match_here_or_above(self, path: str) -> bool:
        """Whether the pattern matches `path` or one of its parent folders."""
        if self.glob is not None:
            return self.glob.match_here_or_above(path)
        return self.match(path) or any(self.match(path[:k]) for k in _slashes(path, 0))


def _clean(path: str) -> str:
    """Go's filepath.Clean for "/"-separated paths."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    out = "/".join(parts)
    return ("/" + out) if rooted else (out or ".")


def compile_pattern(text: str, exclusion: bool, line: int) -> IgnorePattern:
    """One cleaned pattern, compiled the way moby's patternmatcher does.

    `**/` repeated is one `**/` (either matches any run of folders, or none).
    """
    pieces: list[str] = []
    kind = "exact"
    i, n = 0, len(text)
    first = True
    in_class, splittable = False, True  # a wildcard inside [...] stays in the regex
    while i < n:
        ch = text[i]
        i += 1
        if ch == "*":
            if i < n and text[i] == "*":
                i += 1
                if i < n and text[i] == "/":
                    i += 1
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        pieces.append(_ANY)
                        kind = "regexp"
                else:
                    if not pieces or pieces[-1] != _DIRS:
                        pieces.append(_DIRS)
                    kind = "regexp"
                if first:
                    kind = "suffix"
            else:
                pieces.append(_STAR)
                kind = "regexp"
            splittable = splittable and not in_class
        elif ch == "?":
            pieces.append("[^/]")
            kind = "regexp"
            splittable = splittable and not in_class
        elif ch in _ESCAPE_IN_REGEX:
            pieces.append("\\" + ch)
        elif ch == "\\":
            # An escaped character matches itself (compared through the regex, as
            # Docker 20.10 does; a later patternmatcher compared it as written).
            if i < n:
                pieces.append(re.escape(text[i]))
                i += 1
            else:
                pieces.append("\\\\")
            kind = "regexp"
        elif ch in "[]":
            pieces.append(ch)
            in_class = ch == "["
            kind = "regexp"
        else:
            pieces.append(re.escape(ch) if ch in "^" else ch)
        first = False
    glob = None
    if kind == "regexp":
        try:
            glob = _Glob(pieces, splittable)
        except re.error as e:
            raise ValueError(f"bad pattern {text!r}: {e}") from None
    return IgnorePattern(text, exclusion, line, glob, kind)


def parse_dockerignore(text: str) -> list[IgnorePattern]:
    """The patterns of a .dockerignore, with their line numbers."""
    out = []
    for number, raw in enumerate(text.splitlines(), 1):
        if number == 1:
            raw = raw.lstrip("\ufeff")
        if raw.startswith("#"):
            continue
        pattern = raw.strip()
        if not pattern:
            continue
        exclusion = pattern.startswith("!")
        if exclusion:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = _clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        out.append(compile_pattern(pattern, exclusion, number))
    return out


@dataclass(frozen=True)
class DockerIgnore:
    patterns: tuple[IgnorePattern, ...] = ()
    path: str | None = None  # the file the patterns came from

    def excluded(self, rel: str) -> bool:
        """Docker's MatchesOrParentMatches: the last pattern that matches the path,
        or one of its parent folders, decides."""
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            if pattern.match_here_or_above(rel):
                matched = not pattern.exclusion
        return matched

    def may_descend(self, rel_dir: str) -> bool:
        """Whether Docker walks into an excluded folder (a `!` pattern under it)."""
        prefix = rel_dir + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self.patterns)

    def line_for(self, rel: str) -> str:
        """The line to add to exclude `rel`."""
        return rel


def load_dockerignore(
    context_dir: str, dockerfile: str | None = None, tree: SourceTree = DISK
) -> DockerIgnore:
    """`<Dockerfile>.dockerignore` next to the Dockerfile, else `<context>/.dockerignore`."""
    candidates = []
    if dockerfile is not None:
        candidates.append(dockerfile + ".dockerignore")
    candidates.append(os.path.join(context_dir, ".dockerignore"))
    for candidate in candidates:
        try:
            text = tree.read(candidate, MAX_IGNORE_FILE).decode("utf-8", "replace")
        except FileNotFoundError:
            continue
        except OSError as e:
            raise TargetUnreadable(
                f"cannot read {candidate}: {(e.strerror or str(e)).lower()}",
                hint="without it, what the build context holds cannot be known",
            ) from e
        try:
            return DockerIgnore(tuple(parse_dockerignore(text)), candidate)
        except ValueError as e:
            raise TargetUnreadable(f"{candidate}: {e}", hint="Docker rejects it too") from e
    return DockerIgnore()


@dataclass
class ContextListing:
    root: str
    files: list[str] = field(default_factory=list)  # relative, "/"-separated, sorted
    ignore: DockerIgnore = field(default_factory=DockerIgnore)
    skipped: list[Skipped] = field(default_factory=list)
    truncated: bool = False


def list_context(
    context_dir: str,
    dockerfile: str | None = None,
    *,
    limit: int | None = None,
    tree: SourceTree = DISK,
) -> ContextListing:
    """Every file (and symlink) `docker build` would send from `context_dir` of `tree`."""
    ignore = load_dockerignore(context_dir, dockerfile, tree)
    listing = ContextListing(root=context_dir, ignore=ignore)
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        folder = os.path.join(context_dir, rel_dir) if rel_dir else context_dir
        try:
            entries = tree.entries(folder)
        except FileNotFoundError:
            continue  # removed while we walked: Docker would not send it either
        except OSError as e:
            listing.skipped.append(Skipped(folder, (e.strerror or str(e)).lower()))
            continue
        subdirs = []
        for name, is_dir in entries:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if ignore.excluded(rel):
                if is_dir and ignore.may_descend(rel):
                    subdirs.append(rel)
                continue
            if is_dir:
                subdirs.append(rel)
            else:
                listing.files.append(rel)
                if limit is not None and len(listing.files) >= limit:
                    listing.truncated = True
                    listing.files.sort()
                    return listing
        stack.extend(reversed(subdirs))
    listing.files.sort()
    return listing


# -- what COPY takes ----------------------------------------------------------------------


def _source_glob(source: str) -> _Glob:
    """Go's filepath.Match for one COPY source (each `*` stays within a folder;
    `**` is `*` there)."""
    pieces: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "*":
            if not pieces or pieces[-1] != _STAR:
                pieces.append(_STAR)
        elif ch == "?":
            pieces.append("[^/]")
        elif ch == "[":
            end = source.find("]", i + 1)
            if end < 0:
                pieces.append(re.escape(ch))
            else:
                body = source[i + 1 : end]
                body = "^" + body[1:] if body.startswith("^") or body.startswith("!") else body
                pieces.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif ch == "\\" and i + 1 < len(source):
            i += 1
            pieces.append(re.escape(source[i]))
        else:
            pieces.append(re.escape(ch))
        i += 1
    return _Glob(pieces)


def copied_from_context(
    instructions: Sequence[Instruction], files: Iterable[str]
) -> dict[str, Instruction]:
    """Context file -> the first COPY/ADD (not --from, not a URL) that copies it."""
    files = list(files)
    out: dict[str, Instruction] = {}
    for ins in instructions:
        if ins.instruction not in ("COPY", "ADD") or ins.flag("from") is not None or ins.heredocs:
            continue
        words = [w.value for w in ins.arguments]
        for source in words[:-1]:
            if "://" in source or source.startswith("git@"):
                continue
            pattern = _clean(source.lstrip("/")) if source not in ("", "/") else "."
            if pattern in (".", ""):
                chosen = files
            else:
                glob = _source_glob(pattern)
                chosen = [f for f in files if glob.match_here_or_above(f)]
            for f in chosen:
                out.setdefault(f, ins)
    return out


# -- the scan -------------------------------------------------------------------------------


def scan_context(
    engine: Engine | None,
    dockerfile: str,
    context_dir: str | None = None,
    *,
    instructions: list[Instruction] | None = None,
    limit: int | None = None,
    tree: SourceTree = DISK,
    max_file_size: int | None = None,
    progress: Progress = NO_PROGRESS,
) -> ScanResult:
    """Credential files (and, with an engine, secrets in any file) that the
    Dockerfile's COPY/ADD would take from the build context into the image.

    The context is listed from `tree`; the Dockerfile itself is read from disk
    unless `instructions` are given, and copied files are read from disk (an
    engine is given only for a build context on disk). Copied files are
    streamed whatever their size; one over `max_file_size` (when given) is
    reported as not read."""
    result = ScanResult()
    context_dir = context_dir if context_dir is not None else os.path.dirname(dockerfile) or "."
    if instructions is None:
        try:
            with open_regular(dockerfile) as fh:
                text = fh.read().decode("utf-8", "surrogateescape")
        except OSError as e:
            raise TargetUnreadable(
                f"cannot read {dockerfile}: {(e.strerror or str(e)).lower()}",
                hint="give the Dockerfile's path (or a folder that has one)",
            ) from e
        try:
            instructions = parse_dockerfile(text)
        except DockerfileSyntaxError as e:
            result.skipped.append(Skipped(dockerfile, f"not a valid Dockerfile: {e.message}"))
            return result
    if not any(i.instruction in ("COPY", "ADD") and i.flag("from") is None for i in instructions):
        return result
    progress.phase(f"listing the build context {context_dir}")
    listing = list_context(context_dir, dockerfile, limit=limit, tree=tree)
    result.skipped.extend(listing.skipped)
    if listing.truncated:
        result.skipped.append(Skipped(
            context_dir, f"build context has more than {limit} files; only those were checked",
            error=False,
        ))  # fmt: skip
    copied = copied_from_context(instructions, listing.files)
    progress.phase(f"scanning what {dockerfile} copies")
    progress.start(len(copied), "files")
    stats = result.stats
    for rel, ins in sorted(copied.items()):
        kind = credential_file_kind(rel)
        if kind is not None:
            result.findings.append(_credential_finding(dockerfile, listing, rel, ins, kind))
        if engine is not None:
            before = stats.bytes + stats.bytes_skipped
            _scan_copied(engine, os.path.join(context_dir, rel), rel, ins, dockerfile, kind,
                         result, max_file_size)  # fmt: skip
            progress.advance(1, stats.bytes + stats.bytes_skipped - before)
        else:
            progress.advance()
    return result


def _credential_finding(
    dockerfile: str, listing: ContextListing, rel: str, ins: Instruction, kind: str
) -> Finding:
    where = (
        f"add `{listing.ignore.line_for(rel)}` to {os.path.basename(listing.ignore.path)}"
        if listing.ignore.path
        else f"add `{rel}` to a .dockerignore (there is none)"
    )
    command = f"{ins.instruction} {ins.command.strip()}"
    command = command if len(command) <= 60 else command[:57] + "..."
    return Finding(
        rule_id=RuleId(RULE_ID),
        severity=Severity.HIGH,
        confidence=Confidence.HIGH,
        location=Location(surface=Surface.DOCKERFILE, path=dockerfile, line=ins.line, column=1),
        # A presence finding: no value to show, and the fingerprint names the file.
        fingerprint=fingerprint(f"context:{rel}".encode("utf-8", "surrogateescape")),
        redacted=rel,
        message=f"`{command}` copies {rel} ({kind} credential file) into the image; {where}",
        remediation=REMEDIATION,
        secret=SecretValue(b""),
    )


def _scan_copied(
    engine: Engine,
    path: str,
    rel: str,
    ins: Instruction,
    dockerfile: str,
    kind: str | None,
    result: ScanResult,
    max_file_size: int | None = None,
) -> None:
    from leakguard.detectors.files import over_size_bound
    from leakguard.engine import CHUNK_SIZE

    location = Location(surface=Surface.FILE, path=os.path.normpath(path))
    context = Context(path=path, kind=kind)
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            return
        if max_file_size is not None and st.st_size > max_file_size:
            result.skipped.append(Skipped(path, over_size_bound(st.st_size, max_file_size)))
            result.stats.bytes_skipped += st.st_size
            return
        with open_regular(path) as fh:
            head = fh.read(CHUNK_SIZE)
            if b"\0" in head[:8192]:
                result.stats.skipped_binary += 1
                result.stats.bytes_skipped += st.st_size
                return
            result.stats.files += 1
            if len(head) < CHUNK_SIZE:
                result.stats.bytes += len(head)
                found = engine.scan_bytes(head, location, context)
            else:  # a large file: streamed in bounded memory, as `scan` does
                stats = result.stats

                def counted(n: int) -> None:
                    stats.bytes += n

                found = list(
                    engine.scan_stream(_Then(head, fh), location, context, on_bytes=counted)
                )
    except OSError as e:
        result.skipped.append(Skipped(path, (e.strerror or str(e)).lower()))
        return
    result.skipped.extend(Skipped(path, why) for why in engine.take_gave_up())
    note = (
        f" (copied into the image by {ins.instruction} at {dockerfile}:{ins.line}; "
        f"add `{rel}` to .dockerignore)"
    )
    for f in found:
        result.findings.append(replace(f, message=f.message + note))


class _Then:
    """`head`, then the rest of `fh`."""

    def __init__(self, head: bytes, fh: BinaryIO):
        self._head: bytes | None = head
        self._fh = fh

    def read(self, n: int = -1, /) -> bytes:
        if self._head is not None:
            head, self._head = self._head, None
            return head
        return self._fh.read(n)


def scan_for_dockerfile(
    engine: Engine, dockerfile: str, instructions: list[Instruction], tree: SourceTree = DISK
) -> ScanResult:
    """Credential files a Dockerfile next to its context copies, the context listed
    from `tree` (names only; the files' contents are scanned by the file walk, or,
    in git, as the lines their commits add)."""
    try:
        return scan_context(
            None, dockerfile, instructions=instructions, limit=MAX_CONTEXT_FILES, tree=tree
        )
    except TargetUnreadable as e:
        return ScanResult(skipped=[Skipped(dockerfile, e.message)])
