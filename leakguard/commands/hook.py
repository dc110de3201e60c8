"""`leakguard hook`: stop a leak before it is committed or pushed.

`install` writes small shell hooks into the repository; git then runs
`leakguard hook pre-push` / `leakguard hook pre-commit`, which scan only what
is about to leave (the pushed commits) or be recorded (the staged changes).
This module is on the path of every push: it imports nothing heavy until it
knows there is something to scan.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from leakguard.cli import Output, State, effective_config, finish, output_options, pass_state
from leakguard.commands.git import git_policy, rule_options
from leakguard.errors import ChangeRefused, ExitCode, TargetUnreadable, UsageError
from leakguard.fsutil import open_regular

if TYPE_CHECKING:
    from leakguard.detectors.git_history import GitScan

MARKER = "# leakguard-managed-hook"
CHAINED_SUFFIX = ".chained"
HOOKS = ("pre-push", "pre-commit")
ZERO = "0" * 40

_SCRIPT = """#!/bin/sh
{marker}
# Written by `leakguard hook install`; `leakguard hook uninstall` removes it.
# `git {verb} --no-verify` skips it once.
leakguard() {{
    if [ -x {python} ]; then {python} -m leakguard "$@"; else command leakguard "$@"; fi
}}
hooks=$(dirname "$0")
{body}
"""
_BODY_PRE_PUSH = """refs=$(cat)
if [ -x "$hooks/pre-push{chained}" ]; then
    printf '%s\\n' "$refs" | "$hooks/pre-push{chained}" "$@" || exit $?
fi
printf '%s\\n' "$refs" | leakguard hook pre-push "$@"
"""
_BODY_PRE_COMMIT = """if [ -x "$hooks/pre-commit{chained}" ]; then
    "$hooks/pre-commit{chained}" "$@" || exit $?
fi
leakguard hook pre-commit
"""


@click.group("hook")
def hook() -> None:
    """Git hooks that stop a leak before it is committed or pushed."""


def _selected(pre_push: bool, pre_commit: bool, default: tuple[str, ...]) -> tuple[str, ...]:
    chosen = tuple(n for n, on in (("pre-push", pre_push), ("pre-commit", pre_commit)) if on)
    return chosen or default


@hook.command("install")
@click.argument("repo", default=".", metavar="[REPO]")
@click.option("--pre-push", is_flag=True, help="Install the pre-push hook (the default).")
@click.option("--pre-commit", is_flag=True, help="Install the pre-commit hook.")
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing hook of another tool instead of chaining to it.",
)
def install(repo: str, pre_push: bool, pre_commit: bool, force: bool) -> ExitCode:
    """Write git hooks that run leakguard into REPO.

    An existing hook of another tool is kept and run first (renamed with a
    `.chained` suffix); --force replaces it instead.
    """
    folder = hooks_dir(repo)
    for name in _selected(pre_push, pre_commit, ("pre-push",)):
        action = install_hook(folder, name, force=force)
        click.echo(f"leakguard: {action} {folder / name}", err=True)
    return ExitCode.CLEAN


@hook.command("uninstall")
@click.argument("repo", default=".", metavar="[REPO]")
@click.option("--pre-push", is_flag=True, help="Remove the pre-push hook.")
@click.option("--pre-commit", is_flag=True, help="Remove the pre-commit hook.")
def uninstall(repo: str, pre_push: bool, pre_commit: bool) -> ExitCode:
    """Remove leakguard's hooks (default: both), restoring a chained hook."""
    folder = hooks_dir(repo)
    for name in _selected(pre_push, pre_commit, HOOKS):
        action = uninstall_hook(folder, name)
        if action:
            click.echo(f"leakguard: {action} {folder / name}", err=True)
    return ExitCode.CLEAN


def hooks_dir(repo: str) -> Path:
    proc = subprocess.run(
        ["git", "-C", repo, "rev-parse", "--git-path", "hooks"], capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise TargetUnreadable(
            f"{repo} is not a git repository",
            hint="run this inside a repository, or give its path",
        )
    path = Path(proc.stdout.decode().strip())
    return path if path.is_absolute() else Path(repo) / path


def _is_ours(path: Path) -> bool:
    try:
        with open_regular(path) as fh:  # a FIFO in its place must not hang `install`
            return MARKER.encode() in fh.read(4096)
    except OSError:
        return False


def install_hook(folder: Path, name: str, *, force: bool = False) -> str:
    """Write hook `name` into `folder`; returns what was done."""
    from leakguard.fsutil import atomic_write

    target = folder / name
    chained = folder / (name + CHAINED_SUFFIX)
    action = "installed"
    if target.is_symlink() or target.exists():
        if _is_ours(target):
            action = "updated"
        elif force:
            action = "replaced the existing hook with"
        elif target.is_symlink() or not target.is_file():
            raise ChangeRefused(
                f"{target} is not a regular file; leakguard will not chain to it",
                hint="remove it, or use --force to replace it",
            )
        elif chained.exists():
            raise ChangeRefused(
                f"{target} belongs to another tool and {chained.name} already exists",
                hint="merge the two by hand, or use --force to replace the hook",
            )
        else:
            os.replace(target, chained)
            action = f"installed (chaining to {chained.name})"
    body = _BODY_PRE_PUSH if name == "pre-push" else _BODY_PRE_COMMIT
    script = _SCRIPT.format(
        marker=MARKER,
        verb="push" if name == "pre-push" else "commit",
        python=shlex.quote(sys.executable),
        body=body.format(chained=CHAINED_SUFFIX),
    )
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(target, script.encode(), mode=0o755)
    return action


def uninstall_hook(folder: Path, name: str) -> str | None:
    target = folder / name
    chained = folder / (name + CHAINED_SUFFIX)
    if not (target.exists() or target.is_symlink()):
        return None
    if not _is_ours(target):
        raise ChangeRefused(
            f"{target} was not installed by leakguard; left as it is",
            hint="remove it by hand if you want it gone",
        )
    if chained.exists():
        os.replace(chained, target)
        return "restored the chained hook at"
    target.unlink()
    return "removed"


# -- what git runs ----------------------------------------------------------------


@hook.command("pre-push")
@click.argument("remote", required=False)
@click.argument("url", required=False)
@click.option("-C", "repo", default=".", metavar="REPO", help="The repository (default: here).")
@output_options
@rule_options
@pass_state
def pre_push(
    state: State,
    /,
    remote: str | None,
    url: str | None,
    repo: str,
    out: Output,
    baseline_path: Path | None,
    no_baseline: bool,
    **overrides: Any,
) -> ExitCode:
    """Scan the commits being pushed (git's ref lines on standard input)."""
    # The pre-commit framework reads git's lines itself and passes the range in
    # PRE_COMMIT_* variables; standard input is then not ours to wait on.
    framework = "PRE_COMMIT_TO_REF" in os.environ
    stdin = "" if framework or sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    hooks_dir(repo)  # exit 3 outside a repository: never a silent pass
    revs = pushed_revisions(repo, stdin, os.environ)
    if not revs:
        return ExitCode.CLEAN
    from leakguard.detectors.git_history import HistoryOptions, scan_history
    from leakguard.engine import Engine

    config = effective_config(state, [repo], **overrides)
    options = HistoryOptions(revs=revs, max_blob_size=config.max_file_size, check_head=False)
    scanned = scan_history(Engine(config.ruleset()), repo, options, verified=True)
    return _verdict(scanned, config, baseline_path, no_baseline, repo, "push", out)


@hook.command("pre-commit")
@click.option("-C", "repo", default=".", metavar="REPO", help="The repository (default: here).")
@output_options
@rule_options
@pass_state
def pre_commit(
    state: State,
    /,
    repo: str,
    out: Output,
    baseline_path: Path | None,
    no_baseline: bool,
    **overrides: Any,
) -> ExitCode:
    """Scan the staged changes (the index against HEAD)."""
    from leakguard.detectors.git_history import scan_staged
    from leakguard.engine import Engine

    config = effective_config(state, [repo], **overrides)
    scanned = scan_staged(Engine(config.ruleset()), repo)
    return _verdict(scanned, config, baseline_path, no_baseline, repo, "commit", out)


def _verdict(
    scanned: GitScan,
    config: Any,
    baseline_path: Path | None,
    no_baseline: bool,
    repo: str,
    verb: str,
    out: Output,
) -> ExitCode:
    result = git_policy(scanned, config, baseline_path, no_baseline, repo)
    quiet_default = out.fmt == "text" and out.path is None
    if quiet_default and not result.findings and not any(s.error for s in result.skipped):
        return ExitCode.CLEAN  # a clean push or commit says nothing
    code = finish(result, config, out)
    if code == ExitCode.FINDINGS and not out.quiet:
        where = "the commits being pushed" if verb == "push" else "the staged changes"
        fix = (
            "remove it from those commits (`git rebase -i`, `git commit --amend`)"
            if verb == "push"
            else "remove it from the file and `git add` it again"
        )
        click.echo(
            f"leakguard: {verb} stopped: secrets in {where}.\n"
            f"  fix: revoke the secret, {fix};\n"
            "  a false positive: add a `leakguard:allow` comment on the line, or record it "
            "with `leakguard baseline create`;\n"
            f"  `git {verb} --no-verify` skips this check.",
            err=True,
        )
    return code


def pushed_revisions(repo: str, stdin: str, env: Any) -> tuple[str, ...]:
    """`git log` arguments for exactly the commits a push sends.

    Each line is `<local ref> <local sha> <remote ref> <remote sha>`. A deletion
    sends nothing; an update sends `remote..local`; a new branch sends what no
    remote-tracking ref reaches. The pre-commit framework passes the range in
    PRE_COMMIT_FROM_REF / PRE_COMMIT_TO_REF instead.
    """
    positive: list[str] = []
    negative: list[str] = []
    for number, line in enumerate(stdin.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        # A hook that cannot tell what is pushed must not let the push through.
        if len(parts) != 4 or not all(_HEX.fullmatch(p) for p in parts[1::2]):
            raise UsageError(
                f"pre-push: line {number} of standard input is not "
                "`<local ref> <local sha> <remote ref> <remote sha>`; push stopped",
                hint="git runs this hook with those lines; to scan a range use `leakguard git`",
            )
        _local_ref, local_sha, _remote_ref, remote_sha = parts
        if local_sha.strip("0") == "":
            continue  # deletion
        if not _has_commit(repo, local_sha):
            raise TargetUnreadable(
                f"pre-push: the pushed commit {local_sha[:12]} is not in {repo}; push stopped"
            )
        positive.append(local_sha)
        if remote_sha.strip("0") != "" and _has_commit(repo, remote_sha):
            negative.append("^" + remote_sha)
    if not positive and env.get("PRE_COMMIT_TO_REF"):
        positive.append(env["PRE_COMMIT_TO_REF"])
        start = env.get("PRE_COMMIT_FROM_REF") or ""
        if start.strip("0") and _has_commit(repo, start):
            negative.append("^" + start)
    if not positive:
        return ()
    return (*positive, *negative, "--not", "--remotes")


_HEX = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _has_commit(repo: str, sha: str) -> bool:
    proc = subprocess.run(
        ["git", "-C", repo, "cat-file", "-e", f"{sha}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0
