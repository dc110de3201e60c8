"""The text report: snapshot, summary counts, grouping, hostile input."""

from __future__ import annotations

import re

from leakguard.formats import Format, ReportOptions, render
from leakguard.formats.text import summary
from leakguard.models import Location, ScanResult, ScanStats, Severity, Skipped, Surface
from tests.formats.results import GITHUB_PAT, NPM, make_finding

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def small_result() -> ScanResult:
    env = Location(path="samples/.env")
    return ScanResult(
        findings=[
            make_finding(
                "slack-webhook",
                Severity.HIGH,
                env.at(4, 15),
                "https://hooks." + "x" * 40,
                "Slack incoming webhook URL",
                "Regenerate the webhook in Slack.",
            ),
            make_finding(
                "github-pat",
                Severity.HIGH,
                env.at(12, 7),
                GITHUB_PAT,
                "GitHub personal access token",
                "Revoke the token on GitHub.",
            ),
            make_finding(
                "npm-token",
                Severity.CRITICAL,
                Location(Surface.DOCKERFILE, path="samples/Dockerfile", line=9, column=13),
                NPM,
                "npm access token",
                "Use a BuildKit secret mount.",
            ),
            make_finding(
                "github-pat",
                Severity.HIGH,
                Location(path="deploy.sh", line=3),
                GITHUB_PAT,
                "GitHub personal access token",
                "Revoke the token on GitHub.",
            ),
        ],
        skipped=[Skipped("samples/huge.bin", "larger than 50 MB")],
        stats=ScanStats(files=6, bytes=2_450_000, duration_s=0.123),
    )


def test_snapshot() -> None:
    expected = """\
samples/.env
  4:15  high  slack-webhook  http…  Slack incoming webhook URL
  12:7  high  github-pat     ghp_…  GitHub personal access token
  hint slack-webhook: Regenerate the webhook in Slack.
  hint github-pat: Revoke the token on GitHub.

samples/Dockerfile
  9:13  critical  npm-token  npm_…  npm access token
  hint npm-token: Use a BuildKit secret mount.

deploy.sh
  3  high  github-pat  ghp_…  GitHub personal access token

Could not read:
  samples/huge.bin: larger than 50 MB

4 findings (1 critical, 3 high) in 6 files, 2.5 MB read, 0.12s; 1 could not be read
"""
    assert render(Format.TEXT, small_result(), ReportOptions()) == expected


def test_colour_is_only_decoration() -> None:
    plain = render(Format.TEXT, small_result(), ReportOptions())
    coloured = render(Format.TEXT, small_result(), ReportOptions(color=True))
    assert "\x1b[" in coloured
    assert ANSI.sub("", coloured) == plain


def test_summary_counts(leaky_result: ScanResult, empty_result: ScanResult) -> None:
    assert summary(leaky_result) == (
        "7 findings (3 critical, 3 high, 1 medium) in 12 files, 0.3 MB read, 1.23s; "
        "2 could not be read"
    )
    assert summary(empty_result) == "0 findings in 3 files, 0.0 MB read, 0.01s"
    empty_result.stats.bytes_skipped = 540_000_000
    assert summary(empty_result) == (
        "0 findings in 3 files, 0.0 MB read, 0.01s; "
        "540.0 MB passed over (binary or over the size bound)"
    )
    empty_result.stats.bytes_skipped = 3_100  # a few binary files: not "0.0 MB"
    assert summary(empty_result).endswith("; 3.1 kB passed over (binary or over the size bound)")
    one = ScanResult(findings=leaky_result.findings[:1], stats=ScanStats(files=1))
    assert summary(one) == "1 finding (1 critical) in 1 file, 0.0 MB read, 0.00s"


def test_groups_images_and_commits(leaky_result: ScanResult) -> None:
    out = render(Format.TEXT, leaky_result, ReportOptions())
    assert "config/prod.env @ 3f9c2b7e3f9c (deleted)\n" in out
    assert "registry.example.com/shop/web:1.4 (env, layer sha256:0a1b2c3d0a1b)\n" in out
    assert "registry.example.com/shop/web:1.4 /root/.npmrc (layer-file," in out
    assert "sha256:0a1b2c3d0a1b, deleted in a later layer)\n" in out
    assert "\n  -  critical  aws-secret-access-key" in out
    # A rule's hint is shown once, under the first group that has it.
    assert out.count("hint aws-secret-access-key:") == 1


def test_input_cannot_inject_escape_codes() -> None:
    hostile = make_finding(
        "github-pat",
        Severity.HIGH,
        Location(path="evil\x1b[2J\nname.env", line=1),
        GITHUB_PAT,
        "GitHub token\x1b]0;pwned\x07",
        "Revoke it.",
    )
    out = render(Format.TEXT, ScanResult(findings=[hostile]), ReportOptions())
    assert "\x1b" not in out and "\x07" not in out
    assert "evil\\x1b[2J\\nname.env" in out


def test_skip_notes_are_not_read_errors() -> None:
    result = ScanResult(
        skipped=[
            Skipped("a.bin", "permission denied"),
            Skipped("secrets/db", "a local secret file", error=False),
        ],  # fmt: skip
        stats=ScanStats(files=1),
    )
    assert summary(result).endswith("; 1 could not be read; 1 skipped")
    text = render(Format.TEXT, result, ReportOptions())
    assert text.index("Could not read:") < text.index("a.bin") < text.index("Skipped:")
    assert text.index("Skipped:") < text.index("secrets/db")
