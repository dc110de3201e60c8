"""The GitHub Action (action.yml): its steps run as the Actions runner runs them,
with a simulated GITHUB_* environment, on real repositories checked out the way
actions/checkout does (a clone: remote-tracking refs for every branch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema.validators import validator_for

from leakguard import __version__
from tests.actions import ActionRun, run_action
from tests.clirun import git
from tests.conftest import GITHUB_PAT, fake
from tests.detectors.test_git_history import ENV, Repo

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
ZERO = "0" * 40


def stripe(n: int) -> str:
    return fake("sk_" + "live_", 24, seed=200 + n)


@pytest.fixture(scope="module")
def sarif_validator() -> Any:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


class Forge:
    """A bare `origin`, a developer's clone pushing to it, and checkouts made from
    it as actions/checkout with `fetch-depth: 0` makes them."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.origin = tmp / "origin.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.origin)], check=True)
        self.dev = Repo(tmp / "dev")
        self.dev.git("remote", "add", "origin", str(self.origin))

    def push(self, *refspec: str) -> None:
        proc = git(self.dev.path, "push", "-q", "origin", *refspec)
        assert proc.returncode == 0, proc.stderr

    def checkout(self, sha: str) -> Path:
        workspace = self.tmp / f"workspace-{sha[:8]}"
        assert git(self.tmp, "clone", "-q", str(self.origin), str(workspace)).returncode == 0
        assert git(workspace, "checkout", "-q", "--detach", sha).returncode == 0
        return workspace


@pytest.fixture
def forge(tmp_path: Path) -> Forge:
    """main: a clean commit, then one that leaks in old.py (already on origin)."""
    forge = Forge(tmp_path)
    forge.dev.commit("base", **{"README.md": "hello\n"})
    forge.dev.commit("old leak", **{"old.py": f"k = '{stripe(0)}'\n"})
    forge.push("main")
    return forge


def run(
    forge: Forge,
    workspace: Path,
    event: str,
    payload: dict[str, Any] | None = None,
    **inputs: str,
) -> ActionRun:
    event_path = forge.tmp / f"event-{event}.json"
    event_path.write_text(json.dumps(payload or {}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    env.update(ENV, HOME=str(forge.tmp / "home"))
    # leakguard of this version is on PATH (as in the leakguard image): the
    # install step uses it; test_the_action_installs_itself covers the install.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    work = forge.tmp / f"runner-{event}-{len(list(forge.tmp.glob('runner-*')))}"
    work.mkdir()
    return run_action(
        ROOT,
        inputs=inputs,
        github={"workspace": str(workspace), "event_name": event, "event_path": str(event_path)},
        env=env,
        work=work,
    )


def reported(done: ActionRun, sarif_validator: Any) -> list[str]:
    """The files the SARIF report names; checks the report and where it went."""
    report = Path(done.outputs["report"])
    sarif = json.loads(report.read_text())
    sarif_validator.validate(sarif)
    upload = done.step("Upload SARIF to code scanning")
    assert upload.ran and upload.uses is not None
    assert upload.uses.startswith("github/codeql-action/upload-sarif@")
    assert Path(upload.with_["sarif_file"]) == report
    assert int(done.outputs["findings"]) == len(sarif["runs"][0]["results"])
    return sorted(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
    )


def test_push_scans_before_to_after(forge: Forge, sarif_validator: Any) -> None:
    before = forge.dev.git("rev-parse", "HEAD")
    forge.dev.commit("clean", **{"a.py": "x = 1\n"})
    forge.dev.commit("leak", **{"new.py": f"k = '{stripe(1)}'\n"})
    after = forge.dev.commit("hide", **{"new.py": "k = None\n"})
    forge.push("main")
    workspace = forge.checkout(after)
    payload = {"ref": "refs/heads/main", "before": before, "after": after}
    done = run(forge, workspace, "push", payload)
    assert done.step("Install leakguard").code == 0
    assert f"leakguard {__version__} is installed" in done.step("Install leakguard").stdout
    assert done.step("Scan").code == 1 and done.failed  # the job fails
    assert reported(done, sarif_validator) == ["new.py"]  # old.py is before the range
    assert done.outputs["findings"] == "1"
    assert f"push {before[:12]}..{after[:12]}" in done.log
    assert "new.py" in done.summary and "old.py" not in done.summary
    assert stripe(1) not in done.summary + done.log + Path(done.outputs["report"]).read_text()


def test_push_of_a_new_branch_scans_what_no_other_branch_has(
    forge: Forge, sarif_validator: Any
) -> None:
    forge.dev.git("checkout", "-q", "-b", "topic")
    forge.dev.commit("topic leak", **{"topic.py": f"k = '{stripe(2)}'\n"})
    after = forge.dev.commit("more", **{"b.py": "y = 2\n"})
    forge.push("topic")
    workspace = forge.checkout(after)  # origin/topic is there too, at `after`
    payload = {"ref": "refs/heads/topic", "before": ZERO, "after": after, "created": True}
    done = run(forge, workspace, "push", payload)
    assert done.step("Scan").code == 1
    assert reported(done, sarif_validator) == ["topic.py"]


def test_push_deleting_a_branch_scans_nothing(forge: Forge, sarif_validator: Any) -> None:
    head = forge.dev.git("rev-parse", "HEAD")
    workspace = forge.checkout(head)
    payload = {"ref": "refs/heads/gone", "before": head, "after": ZERO, "deleted": True}
    done = run(forge, workspace, "push", payload)
    assert not done.failed, done.log
    assert reported(done, sarif_validator) == [] and done.outputs["findings"] == "0"
    assert "no commit to scan" in done.log


def test_pull_request_scans_base_to_head(forge: Forge, sarif_validator: Any) -> None:
    base = forge.dev.git("rev-parse", "HEAD")
    forge.dev.git("checkout", "-q", "-b", "feature")
    forge.dev.commit("feature leak", **{"feature.py": f"k = '{stripe(3)}'\n"})
    head = forge.dev.commit("clean", **{"c.py": "z = 3\n"})
    forge.push("feature")
    forge.dev.git("checkout", "-q", "main")
    forge.dev.commit("main moves on", **{"main.py": f"k = '{stripe(4)}'\n"})
    forge.push("main")
    workspace = forge.checkout(head)
    payload = {"pull_request": {"number": 7, "base": {"ref": "main", "sha": base},
                                "head": {"ref": "feature", "sha": head}}}  # fmt: skip
    done = run(forge, workspace, "pull_request", payload)
    assert done.step("Scan").code == 1
    assert reported(done, sarif_validator) == ["feature.py"]
    assert f"pull_request {base[:12]}..{head[:12]}" in done.log
    assert "feature.py" in done.summary


def test_fail_on_gates_the_job_and_findings_are_still_reported(
    forge: Forge, sarif_validator: Any
) -> None:
    base = forge.dev.git("rev-parse", "HEAD")
    forge.dev.git("checkout", "-q", "-b", "feature")
    # a made-up token fails GitHub's checksum: reported at low severity
    head = forge.dev.commit("low", **{"gh.py": f"t = '{GITHUB_PAT}'\n"})
    forge.push("feature")
    workspace = forge.checkout(head)
    payload = {"pull_request": {"base": {"sha": base}, "head": {"sha": head}}}
    done = run(forge, workspace, "pull_request", payload, **{"fail-on": "high"})
    assert not done.failed, done.log
    assert reported(done, sarif_validator) == ["gh.py"]
    assert "below high" in done.log
    done = run(forge, workspace, "pull_request", payload)
    assert done.step("Scan").code == 1


def test_other_events_scan_the_files_under_path(forge: Forge, sarif_validator: Any) -> None:
    head = forge.dev.git("rev-parse", "HEAD")
    workspace = forge.checkout(head)
    (workspace / "sub").mkdir()
    (workspace / "sub" / "app.env").write_text(f"STRIPE={stripe(5)}\n")
    done = run(forge, workspace, "schedule", {"schedule": "0 3 * * *"}, path="sub")
    assert done.step("Scan").code == 1
    assert [Path(u).name for u in reported(done, sarif_validator)] == ["app.env"]
    # args reach the command; upload-sarif: false leaves the upload out
    done = run(forge, workspace, "schedule", {}, path="sub",
               args="--disable stripe-secret-key", **{"upload-sarif": "false"})  # fmt: skip
    assert not done.failed, done.log
    assert done.outputs["findings"] == "0"
    assert not done.step("Upload SARIF to code scanning").ran


def test_baseline_input_accepts_known_findings(forge: Forge, sarif_validator: Any) -> None:
    head = forge.dev.git("rev-parse", "HEAD")
    workspace = forge.checkout(head)
    made = subprocess.run(
        [sys.executable, "-m", "leakguard", "baseline", "create", "-o", "known.json", "."],
        cwd=workspace, capture_output=True, text=True,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    done = run(forge, workspace, "workflow_dispatch", {}, **{"git-range": "all"})
    assert done.step("Scan").code == 1 and reported(done, sarif_validator) == ["old.py"]
    done = run(forge, workspace, "workflow_dispatch", {},
               **{"git-range": "all", "baseline": "known.json"})  # fmt: skip
    assert not done.failed, done.log
    assert done.outputs["findings"] == "0"


def test_image_input_scans_the_image(forge: Forge, sarif_validator: Any) -> None:
    from tests.detectors.test_image import Spec, file, layer_tar, write_archive

    head = forge.dev.git("rev-parse", "HEAD")
    workspace = forge.checkout(head)
    layer = layer_tar([file("app/.env", f"STRIPE={stripe(7)}\n")])
    archive = write_archive(forge.tmp / "app.tar", Spec(layers=[layer]))
    done = run(forge, workspace, "push", {"ref": "refs/heads/main", "before": head,
               "after": head}, image=f"docker-archive:{archive}")  # fmt: skip
    assert done.step("Scan").code == 1
    assert reported(done, sarif_validator) == ["app/.env"]  # in the image, not old.py
    assert "image docker-archive:" in done.log


def test_a_shallow_checkout_missing_the_range_is_an_error_with_a_hint(forge: Forge) -> None:
    before = forge.dev.git("rev-parse", "HEAD")
    after = forge.dev.commit("clean", **{"a.py": "x = 1\n"})
    forge.push("main")
    workspace = forge.tmp / "shallow"
    proc = git(forge.tmp, "clone", "-q", "--depth", "1", f"file://{forge.origin}", str(workspace))
    assert proc.returncode == 0, proc.stderr
    payload = {"pull_request": {"base": {"sha": before}, "head": {"sha": after}}}
    done = run(forge, workspace, "pull_request", payload)
    assert done.step("Scan").code == 3
    assert "fetch-depth: 0" in done.log
    assert "Traceback" not in done.log


def test_action_metadata_is_what_the_readme_promises() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert set(action["inputs"]) >= {"path", "git-range", "image", "fail-on", "baseline", "args"}
    assert set(action["outputs"]) == {"findings", "report"}
    readme = (ROOT / "README.md").read_text()
    for name in action["inputs"]:
        assert f"`{name}`" in readme, f"README's CI section does not document input {name}"


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("LEAKGUARD_TEST_INSTALL"),
    reason="installs leakguard and its dependencies into a new venv (1-2 minutes); "
    "LEAKGUARD_TEST_INSTALL=1 runs it",
)
def test_the_action_installs_itself(forge: Forge, sarif_validator: Any) -> None:
    """No leakguard on PATH: the action installs itself from its own folder."""
    before = forge.dev.git("rev-parse", "HEAD")
    after = forge.dev.commit("leak", **{"new.py": f"k = '{stripe(6)}'\n"})
    forge.push("main")
    workspace = forge.checkout(after)
    event_path = forge.tmp / "event.json"
    event_path.write_text(json.dumps({"ref": "refs/heads/main", "before": before, "after": after}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    env.update(ENV, HOME=str(forge.tmp / "home"), PATH="/usr/local/bin:/usr/bin:/bin")
    work = forge.tmp / "runner"
    work.mkdir()
    done = run_action(
        ROOT,
        inputs={"python": sys.executable},
        github={"workspace": str(workspace), "event_name": "push", "event_path": str(event_path)},
        env=env,
        work=work,
    )
    assert done.step("Install leakguard").code == 0, done.log
    assert (work / "runner-temp" / "leakguard-venv" / "bin" / "leakguard").exists()
    assert done.step("Scan").code == 1, done.log
    assert reported(done, sarif_validator) == ["new.py"]


def test_ci_github_range_choices(forge: Forge, monkeypatch: pytest.MonkeyPatch) -> None:
    from leakguard.commands.ci import github_revisions
    from tests.test_cli import run as lg

    first = forge.dev.git("rev-list", "--max-parents=0", "HEAD")
    head = forge.dev.git("rev-parse", "HEAD")
    workspace = forge.checkout(head)
    event = forge.tmp / "merge.json"
    event.write_text(json.dumps({"merge_group": {"base_sha": first, "head_sha": head}}))
    env = {"GITHUB_EVENT_NAME": "merge_group", "GITHUB_EVENT_PATH": str(event)}
    assert github_revisions(str(workspace), env) == (
        (head, "^" + first), f"merge_group {first[:12]}..{head[:12]}",
    )  # fmt: skip
    assert github_revisions(str(workspace), {"GITHUB_EVENT_NAME": "schedule"}) is None
    sarif = str(forge.tmp / "r.sarif")
    code, _out, err = lg("ci", "github", "--path", str(workspace), "--git-range",
                         f"{first}..{head}", "--sarif", sarif)  # fmt: skip
    assert code == 1 and f"commits {first}..{head}" in err
    code, _out, err = lg("ci", "github", "--path", str(workspace), "--git-range", f"{head}..HEAD",
                         "--sarif", sarif)  # fmt: skip
    assert code == 0, err
    code, _out, err = lg("ci", "github", "--git-range", "main", "--sarif", sarif)
    assert code == 2 and "is not auto, none, all or A..B" in err
    code, _out, err = lg("ci", "github", "--path", str(workspace), "--git-range",
                         "nosuch..HEAD", "--sarif", sarif)  # fmt: skip
    assert code == 2 and "unknown revision" in err
    monkeypatch.delenv("GITHUB_EVENT_NAME", raising=False)
    code, _out, err = lg("ci", "github", "--path", str(workspace), "--sarif", sarif)
    assert code == 1 and "files under" in err  # no event: the files under PATH
    event.write_text("{not json")
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    code, _out, err = lg("ci", "github", "--path", str(workspace), "--sarif", sarif)
    assert code == 3 and "cannot read the event payload" in err
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    event.write_text(json.dumps({"pull_request": {"head": {"sha": head}}}))
    code, _out, err = lg("ci", "github", "--path", str(workspace), "--sarif", sarif)
    assert code == 3 and "names no base or no head commit" in err


def test_events_without_commits_scan_files_outside_any_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_cli import run as lg

    (tmp_path / "app.env").write_text(f"STRIPE={stripe(8)}\n")
    monkeypatch.setenv("GITHUB_EVENT_NAME", "workflow_dispatch")
    code, _out, err = lg("ci", "github", "--path", str(tmp_path), "--sarif",
                         str(tmp_path / "r.sarif"))  # fmt: skip
    assert code == 1 and "files under" in err, err
    payload = tmp_path / "pr.json"
    payload.write_text(json.dumps({"pull_request": {"head": {"sha": "a" * 40}}}))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(payload))
    code, _out, err = lg("ci", "github", "--path", str(tmp_path))
    assert code == 3 and "not a readable git repository" in err


def test_job_summary_is_cut_at_a_row_to_what_github_takes() -> None:
    from leakguard.commands.ci import job_summary

    rows = "".join(f"| high | rule | f{n}.py:1 | `abc…` | message |\n" for n in range(5000))
    table = "### leakguard\n\n| a | b | c | d | e |\n| --- | --- | --- | --- | --- |\n" + rows
    cut = job_summary(table, limit=10_000)
    assert len(cut.encode()) <= 10_000
    body = cut.split("\n\n*")[0]
    assert body.endswith("message |") and "| f0.py:1 |" in body
    shown = body.count("\n| high")
    assert f"*{5000 - shown} more row(s)" in cut
    assert job_summary("### leakguard\n\nNo secrets found.\n") == (
        "### leakguard\n\nNo secrets found.\n\n"
    )
