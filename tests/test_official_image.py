"""leakguard's own image: made by scripts/build-image with the real engine, on a
Debian base built here from Debian's packages, then run and scanned by leakguard.

It takes a few minutes (debootstrap, pip and apt in the build), so it runs only
with LEAKGUARD_TEST_IMAGE=1, as `.ci/run` sets it.
"""

from __future__ import annotations

import collections
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import leakguard
from tests.conftest import AWS_KEY_ID, GITHUB_PAT
from tests.services import (  # noqa: F401
    DOCKER,
    DOCKER_SOCKET,
    build_context,
    busybox_image,
    debian_python_base,
    dockerd,
)

ROOT = Path(__file__).resolve().parent.parent
TAG = "leakguard-test/leakguard:official"
LEAKGUARD = [sys.executable, "-m", "leakguard"]

pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("LEAKGUARD_TEST_IMAGE") != "1",
        reason="builds leakguard's image (minutes): set LEAKGUARD_TEST_IMAGE=1",
    ),
]


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=600, check=False)
    if check:
        assert proc.returncode == 0, f"docker {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def image(dockerd: Any, debian_python_base: str) -> Iterator[str]:  # noqa: F811
    env = {**os.environ, "DOCKER": DOCKER, "PYTHON": sys.executable}
    build = subprocess.run(
        [str(ROOT / "scripts" / "build-image"), "--base", debian_python_base, "--tag", TAG],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert build.returncode == 0, f"{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
    yield TAG
    docker("rmi", TAG, check=False)


@pytest.fixture
def readable_dir() -> Iterator[Path]:
    """A folder the image's user (uid 10001) can read, unlike pytest's private tmp_path."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        yield Path(tmp)


def report(proc: subprocess.CompletedProcess[str], prefix: str) -> collections.Counter[tuple]:
    """(rule, path below `prefix`, line, fingerprint) of each finding of a JSON report."""
    found: collections.Counter[tuple] = collections.Counter()
    for f in json.loads(proc.stdout)["findings"]:
        path = f["location"]["path"]
        assert path.startswith(prefix), path
        found[f["rule_id"], path.removeprefix(prefix), f["location"]["line"], f["fingerprint"]] += 1
    return found


def test_the_image_runs_leakguard_as_a_fixed_unprivileged_user(image: str) -> None:
    config = json.loads(docker("inspect", image).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["leakguard"]
    assert config.get("Healthcheck") is None
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == leakguard.__version__
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    assert labels["org.opencontainers.image.revision"] == head
    assert "org.opencontainers.image.source" in labels

    version = docker("run", "--rm", image, "--version")
    assert version.stdout.strip() == f"leakguard, version {leakguard.__version__}"
    probe = docker(
        "run", "--rm", "--entrypoint", "sh", image, "-c",
        "id -u; git --version; docker --version;"
        " for tool in gcc cc c++ clang make; do command -v $tool || true; done",
    )  # fmt: skip
    uid, git, client, *compilers = probe.stdout.splitlines()
    assert uid == "10001"
    assert git.startswith("git version ")
    assert client.startswith("Docker version ")
    assert compilers == []


def test_the_image_scans_a_mounted_folder_as_leakguard_does_on_the_host(
    image: str, readable_dir: Path
) -> None:
    samples = readable_dir / "samples"
    shutil.copytree(ROOT / "samples", samples)
    inside = docker(
        "run", "--rm", "-v", f"{samples}:/src:ro", image,
        "scan", "--no-baseline", "--format", "json", "/src",
        check=False,
    )  # fmt: skip
    assert inside.returncode == 1, inside.stderr
    host = subprocess.run(
        [*LEAKGUARD, "scan", "--no-baseline", "--format", "json", str(samples)],
        capture_output=True, text=True, check=False, cwd="/",
    )  # fmt: skip
    assert host.returncode == 1, host.stderr
    found = report(inside, "/src/")
    assert found == report(host, f"{samples}/")
    rules = {rule for rule, *_ in found}
    assert {"github-pat", "aws-access-key-id", "stripe-secret-key"} <= rules
    assert GITHUB_PAT not in inside.stdout + inside.stderr


def test_the_image_reads_git_history_of_a_repository_it_does_not_own(
    image: str, readable_dir: Path
) -> None:
    repo = readable_dir / "repo"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (repo / "settings.py").write_text(f'TOKEN = "{GITHUB_PAT}"\n')
    git("add", "settings.py")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "add")
    git("rm", "-q", "settings.py")
    git("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "rm")
    proc = docker(
        "run", "--rm", "-v", f"{repo}:/repo:ro", image,
        "git", "--no-baseline", "--format", "json", "/repo",
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    assert [(f["rule_id"], f["location"]["path"]) for f in findings] == [
        ("github-pat", "settings.py")
    ]


def test_the_image_and_what_goes_into_it_pass_leakguard(image: str, dockerd: Any) -> None:  # noqa: F811
    # The files the image is made from: the package sources, the README and
    # pyproject its metadata comes from, and the build files.
    sources = ["leakguard", "detectors", "migrators", "README.md", "pyproject.toml",
               "Dockerfile", ".dockerignore", "scripts/build-image"]  # fmt: skip
    scan = subprocess.run(
        [*LEAKGUARD, "scan", "--no-baseline", *sources],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert scan.returncode == 0, scan.stdout + scan.stderr

    # The layers the build adds (the base's own are the base's), at high confidence:
    # the generic rules' low and medium notes on third-party code are not secrets.
    command = [*LEAKGUARD, "image", "--skip-inherited", "--min-confidence", "high",
               "--no-cache", "--format", "json"]  # fmt: skip
    clean = subprocess.run(
        [*command, f"docker-daemon:{image}"], capture_output=True, text=True, check=False
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["findings"] == []

    # The same scan does see a credential put into an image made from it.
    dockerfile = f"FROM {image}\nCOPY settings.py /home/leakguard/app/settings.py\n"
    leaky = f"{TAG}-leaky"
    settings = f'aws_access_key_id = "{AWS_KEY_ID}"\n'
    context = build_context({"Dockerfile": dockerfile, "settings.py": settings})
    dockerd.images.build(fileobj=io.BytesIO(context), custom_context=True, tag=leaky, rm=True)
    try:
        found = subprocess.run(
            [*command, f"docker-daemon:{leaky}"], capture_output=True, text=True, check=False
        )
    finally:
        docker("rmi", leaky, check=False)
    assert found.returncode == 1, found.stderr
    assert [f["rule_id"] for f in json.loads(found.stdout)["findings"]] == ["aws-access-key-id"]


def test_the_image_scans_an_image_of_the_engine_through_its_socket(
    image: str,
    dockerd: Any,  # noqa: F811
    busybox_image: str,  # noqa: F811
) -> None:
    """As the README runs it: the socket mounted, its group added to the container's user."""
    socket = DOCKER_SOCKET.removeprefix("unix://")
    leaky = "leakguard-test/official-image-target:1"
    dockerfile = f"FROM {busybox_image}\nCOPY token /root/.config/gh/token\n"
    context = build_context({"Dockerfile": dockerfile, "token": f"GH_TOKEN={GITHUB_PAT}\n"})
    dockerd.images.build(fileobj=io.BytesIO(context), custom_context=True, tag=leaky, rm=True)
    try:
        proc = docker(
            "run", "--rm", "-v", f"{socket}:/var/run/docker.sock",
            "--group-add", str(os.stat(socket).st_gid), image,
            "image", "--format", "json", leaky,
            check=False,
        )  # fmt: skip
    finally:
        docker("rmi", leaky, check=False)
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    assert [(f["rule_id"], f["location"]["path"]) for f in findings] == [
        ("github-pat", "/root/.config/gh/token")
    ]
    assert GITHUB_PAT not in proc.stdout + proc.stderr
