"""Gates (--fail-on, --min-severity), terminal behaviour (--quiet, --color,
--no-progress), one summary wording, and every report format on every command
that reports, through the real command line."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from leakguard.cli import COLORS, FORMATS, SEVERITIES, cli, use_color
from tests.conftest import GITHUB_PAT, PASSWORD, STRIPE_KEY
from tests.detectors.test_git_history import Repo
from tests.test_cli import run

DATA = Path(__file__).parent / "data"
PLANTED = (GITHUB_PAT, STRIPE_KEY, PASSWORD)


def _command(*names: str) -> click.Command:
    ctx = click.Context(cli)
    command: Any = cli
    for name in names:
        command = command.get_command(ctx, name)
    assert isinstance(command, click.Command)
    return command


REPORTING = [("scan",), ("git",), ("image",), ("sweep",), ("context",),
             ("hook", "pre-push"), ("hook", "pre-commit"), ("hook", "pre-receive")]  # fmt: skip


@pytest.mark.parametrize("names", REPORTING, ids=" ".join)
def test_every_reporting_command_spells_the_options_the_same(names: tuple[str, ...]) -> None:
    params = {p.name: p for p in _command(*names).params if isinstance(p, click.Option)}
    expected = {
        "fmt": (["-f", "--format"], FORMATS),
        "output": (["-o", "--output"], None),
        "show_secrets": (["--show-secrets"], None),
        "quiet": (["-q", "--quiet"], None),
        "color": (["--color"], COLORS),
        "no_progress": (["--no-progress"], None),
        "fail_on": (["--fail-on"], SEVERITIES),
        "min_severity": (["--min-severity"], SEVERITIES),
        "min_confidence": (["--min-confidence"], ("low", "medium", "high")),
    }
    for name, (opts, choices) in expected.items():
        assert name in params, f"{' '.join(names)} lacks {opts}"
        assert params[name].opts == opts
        if choices is not None:
            assert isinstance(params[name].type, click.Choice)
            assert tuple(params[name].type.choices) == tuple(choices)


# -- gates --------------------------------------------------------------------------


def _findings(out: str) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = json.loads(out)["findings"]
    return findings


def test_fail_on_gates_the_exit_code_and_still_reports(leaky_tree: Path) -> None:
    code, out, err = run("scan", "-f", "json", "--fail-on", "critical", str(leaky_tree))
    assert code == 1  # the Stripe key is critical
    assert "leakguard: exit 1: 1 finding at or above critical (2 below critical" in err
    (leaky_tree / ".env").unlink()
    code, out, err = run("scan", "-f", "json", "--fail-on", "high", str(leaky_tree))
    assert code == 0
    assert [f["severity"] for f in _findings(out)] == ["low"]  # reported, not failing
    assert "leakguard: exit 0: no finding at or above high (1 below high, reported only)" in err
    code, out, err = run("scan", "-f", "json", str(leaky_tree))
    assert code == 1 and "leakguard: exit 1: 1 finding\n" in err


def test_min_severity_drops_findings_below_it(leaky_tree: Path) -> None:
    code, out, _ = run("scan", "-f", "json", str(leaky_tree))
    assert len(_findings(out)) == 3
    code, out, _ = run("scan", "-f", "json", "--min-severity", "high", str(leaky_tree))
    assert code == 1
    assert sorted(f["severity"] for f in _findings(out)) == ["critical", "high"]
    code, out, err = run("scan", "-f", "json", "--min-severity", "unknown", str(leaky_tree))
    assert code == 2 and "'unknown' is not one of" in err


def test_gates_in_the_config_and_the_command_line_wins(leaky_tree: Path) -> None:
    (leaky_tree / ".leakguard.toml").write_text('fail_on = "critical"\nmin_severity = "high"\n')
    (leaky_tree / ".env").write_text(f"DB_PASSWORD={PASSWORD}\n")
    code, out, err = run("scan", "-f", "json", str(leaky_tree))
    assert code == 0, err
    assert [f["rule_id"] for f in _findings(out)] == ["keyword-secret"]
    code, out, _ = run("scan", "-f", "json", "--fail-on", "high", str(leaky_tree))
    assert code == 1
    code, out, _ = run("scan", "-f", "json", "--min-severity", "low", str(leaky_tree))
    assert len(_findings(out)) == 2
    (leaky_tree / ".leakguard.toml").write_text('fail_on = "severe"\n')
    code, _, err = run("scan", str(leaky_tree))
    assert code == 2
    assert "`fail_on` must be one of critical, high, medium, low, not 'severe'" in err


# -- terminal behaviour ---------------------------------------------------------------


def test_quiet_prints_the_report_only(leaky_tree: Path) -> None:
    code, out, err = run("scan", "-q", str(leaky_tree))
    assert code == 1 and err == ""
    assert "stripe-secret-key" in out and " findings (" not in out
    code, out, err = run("scan", "--quiet", "--max-file-size", "10", "-f", "json", str(leaky_tree))
    assert code == 3 and err == "" and json.loads(out)["skipped"]


def test_one_summary_wording_with_the_exit_code_explained(leaky_tree: Path) -> None:
    def same(text: str) -> str:
        return re.sub(r"\d+\.\d+s", "Ns", text)

    _, out, err = run("scan", str(leaky_tree))
    text_summary = out.rstrip("\n").splitlines()[-1]
    assert text_summary.startswith("3 findings (1 critical, 1 high, 1 low) in 3 files")
    assert err == "leakguard: exit 1: 3 findings\n"
    for fmt in ("json", "csv", "markdown"):
        _, _, err = run("scan", "-f", fmt, str(leaky_tree))
        assert same(err.splitlines()[-2]) == same("leakguard: " + text_summary)
    code, _, err = run("scan", "--max-file-size", "10", "-f", "json", str(leaky_tree))
    assert code == 3
    assert err.splitlines()[-2].endswith("; 3 could not be read")
    assert err.splitlines()[-1] == (
        "leakguard: exit 3: 3 targets could not be read (nothing found in the rest)"
    )


@pytest.mark.parametrize(
    ("choice", "env", "tty", "expected"),
    [
        ("auto", {}, True, True),
        ("auto", {}, False, False),
        ("auto", {"NO_COLOR": "1"}, True, False),
        ("auto", {"NO_COLOR": ""}, True, True),  # set but empty: not a request
        ("auto", {"FORCE_COLOR": "1"}, False, True),
        ("auto", {"FORCE_COLOR": "0"}, True, True),
        ("auto", {"FORCE_COLOR": "0"}, False, False),
        ("auto", {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, False),
        ("always", {"NO_COLOR": "1"}, False, True),
        ("never", {"FORCE_COLOR": "1"}, True, False),
    ],
)
def test_color_choice(choice: str, env: dict[str, str], tty: bool, expected: bool) -> None:
    assert use_color(choice, tty, env) is expected


def test_color_on_the_command_line(leaky_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert "\x1b[" not in run("scan", str(leaky_tree))[1]
    assert "\x1b[" in run("scan", "--color", "always", str(leaky_tree))[1]
    assert "\x1b[" not in run("scan", "--color", "always", "-f", "csv", str(leaky_tree))[1]
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" in run("scan", str(leaky_tree))[1]
    assert "\x1b[" not in run("scan", "--color", "never", str(leaky_tree))[1]
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in run("scan", str(leaky_tree))[1]


def _on_a_terminal(*args: str) -> str:
    """Run leakguard with its standard error on a pseudo-terminal; what it wrote there."""
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "leakguard", *args],
            stdout=subprocess.DEVNULL, stderr=follower, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode in (0, 1)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal is closed: all was read
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(leader)


def test_short_work_shows_no_progress_on_a_terminal(leaky_tree: Path, tmp_path: Path) -> None:
    """Progress shows once work runs long (tests/test_progress.py runs long work)."""
    for flags in ((), ("--no-progress",), ("--quiet",)):
        shown = _on_a_terminal("scan", *flags, "-j", "1", str(leaky_tree))
        assert "scanning files" not in shown and "\x1b[" not in shown
    repo = Repo(tmp_path / "r")
    repo.commit("one", **{"a.py": "x = 1\n"})
    shown = _on_a_terminal("git", "-j", "1", str(repo.path))
    assert "commits" not in shown and "\x1b[" not in shown


# -- every format on every reporting command --------------------------------------------


def _check(fmt: str, out: str, gitlab_schema: Any) -> None:
    """The report parses as its format says."""
    if fmt in ("json", "sarif"):
        json.loads(out)
    elif fmt == "gitlab":
        import jsonschema

        jsonschema.validate(json.loads(out), gitlab_schema)
    elif fmt == "junit":
        import xmlschema

        xmlschema.XMLSchema(DATA / "junit-10.xsd").validate(out)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out, newline=""), strict=True))
        assert rows[0][0] == "severity"
    elif fmt == "markdown":
        assert out.startswith("### leakguard\n")
    elif fmt == "html":
        assert out.startswith("<!DOCTYPE html>") and out.endswith("</html>\n")


@pytest.fixture(scope="module")
def gitlab_schema() -> Any:
    return json.loads((DATA / "gitlab-secret-detection-report-format-15.2.1.json").read_text())


def test_git_context_and_hooks_write_every_format(tmp_path: Path, gitlab_schema: Any) -> None:
    repo = Repo(tmp_path / "r")
    sha = repo.commit("leak", **{"app.py": f"TOKEN = '{STRIPE_KEY}'\n"})
    repo.write("Dockerfile", "FROM scratch\nCOPY . /app\n")
    repo.write(".env", f"DB_PASSWORD={PASSWORD}\n")
    repo.git("add", "Dockerfile", ".env")
    commands = {
        "git": ["git", str(repo.path)],
        "context": ["context", str(repo.path)],
        "hook pre-commit": ["hook", "pre-commit", "-C", str(repo.path)],
    }
    for fmt in FORMATS:
        for name, args in commands.items():
            code, out, err = run(*args, "-f", fmt, "--no-baseline")
            assert code == 1, (name, fmt, err)
            _check(fmt, out, gitlab_schema)
            for secret in PLANTED:
                assert secret not in out + err, (name, fmt)
    code, out, _ = run("git", str(repo.path), "-f", "gitlab")
    vuln = json.loads(out)["vulnerabilities"][0]
    assert vuln["location"]["commit"]["sha"] == sha and vuln["location"]["file"] == "app.py"


def test_image_reports_in_every_format(tmp_path: Path, gitlab_schema: Any) -> None:
    from tests.detectors.test_image import LEAKY, write_archive

    path = write_archive(tmp_path / "a.tar", LEAKY)
    for fmt in FORMATS:
        code, out, err = run(
            "image", "--no-cache", "-f", fmt, f"docker-archive:{path}", "--no-baseline"
        )
        assert code == 1, err
        _check(fmt, out, gitlab_schema)
    code, out, _ = run("image", "--no-cache", "-f", "sarif", f"docker-archive:{path}")
    run_ = json.loads(out)["runs"][0]
    (base,) = run_["originalUriBaseIds"].values()
    assert base["uri"].startswith("oci:")
    for result in run_["results"]:
        location = result["locations"][0]
        assert location["physicalLocation"]["artifactLocation"]["uriBaseId"]
        assert location["logicalLocations"][0]["kind"] == "image"
        assert not location["physicalLocation"]["artifactLocation"]["uri"].startswith("/")


def test_migrate_plan_as_json(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM alpine\nARG GITHUB_TOKEN={GITHUB_PAT}\nRUN echo $GITHUB_TOKEN > /dev/null\n"
    )
    code, out, err = run("migrate", "-f", "json", str(tmp_path))
    assert code == 1, err
    plan = json.loads(out)
    assert plan["applied"] is False
    assert [m["name"] for m in plan["moves"]] == ["github_token"]
    assert plan["moves"][0]["redacted"].startswith("ghp_")
    assert any(e["path"].endswith("Dockerfile") for e in plan["edits"])
    assert "+" in plan["diff"]
    assert GITHUB_PAT not in out + err
    before = (tmp_path / "Dockerfile").read_text()
    assert GITHUB_PAT in before  # nothing written without --apply
    code, out, err = run("migrate", "-f", "json", "--apply", str(tmp_path))
    assert code == 0, err
    applied = json.loads(out)
    assert applied["applied"] is True and applied["written"]
    assert GITHUB_PAT not in out + err
    assert GITHUB_PAT not in (tmp_path / "Dockerfile").read_text()


def test_the_exit_line_names_findings_beside_what_could_not_be_read() -> None:
    from leakguard.errors import ExitCode
    from leakguard.models import Severity
    from leakguard.policy import exit_code_for, explain
    from tests.formats.results import empty_result, leaky_result

    result = leaky_result()
    code = exit_code_for(result, Severity.CRITICAL)
    assert code == ExitCode.UNREADABLE  # a gate never hides a partial scan
    assert explain(result, code, Severity.CRITICAL) == (
        "exit 3: 2 targets could not be read (7 findings in the rest)"
    )
    result.skipped.clear()
    assert exit_code_for(result, Severity.CRITICAL) == ExitCode.FINDINGS
    assert explain(result, ExitCode.FINDINGS, Severity.HIGH) == (
        "exit 1: 6 findings at or above high (1 below high, reported only)"
    )
    assert explain(empty_result(), ExitCode.CLEAN) == "exit 0: no finding"
