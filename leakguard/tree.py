"""Where a detector reads the files that a scanned file refers to.

A Compose file names its `env_file`s, the project's `.env`, `include:` and
`extends:` files; a Dockerfile's `COPY .` takes its build context. What those
names mean depends on what is being judged:

- a scan of files (`leakguard scan`): the files on disk next to the scanned one
  (`DiskTree`);
- a commit in history, or the commits a push sends: the files of that same
  commit (`GitTree` at the commit), never the working tree or the current folder;
- the pre-commit hook: the files staged in the index (`GitTree` of the index);
- a file found in an image layer: nothing (`EmptyTree`), the build context is
  not in the image.

Paths in a `GitTree` are relative to the repository's root, "/"-separated.
A name the tree does not hold raises FileNotFoundError (a git tree says which
commit does not hold it); `missing_is_error` tells the detector whether that
is a failure to read (disk) or a note (a commit that does not carry a
git-ignored file).
"""

from __future__ import annotations

import logging
import os
import posixpath
import subprocess
from collections.abc import Mapping
from typing import NamedTuple, Protocol

from leakguard.fsutil import open_regular

log = logging.getLogger(__name__)

_DRAIN = 8 * 1024 * 1024


class SourceTree(Protocol):
    """Read-only access to the files a scanned file can name."""

    @property
    def label(self) -> str:
        """Where the files come from, for messages ("the index", "commit 1a2b3c4d5e6f")."""
        ...

    @property
    def missing_is_error(self) -> bool:
        """Whether a named file that is absent could not be read (disk) or is a note."""
        ...

    @property
    def on_disk(self) -> bool: ...

    def read(self, path: str, limit: int) -> bytes:
        """At most `limit` bytes of the file; FileNotFoundError when absent, OSError else."""
        ...

    def is_file(self, path: str) -> bool: ...

    def entries(self, folder: str) -> list[tuple[str, bool]]:
        """(name, is a folder) of what `folder` holds, sorted by name; FileNotFoundError
        when there is no such folder."""
        ...

    def canonical(self, path: str) -> str:
        """One spelling per file, to compare names (cycles of `include:`)."""
        ...


class DiskTree:
    """The files on this machine, paths as given (relative to the current folder)."""

    label = "the disk"
    missing_is_error = True
    on_disk = True

    def read(self, path: str, limit: int) -> bytes:
        with open_regular(path) as fh:
            return fh.read(limit)

    def is_file(self, path: str) -> bool:
        return os.path.isfile(path)

    def entries(self, folder: str) -> list[tuple[str, bool]]:
        out = []
        with os.scandir(folder) as it:
            for entry in it:
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    is_dir = False
                out.append((entry.name, is_dir))
        out.sort()
        return out

    def canonical(self, path: str) -> str:
        return os.path.abspath(path)


DISK = DiskTree()


class EmptyTree:
    """No files at all: what a file found inside an image can refer to on this machine."""

    label = "nothing"
    missing_is_error = False
    on_disk = False

    def read(self, path: str, limit: int) -> bytes:
        raise FileNotFoundError(2, "no files are read for this surface", path)

    def is_file(self, path: str) -> bool:
        return False

    def entries(self, folder: str) -> list[tuple[str, bool]]:
        raise FileNotFoundError(2, "no files are read for this surface", folder)

    def canonical(self, path: str) -> str:
        return posixpath.normpath(path)


NO_FILES = EmptyTree()


# -- git --------------------------------------------------------------------------


def git_env() -> dict[str, str]:
    """The environment git runs in: nothing that changes what we parse."""
    env = dict(os.environ)
    env.update(GIT_PAGER="cat", LC_ALL="C", GIT_NO_REPLACE_OBJECTS="1", GIT_TERMINAL_PROMPT="0")
    # The repository is always named with -C; a hook's GIT_DIR must not override it.
    # (GIT_INDEX_FILE stays: `git commit -a` stages into a temporary index.)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR"):
        env.pop(name, None)
    return env


class GitObject(NamedTuple):
    oid: str
    kind: str  # "blob", "tree", "commit", "tag"
    size: int
    data: bytes | None  # None when larger than the limit asked for


# (name, is a folder, object id) of one entry of a git tree
TreeEntry = tuple[str, bool, str]
_TREE_CACHE = 20_000  # tree objects kept: a commit's walk re-reads only what changed


class GitObjects:
    """One `git cat-file --batch` process, started on first use, for every object read.

    Names are object ids or `REV:path` / `:0:path`; symbolic links inside the
    commit are followed (`--follow-symlinks`), links that leave it are not.
    Tree objects are kept by id (they never change), so listing the same folder
    in many commits costs one read per version of it.
    """

    def __init__(self, repo: str, max_size: int | None, env: Mapping[str, str] | None = None):
        self._repo = repo
        self._max = max_size
        self._env = dict(env) if env is not None else git_env()
        self._proc: subprocess.Popen[bytes] | None = None
        self._trees: dict[str, list[TreeEntry]] = {}

    def get(self, name: str) -> bytes | None:
        """A blob's bytes; None when missing, not a blob, or larger than the bound."""
        found = self.lookup(name, self._max)
        if found is None or found.kind != "blob":
            return None
        return found.data

    def tree(self, name: str) -> tuple[str, list[TreeEntry]] | None:
        """(id, entries) of a tree object named by id or as `REV^{tree}`; None when
        there is none."""
        entries = self._trees.get(name)
        if entries is not None:
            return name, entries
        found = self.lookup(name, 1 << 30)
        if found is None or found.kind != "tree" or found.data is None:
            return None
        entries = self._trees.get(found.oid)
        if entries is None:
            entries = _tree_entries(found.data, len(found.oid) // 2)
            if len(self._trees) >= _TREE_CACHE:
                self._trees.clear()
            self._trees[found.oid] = entries
        return found.oid, entries

    def lookup(self, name: str, limit: int | None) -> GitObject | None:
        """The object; its data None when larger than `limit`. None when there is
        no such object (or it cannot be read)."""
        if not name or name.strip("0") == "" or "\n" in name:
            return None
        try:
            return self._lookup(name, limit)
        except (OSError, ValueError) as e:  # the reader died: a damaged repository
            log.debug("cat-file %s: %s", name, e)
            self.close()
            return None

    def _lookup(self, name: str, limit: int | None) -> GitObject | None:
        if self._proc is None:
            self._proc = subprocess.Popen(
                ["git", "-C", self._repo, "cat-file", "--batch", "--follow-symlinks"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                env=self._env,
            )  # fmt: skip
        assert self._proc.stdin is not None and self._proc.stdout is not None
        out = self._proc.stdout
        self._proc.stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        self._proc.stdin.flush()
        header = out.readline().split()
        if len(header) == 2 and header[0] in (b"dangling", b"loop", b"notdir", b"symlink"):
            out.read(int(header[1]) + 1)  # a link that leaves the tree, or a broken one
            return None
        if len(header) != 3:
            return None  # "<name> missing" / "<name> ambiguous"
        oid, kind, size = header[0].decode(), header[1].decode(), int(header[2])
        if limit is not None and size > limit:
            left = size + 1
            while left:
                got = len(out.read(min(left, _DRAIN)))
                if not got:
                    raise ValueError("cat-file output ended early")
                left -= got
            return GitObject(oid, kind, size, None)
        data = out.read(size + 1)
        if len(data) != size + 1:
            raise ValueError("cat-file output ended early")
        return GitObject(oid, kind, size, data[:size])

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc.wait()
            self._proc = None


class GitTree:
    """The files of one commit (`rev`), or of the index (`rev` None), read through
    a shared `GitObjects`. Paths are relative to the repository's root."""

    missing_is_error = False
    on_disk = False

    def __init__(self, objects: GitObjects, rev: str | None, repo: str = "."):
        self._objects = objects
        self._rev = rev
        self._repo = repo
        self._folders: dict[str, str | None] = {}  # folder -> its tree's id (None: none)
        self._index: dict[str, dict[str, bool]] | None = None  # folder -> {name: is_dir}

    @property
    def label(self) -> str:
        return "the index" if self._rev is None else f"commit {self._rev[:12]}"

    def canonical(self, path: str) -> str:
        return posixpath.normpath(path.replace(os.sep, "/")) if path else "."

    def _inside(self, path: str) -> str:
        clean = self.canonical(path)
        if clean.startswith("/") or clean == ".." or clean.startswith("../"):
            raise FileNotFoundError(2, "outside the repository", path)
        return "" if clean == "." else clean

    def _name(self, rel: str) -> str:
        return f":0:{rel}" if self._rev is None else f"{self._rev}:{rel}"

    def read(self, path: str, limit: int) -> bytes:
        rel = self._inside(path)
        found = self._objects.lookup(self._name(rel), limit) if rel else None
        if found is None:
            raise FileNotFoundError(2, f"not in {self.label}", path)
        if found.kind != "blob":
            raise IsADirectoryError(21, f"not a file in {self.label}", path)
        if found.data is None:
            raise OSError(27, f"larger than {limit} bytes", path)
        return found.data

    def is_file(self, path: str) -> bool:
        try:
            rel = self._inside(path)
        except FileNotFoundError:
            return False
        found = self._objects.lookup(self._name(rel), 0) if rel else None
        return found is not None and found.kind == "blob"

    def entries(self, folder: str) -> list[tuple[str, bool]]:
        rel = self._inside(folder)
        if self._rev is None:
            listing = self._index_listing().get(rel)
            if listing is None:
                raise FileNotFoundError(2, f"not a folder in {self.label}", folder)
            return sorted(listing.items())
        oid = self._folder(rel)
        found = self._objects.tree(oid) if oid is not None else None
        if found is None:
            raise FileNotFoundError(2, f"not a folder in {self.label}", folder)
        return sorted((name, is_dir) for name, is_dir, _ in found[1])

    def _folder(self, rel: str) -> str | None:
        """The id of the commit's tree at folder `rel`, from its parent's entries."""
        if rel in self._folders:
            return self._folders[rel]
        oid: str | None = None
        if not rel:
            root = self._objects.tree(f"{self._rev}^{{tree}}")
            oid = root[0] if root is not None else None
        else:
            parent, _, name = rel.rpartition("/")
            parent_oid = self._folder(parent)
            found = self._objects.tree(parent_oid) if parent_oid is not None else None
            for entry_name, is_dir, entry_oid in found[1] if found is not None else ():
                if entry_name == name and is_dir:
                    oid = entry_oid
                    break
        self._folders[rel] = oid
        return oid

    def _index_listing(self) -> dict[str, dict[str, bool]]:
        """Every folder of the index and what it holds (one `git ls-files`)."""
        if self._index is None:
            proc = subprocess.run(
                ["git", "-C", self._repo, "ls-files", "-z", "--full-name", "--", ":(top)"],
                capture_output=True, check=False, env=git_env(),
            )  # fmt: skip
            folders: dict[str, dict[str, bool]] = {"": {}}
            for raw in proc.stdout.split(b"\0") if proc.returncode == 0 else ():
                if not raw:
                    continue
                parts = raw.decode("utf-8", "surrogateescape").split("/")
                for depth in range(len(parts)):
                    parent = "/".join(parts[:depth])
                    is_dir = depth < len(parts) - 1
                    folders.setdefault(parent, {})[parts[depth]] = is_dir
            self._index = folders
        return self._index


def _tree_entries(data: bytes, oid_bytes: int) -> list[TreeEntry]:
    """The entries of a raw git tree object: `<mode> <name>\\0<object id>`."""
    out = []
    i, n = 0, len(data)
    while i < n:
        space = data.index(b" ", i)
        nul = data.index(b"\0", space)
        mode = data[i:space]
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        oid = data[nul + 1 : nul + 1 + oid_bytes].hex()
        # a folder, or a submodule (whose files are not in this repository)
        out.append((name, mode in (b"40000", b"160000"), oid))
        i = nul + 1 + oid_bytes
    return out
