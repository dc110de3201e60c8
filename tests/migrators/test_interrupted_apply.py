"""`migrate --apply` killed with SIGKILL at any point never leaves a secret value in a
file that git or a build context would take, and the next run cleans up after it."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leakguard.detectors.context import load_dockerignore
from tests.conftest import fake

SERVICES = 40
# atomic_write's temporary files: ".NAME." + 8 random characters + ".tmp".
TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def values() -> list[str]:
    """Every value the project holds: one token and one password per service, one build token."""
    out = [fake("npm" + "_", 36, seed=5)]
    for i in range(SERVICES):
        out += [fake("gh" + "p_", 36, seed=100 + i), fake("Pw", 14, seed=200 + i)]
    return out


def make_project(root: Path) -> Path:
    """A git work tree: a Dockerfile with a build token, a Compose file with many literals."""
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    secrets = values()
    services = "".join(
        f"  svc{i}:\n    build: .\n    image: example/app{i}\n    environment:\n"
        f"      GITHUB_TOKEN: {secrets[1 + 2 * i]}\n      DB_PASSWORD: {secrets[2 + 2 * i]}\n"
        for i in range(SERVICES)
    )
    (root / "docker-compose.yml").write_text("services:\n" + services)
    (root / "Dockerfile").write_text(
        f"FROM alpine\nARG NPM_TOKEN={secrets[0]}\nRUN echo $NPM_TOKEN > /dev/null\n"
    )
    return root


def leakguard(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "leakguard", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def files(root: Path) -> dict[str, bytes]:
    out = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            path = Path(folder, name)
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def holding_a_value(root: Path) -> list[str]:
    planted = [v.encode() for v in values()]
    return sorted(rel for rel, data in files(root).items() if any(v in data for v in planted))


def uncovered(root: Path, paths: list[str]) -> list[str]:
    """Those of `paths` that `git add -A` or a `COPY .` would take."""
    if not paths:
        return []
    git = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin", "-z"],
        cwd=root,
        input=b"".join(p.encode() + b"\0" for p in paths),
        capture_output=True,
        check=False,
    )
    assert git.returncode in (0, 1), git.stderr
    git_ignored = {p.decode() for p in git.stdout.split(b"\0") if p}
    docker = load_dockerignore(str(root))
    return [p for p in paths if p not in git_ignored or not docker.excluded(p)]


def tree(root: Path) -> dict[str, str]:
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in files(root).items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The project, and the tree an uninterrupted apply leaves (and how long it took)."""
    base = tmp_path_factory.mktemp("apply")
    project = make_project(base / "project")
    done = base / "done"
    shutil.copytree(project, done)
    start = time.monotonic()
    proc = leakguard("migrate", "--apply", ".", cwd=done)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    return project, time.monotonic() - start


def test_the_ignore_entries_are_on_disk_before_any_secret_value(
    reference: tuple[Path, float], tmp_path: Path
) -> None:
    """The order of the real file operations of an apply, seen through Python's audit
    hooks: every file created under secrets/ comes after the renames that put the
    ignore entries in place."""
    project = tmp_path / "p"
    shutil.copytree(reference[0], project)
    trace = tmp_path / "trace.jsonl"
    watcher = (
        "import json, os, sys\n"
        f"out = open({str(trace)!r}, 'w', buffering=1)\n"
        "def hook(event, args):\n"
        "    if event == 'open' and isinstance(args[0], (str, bytes, os.PathLike))"
        " and isinstance(args[2], int) and args[2] & os.O_CREAT:\n"
        "        out.write(json.dumps(['create', os.fsdecode(args[0])]) + '\\n')\n"
        "    elif event == 'os.rename':\n"
        "        out.write(json.dumps(['rename', os.fsdecode(args[0]), os.fsdecode(args[1])])"
        " + '\\n')\n"
        "sys.addaudithook(hook)\n"
        "from leakguard.cli import main\n"
        "sys.exit(main(['migrate', '--apply', '.']))\n"
    )
    run = subprocess.run([sys.executable, "-c", watcher], cwd=project, capture_output=True)
    assert run.returncode == 0, run.stderr.decode()
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    base = project.resolve()
    where = {(base / e[-1]).resolve().relative_to(base).as_posix(): i
             for i, e in enumerate(events) if e[0] == "rename"}  # fmt: skip
    assert {".gitignore", ".dockerignore", "leakguard-secrets.toml"} <= where.keys()
    secret_creates = [
        i for i, e in enumerate(events)
        if e[0] == "create" and base / "secrets" in (base / e[1]).resolve().parents
    ]  # fmt: skip
    assert len(secret_creates) == SERVICES + 1  # one temporary file per secret file
    assert max(where[".gitignore"], where[".dockerignore"]) < min(secret_creates)
    assert where["leakguard-secrets.toml"] < min(secret_creates)
    assert where["docker-compose.yml"] > max(secret_creates)  # the values leave last
    assert where["Dockerfile"] > max(secret_creates)


def kill_at_random(project: Path, rng: random.Random, full: float, watch: bool) -> str:
    """Start an apply and SIGKILL it: after a random delay over the whole run, or
    (`watch`) a few milliseconds after the first new name appears in the project."""
    before = set(os.listdir(project))
    proc = leakguard("migrate", "--apply", ".", cwd=project)
    try:
        if watch:
            deadline = time.monotonic() + 30
            while set(os.listdir(project)) == before and proc.poll() is None:
                assert time.monotonic() < deadline
            time.sleep(rng.uniform(0, 0.03))
        else:
            time.sleep(rng.uniform(0, full * 1.1))
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.communicate(timeout=60)
    return "finished" if proc.returncode == 0 else "killed"


@pytest.mark.slow
def test_a_kill_at_any_point_leaves_no_value_outside_the_ignored_folder(
    reference: tuple[Path, float], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    project, full = reference
    done = tree(project.parent / "done")
    originals = {"Dockerfile", "docker-compose.yml"}
    rng = random.Random(15)
    interrupted = 0  # kills that stopped an apply half-way through its writes
    for run in range(32):
        copy = tmp_path / f"run{run}"
        shutil.copytree(project, copy)
        outcome = kill_at_random(copy, rng, full, watch=run % 2 == 1)
        held = holding_a_value(copy)
        exposed = uncovered(copy, [p for p in held if p not in originals])
        assert not exposed, f"run {run} ({outcome}): {exposed} hold values and are not ignored"
        left = [p for p in files(copy) if TEMPORARY.fullmatch(p.rsplit("/", 1)[-1])]
        if outcome == "killed" and (left or (copy / ".gitignore").exists()) and tree(copy) != done:
            interrupted += 1
        again = leakguard("migrate", "--apply", ".", cwd=copy)
        out, err = again.communicate(timeout=60)
        assert again.returncode == 0, err.decode()
        assert tree(copy) == done, f"run {run}: the second apply did not finish the first's work"
        for rel in left:  # the second run removed what the killed one left
            assert not (copy / rel).exists()
        shutil.rmtree(copy)
    assert interrupted >= 5, f"only {interrupted} kills landed inside the writes"


def test_a_dockerfiles_own_dockerignore_covers_the_secrets_too(tmp_path: Path) -> None:
    """Docker reads Dockerfile.dockerignore instead of .dockerignore for that Dockerfile."""
    project = tmp_path / "p"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "Dockerfile").write_text(
        f"FROM alpine\nARG NPM_TOKEN={values()[0]}\nRUN echo $NPM_TOKEN > /dev/null\n"
    )
    (project / "Dockerfile.dockerignore").write_text("*.md\n")
    proc = leakguard("migrate", "--apply", ".", cwd=project)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    held = holding_a_value(project)
    assert held == ["secrets/npm_token"] and uncovered(project, held) == []
    for dockerfile in (None, str(project / "Dockerfile")):
        assert load_dockerignore(str(project), dockerfile).excluded("secrets/npm_token")
    assert load_dockerignore(str(project), str(project / "Dockerfile")).excluded("README.md")


def test_an_apply_removes_the_temporaries_an_interrupted_one_left_and_nothing_else(
    reference: tuple[Path, float], tmp_path: Path
) -> None:
    project = tmp_path / "p"
    shutil.copytree(reference[0], project)
    done = reference[0].parent / "done"
    (project / "secrets").mkdir(mode=0o700)
    stale = {  # what a kill leaves: the new text of a file, or a secret file's value
        project / ".docker-compose.yml.k2j4h6g8.tmp": done / "docker-compose.yml",
        project / "secrets" / ".svc0.env.a1b2c3d4.tmp": done / "secrets" / "svc0.env",
    }
    for path, content in stale.items():
        path.write_bytes(content.read_bytes()[:100])
    kept = [project / ".notes.abcdefgh.tmp", project / "secrets" / "README"]
    for path in kept:
        path.write_text("mine\n")
    proc = leakguard("migrate", "--apply", ".", cwd=project)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert [p.exists() for p in stale] == [False, False]
    assert [p.read_text() for p in kept] == ["mine\n", "mine\n"]
