"""Git scans judge the commit (or the index), never the working tree or the current folder.

A Compose file's `env_file`/`.env`/`include:` and a Dockerfile's build context
are read from the commit being judged. Real repositories, real `leakguard`
processes, real `git push` / `git commit` running the installed hooks.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from leakguard.detectors.git_history import HistoryOptions, scan_history
from leakguard.tree import GitObjects, GitTree
from tests.clirun import git, lg
from tests.conftest import GITHUB_PAT, STRIPE_KEY, fake
from tests.detectors.test_git_history import Repo

COMPOSE = "services:\n  app:\n    image: app\n    env_file: .env\n"
SSH_KEY_NAME = "id_rsa"
# A private key body that the scanner recognises, assembled at run time.
PRIVATE_KEY = (
    "-----BEGIN " + "OPENSSH PRIVATE KEY-----\n"
    + fake("b3BlbnNzaC1rZXktdjEAAAAA", 200, seed=7) + "\n"
    + "-----END " + "OPENSSH PRIVATE KEY-----\n"
)  # fmt: skip


def without_duration(report: str) -> str:
    """The JSON report minus its timing (the one field that differs between runs)."""
    return re.sub(r'"duration_s": [0-9.e-]+', '"duration_s": 0', report)


def local_secrets(folder: Path) -> None:
    """What a developer keeps next to the code and never commits."""
    (folder / ".env").write_text(f"GITHUB_TOKEN={GITHUB_PAT}\nSTRIPE_KEY={STRIPE_KEY}\n")
    (folder / SSH_KEY_NAME).write_text(PRIVATE_KEY)


@pytest.fixture
def compose_repo(tmp_path: Path) -> Repo:
    """A repository whose Compose file names a git-ignored `.env`."""
    repo = Repo(tmp_path / "r")
    repo.commit("base", **{".gitignore": f".env\n{SSH_KEY_NAME}\n", "README.md": "hi\n"})
    repo.commit("compose", **{"docker-compose.yml": COMPOSE})
    return repo


def test_an_ignored_env_file_on_disk_never_affects_leakguard_git(compose_repo):
    clean = lg("git", ".", "-f", "json", cwd=compose_repo.path)
    local_secrets(compose_repo.path)
    dirty = lg("git", ".", "-f", "json", cwd=compose_repo.path)
    assert dirty.returncode == clean.returncode == 0, dirty.stdout + dirty.stderr
    assert without_duration(dirty.stdout) == without_duration(clean.stdout)
    assert json.loads(dirty.stdout)["findings"] == []
    # the reference is a note, not a read: it says the commit does not hold it
    skipped = json.loads(dirty.stdout)["skipped"]
    assert [(s["target"], s["error"]) for s in skipped] == [(".env", False)]
    assert "not in commit" in skipped[0]["reason"]


def test_a_committed_env_file_is_reported_under_its_own_name_and_lines(
    tmp_path, engine, monkeypatch
):
    repo = Repo(tmp_path / "r")
    monkeypatch.chdir(repo.path)  # where a hook runs
    repo.commit("base", **{"README.md": "hi\n"})
    env = f"# local settings\nDEBUG=1\nGITHUB_TOKEN={GITHUB_PAT}\n"
    leak = repo.commit("compose", **{"docker-compose.yml": COMPOSE, ".env": env})
    found = scan_history(engine, str(repo.path), HistoryOptions()).result.findings
    pats = [f for f in found if f.rule_id == "github-pat"]
    assert [(f.location.path, f.location.line, f.location.commit) for f in pats] == [
        (".env", 3, leak)
    ]


def test_compose_in_history_reads_the_env_file_of_its_own_commit(tmp_path, engine, monkeypatch):
    repo = Repo(tmp_path / "r")
    monkeypatch.chdir(repo.path)
    repo.commit("env", **{".env": f"GITHUB_TOKEN={GITHUB_PAT}\n"})
    repo.commit("no env", **{".env": None})
    repo.commit("compose", **{"docker-compose.yml": COMPOSE})
    # the working tree has the secret again; the commit with the Compose file does not
    repo.write(".env", f"STRIPE_KEY={STRIPE_KEY}\n")
    scanned = scan_history(engine, str(repo.path), HistoryOptions())
    assert {(f.rule_id, f.location.path) for f in scanned.result.findings} == {
        ("github-pat", ".env")
    }
    [finding] = scanned.result.findings
    assert finding.location.deleted  # gone at HEAD


def test_pre_push_is_not_stopped_by_an_ignored_env_file(tmp_path):
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    repo = Repo(tmp_path / "work")
    repo.git("remote", "add", "origin", str(remote))
    repo.commit("base", **{".gitignore": ".env\n", "README.md": "hi\n"})
    assert git(repo.path, "push", "-q", "origin", "main").returncode == 0
    assert lg("hook", "install", cwd=repo.path).returncode == 0
    local_secrets(repo.path)
    repo.commit("compose", **{"docker-compose.yml": COMPOSE})
    proc = git(repo.path, "push", "origin", "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # a secret the pushed commit does carry still stops the push, under its own file
    repo.commit("env", **{"conf.env": f"GITHUB_TOKEN={GITHUB_PAT}\n"})
    repo.commit("compose", **{"docker-compose.yml": COMPOSE.replace(".env", "conf.env")})
    proc = git(repo.path, "push", "origin", "main")
    assert proc.returncode != 0
    assert re.search(r"^conf\.env @ \w+\n  1:14 ", proc.stdout, re.M), proc.stdout
    assert GITHUB_PAT not in proc.stdout + proc.stderr


def test_pre_commit_reads_the_index_not_the_working_tree(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit("base", **{".gitignore": ".env\n", "README.md": "hi\n"})
    assert lg("hook", "install", "--pre-commit", cwd=repo.path).returncode == 0
    local_secrets(repo.path)
    repo.write("docker-compose.yml", COMPOSE)
    repo.git("add", "docker-compose.yml")
    proc = lg("hook", "pre-commit", cwd=repo.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert git(repo.path, "commit", "-q", "-m", "compose").returncode == 0
    # staged clean, edited on disk (not ignored, not staged): the disk copy is not judged
    repo.write("app.env", "DEBUG=1\n")
    repo.write("docker-compose.yml", COMPOSE.replace(".env", "app.env"))
    repo.git("add", "app.env", "docker-compose.yml")
    repo.write("app.env", f"GITHUB_TOKEN={GITHUB_PAT}\n")
    proc = lg("hook", "pre-commit", cwd=repo.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # staged with the secret, cleaned on disk: the staged copy is judged
    repo.git("add", "app.env")
    repo.write("app.env", "DEBUG=1\n")
    proc = lg("hook", "pre-commit", cwd=repo.path)
    assert proc.returncode == 1
    assert re.search(r"^app\.env\n  1:14 ", proc.stdout, re.M), proc.stdout


def test_dockerfile_context_in_history_is_the_commits_files(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    repo.commit("base", **{".gitignore": ".npmrc\n", "README.md": "hi\n"})
    dockerfile = "FROM alpine\nCOPY . /app\n"
    added = repo.commit(
        "image", **{"Dockerfile": dockerfile, "deploy/" + SSH_KEY_NAME: PRIVATE_KEY}
    )
    (repo.path / ".npmrc").write_text("registry=https://registry.example.test/\n")
    found = scan_history(engine, str(repo.path), HistoryOptions()).result.findings
    context = [f for f in found if f.rule_id == "dockerfile-context-credential-file"]
    assert [(f.redacted, f.location.path, f.location.line, f.location.commit) for f in context] == [
        (f"deploy/{SSH_KEY_NAME}", "Dockerfile", 2, added)
    ]


def test_same_json_from_any_folder(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit("base", **{".gitignore": f".env\n{SSH_KEY_NAME}\n", "README.md": "hi\n"})
    repo.commit(
        "image",
        **{
            "Dockerfile": "FROM alpine\nCOPY . /app\n",
            "docker-compose.yml": COMPOSE,
            "src/app.py": f"TOKEN = '{GITHUB_PAT}'\n",
        },
    )
    local_secrets(repo.path)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "project" / "src").mkdir(parents=True)
    local_secrets(elsewhere)
    (elsewhere / "Dockerfile").write_text("FROM alpine\n")
    (elsewhere / "project" / ".npmrc").write_text("//registry.example.test/:_authToken=x\n")
    (elsewhere / "project" / "src" / SSH_KEY_NAME).write_text(PRIVATE_KEY)
    (elsewhere / os.fsdecode(b"not-utf8-\xff.pem")).write_text(PRIVATE_KEY)
    reports = []
    for cwd, target in (
        (repo.path, "."),
        (repo.path / "src", str(repo.path)),
        (elsewhere, str(repo.path)),
        (elsewhere / "project", os.path.relpath(repo.path, elsewhere / "project")),
    ):
        proc = lg("git", target, "-f", "json", cwd=cwd)
        assert proc.returncode == 1, proc.stderr
        reports.append(without_duration(proc.stdout))
    assert len(set(reports)) == 1
    found = json.loads(reports[0])["findings"]
    assert [(f["rule_id"], f["location"]["path"]) for f in found] == [("github-pat", "src/app.py")]


# -- the trees themselves ----------------------------------------------------------


def test_git_tree_reads_a_commit_and_the_index(tmp_path):
    repo = Repo(tmp_path / "r")
    first = repo.commit("one", **{"a/b/c.txt": "one\n", "top.txt": "top\n"})
    repo.write("a/new.txt", "staged\n")
    repo.git("add", "a/new.txt")
    objects = GitObjects(str(repo.path), 1 << 20)
    try:
        commit = GitTree(objects, first, str(repo.path))
        index = GitTree(objects, None, str(repo.path))
        assert commit.read("a/b/c.txt", 100) == b"one\n"
        assert commit.read("./a/../top.txt", 100) == b"top\n"
        assert commit.entries(".") == [("a", True), ("top.txt", False)]
        assert commit.entries("a") == [("b", True)]
        assert index.entries("a") == [("b", True), ("new.txt", False)]
        assert index.read("a/new.txt", 100) == b"staged\n"
        assert commit.is_file("top.txt") and not commit.is_file("a")
        assert not commit.is_file("a/new.txt")
        for tree, path in ((commit, "a/new.txt"), (commit, "../r/top.txt"), (index, "/etc/hosts")):
            with pytest.raises(FileNotFoundError):
                tree.read(path, 100)
        with pytest.raises(FileNotFoundError):
            commit.entries("nowhere")
    finally:
        objects.close()


def test_a_dockerfile_inside_an_image_lists_no_build_context_here(tmp_path, engine, monkeypatch):
    from leakguard.detectors.image import ImageOptions, scan_layer
    from tests.detectors.test_image import file, layer_tar, sha

    # The image's /<tmp_path>/src/Dockerfile and ./src/Dockerfile name folders that
    # exist on this machine, each with a key in it: neither is the image's build context.
    here = tmp_path / "src"
    here.mkdir()
    (here / SSH_KEY_NAME).write_text(PRIVATE_KEY)
    monkeypatch.chdir(tmp_path)
    dockerfile = "FROM alpine\nCOPY . /app\n"
    data = layer_tar(
        [file(f"{here}/Dockerfile".lstrip("/"), dockerfile), file("src/Dockerfile", dockerfile)]
    )
    scanned = scan_layer(engine, io.BytesIO(data), sha(data), ImageOptions())
    assert [f.rule_id for f in scanned.findings] == []
    assert scanned.skipped == []


INCLUDING = (
    "include:\n  - extra.yml\nservices:\n  app:\n    image: app\n"
    "    extends:\n      file: base.yml\n      service: base\n"
)


def test_include_and_extends_in_history_read_the_commits_files(tmp_path, monkeypatch):
    repo = Repo(tmp_path / "r")
    monkeypatch.chdir(repo.path)
    extra = f"services:\n  side:\n    image: side\n    environment:\n      TOKEN: {GITHUB_PAT}\n"
    base = f"services:\n  base:\n    image: base\n    environment:\n      KEY: {STRIPE_KEY}\n"
    repo.commit("base", **{".gitignore": "extra.yml\nbase.yml\n"})
    repo.commit("compose", **{"docker-compose.yml": INCLUDING})
    repo.write("extra.yml", extra)
    repo.write("base.yml", base)
    proc = lg("git", ".", "-f", "json", cwd=repo.path)
    assert proc.returncode == 0, proc.stdout
    report = json.loads(proc.stdout)
    assert report["findings"] == []
    assert sorted((s["target"], s["error"]) for s in report["skipped"]) == [
        ("base.yml", False),
        ("extra.yml", False),
    ]
    # committed with the Compose file: found, each under its own file and line
    repo.commit("track them", **{".gitignore": "\n", "extra.yml": extra, "base.yml": base})
    repo.commit("compose again", **{"docker-compose.yml": INCLUDING + "# v2\n"})
    proc = lg("git", ".", "-f", "json", cwd=repo.path)
    found = {(f["rule_id"], f["location"]["path"], f["location"]["line"])
             for f in json.loads(proc.stdout)["findings"]}  # fmt: skip
    assert ("github-pat", "extra.yml", 5) in found
    assert {path for _, path, _ in found} == {"extra.yml", "base.yml"}


def test_the_dockerignore_in_history_is_the_commits(tmp_path, engine, monkeypatch):
    repo = Repo(tmp_path / "r")
    monkeypatch.chdir(repo.path)
    repo.commit(
        "image",
        **{
            "Dockerfile": "FROM alpine\nCOPY . /app\n",
            ".dockerignore": "deploy/\n",
            "deploy/" + SSH_KEY_NAME: PRIVATE_KEY,
        },
    )
    (repo.path / ".dockerignore").write_text("# emptied, not committed\n")
    found = scan_history(engine, str(repo.path), HistoryOptions()).result.findings
    assert [f.rule_id for f in found if f.rule_id.startswith("dockerfile-context")] == []


def test_an_env_file_that_is_a_folder_in_the_commit_is_a_note(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit(
        "compose",
        **{"docker-compose.yml": COMPOSE.replace(".env", "conf"), "conf/app.env": "DEBUG=1\n"},
    )
    proc = lg("git", ".", "-f", "json", cwd=repo.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [note] = json.loads(proc.stdout)["skipped"]
    assert (note["target"], note["error"]) == ("conf", False)
    assert "not a file in commit" in note["reason"]
