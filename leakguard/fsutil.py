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


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write `data` to `path` through a temp file and a rename.

    The file keeps its current permission bits unless `mode` is given; a new
    file gets `mode`, or 0644.
    """
    path = Path(path)
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        current = None
    final_mode = mode if mode is not None else (current if current is not None else 0o644)
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), final_mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
        with open(os.path.join(folder, SECRETS_MANIFEST), "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return frozenset()
    tables = data.get("secrets")
    if not isinstance(tables, dict):
        return frozenset()
    return frozenset(
        os.path.abspath(os.path.join(folder, t["file"]))
        for t in tables.values()
        if isinstance(t, dict) and isinstance(t.get("file"), str)
    )
