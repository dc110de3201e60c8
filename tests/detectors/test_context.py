"""Build contexts: `.dockerignore` matched as Docker matches it (checked against a
real `docker build`), and the credential files a broad COPY would bake in."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from leakguard.cli import main
from leakguard.detectors.context import (
    DockerIgnore,
    list_context,
    parse_dockerignore,
    scan_context,
)
from tests.conftest import GITHUB_PAT, STRIPE_KEY
from tests.services import DOCKER, busybox_image, dockerd  # noqa: F401

IGNORE = """\
# comments and blank lines are ignored

*.log
!keep.log
/secrets
!secrets/public.txt
**/.env
build/**
!build/keep/**
docs/*.md
node_modules
config/**/*.key
  tmp/
\\*.txt
\\?[.]md
"""

TREE = [
    "Dockerfile", "a.log", "keep.log", "sub/b.log",
    "secrets/private.txt", "secrets/public.txt",
    ".env", "app/.env", "app/.env.example", "app/main.py",
    "build/out.bin", "build/keep/x.txt",
    "docs/a.md", "docs/sub/b.md",
    "node_modules/pkg/index.js",
    "config/a.key", "config/deep/er/b.key", "config/app.yaml",
    "tmp/scratch", "a #weird name.txt", "*.txt", "?.md",
]  # fmt: skip

EXPECTED = sorted([
    ".dockerignore", "Dockerfile", "keep.log", "sub/b.log", "secrets/public.txt",
    "app/.env.example", "app/main.py", "build/keep/x.txt", "docs/sub/b.md",
    "config/app.yaml", "a #weird name.txt",
])  # fmt: skip


def make_tree(root: Path, files=TREE, ignore=IGNORE, dockerfile="FROM scratch\nCOPY . /ctx\n"):
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {rel}\n")
    (root / "Dockerfile").write_text(dockerfile)
    if ignore is not None:
        (root / ".dockerignore").write_text(ignore)
    return root


def test_dockerignore_semantics(tmp_path):
    make_tree(tmp_path)
    assert list_context(str(tmp_path)).files == EXPECTED


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["*.env"], "config/app.env", False),  # anchored at the root, unlike .gitignore
        (["**/*.env"], "config/app.env", True),
        (["config"], "config/deep/file", True),  # a folder excludes what it holds
        (["/config/"], "config/file", True),  # leading and trailing "/" are cleaned away
        (["./a/../b"], "b", True),
        (["*", "!important"], "important", False),  # the last matching pattern wins
        (["secret*", "!secret.pub"], "secret.pub", False),
        (["a/*/c"], "a/b/c/d", True),
        (["**"], "anything/at/all", True),
        (["a?c"], "abc", True),
        (["a?c"], "a/c", False),
        (["[a-c].txt"], "b.txt", True),
        (["\\*[.]txt"], "*.txt", True),
        (["\\*[.]txt"], "x.txt", False),
        (["\\*.txt"], "*.txt", True),
    ],
)
def test_single_patterns(patterns, path, excluded):
    ignore = DockerIgnore(tuple(parse_dockerignore("\n".join(patterns))))
    assert ignore.excluded(path) is excluded


def test_dockerfile_specific_ignore_file_takes_precedence(tmp_path):
    make_tree(tmp_path, files=[".env", "app.py"], ignore="app.py\n")
    (tmp_path / "Dockerfile.dockerignore").write_text(".env\n")
    listing = list_context(str(tmp_path), str(tmp_path / "Dockerfile"))
    assert listing.files == [".dockerignore", "Dockerfile", "Dockerfile.dockerignore", "app.py"]
    assert listing.ignore.path == str(tmp_path / "Dockerfile") + ".dockerignore"


def test_broad_copy_reports_credential_files_with_the_ignore_line(engine, tmp_path):
    make_tree(
        tmp_path, files=["app/.env", "app/main.py", "deploy/id_rsa", "src/x.py"], ignore=None,
        dockerfile="FROM alpine\nWORKDIR /app\nCOPY src/ ./src/\nCOPY . .\n",
    )  # fmt: skip
    (tmp_path / "app" / ".env").write_text(f"STRIPE_KEY={STRIPE_KEY}\n")
    result = scan_context(engine, str(tmp_path / "Dockerfile"))
    creds = [f for f in result.findings if f.rule_id == "dockerfile-context-credential-file"]
    assert [(f.redacted, f.location.line) for f in creds] == [("app/.env", 4),
                                                              ("deploy/id_rsa", 4)]  # fmt: skip
    assert "add `app/.env` to a .dockerignore" in creds[0].message
    content = [f for f in result.findings if f.rule_id == "stripe-secret-key"]
    assert content[0].location.path == str(tmp_path / "app" / ".env")
    assert "COPY at" in content[0].message and ":4" in content[0].message


def test_narrow_copy_and_dockerignore_leave_nothing_to_report(engine, tmp_path):
    make_tree(tmp_path, files=[".env", "src/x.py"], ignore=None,
              dockerfile="FROM alpine\nCOPY src/ /app/src/\n")  # fmt: skip
    assert scan_context(engine, str(tmp_path / "Dockerfile")).findings == []
    (tmp_path / "Dockerfile").write_text("FROM alpine\nCOPY . /app\n")
    (tmp_path / ".dockerignore").write_text("**/.env\n")
    assert scan_context(engine, str(tmp_path / "Dockerfile")).findings == []


def test_context_command(tmp_path, capsys):
    make_tree(tmp_path, files=[".env", "app.py"], ignore=None,
              dockerfile="FROM alpine\nCOPY . /app\n")  # fmt: skip
    (tmp_path / ".env").write_text(f"GH_TOKEN={GITHUB_PAT}\n")
    out = tmp_path / "r.json"
    assert main(["context", str(tmp_path), "-f", "json", "-o", str(out)]) == 1
    rules = sorted(f["rule_id"] for f in json.loads(out.read_text())["findings"])
    assert rules == ["dockerfile-context-credential-file", "github-pat"]
    capsys.readouterr()
    assert main(["context", str(tmp_path), "--list"]) == 0
    assert capsys.readouterr().out.split() == [".env", "Dockerfile", "app.py", "r.json"]
    (tmp_path / ".dockerignore").write_text(".env\nr.json\n")
    assert main(["context", str(tmp_path)]) == 0
    assert main(["context", str(tmp_path / "missing")]) == 3
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  web:\n    build: .\n")
    (tmp_path / ".dockerignore").unlink()
    assert main(["context", str(compose)]) == 1


def test_a_copied_credential_file_shows_no_secret_and_its_fingerprint_names_it(tmp_path):
    """The finding is about the file being there: under --show-secrets it has no
    `secret` (the file name is not one), and its fingerprint hashes `context:<path>`."""
    make_tree(tmp_path, files=[".npmrc", "app.py"], ignore=None,
              dockerfile="FROM alpine\nCOPY . /app\n")  # fmt: skip
    out = tmp_path / "r.json"
    for fmt in ("json", "text", "sarif"):
        argv = ["context", str(tmp_path), "-f", fmt, "-o", str(out), "--show-secrets"]
        assert main(argv) == 1
        if fmt == "json":
            [finding] = json.loads(out.read_text())["findings"]
            assert finding["rule_id"] == "dockerfile-context-credential-file"
            assert "secret" not in finding
            assert finding["fingerprint"] == hashlib.sha256(b"context:.npmrc").hexdigest()
        else:
            assert out.read_text().count(".npmrc") >= 1


# -- against the real docker build -------------------------------------------------------


def sent_by_docker(client, folder: Path, image: str, *, buildkit: bool) -> list[str]:
    """The files `docker build` put under /ctx with `COPY . /ctx`."""
    (folder / "Dockerfile").write_text(f"FROM {image}\nCOPY . /ctx\n")
    tag = f"leakguard-test/context:{uuid.uuid4().hex[:12]}"
    env = dict(os.environ, DOCKER_BUILDKIT="1" if buildkit else "0",
               DOCKER_HOST="unix:///var/run/docker.sock")  # fmt: skip
    proc = subprocess.run([DOCKER, "build", "-q", "-t", tag, str(folder)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    try:
        out = client.containers.run(tag, ["find", "/ctx", "!", "-type", "d"], remove=True)
    finally:
        client.images.remove(tag, force=True)
    return sorted(line.removeprefix("/ctx/") for line in out.decode().splitlines())


@pytest.mark.docker
@pytest.mark.parametrize("buildkit", [False, True], ids=["classic", "buildkit"])
def test_listing_matches_what_docker_build_sends(dockerd, busybox_image, tmp_path, buildkit):  # noqa: F811
    make_tree(tmp_path)
    docker_sent = sent_by_docker(dockerd, tmp_path, busybox_image, buildkit=buildkit)
    assert list_context(str(tmp_path)).files == docker_sent == EXPECTED


def test_large_copied_files_are_read_and_a_size_bound_is_reported(tmp_path):
    from tests.test_cli import run

    (tmp_path / "Dockerfile").write_text("FROM alpine\nCOPY . /app\n")
    with open(tmp_path / "dump.sql", "w") as fh:  # 20 MB: streamed like any large file
        fh.write("-- row\n" * 3_000_000 + f"-- token = {GITHUB_PAT}\n")
    code, out, err = run("context", "-f", "json", str(tmp_path))
    report = json.loads(out)
    assert code == 1, err
    assert [f["location"]["path"].rsplit("/", 1)[-1] for f in report["findings"]] == ["dump.sql"]
    assert not report["skipped"]
    (tmp_path / ".leakguard.toml").write_text("max_file_size = 1048576\n")
    code, out, err = run("context", "-f", "json", str(tmp_path))
    report = json.loads(out)
    assert code == 3, err
    assert not report["findings"]
    [skipped] = report["skipped"]
    assert skipped["error"] and skipped["target"].endswith("dump.sql")
    assert "--max-file-size" in skipped["reason"]
