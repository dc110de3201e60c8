"""The secrets manifest: what was moved where, and who reads it. Never a value.

`leakguard-secrets.toml` sits in the project. Each `[secrets.NAME]` table
records the local file builds and Compose read (`file`), where the value
lives (`source`: "file", "swarm:NAME" or "vault:MOUNT/PATH#KEY"), the env
key when `file` is an env file, and the consumers (build secret ids, Compose
services and variables).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from leakguard.errors import ChangeRefused, UsageError
from leakguard.fsutil import open_regular
from leakguard.migrators.plan import (
    MANIFEST_NAME,
    SECRETS_DIR,
    SecretMove,
    Workspace,
    ensure_ignored,
)
from leakguard.models import SecretValue

HEADER = (
    "# Secrets that `leakguard migrate` moved out of this project's files. No values here:\n"
    "# `leakguard secrets pull` writes each value into `file` from its `source`, and\n"
    "# `leakguard secrets docker-flags` prints the `--secret` flags a build needs.\n"
)


@dataclass(frozen=True)
class Entry:
    name: str
    file: str  # relative to the manifest's folder
    source: str  # "file" | "swarm:NAME" | "vault:MOUNT/PATH#KEY"
    consumers: tuple[str, ...] = ()
    env_key: str | None = None


def load(root: Path, text: str | None = None) -> dict[str, Entry]:
    path = root / MANIFEST_NAME
    if text is None:
        try:
            # as written: a consumer's path may hold a byte that is not UTF-8;
            # open_regular: a FIFO in its place must not hang the run
            with open_regular(path) as fh:
                text = fh.read().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror}") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path} is not valid TOML: {e}") from e
    except RecursionError:  # the parser recurses once per nested array or table
        raise UsageError(f"{path} is not valid TOML: nested too deep") from None
    out = {}
    for name, table in (data.get("secrets") or {}).items():
        if not isinstance(table, dict) or not isinstance(table.get("file", ""), str):
            raise UsageError(f"{path}: [secrets.{name}] needs a `file`")
        out[name] = Entry(
            name,
            table.get("file", ""),
            str(table.get("source", "file")),
            tuple(str(c) for c in table.get("consumers", ())),
            table.get("env_key"),
        )
    return out


def render(entries: Iterable[Entry]) -> str:
    def q(s: str) -> str:
        return json.dumps(s, ensure_ascii=False)  # a TOML basic string

    parts = [HEADER]
    for e in sorted(entries, key=lambda e: e.name):
        parts.append(f"\n[secrets.{q(e.name)}]\n")
        if e.file:
            parts.append(f"file = {q(e.file)}\n")
        parts.append(f"source = {q(e.source)}\n")
        if e.env_key:
            parts.append(f"env_key = {q(e.env_key)}\n")
        parts.append(f"consumers = [{', '.join(q(c) for c in e.consumers)}]\n")
    return "".join(parts)


def record(ws: Workspace, root: Path, moves: Iterable[SecretMove], dockerfiles: bool) -> None:
    """Add the moves to the manifest, and the secrets folder to the ignore files."""
    moves = list(moves)
    if not moves:
        return
    path = root / MANIFEST_NAME
    entries = load(root, ws.read(path) or "")
    for m in moves:
        source = "file" if m.destination.startswith("file:") else m.destination
        old = entries.get(m.name)
        consumers = tuple(dict.fromkeys((*(old.consumers if old else ()), *m.consumers)))
        local = m.local_file
        rel = "" if local is None else os.path.relpath(local, root).replace(os.sep, "/")
        entries[m.name] = Entry(m.name, rel, source, consumers, m.env_key)
    ws.write(path, render(entries.values()))
    if not any(m.local_file for m in moves):
        return
    ensure_ignored(ws, root / ".gitignore", f"/{SECRETS_DIR}/")
    if dockerfiles:
        ensure_ignored(ws, root / ".dockerignore", SECRETS_DIR)
    # A Dockerfile's own NAME.dockerignore replaces .dockerignore for its builds.
    for own in sorted(root.glob("?*.dockerignore")) if root.is_dir() else ():
        if own.is_file():
            ensure_ignored(ws, own, SECRETS_DIR)


def to_moves(root: Path, entries: Mapping[str, Entry]) -> list[SecretMove]:
    return [
        SecretMove(
            e.name, e.source, e.consumers, "", "", local_file=root / e.file, env_key=e.env_key
        )  # fmt: skip
        for e in entries.values()
        if e.file
    ]


def docker_flags(root: Path, dockerfile: str | None = None) -> list[str]:
    """`--secret id=NAME,src=PATH` for each build secret (of `dockerfile`, if given)."""
    flags = []
    for e in load(root).values():
        builds = [c for c in e.consumers if c.startswith("build:")]
        if not builds or not e.file:
            continue
        if dockerfile is not None:
            wanted = os.path.relpath(Path(dockerfile).resolve(), root.resolve())
            if not any(c.split(":")[1] == wanted.replace(os.sep, "/") for c in builds):
                continue
        flags.append(f"--secret=id={e.name},src={root / e.file}")
    return flags


def pull(root: Path, fetch: Mapping[str, SecretValue]) -> Mapping[Path, bytes]:
    """The local files that change when filled with `fetch` (name -> value)."""
    from leakguard.migrators.plan import local_contents

    entries = load(root)
    missing = [n for n, e in entries.items() if e.file and n not in fetch]
    if missing:
        raise ChangeRefused(f"no value for {', '.join(sorted(missing))}")
    out: dict[Path, bytes] = local_contents(to_moves(root, entries), fetch)
    return out
