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


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """`open(path, "rb")`, refusing anything but a regular file without blocking on it."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = "is a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise NotRegularFile(errno.EINVAL, what, os.fspath(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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
