"""Plan, show, apply: the shape every migrator shares.

A migrator's `plan()` only reads. It returns a frozen `Plan`: the new text of
each file it would change (with the hash of the text it read), where each
secret would go (a name and a destination, never the value) and the findings
it could not rewrite safely, each with the reason. The CLI prints
`plan.diff()`; `apply_plan()` writes, refusing a file that changed since it
was read and putting every original back if anything fails.
"""

from __future__ import annotations

import bisect
import difflib
import hashlib
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

from leakguard.errors import ChangeRefused
from leakguard.fsutil import SECRETS_MANIFEST, atomic_write, private_mode
from leakguard.models import Finding, SecretValue

log = logging.getLogger(__name__)

SECRETS_DIR = "secrets"
MANIFEST_NAME = SECRETS_MANIFEST


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class FileEdit:
    """The whole new text of one file; `before_sha256` None means a new file."""

    path: Path
    before_sha256: str | None
    after_text: str
    before_text: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class SecretMove:
    """Where one secret goes. `destination` is "file:PATH", "swarm:NAME" or
    "vault:MOUNT/PATH#KEY"; `local_file` is the git-ignored file that builds
    and Compose read (written by `apply`, or by `secrets pull` for Vault)."""

    name: str
    destination: str
    consumers: tuple[str, ...]
    fingerprint: str
    redacted: str
    local_file: Path | None = None
    note: str = ""
    # Set when `local_file` is an env file (`KEY=value` lines) rather than the bare value.
    env_key: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A finding left alone: it needs a manual change, for `reason`."""

    finding: Finding
    reason: str


@dataclass(frozen=True)
class Plan:
    edits: tuple[FileEdit, ...] = ()
    moves: tuple[SecretMove, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    # name -> value, for `apply` only: never shown, never in the diff.
    values: Mapping[str, SecretValue] = field(default_factory=dict, repr=False, compare=False)
    # Shell commands a user runs after applying (e.g. `docker build --secret ...`).
    notes: tuple[str, ...] = ()
    # Other found secrets that may share a changed line with a moved one: redacted too.
    hidden: tuple[SecretValue, ...] = field(default=(), repr=False, compare=False)

    @property
    def empty(self) -> bool:
        return not self.edits and not self.moves

    def diff(self) -> str:
        """A unified diff of every file edit, moved values redacted, without
        context lines: an unchanged line may hold a value detection missed, so
        only the lines that change are shown (hunk headers give where)."""
        chunks: list[str] = []
        for edit in self.edits:
            name = _display(edit.path).lstrip("/")
            old = edit.before_text.splitlines(keepends=True)
            new = edit.after_text.splitlines(keepends=True)
            fromfile = "/dev/null" if edit.before_sha256 is None else f"a/{name}"
            # No context lines: a line that is not an edit may hold a value that
            # detection missed, and is never printed.
            lines = list(unified_diff(old, new, fromfile, f"b/{name}", n=0))
            chunks.extend(line if line.endswith("\n") else line + "\n\\ No newline\n"
                          for line in lines)  # fmt: skip
        return self.redact("".join(chunks))

    def redact(self, text: str) -> str:
        """`text` with every value of this plan replaced by its redacted form."""
        return redact_values(text, {*self.values.values(), *self.hidden})

    def table(self) -> str:
        """One line per moved secret: name, destination, redacted value, consumers."""
        rows = [
            f"{m.name}\t{m.destination}\t{m.redacted}\t{', '.join(m.consumers)}"
            + (f"\t({m.note})" if m.note else "")
            for m in self.moves
        ]
        return "".join(r + "\n" for r in rows)

    def merged(self, other: Plan) -> Plan:
        return merge([self, other])


# Up to this many lines (old and new together), difflib computes the diff; past
# it, difflib's matcher can take minutes (it is quadratic on files of many alike
# lines) and the diff is anchored on lines that occur once on each side.
DIFFLIB_LINES = 4000


def unified_diff(
    a: list[str], b: list[str], fromfile: str, tofile: str, n: int = 3
) -> Iterator[str]:
    """difflib.unified_diff's output (`n` lines of context), in time near linear in
    the files for large ones (see `_AnchoredMatcher`)."""
    if len(a) + len(b) <= DIFFLIB_LINES:
        yield from difflib.unified_diff(a, b, fromfile, tofile, n=n)
        return
    for k, group in enumerate(_AnchoredMatcher(a, b).get_grouped_opcodes(n)):
        if k == 0:
            yield f"--- {fromfile}\n"
            yield f"+++ {tofile}\n"
        _, i1, _, j1, _ = group[0]
        _, _, i2, _, j2 = group[-1]
        yield f"@@ -{_hunk_range(i1, i2)} +{_hunk_range(j1, j2)} @@\n"
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[a1:a2])
                continue
            yield from ("-" + line for line in a[a1:a2])
            yield from ("+" + line for line in b[b1:b2])


def _hunk_range(start: int, stop: int) -> str:
    """A hunk's `start,length` in a unified diff (1-based; `start` alone for one line)."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


class _AnchoredMatcher(difflib.SequenceMatcher[str]):
    """Matching blocks from anchors: lines that occur exactly once in each side of
    a stretch, in the longest run that keeps their order (found in O(n log n)),
    with the common lines around them; each stretch between anchors is matched
    the same way, and one with no anchors by difflib if small, else not at all
    (its lines are shown as removed and added: a correct diff, if not a minimal
    one)."""

    def __init__(self, a: Sequence[str], b: Sequence[str]) -> None:
        super().__init__(None, a, b, autojunk=False)
        self._old, self._new = a, b
        self._blocks: list[difflib.Match] | None = None

    def get_matching_blocks(self) -> list[difflib.Match]:
        if self._blocks is None:
            self._blocks = _anchored_blocks(self._old, self._new)
        return self._blocks


def _anchored_blocks(a: Sequence[str], b: Sequence[str]) -> list[difflib.Match]:
    """`_AnchoredMatcher`'s matching blocks, ending with (len(a), len(b), 0)."""
    blocks: list[tuple[int, int, int]] = []
    stack = [(0, len(a), 0, len(b))]
    budget = 64 * (len(a) + len(b))  # lines looked at, in all: then stop anchoring
    while stack:
        a1, a2, b1, b2 = stack.pop()
        budget -= (a2 - a1) + (b2 - b1)
        while a1 < a2 and b1 < b2 and a[a1] == b[b1]:  # common head
            blocks.append((a1, b1, 1))
            a1, b1 = a1 + 1, b1 + 1
        while a1 < a2 and b1 < b2 and a[a2 - 1] == b[b2 - 1]:  # common tail
            a2, b2 = a2 - 1, b2 - 1
            blocks.append((a2, b2, 1))
        if a1 == a2 or b1 == b2:
            continue
        anchors = _anchors(a, a1, a2, b, b1, b2) if budget > 0 else []
        if not anchors:
            if (a2 - a1) * (b2 - b1) <= 10_000:
                small = difflib.SequenceMatcher(None, a[a1:a2], b[b1:b2], autojunk=False)
                blocks.extend((a1 + i, b1 + j, n) for i, j, n in small.get_matching_blocks() if n)
            continue
        i, j = a1, b1
        for ai, bj in anchors:
            blocks.append((ai, bj, 1))
            stack.append((i, ai, j, bj))
            i, j = ai + 1, bj + 1
        stack.append((i, a2, j, b2))
    blocks.sort()
    merged: list[list[int]] = []
    for i, j, n in blocks:
        if merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
            merged[-1][2] += n
        else:
            merged.append([i, j, n])
    out = [difflib.Match(i, j, n) for i, j, n in merged]
    out.append(difflib.Match(len(a), len(b), 0))
    return out


def _anchors(
    a: Sequence[str], a1: int, a2: int, b: Sequence[str], b1: int, b2: int
) -> list[tuple[int, int]]:
    """(i, j) of lines found once in a[a1:a2] and once in b[b1:b2], the longest
    chain of them increasing in both (patience sorting)."""
    once_a: dict[str, int] = {}
    for i in range(a1, a2):
        once_a[a[i]] = -1 if a[i] in once_a else i
    once_b: dict[str, int] = {}
    for j in range(b1, b2):
        once_b[b[j]] = -1 if b[j] in once_b else j
    pairs = [
        (i, once_b[line]) for line, i in once_a.items() if i >= 0 and once_b.get(line, -1) >= 0
    ]
    pairs.sort()
    # Longest increasing subsequence of the j's.
    tails: list[int] = []  # tails[k]: the smallest j ending a chain of k + 1 pairs
    tail_at: list[int] = []  # index in `pairs` of that pair
    back: list[int] = []  # back[p]: index of the pair before pair p in its chain
    for p, (_, j) in enumerate(pairs):
        k = bisect.bisect_left(tails, j)
        back.append(tail_at[k - 1] if k else -1)
        if k == len(tails):
            tails.append(j)
            tail_at.append(p)
        else:
            tails[k], tail_at[k] = j, p
    chain: list[tuple[int, int]] = []
    p = tail_at[-1] if tail_at else -1
    while p >= 0:
        chain.append(pairs[p])
        p = back[p]
    chain.reverse()
    return chain


_REDACT_HEAD = 256
_HEX = {c: b"\\x%02x" % c for c in range(256) if not bytes([c]).isalnum()}


def redact_values(text: str, values: Iterable[SecretValue]) -> str:
    """`text` with each value replaced by its redacted form, longer values first
    where two overlap, in one pass over `text` whatever the number of values
    (replacing them one by one read the whole text once a value)."""
    shown = {value.reveal(): value.redacted for value in values}
    shown.pop("", None)
    if not shown or not text:
        return text
    import hyperscan

    from leakguard.engine import keep_disjoint

    needles = [v.encode("utf-8", "surrogatepass") for v in shown]
    data = text.encode("utf-8", "surrogatepass")
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    # A long value (a key) is looked for by its head and checked whole where found.
    heads = [needle[:_REDACT_HEAD] for needle in needles]
    db.compile(
        expressions=[b"".join(_HEX.get(c) or bytes([c]) for c in head) for head in heads],
        ids=list(range(len(heads))), elements=len(heads), flags=[0] * len(heads),
    )  # fmt: skip
    found: list[tuple[int, int, int]] = []  # (start, end, needle)

    def on_match(index: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
        start = to - len(heads[index])
        needle = needles[index]
        if len(needle) == len(heads[index]) or data.startswith(needle, start):
            found.append((start, start + len(needle), index))

    db.scan(data, match_event_handler=on_match)
    if not found:
        return text
    found.sort()
    order = sorted(range(len(found)), key=lambda i: (found[i][0] - found[i][1], found[i][0]))
    kept = sorted(keep_disjoint([(start, end) for start, end, _ in found], order))
    redacted = list(shown.values())
    out: list[bytes] = []
    done = 0
    for i in kept:
        start, end, index = found[i]
        out += [data[done:start], redacted[index].encode("utf-8", "surrogatepass")]
        done = end
    out.append(data[done:])
    return b"".join(out).decode("utf-8", "surrogatepass")


def _display(path: Path) -> str:
    if not path.is_absolute():
        return str(path)
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel.replace(os.sep, "/")


def merge(plans: Iterable[Plan]) -> Plan:
    """One plan from several; edits of the same file must chain (each migrator
    plans against the text the previous one produced)."""
    edits: dict[Path, FileEdit] = {}
    moves: list[SecretMove] = []
    skipped: list[Skipped] = []
    values: dict[str, SecretValue] = {}
    notes: list[str] = []
    for plan in plans:
        for edit in plan.edits:
            first = edits.get(edit.path)
            if first is not None:
                edit = FileEdit(edit.path, first.before_sha256, edit.after_text, first.before_text)
            edits[edit.path] = edit
        moves.extend(plan.moves)
        seen = {(s.finding.rule_id, s.finding.location) for s in skipped}
        skipped.extend(
            s for s in plan.skipped if (s.finding.rule_id, s.finding.location) not in seen
        )
        values.update(plan.values)
        notes.extend(n for n in plan.notes if n not in notes)
    return Plan(tuple(edits.values()), tuple(moves), tuple(skipped), values, tuple(notes))


class Migrator(Protocol):
    target: ClassVar[str]

    def plan(self, findings: Sequence[Finding]) -> Plan: ...


class Workspace:
    """The text of files as a plan will leave them, read once from disk.

    Migrators that touch the same file (Compose then the manifest, say) read
    and edit through one workspace, so their edits chain.
    """

    def __init__(self) -> None:
        self._original: dict[Path, bytes | None] = {}
        self._current: dict[Path, str] = {}

    def read(self, path: Path) -> str | None:
        path = Path(path)
        if path in self._current:
            return self._current[path]
        if path not in self._original:
            try:
                self._original[path] = path.read_bytes()
            except FileNotFoundError:
                self._original[path] = None
            except OSError as e:
                raise ChangeRefused(f"cannot read {path}: {e.strerror}") from e
        raw = self._original[path]
        return None if raw is None else raw.decode("utf-8", "surrogateescape")

    def write(self, path: Path, text: str) -> None:
        self.read(path)
        self._current[Path(path)] = text

    def edits(self) -> tuple[FileEdit, ...]:
        out = []
        for path, text in self._current.items():
            raw = self._original.get(path)
            before = None if raw is None else raw.decode("utf-8", "surrogateescape")
            if before == text:
                continue
            digest = None if raw is None else sha256_of(raw)
            out.append(FileEdit(path, digest, text, before or ""))
        return tuple(out)


def ensure_ignored(
    ws: Workspace,
    ignore_file: Path,
    pattern: str,
    comment: str = "local secret files written by leakguard (0600, never committed)",
) -> None:
    """Add `pattern` to a .gitignore/.dockerignore unless it is already there."""
    text = ws.read(ignore_file) or ""
    wanted = {pattern, pattern.strip("/"), pattern.rstrip("/"), "/" + pattern.strip("/")}
    if any(line.strip() in wanted for line in text.splitlines()):
        return
    if text and not text.endswith("\n"):
        text += "\n"
    text += f"# {comment}\n{pattern}\n"
    ws.write(ignore_file, text)


# -- apply ------------------------------------------------------------------------

# A store for secrets kept outside the project (Vault, Swarm): called with the
# moves and their values before any file is touched; raises ChangeRefused.
RemoteStore = Callable[[Sequence[SecretMove], Mapping[str, SecretValue]], None]


@dataclass
class Applied:
    written: list[Path] = field(default_factory=list)
    secret_files: list[Path] = field(default_factory=list)


def local_contents(
    moves: Sequence[SecretMove], values: Mapping[str, SecretValue], *, overwrite: bool = False
) -> dict[Path, bytes]:
    """The new content of each local secret file (only those that change).

    Refuses when a file already holds a different value for a secret, unless
    `overwrite` (the source of truth is elsewhere, as with `secrets pull`).
    """
    from leakguard.migrators.compose_secrets import env_line

    grouped: dict[Path, list[SecretMove]] = {}
    for move in moves:
        if move.local_file is not None and move.name in values:
            grouped.setdefault(move.local_file, []).append(move)
    out: dict[Path, bytes] = {}
    for path, group in grouped.items():
        try:
            current: bytes | None = path.read_bytes()
        except FileNotFoundError:
            current = None
        except OSError as e:
            raise ChangeRefused(f"cannot read {path}: {e.strerror}") from e
        if group[0].env_key is None:
            value = values[group[0].name].raw
            if current is not None and current != value and not overwrite:
                raise ChangeRefused(
                    f"{path} exists and holds a different value for {group[0].name!r}",
                    hint="move that file away (or put the value you want in it) and run again",
                )
            if current != value:
                out[path] = value
            continue
        text = current or b""
        lines = text.splitlines(keepends=True)
        for move in group:
            assert move.env_key is not None
            wanted = env_line(move.env_key, values[move.name].raw)
            prefix = move.env_key.encode() + b"="
            same = [ln for ln in lines if ln.startswith(prefix)]
            if same and all(ln.rstrip(b"\r\n") == wanted.rstrip(b"\n") for ln in same):
                continue
            if same and overwrite:
                lines = [ln for ln in lines if not ln.startswith(prefix)]
            elif same:
                raise ChangeRefused(
                    f"{path} already sets {move.env_key} to a different value",
                    hint="remove that line (or put the value you want in it) and run again",
                )
            if lines and not lines[-1].endswith(b"\n"):
                lines[-1] += b"\n"
            lines.append(wanted)
        new = b"".join(lines)
        if new != text or current is None:
            out[path] = new
    return out


def apply_plan(plan: Plan, store: RemoteStore | None = None) -> Applied:
    """Write the plan: all of it, or (on any failure) none of the files."""
    for edit in plan.edits:
        try:
            raw: bytes | None = edit.path.read_bytes()
        except FileNotFoundError:
            raw = None
        except OSError as e:
            raise ChangeRefused(f"cannot read {edit.path}: {e.strerror}") from e
        now = None if raw is None else sha256_of(raw)
        if raw is not None and not stat.S_IMODE(edit.path.stat().st_mode) & stat.S_IWUSR:
            raise ChangeRefused(
                f"{edit.path} is read-only; nothing was written",
                hint="make it writable (chmod u+w) if it should change, and run again",
            )
        if now != edit.before_sha256:
            raise ChangeRefused(
                f"{edit.path} changed since the plan was made; nothing was written",
                hint="run the migration again to plan against the current file",
            )
    local_moves = [m for m in plan.moves if not m.destination.startswith(("vault:", "swarm:"))]
    secret_files = local_contents(local_moves, plan.values)
    remote = [m for m in plan.moves if m.destination.startswith(("vault:", "swarm:"))]
    if remote:
        if store is None:
            raise ChangeRefused("this plan needs a secret store to apply it")
        store(remote, plan.values)

    ours = {m.local_file.parent for m in plan.moves if m.local_file is not None}
    for folder in sorted(f for f in ours if f.name == SECRETS_DIR):
        remove_stale_temporaries(folder)  # the secrets folder: leakguard's own
    written = [e.path for e in plan.edits] + [m.local_file for m in local_moves if m.local_file]
    for folder, names in sorted(_by_folder(written).items()):
        remove_stale_temporaries(folder, names)  # elsewhere: only those of its files
    # The order a kill -9 can stop at: first the ignore entries and the manifest
    # (no values), then the secret files, whose temporaries are born in the folder
    # those entries ignore, then the files that held the values.
    first = [e for e in plan.edits if _written_first(e.path)]
    rest = [e for e in plan.edits if not _written_first(e.path)]
    backups: list[tuple[Path, bytes | None, int | None]] = []
    applied = Applied()
    try:
        for edit in first:
            _write_edit(edit, backups)
            applied.written.append(edit.path)
        for folder in dict.fromkeys(e.path.parent for e in first):
            fsync_folder(folder)  # the entries are on disk before any value is
        write_secret_files(secret_files, backups)
        applied.secret_files.extend(secret_files)
        for edit in rest:
            _write_edit(edit, backups)
            applied.written.append(edit.path)
    except BaseException as e:
        restore(backups)
        if isinstance(e, OSError):
            where = f" {e.filename}" if e.filename else ""
            raise ChangeRefused(
                f"cannot write{where}: {e.strerror}; every file was put back as it was",
                hint="fix the cause (permissions, free space) and run again",
            ) from e
        raise
    return applied


def _written_first(path: Path) -> bool:
    """Written before any secret value: what keeps the secrets folder out of git
    and out of build contexts (.dockerignore, NAME.dockerignore), and the manifest
    (names and files, never values)."""
    return path.name in (".gitignore", MANIFEST_NAME) or path.name.endswith(".dockerignore")


def _write_edit(edit: FileEdit, backups: list[tuple[Path, bytes | None, int | None]]) -> None:
    _backup(edit.path, backups)
    edit.path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(
        edit.path,
        edit.after_text.encode("utf-8", "surrogateescape"),
        mode=private_mode() if edit.path.name == MANIFEST_NAME else None,
    )


def fsync_folder(folder: Path) -> None:
    """Make the renames in `folder` durable (a crash cannot reorder them after this)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - a file system that cannot sync a folder
        pass
    finally:
        os.close(fd)


# The temporary files atomic_write makes: ".NAME." + mkstemp's 8 characters + ".tmp".
_TEMPORARY = re.compile(r"\.(.+)\.[a-z0-9_]{8}\.tmp")


def _by_folder(paths: Iterable[Path]) -> dict[Path, set[str]]:
    out: dict[Path, set[str]] = {}
    for path in paths:
        out.setdefault(path.parent, set()).add(path.name)
    return out


def remove_stale_temporaries(folder: Path, of: Iterable[str] | None = None) -> list[Path]:
    """Remove what an interrupted write (kill -9, power loss) left in `folder`:
    atomic_write's temporary files (of the files named `of`, or of any file),
    which may hold secret values. Returns them."""
    targets = None if of is None else set(of)
    removed: list[Path] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        path = folder / name
        match = _TEMPORARY.fullmatch(name)
        if match is None or (targets is not None and match[1] not in targets):
            continue
        if not path.is_file() or path.is_symlink():
            continue
        try:
            os.unlink(path)
        except OSError as e:
            log.warning("could not remove the stale temporary file %s: %s", path, e.strerror)
            continue
        log.info("removed %s, left by an interrupted write", path)
        removed.append(path)
    return removed


_DIR = -1  # a backup entry for a folder that apply created


def write_secret_files(
    files: Mapping[Path, bytes], backups: list[tuple[Path, bytes | None, int | None]]
) -> None:
    """Write local secret files 0600 in a 0700 folder, keeping backups. Their
    temporary files are made in that folder, which the ignore files cover."""
    for folder, names in sorted(_by_folder(files).items()):
        remove_stale_temporaries(folder, names)
    for path, data in files.items():
        if not path.parent.exists():
            backups.append((path.parent, None, _DIR))  # made here: removed on restore
        _backup(path, backups)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(path, data, mode=0o600, follow_links=False)


def _backup(path: Path, backups: list[tuple[Path, bytes | None, int | None]]) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        backups.append((path, path.read_bytes(), mode))
    except FileNotFoundError:
        backups.append((path, None, None))


def restore(backups: list[tuple[Path, bytes | None, int | None]]) -> None:
    for path, data, mode in reversed(backups):
        try:
            if mode == _DIR:
                if path.is_dir() and not any(path.iterdir()):
                    path.rmdir()
            elif data is None:
                if path.exists():
                    os.unlink(path)
            else:
                atomic_write(path, data, mode=mode)
        except OSError as e:  # pragma: no cover - best effort, logged
            log.error("could not restore %s: %s", path, e.strerror)
