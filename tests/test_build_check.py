"""`leakguard build-check`: a build's Dockerfiles, Compose files and context in one report."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from leakguard.cli import FORMATS
from tests import test_ci_cli as ci
from tests.conftest import AWS_KEY_ID, GITHUB_PAT, PASSWORD, fake
from tests.test_ci_cli import gitlab_schema  # noqa: F401
from tests.test_cli import run

NPM_TOKEN = fake("npm" + "_", 36, seed=31)


def leaky_build(root: Path) -> Path:
    """A web image that copies its whole folder (an .npmrc too), an api image built
    by Compose from its own folder with a token in ENV, and a literal password in
    the Compose file."""
    (root / "api").mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM python:3.12-slim\nWORKDIR /app\nCOPY . /app\n")
    (root / ".npmrc").write_text(f"//registry.npmjs.org/:_authToken={NPM_TOKEN}\n")
    (root / "app.py").write_text(f'TOKEN = "{GITHUB_PAT}"\n')
    (root / "api" / "Dockerfile").write_text(f"FROM python:3.12-slim\nENV AWS_KEY={AWS_KEY_ID}\n")
    (root / "compose.yaml").write_text(
        "services:\n"
        "  web:\n    build: .\n"
        "  api:\n    build:\n      context: api\n"
        f"  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: {PASSWORD}\n"
    )
    return root


def report(*args: str, cwd: Path | None = None) -> tuple[int, list[dict], str]:
    code, out, err = run("build-check", *args, "-f", "json", cwd=cwd)
    assert "Traceback" not in err
    return code, json.loads(out)["findings"] if out else [], err


def test_one_report_holds_the_dockerfiles_the_compose_file_and_the_context(tmp_path):
    root = leaky_build(tmp_path / "proj")
    code, findings, _ = report(str(root))
    assert code == 1
    seen = {(f["location"]["surface"], Path(f["location"]["path"]).relative_to(root).as_posix(),
             f["rule_id"]) for f in findings}  # fmt: skip
    assert ("dockerfile", "api/Dockerfile", "aws-access-key-id") in seen  # via Compose's build:
    assert ("compose", "compose.yaml", "keyword-secret") in seen
    assert ("dockerfile", "Dockerfile", "dockerfile-context-credential-file") in seen  # .npmrc
    assert ("file", "app.py", "github-pat") in seen  # copied by COPY . /app
    # `context` alone reports no Compose literal:
    _, only_context, _ = run("context", str(root), "-f", "json")
    assert not any(
        f["location"]["surface"] == "compose" for f in json.loads(only_context)["findings"]
    )


def test_each_finding_is_reported_once(tmp_path):
    root = leaky_build(tmp_path / "proj")
    # The folder's Dockerfile is also the `build: .` of Compose's web service.
    code, findings, _ = report(".", cwd=root)
    assert code == 1
    where = Counter((f["rule_id"], f["location"]["path"], f["location"]["line"],
                     f["location"]["column"]) for f in findings)  # fmt: skip
    assert max(where.values()) == 1, where
    assert {f["location"]["path"] for f in findings} >= {"Dockerfile", "api/Dockerfile", "app.py"}


def test_dockerignore_keeps_a_file_out_of_the_report(tmp_path):
    root = leaky_build(tmp_path / "proj")
    (root / ".dockerignore").write_text(".npmrc\napp.py\n")
    _, findings, _ = report(str(root))
    assert not any(f["location"]["path"].endswith(("app.py", ".npmrc")) for f in findings)
    assert any(f["location"]["path"].endswith("api/Dockerfile") for f in findings)


def test_a_compose_build_without_its_dockerfile_is_reported_unread(tmp_path):
    root = leaky_build(tmp_path / "proj")
    (root / "api" / "Dockerfile").unlink()
    code, findings, err = report(str(root / "compose.yaml"))
    assert code == 3
    assert "no such Dockerfile (the `build:` of service api" in err
    assert any(f["rule_id"] == "dockerfile-context-credential-file" for f in findings)


def test_a_single_dockerfile_or_compose_file_is_checked_alone(tmp_path):
    root = leaky_build(tmp_path / "proj")
    code, findings, _ = report(str(root / "api" / "Dockerfile"))
    assert code == 1 and {f["rule_id"] for f in findings} == {"aws-access-key-id"}
    (root / "compose.yaml").unlink()
    # The folder as the context of another Dockerfile (one that copies nothing).
    code, findings, _ = report(str(root), "--dockerfile", str(root / "api" / "Dockerfile"))
    assert code == 1 and {f["rule_id"] for f in findings} == {"aws-access-key-id"}


def test_a_dockerfile_named_otherwise_is_still_read_as_a_dockerfile(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "app.docker").write_text(f"FROM scratch\nARG NPM_TOKEN={NPM_TOKEN}\n")
    for args in ([str(root), "--dockerfile", str(root / "app.docker")], [str(root / "app.docker")]):
        code, findings, _ = report(*args)
        assert code == 1
        (finding,) = findings
        assert finding["location"]["surface"] == "dockerfile"
        assert "ARG default" in finding["message"]


def test_nothing_to_check_and_a_missing_path_are_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    code, out, err = run("build-check", str(tmp_path / "empty"))
    assert code == 2 and "no Dockerfile or Compose file in" in err and not out
    code, _, err = run("build-check", str(tmp_path / "missing"))
    assert code == 3 and err.startswith("leakguard: error: ") and "does not exist" in err


def test_the_options_are_spelled_as_on_every_reporting_command():
    ci.test_every_reporting_command_spells_the_options_the_same(("build-check",))


def test_every_format_is_written_and_holds_no_secret(tmp_path, gitlab_schema):  # noqa: F811
    root = leaky_build(tmp_path / "proj")
    for fmt in FORMATS:
        code, out, err = run("build-check", str(root), "-f", fmt)
        assert code == 1, (fmt, err)
        ci._check(fmt, out, gitlab_schema)
        for secret in (NPM_TOKEN, GITHUB_PAT, AWS_KEY_ID, PASSWORD):
            assert secret not in out + err, fmt
