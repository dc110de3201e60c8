"""A leaky git repository with a real remote, for `leakguard remediate`."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import AWS_KEY_ID, GITHUB_PAT, fake
from tests.remediation.git_daemon import git_daemon as serve

NPM_TOKEN = fake("npm" + "_", 36, seed=12)
PLANTED = (GITHUB_PAT, AWS_KEY_ID, NPM_TOKEN)
LEAKGUARD = str(Path(sys.executable).parent / "leakguard")


def git(repo: Path, *args: str, check: bool = True) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    proc = subprocess.run(["git", "--no-optional-locks", "-C", str(repo), *args],
                          capture_output=True, text=True, env=env, check=False)  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(f"git {args}: {proc.stderr}")
    return proc.stdout


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
    full = {**os.environ, **(env or {})}
    return subprocess.run([LEAKGUARD, *args], cwd=cwd, capture_output=True, text=True,
                          env=full, timeout=timeout, check=False)  # fmt: skip


def assert_clean(*texts: str | bytes) -> None:
    """No planted secret (nor a long piece of one) appears anywhere in `texts`."""
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        for secret in PLANTED:
            for i in range(0, len(secret) - 11, 4):
                assert secret[i : i + 12].encode() not in data, "a planted secret leaked"


def snapshot(repo: Path) -> dict[str, str]:
    """Every file of the checkout plus the index, HEAD, refs and stash, hashed."""
    out: dict[str, str] = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if path.is_file() and (not rel.startswith(".git/") or rel in (".git/index", ".git/HEAD")):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    out["refs"] = git(repo, "for-each-ref", "--format=%(refname) %(objectname)",
                      "refs/heads", "refs/tags", "refs/stash")  # fmt: skip
    out["stash"] = git(repo, "stash", "list")
    out["worktrees"] = git(repo, "worktree", "list", "--porcelain")
    return out


@dataclass
class Project:
    repo: Path
    remote: Path  # the bare repository

    def remote_files(self, branch: str) -> dict[str, bytes]:
        names = git(self.remote, "ls-tree", "-r", "--name-only", branch).split()
        return {n: git(self.remote, "show", f"{branch}:{n}").encode() for n in names}


def make_project(tmp: Path) -> Project:
    repo = tmp / "app"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Dana Dev")
    git(repo, "config", "user.email", "dana@example.test")
    (repo / "Dockerfile").write_text(
        "FROM alpine:3.20\n"
        f"ARG NPM_TOKEN={NPM_TOKEN}\n"
        'RUN curl -fsH "Authorization: Bearer $NPM_TOKEN" https://npm.example.test/pkg\n'
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Dockerfile", "--date", "2024-01-01T10:00:00")
    (repo / "docker-compose.yml").write_text(
        "services:\n  web:\n    image: web\n    environment:\n"
        f"      GITHUB_TOKEN: {GITHUB_PAT}\n"
        f"      AWS_ACCESS_KEY_ID: {AWS_KEY_ID}\n"
    )
    (repo / "deploy.sh").write_text(f"#!/bin/sh\ncurl -H 'Authorization: token {GITHUB_PAT}'\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "compose", "--date", "2024-02-01T10:00:00")
    remote = tmp / "remote" / "team" / "app.git"
    remote.parent.mkdir(parents=True)
    git(tmp, "init", "-q", "--bare", "-b", "main", str(remote))
    git(repo, "remote", "add", "origin", remote.as_uri())
    git(repo, "push", "-q", "origin", "main")
    git(repo, "fetch", "-q", "origin")
    return Project(repo, remote)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path)


@pytest.fixture
def git_daemon(project: Project) -> Iterator[str]:
    """`git daemon` on 127.0.0.1 serving the remote (pushes enabled): its git:// URL."""
    with serve(project.remote.parent.parent) as url:
        yield f"{url}/team/app.git"
