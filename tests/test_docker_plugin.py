"""`docker leakguard`: the Docker CLI plugin, run by the real Debian `docker` 20.10
client against the real engine; and the engine an image scan uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def leakguard(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leakguard", *args], capture_output=True, text=True,
        env=env, cwd=cwd, timeout=300,
    )  # fmt: skip


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment without any docker setting of the machine's, with a private
    DOCKER_CONFIG and HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(HOME=str(tmp_path / "home"), DOCKER_CONFIG=str(tmp_path / "docker-config"))
    env.update(extra)
    return env


def test_a_plain_name_says_the_engine_did_not_answer_when_the_registry_fails_too(
    tmp_path: Path,
) -> None:
    dead = f"unix://{tmp_path}/dead.sock"
    done = leakguard(
        "image", "127.0.0.1:1/leakguard-test/none:1", "--no-cache",
        env=clean_env(tmp_path, DOCKER_HOST=dead),
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("leakguard: error: 127.0.0.1:1/leakguard-test/none:1: ")
    assert f"cannot reach the Docker engine at {dead}" in first
    assert "Traceback" not in done.stderr
