"""Every `$ leakguard ...` example in the README runs, in order, with the exit code it states."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = re.compile(r"^\s*\$ (?P<cmd>.+?)\s+# exits (?P<code>\d+)", re.M)
# The README's set-up, in a virtual environment (PEP 668 systems refuse pip
# into the system Python); the tests run where leakguard is installed already.
SETUP = "python3 -m venv .venv && . .venv/bin/activate && pip install . && "


def examples() -> list[tuple[str, int]]:
    text = (ROOT / "README.md").read_text()
    return [(m["cmd"], int(m["code"])) for m in EXAMPLE.finditer(text)]


def test_readme_starts_with_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    first_block = text.split("```console", 1)[1].split("```", 1)[0]
    commands = [line.strip() for line in first_block.strip().splitlines()]
    assert commands[0].startswith(f"$ {SETUP}leakguard scan samples/")
    assert commands[1].startswith("$ scripts/test")
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_readme_examples_run_with_their_stated_exit_codes(tmp_path):
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    ran = 0
    for cmd, code in examples():
        if cmd.startswith(SETUP):
            cmd = cmd.removeprefix(SETUP)  # installed already
        proc = subprocess.run(
            ["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert proc.returncode == code, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
        ran += 1
    assert ran >= 8


def test_the_not_a_repository_example_holds_when_run_from_a_clone():
    """Run from a clone, `leakguard git samples/` scanned the whole repository
    around it; the example that says "not a git repository" has to say so there."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    ran = 0
    for cmd, code in examples():
        if cmd.startswith("leakguard git ") and code == 3:
            proc = subprocess.run(
                ["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
            )
            assert proc.returncode == 3, f"{cmd}\n{proc.stderr}"
            assert "not a readable git repository" in proc.stderr
            ran += 1
    assert ran >= 1
