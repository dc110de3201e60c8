"""`leakguard hook`: stop a leak before it is committed or pushed.

`install` writes small shell hooks into the repository; git then runs
`leakguard hook pre-push` / `leakguard hook pre-commit`, which scan only what
is about to leave (the pushed commits) or be recorded (the staged changes).
On a server's bare repository, `leakguard hook pre-receive` scans the commits
a push brings in before any ref moves.
This module is on the path of every push: it imports nothing heavy until it
knows there is something to scan.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
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
HOOKS = ("pre-push", "pre-commit", "pre-receive")
ZERO = "0" * 40

_SCRIPT = """#!/bin/sh
{marker}
# Written by `leakguard hook install`; `leakguard hook uninstall` removes it.
{skip}leakguard() {{
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
# git runs a pre-receive hook in the bare repository with the pushed objects in
# quarantine: visible to git, not yet reachable from any ref.
_BODY_PRE_RECEIVE = """refs=$(cat)
if [ -x "$hooks/pre-receive{chained}" ]; then
    printf '%s\\n' "$refs" | "$hooks/pre-receive{chained}" "$@" || exit $?
fi
printf '%s\\n' "$refs" | leakguard hook pre-receive
"""
_BODIES = {"pre-push": _BODY_PRE_PUSH, "pre-commit": _BODY_PRE_COMMIT,
           "pre-receive": _BODY_PRE_RECEIVE}  # fmt: skip
_SKIP = {
    "pre-push": "# `git push --no-verify` skips it once.\n",
    "pre-commit": "# `git commit --no-verify` skips it once.\n",
    "pre-receive": "# Runs on the server for every push; a pusher cannot skip it.\n",
}


@click.group("hook")
def hook() -> None:
    """Git hooks that stop a leak before it is committed or pushed."""


def _selected(flags: dict[str, bool], default: tuple[str, ...]) -> tuple[str, ...]:
    chosen = tuple(name for name, on in flags.items() if on)
    return chosen or default


@hook.command("install")
@click.argument("repo", default=".", metavar="[REPO]")
@click.option("--pre-push", is_flag=True, help="Install the pre-push hook (the default).")
@click.option("--pre-commit", is_flag=True, help="Install the pre-commit hook.")
@click.option(
    "--pre-receive",
    is_flag=True,
    help="Install the server-side pre-receive hook (into a bare repository): a push "
    "that adds a secret is rejected.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing hook of another tool instead of chaining to it.",
)
def install(
    repo: str, pre_push: bool, pre_commit: bool, pre_receive: bool, force: bool
) -> ExitCode:
    """Write git hooks that run leakguard into REPO.

    An existing hook of another tool is kept and run first (renamed with a
    `.chained` suffix); --force replaces it instead.
    """
    folder = hooks_dir(repo)
    flags = {"pre-push": pre_push, "pre-commit": pre_commit, "pre-receive": pre_receive}
    for name in _selected(flags, ("pre-push",)):
        action = install_hook(folder, name, force=force)
        click.echo(f"leakguard: {action} {folder / name}", err=True)
    return ExitCode.CLEAN


@hook.command("uninstall")
@click.argument("repo", default=".", metavar="[REPO]")
@click.option("--pre-push", is_flag=True, help="Remove the pre-push hook.")
@click.option("--pre-commit", is_flag=True, help="Remove the pre-commit hook.")
@click.option("--pre-receive", is_flag=True, help="Remove the pre-receive hook.")
def uninstall(repo: str, pre_push: bool, pre_commit: bool, pre_receive: bool) -> ExitCode:
    """Remove leakguard's hooks (default: all), restoring a chained hook."""
    folder = hooks_dir(repo)
    flags = {"pre-push": pre_push, "pre-commit": pre_commit, "pre-receive": pre_receive}
    for name in _selected(flags, HOOKS):
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
    script = _SCRIPT.format(
        marker=MARKER,
        skip=_SKIP[name],
        python=shlex.quote(sys.executable),
        body=_BODIES[name].format(chained=CHAINED_SUFFIX),
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
    return _scan_revisions(state, repo, revs, baseline_path, no_baseline, "push", out, overrides)


def _scan_revisions(
    state: State, repo: str, revs: tuple[str, ...], baseline_path: Path | None,
    no_baseline: bool, what: str, out: Output, overrides: dict[str, Any],
) -> ExitCode:  # fmt: skip
    """The commits `revs` names (new ones only), judged as a hook judges them."""
    from leakguard.detectors.git_history import HistoryOptions, scan_history
    from leakguard.engine import Engine

    config = effective_config(state, [repo], **overrides)
    options = HistoryOptions(revs=revs, max_blob_size=config.max_file_size, check_head=False)
    scanned = scan_history(Engine(config.ruleset()), repo, options, verified=True)
    return _verdict(scanned, config, baseline_path, no_baseline, repo, what, out)


@hook.command("pre-receive")
@click.option("-C", "repo", default=".", metavar="REPO", help="The repository (default: here).")
@output_options
@rule_options
@pass_state
def pre_receive(
    state: State,
    /,
    repo: str,
    out: Output,
    baseline_path: Path | None,
    no_baseline: bool,
    **overrides: Any,
) -> ExitCode:
    """Scan the commits a push brings into this repository (git's ref lines on
    standard input); run by a server's pre-receive hook, before any ref moves."""
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    hooks_dir(repo)  # exit 3 outside a repository: never a silent pass
    revs = received_revisions(repo, stdin)
    if not revs:
        return ExitCode.CLEAN
    return _scan_revisions(state, repo, revs, baseline_path, no_baseline, "receive", out, overrides)


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
        click.echo(_STOPPED[verb], err=True)
    return code


_ALLOW = (
    "  a false positive: add a `leakguard:allow` comment on the line, or record it "
    "with `leakguard baseline create`;\n"
)
_STOPPED = {
    "push": "leakguard: push stopped: secrets in the commits being pushed.\n"
    "  fix: revoke the secret, remove it from those commits (`git rebase -i`, "
    "`git commit --amend`);\n" + _ALLOW + "  `git push --no-verify` skips this check.",
    "commit": "leakguard: commit stopped: secrets in the staged changes.\n"
    "  fix: revoke the secret, remove it from the file and `git add` it again;\n"
    + _ALLOW
    + "  `git commit --no-verify` skips this check.",
    "receive": "leakguard: push rejected: secrets in the commits being pushed.\n"
    "  fix: revoke the secret, remove it from those commits (`git rebase -i`, "
    "`git commit --amend`) and push again;\n"
    "  a false positive: add a `leakguard:allow` comment on the line.",
}


def pushed_revisions(repo: str, stdin: str, env: Any) -> tuple[str, ...]:
    """`git log` arguments for exactly the commits a push sends.

    Each line is `<local ref> <local sha> <remote ref> <remote sha>`. A deletion
    sends nothing; an update sends `remote..local`; a new branch sends what no
    remote-tracking ref reaches. The pre-commit framework passes the range in
    PRE_COMMIT_FROM_REF / PRE_COMMIT_TO_REF instead.
    """
    updates: list[tuple[str, str]] = []
    for number, parts in _ref_lines(stdin):
        # A hook that cannot tell what is pushed must not let the push through.
        if len(parts) != 4 or not all(_HEX.fullmatch(p) for p in parts[1::2]):
            raise UsageError(
                f"pre-push: line {number} of standard input is not "
                "`<local ref> <local sha> <remote ref> <remote sha>`; push stopped",
                hint="git runs this hook with those lines; to scan a range use `leakguard git`",
            )
        _local_ref, local_sha, _remote_ref, remote_sha = parts
        updates.append((remote_sha, local_sha))
    revs = new_commits(repo, updates, ("--remotes",))
    if not revs and env.get("PRE_COMMIT_TO_REF"):
        start = env.get("PRE_COMMIT_FROM_REF") or ZERO
        revs = new_commits(repo, [(start, env["PRE_COMMIT_TO_REF"])], ("--remotes",))
    return revs


def received_revisions(repo: str, stdin: str) -> tuple[str, ...]:
    """`git log` arguments for exactly the commits a push brings to a server.

    Each line is `<old sha> <new sha> <ref>`. git runs the pre-receive hook with
    the pushed objects in quarantine and no ref moved yet, so the new commits
    are those no ref reaches (`git rev-list NEW --not --all`); a deletion
    brings nothing.
    """
    updates: list[tuple[str, str]] = []
    for number, parts in _ref_lines(stdin):
        if len(parts) != 3 or not all(_HEX.fullmatch(p) for p in parts[:2]):
            raise UsageError(
                f"pre-receive: line {number} of standard input is not "
                "`<old sha> <new sha> <ref>`; push rejected",
                hint="git runs this hook with those lines; to scan a range use `leakguard git`",
            )
        updates.append((parts[0], parts[1]))
    return new_commits(repo, updates, ("--all",), "pre-receive")


def new_commits(
    repo: str,
    updates: Iterable[tuple[str, str]],
    known: Sequence[str],
    hook: str = "pre-push",
) -> tuple[str, ...]:
    """`git log` arguments for the commits that ref updates `(old, new)` bring
    and that `known` (`--remotes`, `--all`, ...) does not reach.

    A deletion (`new` all zeros) brings nothing; an update brings `old..new`;
    a new ref (`old` all zeros, or a commit this repository does not have)
    brings what `known` does not reach. A new commit the repository does not
    have stops the push (`hook` names the hook in that error).
    """
    positive: list[str] = []
    negative: list[str] = []
    for old, new in updates:
        if new.strip("0") == "":
            continue  # deletion
        if not _has_commit(repo, new):
            verdict = "push rejected" if hook == "pre-receive" else "push stopped"
            raise TargetUnreadable(
                f"{hook}: the pushed commit {new[:12]} is not in {repo}; {verdict}"
            )
        positive.append(new)
        if old.strip("0") != "" and _has_commit(repo, old):
            negative.append("^" + old)
    if not positive:
        return ()
    return (*positive, *negative, "--not", *known)


def _ref_lines(stdin: str) -> Iterator[tuple[int, list[str]]]:
    for number, line in enumerate(stdin.splitlines(), 1):
        parts = line.split()
        if parts:
            yield number, parts


_HEX = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _has_commit(repo: str, sha: str) -> bool:
    proc = subprocess.run(
        ["git", "-C", repo, "cat-file", "-e", f"{sha}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0
