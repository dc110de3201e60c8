"""Every format: complete table, schema-valid output, no secret unless asked."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for

from leakguard.formats import RENDERERS, Format, ReportOptions, render
from leakguard.formats.sarif import artifact_uri, identity_fingerprint
from leakguard.models import Location, Origin, ScanResult, Skipped, Surface
from tests.formats.results import GITHUB_PAT, SECRETS, STRIPE

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def report_validator() -> Draft202012Validator:
    text = resources.files("leakguard.formats").joinpath("report.schema.json").read_text()
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.fixture(scope="module")
def sarif_validator() -> Any:
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    cls = validator_for(schema)  # the schema declares draft-04
    cls.check_schema(schema)
    return cls(schema)


def test_every_format_has_a_renderer(leaky_result: ScanResult) -> None:
    for fmt in Format:
        assert fmt in RENDERERS
        out = render(fmt, leaky_result, ReportOptions())
        assert out.endswith("\n")


@pytest.mark.parametrize("show_secrets", [False, True])
def test_json_matches_its_schema(
    report_validator: Draft202012Validator,
    leaky_result: ScanResult,
    empty_result: ScanResult,
    show_secrets: bool,
) -> None:
    for result in (leaky_result, empty_result):
        report = json.loads(render(Format.JSON, result, ReportOptions(show_secrets=show_secrets)))
        report_validator.validate(report)


def test_json_contract(leaky_result: ScanResult) -> None:
    report = json.loads(render(Format.JSON, leaky_result, ReportOptions(tool_version="9.9")))
    assert (report["tool"], report["version"]) == ("leakguard", "9.9")
    assert len(report["findings"]) == len(leaky_result.findings)
    first = report["findings"][0]
    assert "secret" not in first
    assert first["location"] == {
        "surface": "file",
        "path": "samples/.env",
        "line": 3,
        "column": 19,
        "commit": None,
        "author": None,
        "date": None,
        "image": None,
        "layer": None,
        "origin": None,
        "deleted": False,
        "present_in_head": None,
        "occurrences": None,
        "inherited": None,
        "first_seen": None,
        "last_seen": None,
        "in_newest_tag": None,
    }
    assert report["skipped"][1] == {
        "target": "samples/big.tar",
        "reason": "larger than 50 MB",
        "error": True,
    }
    assert report["stats"]["duration_s"] == 1.234
    assert report["stats"]["skipped_binary"] == 1


def test_sarif_matches_the_2_1_0_schema(
    sarif_validator: Any, leaky_result: ScanResult, empty_result: ScanResult
) -> None:
    for result in (leaky_result, empty_result):
        for show_secrets in (False, True):
            log = json.loads(render(Format.SARIF, result, ReportOptions(show_secrets=show_secrets)))
            sarif_validator.validate(log)


def test_sarif_for_github(leaky_result: ScanResult) -> None:
    log = json.loads(render(Format.SARIF, leaky_result, ReportOptions()))
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert "informationUri" not in run["tool"]["driver"]
    # One rule per rule id, in first-seen order; results point at their rule.
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)) == len({f.rule_id for f in leaky_result.findings})
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
    levels = [r["level"] for r in run["results"]]
    assert levels == ["error", "error", "error", "error", "error", "error", "warning"]
    assert rules[0]["properties"]["tags"] == ["security", "secret"]

    by_rule = {r["ruleId"]: r for r in run["results"]}
    env_image = run["results"][4]
    assert "region" not in env_image["locations"][0]["physicalLocation"]
    # relative to the image (its uriBaseId), not a path of the repository
    assert env_image["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "env"
    assert env_image["properties"]["origin"] == "env"
    npm = by_rule["npm-token"]["locations"][0]["physicalLocation"]
    assert npm["artifactLocation"]["uri"] == "root/.npmrc"
    assert npm["region"] == {"startLine": 1, "startColumn": 31}
    settings = by_rule["keyword-secret"]["locations"][0]["physicalLocation"]
    assert settings["region"] == {"startLine": 7}
    git = by_rule["github-pat"]["properties"]
    assert git["deleted"] is True and git["commit"] == leaky_result.findings[3].location.commit

    invocation = run["invocations"][0]
    # two targets could not be read: the run is not complete, and says so
    assert invocation["executionSuccessful"] is False
    notes = invocation["toolExecutionNotifications"]
    assert [n["level"] for n in notes] == ["error", "error"]
    assert "samples/big.tar" in notes[1]["message"]["text"]


def test_sarif_notes_leave_the_run_complete(empty_result: ScanResult) -> None:
    empty_result.skipped.append(Skipped("secrets/db", "a local secret file", error=False))
    run = json.loads(render(Format.SARIF, empty_result, ReportOptions()))["runs"][0]
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is True
    notes = invocation["toolExecutionNotifications"]
    assert [n["level"] for n in notes] == ["note"]
    assert notes[0]["message"]["text"].startswith("Skipped secrets/db")


def test_sarif_fingerprint_survives_line_moves(leaky_result: ScanResult) -> None:
    finding = leaky_result.findings[0]
    moved = replace(finding, location=finding.location.at(40, 1))
    assert identity_fingerprint(moved) == identity_fingerprint(finding)
    assert identity_fingerprint(leaky_result.findings[1]) != identity_fingerprint(finding)


@pytest.mark.parametrize(
    ("location", "uri"),
    [
        (Location(path="./app/settings.py"), "app/settings.py"),
        (Location(path="conf\\prod env.yml"), "conf/prod%20env.yml"),
        (Location(path="/srv/app/.env"), "file:///srv/app/.env"),
        (Location(Surface.IMAGE, path="/app/.env", image="python:3.12"), "app/.env"),
        (Location(Surface.IMAGE, image="python:3.12-slim"), "config"),
        (Location(Surface.IMAGE, image="python:3.12-slim", origin=Origin.LABEL), "label"),
    ],
)
def test_sarif_uris(location: Location, uri: str) -> None:
    assert artifact_uri(location) == uri


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("color", [False, True])
def test_no_secret_unless_asked(leaky_result: ScanResult, fmt: Format, color: bool) -> None:
    hidden = render(fmt, leaky_result, ReportOptions(color=color))
    shown = render(fmt, leaky_result, ReportOptions(color=color, show_secrets=True))
    for secret in SECRETS:
        assert secret not in hidden
    for secret in (STRIPE, GITHUB_PAT):
        # a .secrets.baseline holds hashes only, whatever is asked
        assert (secret in shown) is (fmt is not Format.DETECT_SECRETS)


def test_json_secret_field_only_when_asked(leaky_result: ScanResult) -> None:
    report = json.loads(render(Format.JSON, leaky_result, ReportOptions(show_secrets=True)))
    assert [f["secret"] for f in report["findings"]][0] == STRIPE


@pytest.mark.parametrize("fmt", list(Format))
def test_colour_only_when_asked(leaky_result: ScanResult, fmt: Format) -> None:
    assert "\x1b" not in render(fmt, leaky_result, ReportOptions(color=False))
    coloured = render(fmt, leaky_result, ReportOptions(color=True))
    assert ("\x1b[" in coloured) is (fmt is Format.TEXT)


def test_a_name_that_is_not_utf8_reads_as_backslash_x_in_every_format(
    tmp_path: Path, report_validator: Draft202012Validator, sarif_validator: Any
) -> None:
    """A real file named b"cred\\xff.env", scanned by the real command line: every
    format is valid UTF-8 and shows the byte the same way."""
    import subprocess
    import sys

    root = tmp_path / "proj"
    root.mkdir()
    with open(os.path.join(os.fsencode(root), b"cred\xff.env"), "w") as fh:
        fh.write(f"STRIPE_KEY={STRIPE}\n")
    (root / "README.md").write_text("nothing\n")
    outputs: dict[str, bytes] = {}
    for fmt in Format:
        done = subprocess.run(
            [sys.executable, "-m", "leakguard", "scan", "-f", fmt.value, str(root)],
            capture_output=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert b"internal error" not in done.stderr
        outputs[fmt.value] = done.stdout
        done.stdout.decode("utf-8")  # strict: no lone surrogate, no raw 0xff byte
    shown = str(root / "cred") + "\\xff.env"
    assert shown in outputs["text"].decode()
    report = json.loads(outputs["json"])
    report_validator.validate(report)
    assert [f["location"]["path"] for f in report["findings"]] == [shown]
    sarif = json.loads(outputs["sarif"])
    sarif_validator.validate(sarif)
    [result] = sarif["runs"][0]["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.endswith("/cred%FF.env")  # a URI carries the byte itself, percent-encoded
    for out in outputs.values():
        assert STRIPE.encode() not in out and b"\\udcff" not in out
