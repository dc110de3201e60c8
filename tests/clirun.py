"""Run leakguard and git as a user would, in a folder, with git's identity and
configuration pinned (tests.detectors.test_git_history.ENV)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.detectors.test_git_history import ENV


def lg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m leakguard ARGS` in `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "leakguard", *args], cwd=cwd, capture_output=True, text=True,
        env=dict(os.environ, **ENV),
    )  # fmt: skip


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`git ARGS` in `cwd`."""
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=dict(os.environ, **ENV)
    )
