"""Installed hooks, run by real `git push` and `git commit`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from leakguard.commands.hook import pushed_revisions, received_revisions
from tests.clirun import git, lg
from tests.conftest import GITHUB_PAT, STRIPE_KEY
from tests.detectors.test_git_history import ENV, Repo

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def pushing(tmp_path: Path) -> Repo:
    """A clone of a local bare remote, with one clean commit pushed and the hook installed."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    repo = Repo(tmp_path / "work")
    repo.git("remote", "add", "origin", str(remote))
    repo.commit("base", **{"README.md": "hello\n"})
    assert git(repo.path, "push", "-q", "origin", "main").returncode == 0
    proc = lg("hook", "install", cwd=repo.path)
    assert proc.returncode == 0, proc.stderr
    return repo


def test_leaking_push_is_refused_with_a_redacted_report(pushing):
    pushing.commit("clean", **{"a.py": "x = 1\n"})
    leak = pushing.commit("leak", **{"conf/app.env": f"GITHUB_TOKEN={GITHUB_PAT}\n"})
    pushing.commit("hide it", **{"conf/app.env": "GITHUB_TOKEN=\n"})
    proc = git(pushing.path, "push", "origin", "main")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "conf/app.env" in out and leak[:12] in out
    assert "push stopped" in out and "--no-verify" in out
    assert GITHUB_PAT not in out
    remote_head = git(pushing.path, "ls-remote", "origin", "main").stdout
    assert leak not in remote_head and pushing.git("rev-parse", "HEAD") not in remote_head


def test_clean_push_passes_and_only_new_commits_are_scanned(pushing):
    # a leak already on the remote is not this push's business
    pushing.commit("old leak", **{"old.py": f"t = '{GITHUB_PAT}'\n"})
    assert git(pushing.path, "push", "-q", "--no-verify", "origin", "main").returncode == 0
    pushing.commit("clean", **{"a.py": "x = 1\n"})
    proc = git(pushing.path, "push", "origin", "main")
    assert proc.returncode == 0, proc.stderr


def test_new_branch_scans_commits_no_remote_has(pushing):
    pushing.git("checkout", "-q", "-b", "topic")
    pushing.commit("leak", **{"k.py": f"k = '{STRIPE_KEY}'\n"})
    proc = git(pushing.path, "push", "origin", "topic")
    assert proc.returncode != 0 and "k.py" in proc.stderr + proc.stdout
    # deleting a branch sends nothing to scan
    assert git(pushing.path, "push", "-q", "--no-verify", "origin", "topic").returncode == 0
    assert git(pushing.path, "push", "-q", "origin", ":topic").returncode == 0


def test_no_verify_and_baseline_let_a_push_through(pushing):
    pushing.commit("leak", **{"fixtures/t.py": f"t = '{GITHUB_PAT}'\n"})
    assert git(pushing.path, "push", "-q", "origin", "main").returncode != 0
    made = lg("baseline", "create", cwd=pushing.path)
    assert made.returncode == 0, made.stderr
    proc = git(pushing.path, "push", "-q", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    pushing.commit("another", **{"b.py": f"k = '{STRIPE_KEY}'\n"})
    assert git(pushing.path, "push", "-q", "origin", "main").returncode != 0
    assert git(pushing.path, "push", "-q", "--no-verify", "origin", "main").returncode == 0


def test_pushed_revisions_from_git_ref_lines(pushing):
    head = pushing.git("rev-parse", "HEAD")
    zero = "0" * 40
    assert pushed_revisions(str(pushing.path), f"(delete) {zero} refs/heads/x {head}\n", {}) == ()
    update = pushed_revisions(
        str(pushing.path), f"refs/heads/main {head} refs/heads/main {head}", {}
    )
    assert update == (head, "^" + head, "--not", "--remotes")
    fresh = pushed_revisions(str(pushing.path), f"refs/heads/n {head} refs/heads/n {zero}", {})
    assert fresh == (head, "--not", "--remotes")
    framework = {"PRE_COMMIT_FROM_REF": head, "PRE_COMMIT_TO_REF": "HEAD"}
    assert pushed_revisions(str(pushing.path), "", framework) == (
        "HEAD", "^" + head, "--not", "--remotes",
    )  # fmt: skip


def test_pre_commit_scans_only_the_staged_changes(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit("base", **{"a.py": "x = 1\n"})
    assert lg("hook", "install", "--pre-commit", cwd=repo.path).returncode == 0
    repo.write("Dockerfile", f"FROM scratch\nENV GITHUB_TOKEN={GITHUB_PAT}\n")
    repo.write("unstaged.py", f"k = '{STRIPE_KEY}'\n")  # not staged: not scanned
    repo.write(
        "compose.yaml",
        f"services:\n  app:\n    image: app\n    environment:\n      STRIPE_KEY: {STRIPE_KEY}\n",
    )
    repo.git("add", "Dockerfile", "compose.yaml")
    proc = git(repo.path, "commit", "-m", "image")
    assert proc.returncode != 0
    assert "Dockerfile" in proc.stdout + proc.stderr
    assert "compose.yaml" in proc.stdout + proc.stderr
    assert "unstaged.py" not in proc.stdout + proc.stderr
    assert "commit stopped" in proc.stderr
    repo.write("Dockerfile", "FROM scratch\n")
    repo.write("compose.yaml", "services:\n  app:\n    image: app\n")
    repo.git("add", "Dockerfile", "compose.yaml")
    proc = git(repo.path, "commit", "-q", "-m", "image")
    assert proc.returncode == 0, proc.stderr


def test_install_chains_to_a_foreign_hook_and_uninstall_restores_it(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit("base", **{"a.py": "x = 1\n"})
    hooks = repo.path / ".git" / "hooks"
    foreign = hooks / "pre-commit"
    marker = tmp_path / "foreign-ran"
    foreign.write_text(f"#!/bin/sh\ntouch {marker}\n")
    foreign.chmod(0o755)
    proc = lg("hook", "install", "--pre-commit", cwd=repo.path)
    assert proc.returncode == 0 and "chaining" in proc.stderr
    repo.commit("two", **{"b.py": "y = 2\n"})
    assert marker.exists()  # the foreign hook still runs
    # a second foreign hook under the chained name: refuse rather than lose one
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    proc = lg("hook", "install", "--pre-commit", cwd=repo.path)
    assert proc.returncode == 4 and "already exists" in proc.stderr
    assert lg("hook", "install", "--pre-commit", "--force", cwd=repo.path).returncode == 0
    proc = lg("hook", "uninstall", cwd=repo.path)
    assert proc.returncode == 0
    assert foreign.read_text() == f"#!/bin/sh\ntouch {marker}\n"
    assert stat.S_IMODE(foreign.stat().st_mode) & 0o100
    # not ours any more: uninstall refuses to touch it
    assert lg("hook", "uninstall", "--pre-commit", cwd=repo.path).returncode == 4


def test_install_outside_a_repository_is_exit_3(tmp_path):
    proc = lg("hook", "install", cwd=tmp_path)
    assert proc.returncode == 3 and proc.stderr.startswith("leakguard: error:")


def test_pre_commit_framework_manifest():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    stages = {h["id"]: h["stages"] for h in hooks}
    assert stages == {"leakguard": ["pre-commit"], "leakguard-pre-push": ["pre-push"]}
    for h in hooks:
        assert h["entry"].startswith("leakguard hook ") and h["pass_filenames"] is False


def test_config_excludes_apply_to_pushed_history(pushing):
    pushing.commit(
        "fixtures",
        **{
            ".leakguard.toml": 'exclude = ["tests/fixtures/**"]\n',
            "tests/fixtures/t.py": f"t = '{GITHUB_PAT}'\n",
        },
    )
    proc = git(pushing.path, "push", "origin", "main")
    assert proc.returncode == 0, proc.stderr


def test_a_broken_dockerfile_or_compose_file_does_not_let_its_secret_through(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit("base", **{"a.py": "x = 1\n"})
    assert lg("hook", "install", "--pre-commit", cwd=repo.path).returncode == 0
    repo.write("Dockerfile", f"FROM scratch\nCOPPY . /\nENV GITHUB_TOKEN={GITHUB_PAT}\n")
    repo.write("compose.yaml", f"services:\n  app:\n   image: [\n    TOKEN: {STRIPE_KEY}\n")
    repo.git("add", "Dockerfile", "compose.yaml")
    proc = git(repo.path, "commit", "-m", "typo")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "github-pat" in out and "stripe" in out
    assert GITHUB_PAT not in out and STRIPE_KEY not in out


@pytest.mark.parametrize(
    ("stdin", "code", "message"),
    [
        ("junk\n", 2, "line 1 of standard input is not"),
        (f"refs/heads/main {'a' * 40} refs/heads/main {'0' * 40}\n", 3, "is not in"),
    ],
)
def test_pre_push_that_cannot_tell_what_is_pushed_stops_the_push(pushing, stdin, code, message):
    proc = subprocess.run(
        [sys.executable, "-m", "leakguard", "hook", "pre-push", "origin", "x"],
        cwd=pushing.path, input=stdin, capture_output=True, text=True, env=dict(os.environ, **ENV),
    )  # fmt: skip
    assert proc.returncode == code and message in proc.stderr and "push stopped" in proc.stderr


def test_hooks_outside_a_repository_fail_closed(tmp_path):
    for hook in ("pre-push", "pre-commit"):
        assert lg("hook", hook, cwd=tmp_path).returncode == 3


# -- pre-receive: the server side ---------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> tuple[Path, Repo]:
    """A bare repository with leakguard's pre-receive hook, and a clone pushing to it.

    The server's history already holds a leak (pushed before the hook was there)."""
    remote = tmp_path / "server.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    repo = Repo(tmp_path / "work")
    repo.git("remote", "add", "origin", str(remote))
    repo.commit("base", **{"README.md": "hello\n"})
    repo.commit("old leak", **{"old.py": f"t = '{GITHUB_PAT}'\n"})
    assert git(repo.path, "push", "-q", "origin", "main").returncode == 0
    proc = lg("hook", "install", "--pre-receive", str(remote), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (remote / "hooks" / "pre-receive").exists()
    return remote, repo


def _server_ref(remote: Path, ref: str) -> str:
    return git(remote, "rev-parse", "--verify", "--quiet", ref).stdout.strip()


def test_pre_receive_rejects_a_push_that_adds_a_secret(server):
    remote, repo = server
    before = _server_ref(remote, "main")
    repo.commit("clean", **{"a.py": "x = 1\n"})
    leak = repo.commit("leak", **{"conf/app.env": f"GITHUB_TOKEN={GITHUB_PAT}\n"})
    repo.commit("hide it", **{"conf/app.env": "GITHUB_TOKEN=\n"})
    proc = git(repo.path, "push", "--no-verify", "origin", "main")  # not the client's to skip
    assert proc.returncode != 0
    assert "pre-receive hook declined" in proc.stderr
    shown = [line for line in proc.stderr.splitlines() if line.startswith("remote: ")]
    shown_text = "\n".join(shown)
    assert "conf/app.env" in shown_text and leak[:12] in shown_text
    assert "push rejected" in shown_text and "--no-verify" not in shown_text
    assert "old.py" not in shown_text  # already on the server: not this push's business
    assert GITHUB_PAT not in proc.stdout + proc.stderr
    assert _server_ref(remote, "main") == before  # the ref did not move
    assert git(remote, "cat-file", "-e", leak).returncode != 0  # nor were the objects kept


def test_pre_receive_accepts_clean_pushes_new_branches_and_deletions(server):
    remote, repo = server
    clean = repo.commit("clean", **{"a.py": "x = 1\n"})
    proc = git(repo.path, "push", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert _server_ref(remote, "main") == clean
    # a new branch: only what no ref of the server reaches is scanned
    repo.git("checkout", "-q", "-b", "topic")
    topic = repo.commit("more", **{"b.py": "y = 2\n"})
    proc = git(repo.path, "push", "origin", "topic")
    assert proc.returncode == 0, proc.stderr
    assert _server_ref(remote, "topic") == topic
    # a new branch that brings a secret is rejected
    repo.git("checkout", "-q", "-b", "leaky")
    repo.commit("leak", **{"k.py": f"k = '{STRIPE_KEY}'\n"})
    proc = git(repo.path, "push", "origin", "leaky")
    assert proc.returncode != 0 and "k.py" in proc.stderr
    assert _server_ref(remote, "leaky") == ""
    # deleting a branch brings nothing to scan
    proc = git(repo.path, "push", "origin", ":topic")
    assert proc.returncode == 0, proc.stderr
    assert _server_ref(remote, "topic") == ""


def test_received_revisions_from_git_ref_lines(server):
    remote, _repo = server
    head = _server_ref(remote, "main")
    zero = "0" * 40
    assert received_revisions(str(remote), f"{head} {zero} refs/heads/x\n") == ()
    assert received_revisions(str(remote), f"{zero} {head} refs/heads/n\n") == (
        head, "--not", "--all",
    )  # fmt: skip
    assert received_revisions(str(remote), f"{head} {head} refs/heads/main\n") == (
        head, "^" + head, "--not", "--all",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("stdin", "code", "message"),
    [
        ("junk\n", 2, "line 1 of standard input is not"),
        (f"{'0' * 40} {'a' * 40} refs/heads/main\n", 3, "is not in"),
    ],
)
def test_pre_receive_that_cannot_tell_what_is_pushed_rejects_it(server, stdin, code, message):
    remote, _repo = server
    proc = subprocess.run(
        [sys.executable, "-m", "leakguard", "hook", "pre-receive"],
        cwd=remote, input=stdin, capture_output=True, text=True, env=dict(os.environ, **ENV),
    )  # fmt: skip
    assert proc.returncode == code and message in proc.stderr and "push rejected" in proc.stderr


def test_pre_receive_uninstall_restores_a_chained_server_hook(server, tmp_path):
    remote, repo = server
    hooks = remote / "hooks"
    assert lg("hook", "uninstall", "--pre-receive", str(remote), cwd=tmp_path).returncode == 0
    assert not (hooks / "pre-receive").exists()
    marker = tmp_path / "foreign-ran"
    (hooks / "pre-receive").write_text(f"#!/bin/sh\ncat >/dev/null\ntouch {marker}\n")
    (hooks / "pre-receive").chmod(0o755)
    proc = lg("hook", "install", "--pre-receive", str(remote), cwd=tmp_path)
    assert proc.returncode == 0 and "chaining" in proc.stderr
    repo.commit("leak", **{"k.py": f"k = '{STRIPE_KEY}'\n"})
    assert git(repo.path, "push", "origin", "main").returncode != 0
    assert marker.exists()  # the server's own hook still runs first
