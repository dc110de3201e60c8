"""Writes that never leave a half-written or lost user file."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


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
