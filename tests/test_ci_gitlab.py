"""The GitLab CI template (ci/gitlab/leakguard.gitlab-ci.yml): its jobs' script
lines run with bash as a GitLab runner runs them (one shell, `set -eo pipefail`,
the variables exported), under a simulated CI_* environment, against real
repositories and a real registry."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from leakguard.formats.gitlab import SCHEMA_VERSION
from tests.conftest import fake
from tests.detectors.test_git_history import ENV
from tests.services import registry  # noqa: F401
from tests.test_ci_action import Forge

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "ci" / "gitlab" / "leakguard.gitlab-ci.yml"
DATA = Path(__file__).parent / "data"
SKOPEO = "/usr/bin/skopeo"
ZERO = "0" * 40


def token(n: int) -> str:
    return fake("sk_" + "live_", 24, seed=300 + n)


@pytest.fixture(scope="module")
def gitlab_validator() -> Draft7Validator:
    schema = json.loads((DATA / f"gitlab-secret-detection-report-format-{SCHEMA_VERSION}.json")
                        .read_text())  # fmt: skip
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def job(name: str) -> dict[str, Any]:
    """The job as GitLab sees it: `extends` merged (the job's own keys win) and
    the template's global variables below its own."""
    template = yaml.safe_load(TEMPLATE.read_text())

    def resolved(key: str) -> dict[str, Any]:
        spec = dict(template[key])
        parent = spec.pop("extends", None)
        if parent is None:
            return spec
        merged = resolved(parent)
        for k, v in spec.items():
            merged[k] = {**merged[k], **v} if isinstance(v, dict) and k in merged else v
        return merged

    spec = resolved(name)
    spec["variables"] = {**template.get("variables", {}), **spec.get("variables", {})}
    return spec


def run_job(name: str, cwd: Path, ci: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """before_script and script lines in one bash, with the job's variables
    exported after the predefined CI_* ones (they may refer to those); `ci` also
    holds the project's variables, which win over the YAML's."""
    spec = job(name)
    lines = ["set -eo pipefail"]
    for key, value in spec["variables"].items():
        if key not in ci:
            lines.append(f'export {key}="{value}"')  # expanded as the runner expands them
    lines += [*spec.get("before_script", []), *spec["script"]]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GITLAB_"))}
    env.update(ENV, HOME=str(cwd.parent / "home"), CI="true", GITLAB_CI="true",
               CI_PROJECT_DIR=str(cwd), **ci)  # fmt: skip
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", "\n".join(lines)],
        cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def files(report_path: Path, validator: Draft7Validator) -> list[str]:
    report = json.loads(report_path.read_text())
    validator.validate(report)
    return sorted(v["location"]["file"] for v in report["vulnerabilities"])


@pytest.fixture
def forge(tmp_path: Path) -> Forge:
    forge = Forge(tmp_path)
    forge.dev.commit("base", **{"README.md": "hello\n"})
    forge.dev.commit("old leak", **{"old.py": f"k = '{token(0)}'\n"})
    forge.push("main")
    return forge


def test_template_declares_the_report_artifacts() -> None:
    detection = job("leakguard-secret-detection")
    report = detection["artifacts"]["reports"]["secret_detection"]
    assert report == "gl-secret-detection-report.json"
    assert any(f"--report {report}" in line for line in detection["script"])
    assert detection["variables"]["GIT_DEPTH"] == "0"
    image = job(".leakguard-image")
    assert image["artifacts"]["reports"]["secret_detection"].endswith(".json")
    assert image["variables"]["LEAKGUARD_SCAN_IMAGE"] == "$CI_REGISTRY_IMAGE:$CI_COMMIT_SHA"


def test_merge_request_scans_the_diff_base_to_the_commit(
    forge: Forge, gitlab_validator: Draft7Validator
) -> None:
    base = forge.dev.git("rev-parse", "HEAD")
    forge.dev.git("checkout", "-q", "-b", "feature")
    forge.dev.commit("leak", **{"feature.py": f"k = '{token(1)}'\n"})
    head = forge.dev.commit("clean", **{"c.py": "z = 3\n"})
    forge.push("feature")
    workspace = forge.checkout(head)
    ci = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_COMMIT_SHA": head,
          "CI_MERGE_REQUEST_DIFF_BASE_SHA": base, "CI_COMMIT_BEFORE_SHA": ZERO}  # fmt: skip
    proc = run_job("leakguard-secret-detection", workspace, ci)
    assert proc.returncode == 1, proc.stderr
    assert files(workspace / "gl-secret-detection-report.json", gitlab_validator) == ["feature.py"]
    assert f"merge request {base[:12]}..{head[:12]}" in proc.stderr
    assert "feature.py" in proc.stdout  # the text report is in the job log
    assert token(1) not in proc.stdout + proc.stderr


def test_branch_pipeline_scans_before_to_the_commit_and_fail_on_gates_it(
    forge: Forge, gitlab_validator: Draft7Validator
) -> None:
    before = forge.dev.git("rev-parse", "HEAD")
    forge.dev.commit("leak", **{"new.py": f"k = '{token(2)}'\n"})
    head = forge.dev.commit("clean", **{"a.py": "x = 1\n"})
    forge.push("main")
    workspace = forge.checkout(head)
    ci = {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main", "CI_COMMIT_SHA": head,
          "CI_COMMIT_BEFORE_SHA": before}  # fmt: skip
    proc = run_job("leakguard-secret-detection", workspace, ci)
    assert proc.returncode == 1, proc.stderr
    report = workspace / "gl-secret-detection-report.json"
    assert files(report, gitlab_validator) == ["new.py"]
    ci["LEAKGUARD_ARGS"] = "--disable stripe-secret-key"
    proc = run_job("leakguard-secret-detection", workspace, ci)
    assert proc.returncode == 0, proc.stderr
    assert files(report, gitlab_validator) == []


def test_no_earlier_commit_scans_the_whole_history(
    forge: Forge, gitlab_validator: Draft7Validator
) -> None:
    forge.dev.git("checkout", "-q", "-b", "topic")
    head = forge.dev.commit("leak", **{"topic.py": f"k = '{token(3)}'\n"})
    forge.push("topic")
    workspace = forge.checkout(head)
    ci = {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "topic", "CI_COMMIT_SHA": head,
          "CI_COMMIT_BEFORE_SHA": ZERO}  # fmt: skip
    proc = run_job("leakguard-secret-detection", workspace, ci)
    assert proc.returncode == 1, proc.stderr
    report = workspace / "gl-secret-detection-report.json"
    assert files(report, gitlab_validator) == ["old.py", "topic.py"]
    assert "the whole history" in proc.stderr


@pytest.mark.registry
def test_image_job_scans_the_pipeline_image_in_the_registry(
    registry: str,  # noqa: F811
    tmp_path: Path,
    gitlab_validator: Draft7Validator,
) -> None:
    from tests.detectors.test_image import Spec, file, layer_tar, write_archive

    sha = "c0ffee" + "0" * 34
    layer = layer_tar([file("app/.env", f"STRIPE={token(4)}\n"), file("app/ok.txt", "fine\n")])
    archive = write_archive(tmp_path / "app.tar", Spec(layers=[layer]))
    image = f"{registry}/group/project"
    subprocess.run(
        [SKOPEO, "copy", "-q", "--dest-tls-verify=false", f"docker-archive:{archive}",
         f"docker://{image}:{sha}"],
        check=True,
    )  # fmt: skip
    workspace = tmp_path / "build"
    workspace.mkdir()
    ci = {"CI_REGISTRY": registry, "CI_REGISTRY_IMAGE": image, "CI_COMMIT_SHA": sha,
          "CI_REGISTRY_USER": "gitlab-ci-token", "CI_REGISTRY_PASSWORD": "job-token"}  # fmt: skip
    proc = run_job(".leakguard-image", workspace, ci)
    assert proc.returncode == 1, proc.stderr
    report = workspace / job(".leakguard-image")["artifacts"]["reports"]["secret_detection"]
    found = files(report, gitlab_validator)
    assert len(found) == 1 and found[0].endswith("/app/.env")
    assert f"{image}:{sha}" in found[0]
    assert token(4) not in proc.stdout + proc.stderr + report.read_text()
    # the job's credentials went into a job-only Docker config, not the project folder
    assert "job-token" not in "".join(p.read_text() for p in workspace.iterdir())
    # the project's config (cloned with it) applies to the image too
    (workspace / ".leakguard.toml").write_text('disable = ["stripe-secret-key"]\n')
    proc = run_job(".leakguard-image", workspace, ci)
    assert proc.returncode == 0, proc.stderr
    assert files(report, gitlab_validator) == []
    # an image the pipeline did not push is an error (exit 3), not a clean verdict
    proc = run_job(".leakguard-image", workspace, {**ci, "CI_COMMIT_SHA": "f" * 40})
    assert proc.returncode == 3, proc.stderr


def test_script_lines_are_valid_bash() -> None:
    for name in ("leakguard-secret-detection", ".leakguard-image"):
        spec = job(name)
        for line in [*spec["before_script"], *spec["script"]]:
            proc = subprocess.run(["bash", "-n", "-c", line], capture_output=True, text=True)
            assert proc.returncode == 0, f"{line}\n{proc.stderr}"
            assert shlex.split(line)  # no unbalanced quotes
