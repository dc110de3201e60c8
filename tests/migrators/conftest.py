"""Fixtures for migrator tests: real services, and the CLI run in-process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from leakguard.cli import main
from tests.services import DOCKER, busybox_image, dockerd, openbao  # noqa: F401

__all__ = ["busybox_image", "dockerd", "openbao"]


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def leakguard(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Run]:
    """Run `leakguard ARGS...` in-process in folder `cwd`; exit code and output."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
        capsys.readouterr()
        with monkeypatch.context() as m:
            if cwd is not None:
                m.chdir(cwd)
            for key, value in (env or {}).items():
                m.setenv(key, value)
            code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def docker(
    *args: str,
    cwd: Path | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DOCKER, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=check,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def compose(
    project: Path, name: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker-compose", "-p", name, *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=check,
        timeout=300,
        env={**os.environ, "DOCKER_HOST": "unix:///var/run/docker.sock"},
    )


@pytest.fixture(scope="session")
def file_env_image(dockerd: Any, busybox_image: str) -> Iterator[str]:
    """The busybox image under the name of an official image that reads `*_FILE`."""
    tag = "postgres:leakguard-test"
    dockerd.images.get(busybox_image).tag("postgres", "leakguard-test")
    yield tag
