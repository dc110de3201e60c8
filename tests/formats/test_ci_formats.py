"""The formats CI systems read: GitLab secret detection, JUnit, CSV and Markdown,
and SARIF for findings in images."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft7Validator

from leakguard.cli import FORMATS
from leakguard.formats import Format, ReportOptions, render
from leakguard.formats.csv_report import COLUMNS, safe_cell
from leakguard.formats.gitlab import NO_COMMIT, SCHEMA_VERSION
from leakguard.models import Location, ScanResult, Severity, Skipped, Surface
from tests.formats.results import COMMIT, IMAGE, LAYER, STRIPE, make_finding

DATA = Path(__file__).parent.parent / "data"
FINISHED = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def gitlab_validator() -> Draft7Validator:
    path = DATA / f"gitlab-secret-detection-report-format-{SCHEMA_VERSION}.json"
    schema = json.loads(path.read_text())
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


@pytest.fixture(scope="module")
def junit_schema() -> Any:
    import xmlschema

    return xmlschema.XMLSchema(DATA / "junit-10.xsd")


def test_the_cli_offers_every_format_and_only_those() -> None:
    assert set(FORMATS) == {f.value for f in Format}


# -- GitLab ------------------------------------------------------------------------


def _gitlab(result: ScanResult, **options: Any) -> dict[str, Any]:
    text = render(Format.GITLAB, result, ReportOptions(finished_at=FINISHED, **options))
    report: dict[str, Any] = json.loads(text)
    return report


@pytest.mark.parametrize("show_secrets", [False, True])
def test_gitlab_matches_the_published_schema(
    gitlab_validator: Draft7Validator,
    leaky_result: ScanResult,
    empty_result: ScanResult,
    show_secrets: bool,
) -> None:
    for result in (leaky_result, empty_result):
        gitlab_validator.validate(_gitlab(result, show_secrets=show_secrets))


def test_gitlab_schema_is_strict_enough_to_catch_a_broken_report(
    gitlab_validator: Draft7Validator, leaky_result: ScanResult
) -> None:
    """The vendored schema is not a rubber stamp: what GitLab rejects, it rejects."""
    report = _gitlab(leaky_result)
    del report["vulnerabilities"][0]["location"]["commit"]
    with pytest.raises(jsonschema.ValidationError):
        gitlab_validator.validate(report)
    report = _gitlab(leaky_result)
    report["scan"]["end_time"] = "2026-03-01T12:00:30.5+00:00"
    with pytest.raises(jsonschema.ValidationError):
        gitlab_validator.validate(report)


def test_gitlab_vulnerabilities(leaky_result: ScanResult) -> None:
    report = _gitlab(leaky_result, tool_version="9.9")
    assert report["version"] == SCHEMA_VERSION
    assert report["scan"]["type"] == "secret_detection"
    assert report["scan"]["scanner"]["version"] == "9.9"
    assert (report["scan"]["start_time"], report["scan"]["end_time"]) == (
        "2026-03-01T12:00:28",
        "2026-03-01T12:00:30",
    )
    # two targets could not be read: the scan did not complete, and says why
    assert report["scan"]["status"] == "failure"
    assert [m["level"] for m in report["scan"]["messages"]] == ["warn", "warn"]
    vulns = report["vulnerabilities"]
    assert len(vulns) == len(leaky_result.findings)
    assert len({v["id"] for v in vulns}) == len(vulns)
    first = vulns[0]
    assert first["severity"] == "Critical"
    assert first["identifiers"] == [
        {
            "type": "leakguard_rule_id",
            "name": "leakguard rule stripe-secret-key",
            "value": "stripe-secret-key",
        }
    ]
    assert first["location"] == {
        "file": "samples/.env",
        "start_line": 3,
        "end_line": 3,
        "commit": {"sha": NO_COMMIT},
    }
    assert first["raw_source_code_extract"] == leaky_result.findings[0].redacted
    git = vulns[3]["location"]
    assert git["commit"] == {
        "sha": COMMIT,
        "author": "Dev <dev@example.com>",
        "date": "2024-03-01T12:00:00+00:00",
    }
    assert git["file"] == "config/prod.env"
    image_env, image_file = vulns[4]["location"], vulns[5]["location"]
    assert image_env["file"] == f"{IMAGE}:/env"
    assert image_file["file"] == f"{IMAGE}:/root/.npmrc"
    assert LAYER in vulns[5]["description"]
    assert [v["severity"] for v in vulns][-1] == "Medium"


def test_gitlab_ids_are_stable_and_follow_the_finding(leaky_result: ScanResult) -> None:
    ids = [v["id"] for v in _gitlab(leaky_result)["vulnerabilities"]]
    assert ids == [v["id"] for v in _gitlab(leaky_result)["vulnerabilities"]]
    moved = replace(leaky_result.findings[0], location=leaky_result.findings[0].location.at(9, 1))
    other = ScanResult(findings=[moved])
    assert _gitlab(other)["vulnerabilities"][0]["id"] not in ids


def test_gitlab_clean_scan_succeeds(empty_result: ScanResult) -> None:
    report = _gitlab(empty_result)
    assert report["vulnerabilities"] == []
    assert report["scan"]["status"] == "success"
    assert "messages" not in report["scan"]


# -- JUnit -------------------------------------------------------------------------


@pytest.mark.parametrize("show_secrets", [False, True])
def test_junit_matches_the_jenkins_junit_schema(
    junit_schema: Any, leaky_result: ScanResult, empty_result: ScanResult, show_secrets: bool
) -> None:
    for result in (leaky_result, empty_result):
        junit_schema.validate(
            render(Format.JUNIT, result, ReportOptions(show_secrets=show_secrets))
        )


def test_junit_schema_is_strict_enough_to_catch_a_broken_report(
    junit_schema: Any, leaky_result: ScanResult
) -> None:
    text = render(Format.JUNIT, leaky_result, ReportOptions())
    assert not junit_schema.is_valid(
        text.replace('<testsuite name="leakguard" tests=', "<testsuite tests=")
    )
    assert not junit_schema.is_valid(text.replace("<testsuites ", '<testsuites disabled="0" '))


def test_junit_one_case_per_target_one_failure_listing_its_findings(
    leaky_result: ScanResult,
) -> None:
    text = render(Format.JUNIT, leaky_result, ReportOptions(finished_at=FINISHED))
    root = ET.fromstring(text.encode())
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    names = [c.get("name") for c in cases]
    # samples/.env, the Dockerfile, the commit's file, the image (env), the image's
    # file, settings.py; the two unreadable targets; the clean files
    assert names[0] == "samples/.env"
    assert len([c for c in cases if c.find("failure") is not None]) == 6
    assert int(suite.get("failures", "")) == 6
    assert int(suite.get("errors", "")) == 2
    assert int(suite.get("tests", "")) == len(cases) == 9
    env_failure = cases[0].find("failure")
    assert env_failure is not None
    assert env_failure.get("message") == "2 secrets (stripe-secret-key, slack-webhook)"
    body = env_failure.text or ""
    assert "stripe-secret-key samples/.env:3" in body and "slack-webhook" in body
    assert cases[-1].get("name") == "6 other files scanned: no finding"
    errors = [c for c in cases if c.find("error") is not None]
    assert [c.get("name") for c in errors][1] == "samples/big.tar"


def test_junit_survives_hostile_names(junit_schema: Any) -> None:
    loc = Location(path='a<b>&"c"\x1b[31m\x00.env', line=1)
    finding = make_finding("stripe-secret-key", Severity.CRITICAL, loc, STRIPE, "m", "r")
    text = render(Format.JUNIT, ScanResult(findings=[finding]), ReportOptions())
    junit_schema.validate(text)
    (case,) = ET.fromstring(text.encode()).iter("testcase")
    assert case.get("name") == 'a<b>&"c"\\x1b[31m\\x00.env'


def test_junit_of_a_clean_scan_has_one_passing_case(empty_result: ScanResult) -> None:
    root = ET.fromstring(render(Format.JUNIT, empty_result, ReportOptions()).encode())
    (case,) = root.iter("testcase")
    assert list(case) == [] and root.get("failures") == "0"


# -- CSV ---------------------------------------------------------------------------


def test_csv_one_row_per_finding_rfc4180(leaky_result: ScanResult) -> None:
    text = render(Format.CSV, leaky_result, ReportOptions())
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 1 + len(leaky_result.findings)
    first = dict(zip(COLUMNS, rows[1], strict=True))
    assert first["rule_id"] == "stripe-secret-key" and first["line"] == "3"
    assert first["value"] == leaky_result.findings[0].redacted
    assert first["fingerprint"] == leaky_result.findings[0].fingerprint
    # a message with a quote, a comma and a line break stays one cell
    odd = make_finding(
        "x-rule", Severity.LOW, Location(path="a.txt"), STRIPE, 'say "hi", then\nstop', "r"
    )
    text = render(Format.CSV, ScanResult(findings=[odd]), ReportOptions())
    assert '"say ""hi"", then\nstop"' in text
    (row,) = list(csv.reader(io.StringIO(text, newline="")))[1:]
    assert row[COLUMNS.index("message")] == 'say "hi", then\nstop'


@pytest.mark.parametrize(
    "name", ['=HYPERLINK("http://x")', "+1+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"]
)
def test_csv_cells_are_never_formulas(name: str) -> None:
    finding = make_finding("x-rule", Severity.LOW, Location(path=name), STRIPE, name, "r")
    text = render(Format.CSV, ScanResult(findings=[finding]), ReportOptions())
    (row,) = list(csv.reader(io.StringIO(text, newline="")))[1:]
    cell = row[COLUMNS.index("path")]
    assert cell == "'" + name and row[COLUMNS.index("message")] == "'" + name
    assert safe_cell("a=b") == "a=b"


# -- Markdown ----------------------------------------------------------------------


def _unescaped_pipes(line: str) -> int:
    count, i = 0, 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        count += line[i] == "|"
        i += 1
    return count


def test_markdown_table(leaky_result: ScanResult) -> None:
    text = render(Format.MARKDOWN, leaky_result, ReportOptions())
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0] == "| Severity | Rule | Where | Value | Message |"
    assert len(rows) == 2 + len(leaky_result.findings)
    assert "| critical | stripe-secret-key | samples/.env:3 | `sk_l…` |" in text
    assert "7 findings (3 critical, 3 high, 1 medium)" in text  # the one summary wording
    assert "**Could not read:**" in text and "samples/big.tar" in text


def test_markdown_cannot_be_broken_by_a_file_name() -> None:
    loc = Location(path="a|b<img src=x onerror=alert(1)>[x](http://e)`.env\nnext", line=2)
    finding = make_finding("stripe-secret-key", Severity.CRITICAL, loc, STRIPE, "m|x", "r")
    text = render(Format.MARKDOWN, ScanResult(findings=[finding]), ReportOptions())
    (row,) = [line for line in text.splitlines() if line.startswith("| critical")]
    assert _unescaped_pipes(row) == 6  # five cells, whatever the name holds
    outside_value = row.replace(f"`{finding.redacted}`", "")
    assert re.search(r"(?<!\\)[<`\[\]]", outside_value) is None  # no raw <, `, [ or ]
    assert "\\<img" in row


def test_markdown_clean_scan(empty_result: ScanResult) -> None:
    text = render(Format.MARKDOWN, empty_result, ReportOptions())
    assert "No secrets found." in text and "| Severity" not in text


# -- SARIF for images --------------------------------------------------------------


def test_sarif_points_image_findings_at_the_image(leaky_result: ScanResult) -> None:
    run = json.loads(render(Format.SARIF, leaky_result, ReportOptions()))["runs"][0]
    bases = run["originalUriBaseIds"]
    (base_id,) = bases
    assert bases[base_id]["uri"] == "oci:registry.example.com/shop/web%3A1.4/"
    env, npm = run["results"][4], run["results"][5]
    env_loc = env["locations"][0]
    assert env_loc["physicalLocation"]["artifactLocation"] == {"uri": "env", "uriBaseId": base_id}
    assert [(x["kind"], x["name"]) for x in env_loc["logicalLocations"]] == [
        ("image", IMAGE),
        ("layer", LAYER),
        ("env", "env"),
    ]
    npm_loc = npm["locations"][0]
    assert npm_loc["physicalLocation"]["artifactLocation"] == {
        "uri": "root/.npmrc",
        "uriBaseId": base_id,
    }
    assert npm_loc["logicalLocations"][-1] == {
        "name": "/root/.npmrc",
        "fullyQualifiedName": f"{IMAGE}@{LAYER}:/root/.npmrc",
        "kind": "file",
    }
    # findings in the repository keep plain relative paths, with no base
    assert (
        "uriBaseId" not in run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    )
    assert "logicalLocations" not in run["results"][0]["locations"][0]


def test_sarif_without_image_findings_has_no_bases(empty_result: ScanResult) -> None:
    run = json.loads(render(Format.SARIF, empty_result, ReportOptions()))["runs"][0]
    assert "originalUriBaseIds" not in run


def test_every_format_names_a_skipped_target() -> None:
    result = ScanResult(skipped=[Skipped("vault/raft.db", "permission denied")])
    result.findings.append(
        make_finding(
            "stripe-secret-key", Severity.CRITICAL, Location(Surface.FILE, path="x.env", line=1),
            STRIPE, "m", "r",
        )
    )  # fmt: skip
    for fmt in (Format.GITLAB, Format.JUNIT, Format.MARKDOWN):
        assert "vault/raft.db" in render(fmt, result, ReportOptions()), fmt
