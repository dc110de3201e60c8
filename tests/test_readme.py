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


def examples() -> list[tuple[str, int]]:
    text = (ROOT / "README.md").read_text()
    return [(m["cmd"], int(m["code"])) for m in EXAMPLE.finditer(text)]


def test_readme_starts_with_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    first_block = text.split("```console", 1)[1].split("```", 1)[0]
    commands = [line.strip() for line in first_block.strip().splitlines()]
    assert commands[0].startswith("$ python3 -m pip install . && leakguard scan samples/")
    assert commands[1].startswith("$ scripts/test")
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_readme_examples_run_with_their_stated_exit_codes(tmp_path):
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    ran = 0
    for cmd, code in examples():
        if cmd.startswith("python3 -m pip install . && "):
            cmd = cmd.removeprefix("python3 -m pip install . && ")  # installed already
        proc = subprocess.run(
            ["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert proc.returncode == code, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr
        ran += 1
    assert ran >= 8
