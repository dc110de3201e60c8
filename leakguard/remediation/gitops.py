"""The git side of a remediation: a throwaway worktree, commits, a push.

The user's checkout, index, stash and branches are never touched: the work
happens in a detached `git worktree` in a temporary folder, removed whatever
happens, and the branch exists only on the remote (pushed from HEAD).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from leakguard.errors import ChangeRefused, TargetUnreadable, UsageError
from leakguard.models import SecretValue
from leakguard.tree import git_env

log = logging.getLogger(__name__)

DEFAULT_BRANCH = "leakguard/remediate"
_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}


def no_prompt_env() -> dict[str, str]:
    """The environment git runs in here: never a prompt for a credential."""
    return {**git_env(), **_NO_PROMPT}


def git(repo: Path | str, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False,
        env=no_prompt_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise TargetUnreadable(f"git {args[0]} failed in {repo}: {first_line(proc.stderr)}")
    return proc


def first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("hint:"):
            return line
    return "no reason given"


def repo_root(path: Path) -> Path:
    if not path.exists():
        raise TargetUnreadable(f"{path} does not exist", hint="give the path of a git checkout")
    proc = git(path, "rev-parse", "--show-toplevel")
    if proc.returncode != 0:
        raise TargetUnreadable(
            f"{path} is not a git checkout", hint="run it in (or name) a git repository"
        )
    return Path(proc.stdout.strip())


def has_credential(url: str) -> bool:
    """A URL with a password or token in it (`https://user:TOKEN@host/...`)."""
    if "://" not in url:
        return False
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.username and parts.password is not None:
        return True
    # `https://TOKEN@host/`: a lone user name that looks like a token
    user = parts.username or ""
    return parts.scheme in ("http", "https") and len(user) >= 20


def remote_url(root: Path, remote: str) -> str:
    if remote.startswith("-"):
        raise UsageError(f"{remote!r} is not a remote name")
    proc = git(root, "remote", "get-url", remote)
    if proc.returncode != 0:
        raise TargetUnreadable(
            f"no remote named {remote!r} in {root}",
            hint="add it with `git remote add NAME URL`, or name another with --remote",
        )
    url = proc.stdout.strip()
    if has_credential(url):
        raise UsageError(
            f"the URL of remote {remote!r} holds a credential; refusing to use it",
            hint="remove it from the URL (`git remote set-url`) and use a credential helper "
            "or a token in the environment",
        )
    return url


def check_checkout(root: Path, base: str | None) -> str:
    """The base branch; refuses a dirty or detached checkout (nothing is changed)."""
    status = git(root, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
    if status.stdout.strip():
        raise ChangeRefused(
            f"{root} has uncommitted changes; nothing was done",
            hint="commit or stash them first: the pull request is made from committed files",
        )
    if base:
        return base
    head = git(root, "symbolic-ref", "--quiet", "--short", "HEAD")
    if head.returncode != 0:
        raise ChangeRefused(
            f"{root} is on a detached HEAD; nothing was done",
            hint="check out the branch the pull request should target, or pass --base BRANCH",
        )
    return head.stdout.strip()


def check_branch_name(root: Path, branch: str, base: str) -> None:
    ok = git(root, "check-ref-format", "--branch", branch).returncode == 0
    if not ok or branch.startswith("-"):
        raise UsageError(f"{branch!r} is not a valid branch name")
    if branch == base or branch in ("main", "master", "HEAD"):
        raise UsageError(
            f"refusing to push to {branch!r}: remediation pushes only to its own branch",
            hint=f"use --branch with a branch of its own (default {DEFAULT_BRANCH})",
        )


def base_commit(root: Path, remote: str, base: str) -> str:
    for ref in (f"refs/remotes/{remote}/{base}", f"refs/heads/{base}", base):
        proc = git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if proc.returncode == 0:
            return proc.stdout.strip()
    raise UsageError(f"no branch {base!r} in {root}", hint="name an existing branch with --base")


_LOCK_REASON = "leakguard remediate pid "


@contextmanager
def worktree(root: Path, commit: str) -> Iterator[Path]:
    """A detached worktree of `commit` in a temporary folder, removed on any exit.

    It is locked with this process's id, so a run killed with SIGKILL (no
    cleanup possible) leaves a worktree the next run recognises and removes.
    """
    remove_stale_worktrees(root)
    parent = Path(tempfile.mkdtemp(prefix="leakguard-remediate-"))
    path = parent / "wt"
    try:
        proc = git(root, "worktree", "add", "--detach", "--quiet", "--lock", "--reason",
                   f"{_LOCK_REASON}{os.getpid()}", str(path), commit)  # fmt: skip
        if proc.returncode != 0:
            raise ChangeRefused(f"cannot make a worktree: {first_line(proc.stderr)}")
        yield path
    finally:
        _remove_worktree(root, path)


def _remove_worktree(root: Path, path: Path) -> None:
    git(root, "worktree", "remove", "--force", "--force", str(path))
    if path.parent.name.startswith("leakguard-remediate-"):
        shutil.rmtree(path.parent, ignore_errors=True)
    git(root, "worktree", "prune")


def remove_stale_worktrees(root: Path) -> None:
    """Remove worktrees left by a remediation whose process no longer runs."""
    listing = git(root, "worktree", "list", "--porcelain").stdout
    for block in listing.split("\n\n"):
        lines = dict(line.partition(" ")[::2] for line in block.splitlines())
        reason = lines.get("locked", "")
        if not reason.startswith(_LOCK_REASON) or "worktree" not in lines:
            continue
        try:
            os.kill(int(reason.removeprefix(_LOCK_REASON)), 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue
        log.info("removing the worktree a killed run left: %s", lines["worktree"])
        _remove_worktree(root, Path(lines["worktree"]))


@dataclass(frozen=True)
class Author:
    name: str
    email: str

    @classmethod
    def parse(cls, text: str) -> Author:
        m = re.fullmatch(r"\s*([^<>]+?)\s*<([^<>\s]+)>\s*", text)
        if not m:
            raise UsageError(f"--author {text!r} is not `Name <email>`")
        return cls(m.group(1), m.group(2))

    @classmethod
    def from_config(cls, root: Path) -> Author:
        name = git(root, "config", "user.name").stdout.strip()
        email = git(root, "config", "user.email").stdout.strip()
        if not name or not email:
            raise UsageError(
                "no commit author: git config user.name / user.email are not set",
                hint="set them, or pass --author 'Name <email>'",
            )
        return cls(name, email)


# (order, message) per kind of change; the ignore lines go first.
_KINDS = {
    "ignore": (0, "Keep local secret files out of git and the Docker build context",
               "The migrated files read secrets from git-ignored local files; these lines keep\n"
               "them (and credential files found in the tree) out of commits and images."),
    "dockerfile": (1, "Read build secrets from BuildKit secret mounts",
                   "Build arguments and ENV values end up in the image history and config;\n"
                   "a secret mount is visible to one RUN step only and stays out of layers."),
    "compose": (2, "Give services their secrets as Compose/Swarm secrets",
                "Literal values in `environment:` are in the repository and in\n"
                "`docker inspect`; secrets are mounted from files or the Swarm store."),
    "manifest": (3, "Record where each moved secret lives (no values)",
                 "leakguard-secrets.toml names each secret, its local file and consumers;\n"
                 "`leakguard secrets docker-flags` and `secrets pull` read it."),
    "other": (4, "Move the remaining secrets out of the files", ""),
}  # fmt: skip


def kind_of_change(rel: str) -> str:
    from leakguard.engine import kind_of_path
    from leakguard.fsutil import SECRETS_MANIFEST

    name = rel.rsplit("/", 1)[-1]
    if name in (".gitignore", ".dockerignore"):
        return "ignore"
    if name == SECRETS_MANIFEST:
        return "manifest"
    kind = kind_of_path(name)
    return kind if kind in ("dockerfile", "compose") else "other"


def commit_changes(
    path: Path, changed: Sequence[str], author: Author, values: Sequence[SecretValue],
    *, fallback_message: str,
) -> list[str]:  # fmt: skip
    """Commit `changed` (relative paths) in the worktree, one commit per kind.

    Refuses (nothing is pushed) a path under `secrets/` and any file holding a
    found value. With nothing changed, one empty commit carries the guide.
    """
    import git as gitpython

    from leakguard.migrators.plan import SECRETS_DIR

    forbidden = [p for p in changed if p.split("/", 1)[0] == SECRETS_DIR]
    if forbidden:
        raise ChangeRefused(f"refusing to commit the local secret file {forbidden[0]}")
    for rel in changed:
        full = path / rel
        data = full.read_bytes() if full.is_file() else b""
        if any(len(v.raw) >= 6 and v.raw in data for v in values):
            raise ChangeRefused(
                f"refusing to commit {rel}: it still holds a secret value; nothing was pushed"
            )
    repo = gitpython.Repo(path)
    actor = gitpython.Actor(author.name, author.email)
    groups: dict[str, list[str]] = {}
    for rel in changed:
        groups.setdefault(kind_of_change(rel), []).append(rel)
    made = []
    for kind in sorted(groups, key=lambda k: _KINDS[k][0]):
        files = groups[kind]
        present = [f for f in files if (path / f).exists()]
        gone = [f for f in files if not (path / f).exists()]
        if present:
            repo.index.add(present)
        if gone:
            repo.index.remove(gone)
        _, subject, why = _KINDS[kind]
        message = f"{subject}\n\n{why}\n\nFiles: {', '.join(files)}\n".replace("\n\n\n", "\n\n")
        made.append(repo.index.commit(message, author=actor, committer=actor).hexsha)
    if not made:
        made.append(repo.index.commit(fallback_message, author=actor, committer=actor).hexsha)
    return made


def remote_head(url: str, branch: str) -> str | None:
    """The commit `branch` points at on the remote, None when it does not exist."""
    proc = subprocess.run(
        ["git", "ls-remote", "--heads", "--", url, f"refs/heads/{branch}"],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
        env=no_prompt_env(), timeout=120,
    )  # fmt: skip
    if proc.returncode != 0:
        raise TargetUnreadable(
            f"cannot reach the remote: {_scrub_url(first_line(proc.stderr))}",
            hint="check the network and that the remote exists and you may read it",
        )
    for line in proc.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == f"refs/heads/{branch}":
            return sha
    return None


def same_tree(path: Path, url: str, sha: str, branch: str) -> bool:
    """Whether the remote branch `sha` already has the worktree's tree (fetched to check)."""
    fetched = git(path, "fetch", "--quiet", "--no-tags", url, f"refs/heads/{branch}")
    if fetched.returncode != 0:
        return False
    theirs = git(path, "rev-parse", "--verify", "--quiet", f"{sha}^{{tree}}").stdout.strip()
    ours = git(path, "rev-parse", "HEAD^{tree}").stdout.strip()
    return bool(theirs) and theirs == ours


def push(path: Path, url: str, branch: str, expected: str | None) -> None:
    """Push HEAD to `branch`, only if the remote branch is still at `expected`."""
    import git as gitpython

    lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
    repo = gitpython.Repo(path)
    try:
        with repo.git.custom_environment(**_NO_PROMPT):
            repo.git.push("--no-verify", "--porcelain", lease, "--", url,
                          f"HEAD:refs/heads/{branch}")  # fmt: skip
    except gitpython.GitCommandError as e:
        stderr = str(e.stderr or "")
        stdout = str(e.stdout or "")
        reason = _push_reason(stderr + "\n" + stdout)
        if re.search(r"rejected|protected|denied|stale info|hook declined", stderr + stdout, re.I):
            raise ChangeRefused(
                f"the remote refused the push of {branch}: {reason}",
                hint="branch protection or a newer push by someone else: check the branch "
                "on the forge, then run again",
            ) from None
        raise TargetUnreadable(
            f"cannot push to the remote: {reason}",
            hint="check the network, the URL and your credentials for the remote",
        ) from None


def _push_reason(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().strip("'\"")
        if line.startswith(("remote: error", "error:", "fatal:", "!")):
            return _scrub_url(line)[:200]
    return _scrub_url(first_line(text))[:200]


def _scrub_url(text: str) -> str:
    return re.sub(r"(\w+://)[^/@\s]+@", r"\1***@", text)
