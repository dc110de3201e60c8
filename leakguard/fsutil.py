"""Reads that never hang on a FIFO; writes that never leave a half-written or lost file."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO


class NotRegularFile(OSError):
    """A FIFO, socket or device where a file was expected: reading it could block forever."""


def _regular_fd(path: str | os.PathLike[str]) -> tuple[int, os.stat_result]:
    """An open descriptor of `path` and its stat, refusing anything but a regular file
    without blocking on it (a FIFO opened for reading waits for a writer)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = "is a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise NotRegularFile(errno.EINVAL, what, os.fspath(path))
        return fd, st
    except BaseException:
        os.close(fd)
        raise


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """`open(path, "rb")`, refusing anything but a regular file without blocking on it."""
    fd, _ = _regular_fd(path)
    try:
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes | None:
    """The whole content of a regular file of at most `limit` bytes; None when it is
    larger (read it as a stream). Refuses what open_regular refuses.

    Plain os.read calls sized by fstat: for the many small files of a source tree
    this costs half of what a buffered file object does.
    """
    fd, st = _regular_fd(path)
    try:
        if st.st_size > limit:
            return None
        data = os.read(fd, st.st_size + 1)  # one more: a file that grew shows it
        if len(data) == st.st_size:
            return data
        parts, size = [data], len(data)  # it grew, or a short read: read on
        while size <= limit:
            block = os.read(fd, min(limit + 1 - size, 1 << 20))
            if not block:
                return b"".join(parts)
            parts.append(block)
            size += len(block)
        return None
    finally:
        os.close(fd)


def umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o077)  # no /proc: the classic read, put back at once
    os.umask(current)
    return current


def private_mode() -> int:
    """0600, or less where the umask is stricter: for files that say where secrets live
    (reports, baselines, the secrets manifest)."""
    return 0o600 & ~umask()


def atomic_write(
    path: Path, data: bytes, *, mode: int | None = None, follow_links: bool = True
) -> None:
    """Write `data` to `path` so that no reader ever sees half of it.

    A regular file (or a new one) is written through a temp file and a rename;
    it keeps its current permission bits unless `mode` is given, and a new file
    gets `mode`, or 0644. A symlink is written through: the file it points to
    is replaced, the link stays a link. A character device (`/dev/null`, a
    terminal) or a FIFO is written in place, never replaced; a FIFO that no
    process reads is refused rather than waited on. Anything else (a folder,
    a socket, a block device) is refused with an OSError, and so is a symlink
    when `follow_links` is false (a path leakguard chose, not one the user
    named: a planted link must not send a secret elsewhere).
    """
    path = Path(path)
    if not follow_links and os.path.islink(path):
        raise OSError(errno.ELOOP, "a symbolic link, not followed", str(path))
    try:
        st: os.stat_result | None = os.stat(path)  # through links: what would be written
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_in_place(path, st, data)
        return
    if st is not None and _names_a_descriptor(path):
        _write_in_place(path, st, data)  # a file the shell opened: `-o /dev/stdout > f`
        return
    target = Path(os.path.realpath(path))  # a link's target: the link stays a link
    current = None if st is None else stat.S_IMODE(st.st_mode)
    final_mode = mode if mode is not None else (current if current is not None else 0o644)
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), final_mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _names_a_descriptor(path: Path) -> bool:
    """/dev/stdout, /dev/stderr, /dev/fd/N, /proc/.../fd/N: an open descriptor's file,
    to be written as it was opened (a `>>` appends), not replaced."""
    name = os.path.abspath(path)
    return name in ("/dev/stdout", "/dev/stderr", "/dev/stdin") or name.startswith(
        ("/dev/fd/", "/proc/")
    )


def _write_in_place(path: Path, st: os.stat_result, data: bytes) -> None:
    """Write to a character device, a FIFO or a descriptor named under /dev or /proc
    (`/dev/stdout`) as it is, never replacing it."""
    flags = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    if stat.S_ISREG(st.st_mode):
        flags |= os.O_APPEND  # the shell's `>` emptied it already; `>>` means add to it
    elif stat.S_ISFIFO(st.st_mode):
        flags |= getattr(os, "O_NONBLOCK", 0)  # no reader: ENXIO at once, not a hang
    elif stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", os.fspath(path))
    elif not stat.S_ISCHR(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file, character device or FIFO", str(path))
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ENXIO and stat.S_ISFIFO(st.st_mode):
            raise OSError(errno.ENXIO, "a FIFO that no process is reading", str(path)) from e
        raise
    try:
        os.set_blocking(fd, True)  # a reader is there: let it take the report at its pace
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


SECRETS_MANIFEST = "leakguard-secrets.toml"


def managed_secret_files(folder: str) -> frozenset[str]:
    """Absolute paths of the local secret files that `folder`'s secrets manifest lists.

    `leakguard migrate` moves secrets out of Dockerfiles and Compose files
    into such files (0600, git- and docker-ignored) and records them, without
    values, in `leakguard-secrets.toml`: they are where secrets belong, not
    leaks. A missing or unreadable manifest lists nothing.
    """
    import tomllib

    try:
        with open_regular(os.path.join(folder, SECRETS_MANIFEST)) as fh:  # a FIFO: no hang
            data = tomllib.loads(fh.read().decode("utf-8", "surrogateescape"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError):
        return frozenset()  # RecursionError: arrays nested without end
    tables = data.get("secrets")
    if not isinstance(tables, dict):
        return frozenset()
    return frozenset(
        os.path.abspath(os.path.join(folder, t["file"]))
        for t in tables.values()
        if isinstance(t, dict) and isinstance(t.get("file"), str)
    )
