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


def _ci_blocks() -> list[dict[str, object]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## CI\n", 1)[1].split("\n## ", 1)[0]
    import yaml

    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]


def test_readme_github_workflow_runs_the_action(tmp_path):
    """The README's workflow: its leakguard step, with its inputs, run by
    tests.actions as the runner runs it on a push to a real repository."""
    import json

    from tests.actions import run_action
    from tests.conftest import STRIPE_KEY
    from tests.detectors.test_git_history import ENV, Repo

    workflow = next(b for b in _ci_blocks() if "jobs" in b)
    assert workflow["permissions"]["security-events"] == "write"
    steps = workflow["jobs"]["secrets"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    step = next(s for s in steps if s.get("uses", "").split("@")[0].endswith("/leakguard"))
    repo = Repo(tmp_path / "ws")
    before = repo.commit("base", **{"README.md": "hi\n"})
    after = repo.commit("leak", **{"app.env": f"STRIPE={STRIPE_KEY}\n"})
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/heads/main", "before": before, "after": after}))
    work = tmp_path / "runner"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    env.update(ENV, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    done = run_action(
        ROOT,
        inputs={k: str(v) for k, v in step["with"].items()},
        github={"workspace": str(repo.path), "event_name": "push", "event_path": str(event)},
        env=env,
        work=work,
    )
    assert done.step("Scan").code == 1, done.log  # a critical finding, fail-on high
    assert done.outputs["findings"] == "1" and Path(done.outputs["report"]).is_file()
    assert "app.env" in done.summary


def test_readme_gitlab_include_names_the_template_and_its_jobs():
    import yaml

    config = next(b for b in _ci_blocks() if "include" in b)
    (include,) = config["include"]
    template = yaml.safe_load((ROOT / include["file"]).read_text())
    for name, job in config.items():
        if isinstance(job, dict) and "extends" in job:
            assert job["extends"] in template, f"{name} extends a job the template lacks"
    # every variable the README sets is one the template reads
    text = (ROOT / include["file"]).read_text()
    for variable in config["variables"]:
        assert f"${variable}" in text or f'"${variable}"' in text, variable


def test_readme_gitlab_variables_run_the_secret_detection_job(tmp_path):
    """The template's job with the README's variables, on a real repository."""
    from tests.conftest import GITHUB_PAT, STRIPE_KEY
    from tests.detectors.test_git_history import Repo
    from tests.test_ci_gitlab import run_job

    config = next(b for b in _ci_blocks() if "include" in b)
    repo = Repo(tmp_path / "project")
    before = repo.commit("base", **{"README.md": "hi\n"})
    head = repo.commit("low", **{"gh.py": f"t = '{GITHUB_PAT}'\n"})  # a made-up token: low
    ci = {k: str(v) for k, v in config["variables"].items()}
    ci.update(CI_COMMIT_SHA=head, CI_COMMIT_BEFORE_SHA=before)
    proc = run_job("leakguard-secret-detection", repo.path, ci)
    assert proc.returncode == 0, proc.stderr  # --fail-on high: reported, not failing
    assert "gh.py" in (repo.path / "gl-secret-detection-report.json").read_text()
    head = repo.commit("leak", **{"app.env": f"STRIPE={STRIPE_KEY}\n"})
    proc = run_job("leakguard-secret-detection", repo.path, {**ci, "CI_COMMIT_SHA": head})
    assert proc.returncode == 1, proc.stderr
