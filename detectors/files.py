"""The file surface: files and directories on disk, and standard input.

Walks the given paths (never into `.git/`, never through symlinks, never
opening anything but regular files), skips binary files, and feeds each
file's bytes to the engine: whole when small, in bounded chunks when large.
Large trees are split across worker processes, one engine per process.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from leakguard.detectors import can_fork, scanner_for
from leakguard.engine import CHUNK_SIZE, Engine
from leakguard.fsutil import (
    SECRETS_MANIFEST,
    NotRegularFile,
    managed_secret_files,
    open_regular,
    read_regular,
)
from leakguard.models import Location, ScanResult, ScanStats, Skipped, Surface
from leakguard.progress import NO_PROGRESS, Progress
from leakguard.rules.filekinds import credential_file_kind, is_archive_name
from leakguard.tree import DISK

log = logging.getLogger(__name__)

BINARY_SNIFF = 8192
# Below this much work a single process is faster than starting workers.
PARALLEL_MIN_BYTES = 16 * 1024 * 1024
TASK_BYTES = 4 * 1024 * 1024
TASK_FILES = 256


@dataclass(frozen=True)
class WalkOptions:
    respect_gitignore: bool = False
    # gitignore-style patterns, each list matched relative to its own root folder
    excludes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    max_file_size: int | None = None  # None: no bound (files are streamed)


@dataclass(frozen=True, slots=True)
class FileTarget:
    path: str  # as reported
    size: int
    max_file_size: int | None = None  # the bound members of an archive are held to


@dataclass
class Walk:
    files: list[FileTarget] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)


def walk(paths: Sequence[str], options: WalkOptions) -> Walk:
    """Every regular, non-excluded file under `paths`, with what was passed over."""
    out = Walk()
    excluder = _Excluder(options.excludes)
    for given in paths:
        try:
            st = os.stat(given)  # follows a symlink given by name, on purpose
        except OSError as e:
            out.skipped.append(Skipped(given, _os_reason(e)))
            continue
        if stat.S_ISDIR(st.st_mode):
            _walk_dir(given, options, excluder, out)
        elif stat.S_ISREG(st.st_mode):
            _add_file(_display(given), st.st_size, options, out)
        else:
            out.skipped.append(Skipped(given, f"not a regular file ({_kind(st.st_mode)})"))
    return out


def _walk_dir(root: str, options: WalkOptions, excluder: _Excluder, out: Walk) -> None:
    # Under a normalised root every entry's path is normalised too: shown as it is,
    # but for the "./" in front of what is under ".".
    root = os.path.normpath(root)
    shown_from = 2 if root == "." else 0
    excluded = excluder.excluded if excluder.active else None
    ignores = _GitIgnores(root) if options.respect_gitignore else None
    managed: frozenset[str] = frozenset()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            out.skipped.append(Skipped(folder, _os_reason(e)))
            continue
        if ignores is not None:
            ignores.enter(folder)
        if any(e.name == SECRETS_MANIFEST for e in entries):
            managed |= managed_secret_files(folder)
        subdirs = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file(follow_symlinks=False)
            except OSError as e:
                out.skipped.append(Skipped(entry.path, _os_reason(e)))
                continue
            if is_dir and entry.name == ".git":
                continue
            if (excluded is not None and excluded(entry.path, is_dir)) or (
                ignores is not None and ignores.ignored(entry.path, is_dir)
            ):
                out.stats.skipped_excluded += 1
                continue
            if is_dir:
                subdirs.append(entry.path)
            elif is_file:
                if managed and os.path.abspath(entry.path) in managed:
                    out.skipped.append(Skipped(entry.path, _MANAGED, error=False))
                    continue
                try:
                    size = entry.stat(follow_symlinks=False).st_size
                except OSError as e:
                    out.skipped.append(Skipped(entry.path, _os_reason(e)))
                    continue
                _add_file(entry.path[shown_from:], size, options, out)
            # symlinks, FIFOs, sockets and devices inside a tree are passed over:
            # a link's target is scanned where it really lives.
        stack.extend(reversed(subdirs))


_MANAGED = f"a local secret file that {SECRETS_MANIFEST} lists (where the secret belongs)"


def _add_file(path: str, size: int, options: WalkOptions, out: Walk) -> None:
    """`path` as shown in reports (`_display`)."""
    if options.max_file_size is not None and size > options.max_file_size:
        out.skipped.append(Skipped(path, over_size_bound(size, options.max_file_size)))
        out.stats.bytes_skipped += size
        return
    out.files.append(FileTarget(path, size, options.max_file_size))


def over_size_bound(size: int, bound: int) -> str:
    """Why a file over `--max-file-size` was not read (the same words on every surface)."""
    return (
        f"not read: {_mib(size)}, larger than the --max-file-size bound of {_mib(bound)} "
        "(without the option every file is read)"
    )


def _mib(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024**2:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024**2:.1f} MiB" if size < 10 * 1024**2 else f"{size // 1024**2} MiB"


def _display(path: str) -> str:
    path = os.path.normpath(path)
    return path[2:] if path.startswith("./") else path


# -- scanning -------------------------------------------------------------------


def scan_files(
    engine: Engine,
    files: Sequence[FileTarget],
    *,
    jobs: int = 0,
    progress: Progress = NO_PROGRESS,
) -> ScanResult:
    """Scan `files`, in worker processes when there is enough work for them."""
    jobs = jobs or os.cpu_count() or 1
    total = sum(f.size for f in files)
    progress.start(len(files), "files", total)
    if jobs > 1 and total >= PARALLEL_MIN_BYTES and len(files) > 1 and can_fork():
        return _scan_parallel(engine, files, jobs, progress)
    result = ScanResult()
    for target in files:
        result.extend(scan_file(engine, target))
        progress.advance(1, target.size)
    return result


def scan_file(engine: Engine, target: FileTarget) -> ScanResult:
    result = ScanResult()
    location = Location(surface=Surface.FILE, path=target.path)
    try:
        if is_archive_name(target.path) and _scan_archive(engine, target, result):
            return result
        # read_regular: a path that became a FIFO since the walk must not hang us.
        data = read_regular(target.path, CHUNK_SIZE - 1)
        if data is None:
            _scan_large(engine, target, location, result)
        elif b"\0" in data[:BINARY_SNIFF]:
            _scan_binary(engine, data, target.path, location, result, len(data))
        else:
            result.stats.files += 1
            result.stats.bytes += len(data)
            structured = scanner_for(target.path, data[:256])
            if structured is not None:
                found = structured(engine, data, target.path, DISK)
                result.findings.extend(found.findings)
                result.skipped.extend(found.skipped)
            else:
                result.findings.extend(engine.scan_bytes(data, location))
    except NotRegularFile:
        result.skipped.append(Skipped(target.path, "no longer a regular file"))
    except OSError as e:
        result.skipped.append(Skipped(target.path, _os_reason(e)))
    result.skipped.extend(Skipped(target.path, why) for why in engine.take_gave_up())
    return result


# What an archive starts with: gzip, zstd, zip (an entry, or an empty one's end
# record); a tar has "ustar" at offset 257.
_ARCHIVE_MAGIC = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"PK\x03\x04", b"PK\x05\x06")


def _scan_archive(engine: Engine, target: FileTarget, result: ScanResult) -> bool:
    """A tarball or zip: its members, as `archive!member` (nested archives too,
    within the bounds a layer's are opened to: depth, decompression bombs).
    False, with nothing read, when the file is not an archive whatever its name
    says: it is then scanned as any other file."""
    from leakguard.detectors.image.model import ImageOptions
    from leakguard.detectors.image.walker import scan_archive

    with open_regular(target.path) as fh:
        head = fh.read(512)
        if not head.startswith(_ARCHIVE_MAGIC) and head[257:262] != b"ustar":
            return False
        fh.seek(0)
        options = ImageOptions(max_file_size=target.max_file_size)
        found = scan_archive(engine, fh, target.path, target.size, options)
    result.findings.extend(found.findings)
    result.skipped.extend(found.skipped)
    result.stats.add(found.stats)
    return True


def _scan_binary(
    engine: Engine, data: bytes, path: str, location: Location, result: ScanResult, size: int
) -> None:
    if credential_file_kind(path) is None:
        result.stats.skipped_binary += 1
        result.stats.bytes_skipped += size
        return
    # a keystore or DER key: no pattern reads it, its presence is the leak
    from leakguard.detectors.credfiles import presence

    result.stats.files += 1
    result.stats.bytes += len(data)
    result.findings.extend(presence(engine, data, path, location))


def _scan_large(engine: Engine, target: FileTarget, location: Location, result: ScanResult) -> None:
    """A file of CHUNK_SIZE or more: scanned as a stream, in bounded memory."""
    with open_regular(target.path) as fh:
        head = fh.read(BINARY_SNIFF)
        if b"\0" in head:
            _scan_binary(
                engine, head + fh.read(CHUNK_SIZE), target.path, location, result, target.size
            )
            return
        # A whole chunk first, as every later one: a chunk cut after 8 KiB would split
        # a multi-line secret (a private key) that crosses it.
        head += fh.read(CHUNK_SIZE - BINARY_SNIFF)
        result.stats.files += 1
        stats = result.stats

        def counted(n: int) -> None:
            stats.bytes += n

        stream = _Prepend(head, fh)
        result.findings.extend(engine.scan_stream(stream, location, on_bytes=counted))


def scan_stdin(engine: Engine, stream: BinaryIO | None = None) -> ScanResult:
    result = ScanResult()
    stream = stream if stream is not None else sys.stdin.buffer
    result.stats.files = 1

    def counted(n: int) -> None:
        result.stats.bytes += n

    location = Location(surface=Surface.FILE, path="-")
    result.findings.extend(engine.scan_stream(stream, location, on_bytes=counted))
    result.skipped.extend(Skipped("-", why) for why in engine.take_gave_up())
    return result


class _Prepend:
    """A stream that yields `head` first, then the rest of `fh`."""

    def __init__(self, head: bytes, fh: BinaryIO):
        self._head: bytes | None = head
        self._fh = fh

    def read(self, n: int = -1) -> bytes:
        if self._head is not None:
            head, self._head = self._head, None
            return head
        return self._fh.read(n)


# -- workers --------------------------------------------------------------------

_WORKER_ENGINE: Engine | None = None


def _tasks(files: Sequence[FileTarget]) -> Iterator[list[FileTarget]]:
    """Batches of similar work; the largest files first so no worker finishes last alone."""
    batch: list[FileTarget] = []
    size = 0
    for target in sorted(files, key=lambda f: -f.size):
        batch.append(target)
        size += target.size
        if size >= TASK_BYTES or len(batch) >= TASK_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _run_task(batch: list[FileTarget]) -> tuple[ScanResult, int, int]:
    assert _WORKER_ENGINE is not None
    result = ScanResult()
    for target in batch:
        result.extend(scan_file(_WORKER_ENGINE, target))
    return result, len(batch), sum(t.size for t in batch)


def _scan_parallel(
    engine: Engine, files: Sequence[FileTarget], jobs: int, progress: Progress
) -> ScanResult:
    import multiprocessing

    global _WORKER_ENGINE
    _WORKER_ENGINE = engine  # inherited by the forked workers
    ctx = multiprocessing.get_context("fork")
    result = ScanResult()
    try:
        with ctx.Pool(processes=jobs) as pool:
            # Progress advances here, in the parent, as each batch comes back.
            for part, n_files, n_bytes in pool.imap_unordered(_run_task, _tasks(files)):
                result.extend(part)
                progress.advance(n_files, n_bytes)
    finally:
        _WORKER_ENGINE = None
    return result


# -- exclusion ------------------------------------------------------------------


class _Excluder:
    def __init__(self, excludes: Iterable[tuple[str, tuple[str, ...]]]):
        self._specs = []
        wanted = [(root, patterns) for root, patterns in excludes if patterns]
        if wanted:
            import pathspec  # 35 ms of imports: only when there are patterns

            self._specs = [
                (os.path.abspath(root), pathspec.GitIgnoreSpec.from_lines(patterns))
                for root, patterns in wanted
            ]

    @property
    def active(self) -> bool:
        return bool(self._specs)

    def excluded(self, path: str, is_dir: bool) -> bool:
        if not self._specs:
            return False
        absolute = os.path.abspath(path)
        for root, spec in self._specs:
            rel = os.path.relpath(absolute, root)
            if rel.startswith(".."):
                continue
            if spec.match_file(rel + "/" if is_dir else rel):
                return True
        return False


class _GitIgnores:
    """`.gitignore` files met on the way down, each applying to its own subtree."""

    def __init__(self, root: str):
        self._specs: list[tuple[str, object]] = []
        self._root = os.path.abspath(root)
        # .gitignore files above the scan root (up to the repository root) apply too.
        folder = self._root
        above = []
        while True:
            parent = os.path.dirname(folder)
            if os.path.exists(os.path.join(folder, ".git")) or parent == folder:
                break
            folder = parent
            above.append(folder)
        for folder in reversed(above):
            self._load(folder)

    def _load(self, folder: str) -> None:
        import pathspec

        try:
            # open_regular: a FIFO named .gitignore must not hang the walk
            with open_regular(os.path.join(folder, ".gitignore")) as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return
        self._specs.append((folder, pathspec.GitIgnoreSpec.from_lines(lines)))

    def enter(self, folder: str) -> None:
        self._load(os.path.abspath(folder))

    def ignored(self, path: str, is_dir: bool) -> bool:
        absolute = os.path.abspath(path)
        for folder, spec in self._specs:
            rel = os.path.relpath(absolute, folder)
            if rel.startswith(".."):
                continue
            if spec.match_file(rel + "/" if is_dir else rel):  # type: ignore[attr-defined]
                return True
        return False


def _os_reason(e: OSError) -> str:
    return (e.strerror or str(e)).lower()


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "special file"


def scan_paths(
    engine: Engine,
    paths: Sequence[str],
    options: WalkOptions,
    *,
    jobs: int = 0,
    stdin: BinaryIO | None = None,
    progress: Progress = NO_PROGRESS,
) -> ScanResult:
    """The file surface end to end: walk `paths` (`-` is standard input) and scan."""
    import time

    started = time.perf_counter()
    result = ScanResult()
    on_disk = [p for p in paths if p != "-"]
    if len(on_disk) != len(paths):
        progress.phase("reading standard input")
        result.extend(scan_stdin(engine, stdin))
    progress.phase("listing files")
    found = walk(on_disk, options)
    log.debug(
        "walked %s: %d file(s) to scan, %d skipped, %.2fs", ", ".join(on_disk), len(found.files),
        len(found.skipped), time.perf_counter() - started,
    )  # fmt: skip
    result.skipped.extend(found.skipped)
    result.stats.add(found.stats)
    progress.phase("scanning files")
    result.extend(scan_files(engine, found.files, jobs=jobs, progress=progress))
    result.stats.duration_s = time.perf_counter() - started
    log.debug(
        "scanned %d file(s), %d bytes in %.2fs: %d finding(s) before suppression",
        result.stats.files, result.stats.bytes, result.stats.duration_s, len(result.findings),
    )  # fmt: skip
    return result
