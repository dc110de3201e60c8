"""`leakguard ci github` / `leakguard ci gitlab`: one scan, run as a CI job runs it.

What to scan comes from the CI system: the git range from a GitHub event
payload (`GITHUB_EVENT_PATH`) or GitLab's `CI_*` variables, with the same
new-commit logic as the git hooks. The scan runs once and its result is
written where that system reads it: SARIF, the job summary and step outputs
for GitHub; the secret-detection report for GitLab. The GitHub Action
(`action.yml`) and the GitLab template (`ci/gitlab/leakguard.gitlab-ci.yml`)
are thin callers of these commands.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from leakguard.cli import Output, State, effective_config, find_baseline, finish, pass_state
from leakguard.commands.git import rule_options
from leakguard.errors import ExitCode, TargetUnreadable, UsageError

if TYPE_CHECKING:
    from leakguard.config import Config
    from leakguard.models import ScanResult

ZERO = "0" * 40
GITLAB_REPORT = "gl-secret-detection-report.json"


@dataclass(frozen=True, slots=True)
class Target:
    """What one CI scan reads: files under `path`, the commits `revs` select in
    the repository at `path`, or the image `image`."""

    kind: str  # "files" | "git" | "image" | "nothing" (a deleted branch: no commit)
    path: str = "."
    revs: tuple[str, ...] = ()
    image: str | None = None
    why: str = ""  # shown in the job log: what is scanned and why


@click.group("ci")
def ci() -> None:
    """Run leakguard as a CI job: what to scan comes from the CI system's
    environment, and the reports go where it reads them."""


def _platform(ctx: Any, param: Any, value: str | None) -> str | None:
    from leakguard.commands.image import _platform as check

    return check(ctx, param, value)


def target_options(f: Any) -> Any:
    options = [
        click.option("--path", default=".", show_default=True, metavar="PATH",
                     help="The folder to scan, or the repository whose commits are scanned."),
        click.option("--git-range", default="auto", show_default=True, metavar="RANGE",
                     help="auto: the commits of the push, pull or merge request (files under "
                          "PATH for other events); none: the files under PATH; all: every "
                          "commit of every ref; A..B: those commits."),
        click.option("--image", metavar="REF",
                     help="Scan this image (`leakguard image REF`) instead of PATH."),
        click.option("--exclude", multiple=True, metavar="PATTERN",
                     help="gitignore-style pattern of files not to scan (files under PATH)."),
        click.option("--respect-gitignore", is_flag=True, default=None,
                     help="Skip files that .gitignore ignores (files under PATH)."),
        click.option("--platform", metavar="OS/ARCH", callback=_platform,
                     help="Only this platform of a multi-platform image."),
        click.option("--insecure", is_flag=True,
                     help="Allow plain HTTP to a registry that is not on loopback."),
        click.option("-j", "--jobs", type=click.IntRange(min=0), default=0,
                     help="Worker processes (default: one per core)."),
    ]  # fmt: skip
    f = rule_options(f)
    for option in reversed(options):
        f = option(f)
    return f


# -- GitHub -------------------------------------------------------------------------


@ci.command("github")
@target_options
@click.option("--sarif", "sarif_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the SARIF report (default: leakguard.sarif in "
                   "$RUNNER_TEMP, else here).")  # fmt: skip
@pass_state
def github(state: State, /, sarif_path: Path | None, **options: Any) -> ExitCode:
    """Scan as a GitHub Actions step (the action in action.yml runs this).

    \b
    Reads GITHUB_EVENT_NAME and GITHUB_EVENT_PATH: a pull request scans
    base..head, a push before..after (a new branch: the commits no other
    remote-tracking branch has; a deleted one: nothing). Writes the SARIF
    report, appends a Markdown table to GITHUB_STEP_SUMMARY, and sets the step
    outputs `findings` (how many) and `report` (the SARIF path) in
    GITHUB_OUTPUT. The text report goes to the job log.
    """
    env = os.environ
    target = _chosen(options, lambda path: github_revisions(path, env))
    result, config = scan_target(state, target, options)
    runner_temp = env.get("RUNNER_TEMP")
    sarif = sarif_path or Path(runner_temp or ".", "leakguard.sarif")
    _write(sarif, _render("sarif", result))
    if summary := env.get("GITHUB_STEP_SUMMARY"):
        _append(Path(summary), job_summary(_render("markdown", result)))
    if outputs := env.get("GITHUB_OUTPUT"):
        report = os.path.abspath(sarif)
        _append(Path(outputs), f"findings={len(result.findings)}\nreport={report}\n")
    click.echo(f"leakguard: {target.why}; SARIF report: {sarif}", err=True)
    return finish(result, config, Output(progress=False))


SUMMARY_LIMIT = 1024 * 1024  # GitHub refuses a larger job summary from one step


def job_summary(markdown: str, limit: int = SUMMARY_LIMIT) -> str:
    """The Markdown report cut, at a row, to what a job summary holds."""
    text = markdown.rstrip("\n") + "\n\n"
    if len(text.encode()) <= limit:
        return text
    note = (
        "\n\n*{} more row(s): the job summary is full; the job log and code scanning have all.*\n\n"
    )
    room = limit - len(note.encode()) - 16
    kept = text.encode()[:room].decode("utf-8", "ignore").rsplit("\n", 1)[0]
    left = text.count("\n| ") - kept.count("\n| ")
    return kept + note.format(left)


def github_revisions(repo: str, env: Mapping[str, str]) -> tuple[tuple[str, ...], str] | None:
    """(`git log` arguments, why) for the commits of the event that started the
    workflow; None for an event that has no commits of its own (a schedule, a
    manual run), whose files are scanned instead."""
    from leakguard import safejson
    from leakguard.detectors.git_history import git_dir

    event = env.get("GITHUB_EVENT_NAME", "")
    if event not in ("push", "pull_request", "pull_request_target", "merge_group"):
        return None
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        raise UsageError(
            f"GITHUB_EVENT_NAME is {event} but GITHUB_EVENT_PATH is not set",
            hint="run this in a GitHub Actions job, or pass --git-range A..B or none",
        )
    try:
        payload = safejson.loads(Path(path).read_bytes())
    except (OSError, ValueError) as e:
        raise TargetUnreadable(f"cannot read the event payload {path}: {e}") from e
    if not isinstance(payload, dict):
        raise TargetUnreadable(f"the event payload {path} is not a JSON object")
    git_dir(repo)
    if event == "push":
        before, after = _sha(payload, "before"), _sha(payload, "after")
        if after == ZERO:
            return (), "push deleted a ref: no commit to scan"
        _need_commit(repo, after, "the pushed commit")
        ref = str(payload.get("ref") or "")
        # The checkout's remote-tracking ref of the pushed branch (and origin/HEAD
        # when it is the default branch) already point at `after`: not "other".
        known: tuple[str, ...] = ("--remotes",)
        if ref.startswith("refs/heads/"):
            own = ref.removeprefix("refs/heads/")
            known = (f"--exclude=*/{own}", "--exclude=*/HEAD", "--remotes")
        from leakguard.commands.hook import new_commits

        revs = new_commits(repo, [(before, after)], known)
        if before == ZERO or not _has(repo, before):
            why = f"push of {ref or after[:12]}: commits no other remote branch has"
        else:
            why = f"push {before[:12]}..{after[:12]}"
        return revs, why
    if event == "merge_group":
        group = payload.get("merge_group")
        base = _sha(group, "base_sha") if isinstance(group, dict) else ZERO
        head = _sha(group, "head_sha") if isinstance(group, dict) else ZERO
    else:
        pull = payload.get("pull_request")
        sides = [pull.get(k) if isinstance(pull, dict) else None for k in ("base", "head")]
        base, head = (_sha(side, "sha") if isinstance(side, dict) else ZERO for side in sides)
    if ZERO in (base, head):
        raise TargetUnreadable(f"the {event} payload {path} names no base or no head commit")
    _need_commit(repo, head, "the head commit")
    _need_commit(repo, base, "the base commit")
    return (head, "^" + base), f"{event} {base[:12]}..{head[:12]}"


# -- GitLab -------------------------------------------------------------------------


@ci.command("gitlab")
@target_options
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path(GITLAB_REPORT), show_default=True,
              help="Where to write GitLab's secret-detection report.")  # fmt: skip
@pass_state
def gitlab(state: State, /, report_path: Path, **options: Any) -> ExitCode:
    """Scan as a GitLab CI job (the template in ci/gitlab runs this).

    \b
    A merge request pipeline scans CI_MERGE_REQUEST_DIFF_BASE_SHA..CI_COMMIT_SHA,
    a branch pipeline CI_COMMIT_BEFORE_SHA..CI_COMMIT_SHA, and the whole history
    of CI_COMMIT_SHA when there is no earlier commit (a new branch, a tag, a
    scheduled run). Writes the secret-detection report (artifacts:reports:
    secret_detection); the text report goes to the job log.
    """
    env = os.environ
    target = _chosen(options, lambda path: gitlab_revisions(path, env))
    result, config = scan_target(state, target, options)
    _write(report_path, _render("gitlab", result))
    click.echo(f"leakguard: {target.why}; GitLab report: {report_path}", err=True)
    return finish(result, config, Output(progress=False))


def gitlab_revisions(repo: str, env: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    """(`git log` arguments, why) for the commits of this pipeline."""
    from leakguard.detectors.git_history import git_dir

    git_dir(repo)
    head = env.get("CI_COMMIT_SHA") or "HEAD"
    _need_commit(repo, head, "CI_COMMIT_SHA")
    base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA") or ""
    if base:
        _need_commit(repo, base, "CI_MERGE_REQUEST_DIFF_BASE_SHA")
        return (head, "^" + base), f"merge request {base[:12]}..{head[:12]}"
    before = env.get("CI_COMMIT_BEFORE_SHA") or ""
    if before.strip("0") and _has(repo, before):
        return (head, "^" + before), f"push {before[:12]}..{head[:12]}"
    return (head,), f"the whole history of {head[:12]} (no earlier commit to start from)"


# -- shared -------------------------------------------------------------------------


def _chosen(options: dict[str, Any], from_ci: Any) -> Target:
    path: str = options.pop("path")
    git_range: str = options.pop("git_range").strip()
    image: str | None = options.pop("image") or None
    if image:
        return Target("image", path, image=image, why=f"image {image}")
    if git_range == "none":
        return Target("files", path, why=f"files under {path}")
    if git_range == "all":
        return Target("git", path, revs=("--all",), why="every commit of every ref")
    if git_range != "auto":
        if ".." not in git_range or git_range.startswith("-"):
            raise UsageError(
                f"--git-range {git_range!r} is not auto, none, all or A..B",
                hint="e.g. --git-range origin/main..HEAD",
            )
        return Target("git", path, revs=(git_range,), why=f"commits {git_range}")
    chosen = from_ci(path)
    if chosen is None:
        return Target("files", path, why=f"files under {path} (no commit range in this event)")
    revs, why = chosen
    if _is_shallow(path):
        click.echo(
            "leakguard: warning: the checkout is shallow: its oldest commit looks as if "
            "it added every file. Fetch the whole history (actions/checkout with "
            '`fetch-depth: 0`, GitLab `GIT_DEPTH: "0"`).',
            err=True,
        )
    return Target("git" if revs else "nothing", path, revs=revs, why=why)


def scan_target(state: State, target: Target, options: dict[str, Any]) -> tuple[ScanResult, Config]:
    """Scan `target` as `scan`, `git` or `image` would, with their baseline and filters."""
    from leakguard.cli import policy, run_scan

    baseline_path: Path | None = options.pop("baseline_path")
    no_baseline: bool = options.pop("no_baseline")
    jobs: int = options.pop("jobs") or os.cpu_count() or 1
    exclude: tuple[str, ...] = options.pop("exclude")
    platform: str | None = options.pop("platform")
    insecure: bool = options.pop("insecure")
    respect_gitignore = options.pop("respect_gitignore")
    if target.kind == "image":
        return _scan_image(state, target, options, platform, insecure, jobs, baseline_path,
                           no_baseline)  # fmt: skip
    if target.kind == "files":
        config = effective_config(
            state, [target.path], respect_gitignore=respect_gitignore, **options
        )
        result = run_scan(config, [target.path], jobs, exclude)
        baseline = None if no_baseline else find_baseline(baseline_path, config, [target.path])
        return policy(result, config, baseline), config
    from leakguard.commands.git import git_policy
    from leakguard.detectors.git_history import GitScan, HistoryOptions, scan_history
    from leakguard.engine import Engine
    from leakguard.models import ScanResult

    config = effective_config(state, [target.path], **options)
    if target.kind == "nothing":
        return ScanResult(), config
    history = HistoryOptions(revs=target.revs, max_blob_size=config.max_file_size)
    scanned: GitScan = scan_history(Engine(config.ruleset()), target.path, history, jobs=jobs)
    return git_policy(scanned, config, baseline_path, no_baseline, target.path), config


def _scan_image(
    state: State,
    target: Target,
    options: dict[str, Any],
    platform: str | None,
    insecure: bool,
    jobs: int,
    baseline_path: Path | None,
    no_baseline: bool,
) -> tuple[ScanResult, Config]:
    from leakguard.cli import policy
    from leakguard.commands.image import prepare
    from leakguard.detectors.image import scan_images

    config, engine, image_options, cache = prepare(state, dict(options), platform, False, None)
    assert target.image is not None
    try:
        result = scan_images(engine, (target.image,), image_options, jobs=jobs, cache=cache,
                             insecure=insecure)  # fmt: skip
    finally:
        if cache is not None:
            cache.close()
    baseline = None if no_baseline else find_baseline(baseline_path, config)
    return policy(result, config, baseline), config


def _render(fmt: str, result: ScanResult) -> str:
    from leakguard.formats import Format, ReportOptions, render

    return render(Format(fmt), result, ReportOptions())


def _write(path: Path, text: str) -> None:
    from leakguard.fsutil import atomic_write

    try:
        atomic_write(path, text.encode(), mode=0o644)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from e


def _append(path: Path, text: str) -> None:
    """Append to a file the CI runner reads after the step (job summary, outputs)."""
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from e


def _sha(payload: object, key: str) -> str:
    value = payload.get(key) if isinstance(payload, dict) else None
    text = str(value or "").strip().lower()
    if not text:
        return ZERO
    import re

    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", text):
        raise TargetUnreadable(f"the event payload's {key} {text[:20]!r} is not a commit id")
    return ZERO if text.strip("0") == "" else text


def _is_shallow(repo: str) -> bool:
    from leakguard.tree import git_env

    proc = subprocess.run(
        ["git", "-C", repo, "rev-parse", "--is-shallow-repository"],
        capture_output=True, check=False, env=git_env(),
    )  # fmt: skip
    return proc.stdout.strip() == b"true"


def _has(repo: str, rev: str) -> bool:
    from leakguard.tree import git_env

    proc = subprocess.run(
        ["git", "-C", repo, "cat-file", "-e", f"{rev}^{{commit}}"],
        capture_output=True, check=False, env=git_env(),
    )  # fmt: skip
    return proc.returncode == 0


def _need_commit(repo: str, rev: str, what: str) -> None:
    if not _has(repo, rev):
        raise TargetUnreadable(
            f"{what} {rev[:12]} is not in the checkout at {repo}",
            hint="fetch the whole history (actions/checkout with `fetch-depth: 0`, "
            'GitLab `GIT_DEPTH: "0"`)',
        )
