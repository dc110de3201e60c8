"""No planted secret in any output, on any surface, unless `--show-secrets` asks for it.

One secret per rule family is planted (a provider token, a password assignment, a
private key, a Dockerfile ARG and ENV, a Compose `environment:` literal, a URL with
credentials, a docker config `auth`, a token that only git history holds, in a
deleted file and a commit message), and every command that can see it runs as a
user runs it: in a subprocess with its own HOME, cache and temporary folders.
Everything it prints (standard output, standard error, `-v` debug logs, error
messages and `--verbose` tracebacks) and every file it writes (reports,
baselines, the layer cache, the compiled-rule cache, the project files migrate
changes) is searched for each value, in the clear, in base64, and inside any
zlib stream (SQLite pages of the layer cache).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ALNUM, fake
from tests.detectors.test_git_history import ENV, Repo
from tests.detectors.test_image import Spec, file, layer_tar, write_archive

B64 = ALNUM + "+/"
FORMATS = ("text", "json", "sarif", "html")


def planted() -> dict[str, str]:
    """One fake per rule family, made at run time."""
    return {
        "provider token": fake("sk_" + "live_", 24, seed=1501),
        "password assignment": fake("Zq", 16, seed=1502),
        "private key": fake("MII", 64 * 8, B64, seed=1503),
        "dockerfile env": fake("Df", 18, seed=1504),
        "dockerfile arg": fake("npm" + "_", 36, seed=1509),
        "compose environment": fake("Cm", 18, seed=1505),
        "url credentials": fake("Ur", 18, seed=1506),
        "docker config auth": fake("Da", 18, seed=1507),
        "git history": fake("gl" + "pat-", 20, seed=1508),
    }


SECRETS = planted()
KEY_LINES = textwrap.wrap(SECRETS["private key"], 64)
PEM = "\n".join(["-----BEGIN RSA PRIVATE KEY-----", *KEY_LINES, "-----END RSA PRIVATE KEY-----\n"])
DOCKER_AUTH = base64.b64encode(f"robot:{SECRETS['docker config auth']}".encode()).decode()


def needles() -> dict[str, list[bytes]]:
    """The forms in which each family's value would count as shown (base64 is
    decoded by `inflated`)."""
    out: dict[str, list[bytes]] = {}
    for family, value in SECRETS.items():
        forms = [value.encode()]
        if family == "private key":
            forms = [line.encode() for line in KEY_LINES]  # any line of the key body
        out[family] = forms
    return out


NEEDLES = needles()


BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{16,}={0,2}")


def inflated(data: bytes) -> Iterator[bytes]:
    """`data`, what every zlib stream inside it decompresses to, and what every
    base64 run in those decodes to."""
    streams = [data]
    start = data.find(b"\x78")
    while start != -1:
        if data[start + 1 : start + 2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):
            try:
                streams.append(zlib.decompressobj().decompress(data[start:]))
            except zlib.error:
                pass
        start = data.find(b"\x78", start + 1)
    for stream in streams:
        yield stream
        for run in BASE64_RUN.finditer(stream):
            for skip in range(4):  # a run may start inside a longer word
                text = run.group()[skip:].rstrip(b"=")
                with contextlib.suppress(binascii.Error):
                    yield base64.b64decode(text + b"=" * (-len(text) % 4))


def leaked(data: bytes) -> list[str]:
    """The families whose value `data` shows, in any of the forms above."""
    return sorted(
        family
        for family, forms in NEEDLES.items()
        if any(form in blob for blob in inflated(data) for form in forms)
    )


# -- the planted world --------------------------------------------------------------


def write_project(root: Path) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "settings.py").write_text(
        f'STRIPE = "{SECRETS["provider token"]}"\n'
        f'DB_PASSWORD = "{SECRETS["password assignment"]}"\n'
        f'DATABASE_URL = "postgres://app:{SECRETS["url credentials"]}@db:5432/app"\n'
    )
    (root / "deploy_key.pem").write_text(PEM)
    (root / "Dockerfile").write_text(
        f"FROM alpine\nARG NPM_TOKEN={SECRETS['dockerfile arg']}\n"
        "RUN echo $NPM_TOKEN > /dev/null\nCOPY . /src\n"
        f'ENV API_SECRET={SECRETS["dockerfile env"]}\nCMD ["sh"]\n'
    )
    (root / "docker-compose.yml").write_text(
        "services:\n  db:\n    image: mysql:8\n    environment:\n"
        f"      MYSQL_PASSWORD: {SECRETS['compose environment']}\n"
    )
    (root / ".docker").mkdir()
    (root / ".docker" / "config.json").write_text(
        json.dumps({"auths": {"registry.example.com": {"auth": DOCKER_AUTH}}})
    )
    return root


def write_history(root: Path) -> Repo:
    """The project as a repository whose history also holds a token HEAD no longer has."""
    repo = Repo(root)
    write_project(root)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "the project")
    repo.commit("ci settings", **{"ci.env": f"GITLAB_TOKEN={SECRETS['git history']}\n"})
    repo.commit("drop the ci settings", **{"ci.env": None})
    repo.commit(f"rotate {SECRETS['git history']}", **{"NOTES": "rotated\n"})
    return repo


def write_image(path: Path, project: Path) -> Path:
    """A `docker save` tarball: the project's files in a layer, a secret in its env."""
    docker_config = json.dumps({"auths": {"r.example": {"auth": DOCKER_AUTH}}})
    layer = layer_tar(
        [
            file("src/app/settings.py", (project / "app" / "settings.py").read_text()),
            file("root/.docker/config.json", docker_config),
            file("src/deploy_key.pem", PEM),
        ]
    )
    fetch = f"https://robot:{SECRETS['url credentials']}@repo.example/setup.sh"
    spec = Spec(
        layers=[layer, layer_tar([file("etc/app.env", f"STRIPE={SECRETS['provider token']}\n")])],
        env=[f"API_SECRET={SECRETS['dockerfile env']}", "PATH=/usr/bin"],
        # The second layer's instruction is quoted in the messages of its findings.
        history=["/bin/sh -c #(nop) COPY . /src", f"/bin/sh -c curl -fsS {fetch} | sh"],
    )
    return write_archive(path, spec)


@dataclass
class Audit:
    """Every command run, what it printed, and the folders it may write to."""

    base: Path
    env: dict[str, str] = field(default_factory=dict, repr=False)
    runs: list[tuple[str, tuple[str, ...], int, bytes, bytes]] = field(
        default_factory=list, repr=False
    )
    before: dict[str, bytes] = field(default_factory=dict, repr=False)  # the project

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def cache(self) -> Path:
        return self.base / "cache"

    @property
    def tmp(self) -> Path:
        return self.base / "tmp"

    @property
    def out(self) -> Path:
        return self.base / "out"

    def run(self, surface: str, *args: str, cwd: Path, stdin: bytes = b"") -> int:
        proc = subprocess.run(
            [sys.executable, "-m", "leakguard", *args],
            cwd=cwd, input=stdin, capture_output=True, env=self.env, timeout=120,
        )  # fmt: skip
        assert proc.returncode != 70, proc.stderr.decode()
        self.runs.append((surface, args, proc.returncode, proc.stdout, proc.stderr))
        return proc.returncode


SURFACES = ("scan", "baseline", "git", "hooks", "context", "image", "migrate", "errors")
FINDS = ("scan", "git", "hooks", "context", "image", "migrate")  # exit 1 at least once


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Audit:
    base = tmp_path_factory.mktemp("audit")
    a = Audit(base)
    for folder in (a.home, a.cache, a.tmp, a.out):
        folder.mkdir()
    a.env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKGUARD_")}
    a.env.update(ENV, HOME=str(a.home), XDG_CACHE_HOME=str(a.cache), TMPDIR=str(a.tmp),
                 NO_COLOR="1")  # fmt: skip
    project = base / "p"
    write_history(project)
    a.before = tree(project)
    o = a.out

    for fmt in FORMATS:
        a.run("scan", "scan", "-f", fmt, ".", cwd=project)
        a.run("scan", "scan", "-f", fmt, "-o", str(o / f"scan.{fmt}"), ".", cwd=project)
    a.run("scan", "-v", "scan", "--respect-gitignore", "-j", "2", ".", cwd=project)
    a.run("scan", "scan", "-", cwd=project, stdin=(project / "app" / "settings.py").read_bytes())

    a.run("baseline", "baseline", "create", "-o", str(o / "baseline.json"), ".", cwd=project)
    a.run("baseline", "scan", "--baseline", str(o / "baseline.json"), ".", cwd=project)
    a.run("baseline", "baseline", "update", "-b", str(o / "baseline.json"), ".", cwd=project)

    for fmt in FORMATS:
        a.run("git", "git", "-f", fmt, ".", cwd=project)
    a.run("git", "git", "-f", "json", "-o", str(o / "git.json"), ".", cwd=project)
    a.run("git", "-v", "git", ".", cwd=project)

    staged = Repo(base / "staged")
    staged.commit("clean", **{"README.md": "hello\n"})
    write_project(staged.path)
    staged.git("add", "-A")
    a.run("hooks", "hook", "pre-commit", cwd=staged.path)
    a.run("hooks", "-v", "hook", "pre-commit", cwd=staged.path)
    head = Repo(project).git("rev-parse", "HEAD")
    push = f"refs/heads/main {head} refs/heads/main {'0' * 40}\n".encode()
    a.run("hooks", "hook", "pre-push", "origin", "file:///nowhere", cwd=project, stdin=push)
    a.run("hooks", "-v", "hook", "pre-push", "origin", "file:///x", cwd=project, stdin=push)

    for fmt in FORMATS:
        a.run("context", "context", "-f", fmt, ".", cwd=project)
    a.run("context", "-v", "context", "--list", ".", cwd=project)

    image = write_image(base / "image.tar", project)
    for fmt in FORMATS:  # the first run fills the layer cache, the others read it
        a.run("image", "image", "-f", fmt, f"docker-archive:{image}", cwd=base)
    a.run("image", "-v", "image", "-o", str(o / "image.json"), "-f", "json",
          f"docker-archive:{image}", cwd=base)  # fmt: skip

    plan = base / "plan"
    shutil.copytree(project, plan)
    a.run("migrate", "migrate", ".", cwd=plan)
    a.run("migrate", "-v", "migrate", ".", cwd=plan)
    a.run("migrate", "migrate", "--apply", ".", cwd=plan)
    a.run("migrate", "-v", "migrate", "--apply", ".", cwd=plan)
    a.run("migrate", "secrets", "docker-flags", "Dockerfile", cwd=plan)
    a.run("migrate", "secrets", "pull", ".", cwd=plan)

    # Errors: a refused apply (a read-only file) with --verbose's traceback, and a
    # Compose file that is not valid YAML on the very line that holds the value.
    refused = base / "refused"
    shutil.copytree(project, refused)
    (refused / "docker-compose.yml").chmod(0o444)
    assert a.run("errors", "-v", "migrate", "--apply", ".", cwd=refused) == 4
    broken = base / "broken"
    broken.mkdir()
    (broken / "docker-compose.yml").write_text(
        "services:\n  db:\n    environment:\n"
        f"      MYSQL_PASSWORD: {SECRETS['compose environment']}: [\n"
    )
    a.run("errors", "-v", "scan", ".", cwd=broken)
    a.run("errors", "-v", "migrate", "--apply", ".", cwd=broken)
    # Files holding secrets handed over where a config or a baseline belongs.
    settings = str(project / "app" / "settings.py")
    a.run("errors", "-v", "scan", "--baseline", settings, ".", cwd=broken)
    a.run("errors", "-v", "--config", settings, "scan", ".", cwd=broken)
    a.run(
        "errors", "-v", "baseline", "import", "-o", str(o / "imported.json"), settings, cwd=broken
    )
    a.run("errors", "-v", "baseline", "import", "-o", str(o / "imported.json"),
          str(project / ".docker" / "config.json"), cwd=broken)  # fmt: skip
    return a


@pytest.mark.parametrize("surface", SURFACES)
def test_no_output_shows_a_planted_secret(audit: Audit, surface: str) -> None:
    runs = [r for r in audit.runs if r[0] == surface]
    assert runs
    for _, args, code, out, err in runs:
        assert leaked(out) == [], f"leakguard {' '.join(args)} (exit {code}): stdout"
        assert leaked(err) == [], f"leakguard {' '.join(args)} (exit {code}): stderr"
    if surface in FINDS:  # it saw the secrets: otherwise this proves nothing
        assert any(code == 1 for _, _, code, _, _ in runs), surface


def written(folder: Path) -> Iterator[Path]:
    for dirpath, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            yield Path(dirpath, name)


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in written(root)}


def test_no_file_leakguard_writes_holds_a_planted_secret(audit: Audit) -> None:
    """Reports, baselines, the layer cache (SQLite, compressed rows), the compiled
    rule cache, and anything under HOME or TMPDIR; the scanned project is untouched."""
    assert tree(audit.base / "p") == audit.before
    files = [p for folder in (audit.out, audit.cache, audit.home, audit.tmp)
             for p in written(folder)]  # fmt: skip
    assert {p.name for p in files} >= {"layers.sqlite", "baseline.json", "scan.sarif"}
    for path in files:
        assert leaked(path.read_bytes()) == [], path


def test_migrate_writes_values_only_into_its_ignored_secret_files(audit: Audit) -> None:
    plan = audit.base / "plan"
    original = audit.base / "p"
    moved = [p for p in written(plan) if "secrets" in p.relative_to(plan).parts]
    values = leaked(b"".join(p.read_bytes() for p in moved))
    assert values == ["compose environment", "dockerfile arg"]
    for path in written(plan):
        rel = path.relative_to(plan)
        if "secrets" in rel.parts:
            continue
        before = (original / rel).read_bytes() if (original / rel).exists() else b""
        assert set(leaked(path.read_bytes())) <= set(leaked(before)), rel


def run_json(audit: Audit, *args: str, cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "leakguard", *args], cwd=cwd, capture_output=True,
        env=audit.env, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr.decode()
    assert leaked(proc.stderr) == []
    return proc.stdout.decode()


def test_show_secrets_shows_them_where_documented(audit: Audit) -> None:
    """Each family is found (so the checks above are not vacuous), and
    --show-secrets prints the values, in reports written 0600."""
    project = audit.base / "p"
    in_files = set(SECRETS) - {"git history"}
    for fmt in FORMATS:
        text = run_json(audit, "scan", "--show-secrets", "-f", fmt, ".", cwd=project)
        assert set(leaked(text.encode())) == in_files, fmt
    report = audit.out / "shown.json"
    run_json(audit, "scan", "--show-secrets", "-f", "json", "-o", str(report), ".", cwd=project)
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    secrets = " ".join(f.get("secret", "") for f in json.loads(report.read_text())["findings"])
    assert set(leaked(secrets.encode())) == in_files
    history = run_json(audit, "git", "--show-secrets", "-f", "json", ".", cwd=project)
    assert "git history" in leaked(history.encode())
    context = run_json(audit, "context", "--show-secrets", "-f", "json", ".", cwd=project)
    assert {"provider token", "docker config auth"} <= set(leaked(context.encode()))
    image = f"docker-archive:{audit.base / 'image.tar'}"
    in_image = in_files - {"compose environment", "dockerfile arg"}
    for _ in range(2):  # the layer cache is warm: the values come from the layers again
        values = run_json(audit, "image", "--show-secrets", "-f", "json", image, cwd=audit.base)
        assert set(leaked(values.encode())) == in_image
    for path in written(audit.cache):
        assert leaked(path.read_bytes()) == [], path
