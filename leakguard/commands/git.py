"""`leakguard git`: secrets in every commit of a repository's history."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from leakguard.cli import (
    DETECT_SECRETS_PLUGIN_OPTION,
    DISABLE_OPTION,
    ENABLE_OPTION,
    GATE_OPTIONS,
    MIN_CONFIDENCE_OPTION,
    NO_BASELINE_OPTION,
    Output,
    State,
    effective_config,
    find_baseline,
    finish,
    output_options,
    pass_state,
    policy,
)
from leakguard.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from leakguard.baseline import Baseline
    from leakguard.config import Config
    from leakguard.detectors.git_history import GitScan
    from leakguard.models import ScanResult


def rule_options(f: Any) -> Any:
    options = [
        DISABLE_OPTION,
        ENABLE_OPTION,
        MIN_CONFIDENCE_OPTION,
        *GATE_OPTIONS,
        DETECT_SECRETS_PLUGIN_OPTION,
        click.option("--baseline", "baseline_path",
                     type=click.Path(dir_okay=False, path_type=Path),
                     help="Do not report findings in this baseline (default: the config's "
                          "`baseline`, else .leakguard-baseline.json at the repository root "
                          "or here)."),
        NO_BASELINE_OPTION,
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400,
          "month": 30 * 86400, "year": 365 * 86400}  # fmt: skip
_GIT_MIN_EPOCH = 100_000_000  # git reads `@N` as a date only from here (March 1973)
_AGO = re.compile(r"(\d+)[ .]*(second|minute|hour|day|week|month|year)s?[ .]*ago", re.I)


def parse_since(text: str) -> str | None:
    """A --since value git will read as meant, in a form git reads exactly (`@EPOCH`).

    git reads any text as a date and takes what it cannot parse as "now", which
    would turn a typo into a scan of nothing and a clean verdict. None: a date
    before any commit git can date (before 1973 git does not read `@EPOCH`), so
    the whole history.
    """
    import time
    from datetime import datetime

    value = text.strip()
    try:
        if m := re.fullmatch(r"@(\d+)", value):
            epoch = int(m.group(1))
        elif value.lower() == "yesterday":
            epoch = int(time.time()) - 86400
        elif m := _AGO.fullmatch(value):
            epoch = int(time.time()) - int(m.group(1)) * _UNITS[m.group(2).lower()]
        else:
            when = datetime.fromisoformat(value)
            if when.year < 1970:
                return None  # before any commit
            epoch = int(when.timestamp())
    except (ValueError, OverflowError, OSError):
        raise click.BadParameter(
            f"{value!r} is not a date: use YYYY-MM-DD, @EPOCH or `N days ago`"
        ) from None
    return f"@{epoch}" if epoch >= _GIT_MIN_EPOCH else None


@click.command("git")
@click.argument("repo", default=".", metavar="[REPO]")
@click.option("--branch", "branches", multiple=True, metavar="REF",
              help="Only commits reachable from this branch, tag or commit; repeatable "
                   "(default: every ref).")  # fmt: skip
@click.option(
    "--rev-range",
    "rev_ranges",
    multiple=True,
    metavar="A..B",
    help="Only the commits in this range (`git log A..B`); repeatable.",
)
@click.option(
    "--since",
    metavar="DATE",
    callback=lambda _c, _p, v: None if v is None else parse_since(v),
    help="Only commits newer than DATE: YYYY-MM-DD[THH:MM[:SS]], @EPOCH, yesterday, "
    "or `N days ago` (minutes, hours, weeks, months, years).",
)
@click.option(
    "--max-commits",
    type=click.IntRange(min=1),
    metavar="N",
    help="Read at most N commits, newest first.",
)
@click.option("--no-messages", is_flag=True, help="Do not scan commit messages.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=0,
    help="Parallel git readers for long histories (default: one per core).",
)
@output_options
@rule_options
@pass_state
def git(
    state: State,
    /,
    repo: str,
    branches: tuple[str, ...],
    rev_ranges: tuple[str, ...],
    since: str | None,
    max_commits: int | None,
    no_messages: bool,
    jobs: int,
    out: Output,
    baseline_path: Path | None,
    no_baseline: bool,
    **overrides: Any,
) -> ExitCode:
    """Scan every commit of a git repository's history (default: every ref).

    Reads the lines each commit adds (and its message), over branches, tags,
    remote-tracking refs and the stash. A secret removed by a later commit is
    still reported, marked as deleted. Exit codes: 0 clean, 1 findings,
    2 usage error (an unknown revision), 3 not a repository or unreadable objects.
    """
    from leakguard.detectors.git_history import HistoryOptions, scan_history
    from leakguard.engine import Engine

    for rev in (*branches, *rev_ranges):
        if rev.startswith("-"):
            raise UsageError(f"{rev!r} is not a revision", hint="name a branch, tag or commit")
    config = effective_config(state, [repo], **overrides)
    options = HistoryOptions(
        revs=(*branches, *rev_ranges),
        since=since,
        max_commits=max_commits,
        max_blob_size=config.max_file_size,
        scan_messages=not no_messages,
    )
    import os

    jobs = jobs or os.cpu_count() or 1
    from leakguard.cli import progress_for

    with progress_for(out) as progress:
        scanned = scan_history(
            Engine(config.ruleset()), repo, options, jobs=jobs, progress=progress
        )
    result = git_policy(scanned, config, baseline_path, no_baseline, repo)
    return finish(result, config, out, notes=[_history_summary(scanned)])


def git_policy(
    scanned: GitScan, config: Config, baseline_path: Path | None, no_baseline: bool, repo: str
) -> ScanResult:
    """Baseline and confidence filtering for history findings.

    A history finding is also accepted when the baseline holds the same secret
    at the same path as a scan of the work tree reports it (a baseline made
    with `leakguard baseline create` covers the commits that added those lines).
    """
    baseline = None if no_baseline else find_baseline(baseline_path, config, [repo])
    result = policy(scanned.result, config, baseline)
    if result.findings and (config.exclude or baseline is not None):
        root = _work_tree(repo)
        if config.exclude:
            result = _drop_excluded(result, config, root)
        if baseline is not None:
            result = _drop_worktree_baselined(result, baseline, root)
    return result


def _drop_excluded(result: ScanResult, config: Config, root: str) -> ScanResult:
    """The config's `exclude` patterns apply to paths in history as to files on disk."""
    import os

    import pathspec

    spec = pathspec.GitIgnoreSpec.from_lines(config.exclude)
    base = str(config.root) if config.root is not None else root
    kept = []
    for finding in result.findings:
        path = finding.location.path
        rel = os.path.relpath(os.path.join(root, path), base) if path else None
        if rel is not None and not rel.startswith("..") and spec.match_file(rel):
            result.stats.skipped_excluded += 1
        else:
            kept.append(finding)
    result.findings = kept
    return result


def _drop_worktree_baselined(result: ScanResult, baseline: Baseline, root: str) -> ScanResult:
    from leakguard.detectors.git_history import file_equivalent

    kept = []
    for finding in result.findings:
        if file_equivalent(finding, root) in baseline:
            result.stats.suppressed_baseline += 1
        else:
            kept.append(finding)
    result.findings = kept
    return result


def _work_tree(repo: str) -> str:
    import subprocess

    proc = subprocess.run(
        ["git", "-C", repo, "rev-parse", "--show-toplevel"], capture_output=True, check=False
    )
    top = proc.stdout.decode("utf-8", "replace").strip()
    return top if proc.returncode == 0 and top else repo


def _history_summary(scanned: GitScan) -> str:
    return (
        f"leakguard: read {scanned.commits} commit(s), "
        f"{scanned.patch_bytes / 1e6:.1f} MB of patches"
    )
