"""`leakguard remediate`: the pull request that fixes a repository's leaks."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from leakguard.cli import State, effective_config, pass_state
from leakguard.commands.migrate import migration_options, migration_options_from, scan_and_plan
from leakguard.errors import ChangeRefused, ExitCode, UsageError
from leakguard.remediation.forges import FORGES

if TYPE_CHECKING:
    from leakguard.migrators.auto import Options
    from leakguard.models import Finding
    from leakguard.remediation.guide import Guide


def build_guide(
    state: State, root: Path, options: Options, sweep: Path | None = None,
    notes: tuple[str, ...] = (),
) -> Guide:  # fmt: skip
    """Scan the tree at `root` and its history, plan the migration: the guide."""
    from leakguard.detectors.git_history import HistoryOptions, scan_history
    from leakguard.engine import Engine
    from leakguard.policy import apply_policy
    from leakguard.remediation.guide import build, load_sweep

    result, plan = scan_and_plan(state, root, options)
    config = effective_config(state, [str(root)])
    images = load_sweep(sweep) if sweep is not None else None
    scanned = scan_history(Engine(config.ruleset()), str(root), HistoryOptions(), jobs=1)
    history = apply_policy(
        scanned.result, min_confidence=config.min_confidence, disable=config.disable
    )
    return build(root, result, plan, history, scanned.sightings, images=images, notes=notes)


def _refuse_token(_ctx: Any, _param: Any, value: str | None) -> None:
    if value is not None:
        raise UsageError(
            "a token on the command line is refused (it would be in the shell history and "
            "the process list)",
            hint="set GITHUB_TOKEN / GITLAB_TOKEN / GITEA_TOKEN, or use `git credential`",
        )


def _terminate(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds through every `finally`: the worktree is removed


@click.command("remediate")
@click.argument("repo", default=".", type=click.Path(path_type=Path), metavar="[REPO]")
@click.option(
    "--push",
    "do_push",
    is_flag=True,
    help="Commit the fix in a separate worktree and push it to its own branch.",
)
@click.option("--remote", default="origin", show_default=True, help="The remote to push to.")
@click.option(
    "--base",
    metavar="BRANCH",
    help="The branch the pull request targets (default: the current branch).",
)
@click.option(
    "--branch",
    default="leakguard/remediate",
    show_default=True,
    help="The branch the fix is pushed to (its own: force-pushed with a lease).",
)
@click.option(
    "--author",
    metavar="'NAME <EMAIL>'",
    help="Commit author (default: the repository's git config).",
)
@click.option(
    "--open",
    "do_open",
    is_flag=True,
    help="With --push: open the pull request, or update the one opened before.",
)
@click.option(
    "--forge", type=click.Choice(FORGES), help="The forge's kind (default: from the remote's host)."
)
@click.option(
    "--api-url",
    metavar="URL",
    help="The forge's API (GitHub Enterprise, self-managed GitLab, Gitea/Forgejo).",
)
@click.option(
    "--token",
    hidden=True,
    expose_value=False,
    callback=_refuse_token,
    help="Refused: tokens come from the environment or git credentials.",
)
@click.option(
    "--purge-plan",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the git-filter-repo replacements file (0600, outside the "
    "repository; it holds the values: never commit or share it).",
)
@click.option(
    "--purge",
    "do_purge",
    is_flag=True,
    help="Rewrite the history of the --mirror clone without the secrets, then scan it again.",
)
@click.option(
    "--mirror",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="The bare mirror clone (`git clone --mirror`) that --purge rewrites.",
)
@click.option(
    "--sweep-report",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="A `leakguard sweep -f json` report: the guide lists the image layers that carry "
    "each secret.",
)
@click.option(
    "--from-sweep",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="One pull request per source repository of the images in this sweep "
    "report (mapped by OCI labels or --repo-map; REPO is not used).",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="With --from-sweep: where each source repository is cloned (once).",
)
@click.option(
    "--repo-map",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="With --from-sweep: `IMAGE-GLOB CLONE-URL` lines, tried before the labels.",
)
@migration_options
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True,
              help="text: the pull request's title, body and diff; json: the plan as one "
                   "document (values redacted), for CI. Not with --push or --purge.")  # fmt: skip
@pass_state
def remediate(
    state: State, /, repo: Path, do_push: bool, remote: str, base: str | None, branch: str,
    author: str | None, do_open: bool, forge: str | None, api_url: str | None,
    purge_plan: Path | None, do_purge: bool, mirror: Path | None, sweep_report: Path | None,
    from_sweep: Path | None, workdir: Path | None, repo_map: Path | None, target: str,
    dockerfile_syntax: str, vault_addr: str | None, vault_path: str | None, vault_agent: bool,
    force: bool, fmt: str,
) -> ExitCode:  # fmt: skip
    """Plan (and with --push, make) the pull request that fixes the leaks in REPO.

    Without --push, prints the pull request's title, body (the remediation
    guide: every secret, where it is, the rotation checklist and the history
    purge plan; values redacted) and diff, and writes nothing. With --push, the
    migration is applied and committed in a temporary worktree (the checkout,
    index, stash and branches are never touched) and pushed to --branch.
    Exit codes: 0 nothing to fix, or pushed; 1 (plan only) something to fix;
    2 usage error; 3 the repository or remote could not be read or reached;
    4 refused (dirty or detached checkout, push rejected, the forge refused the
    pull request): the checkout was not changed.
    """
    from leakguard.remediation import gitops

    options = migration_options_from(
        target, dockerfile_syntax, vault_addr, vault_path, vault_agent, force
    )
    if fmt == "json" and (do_push or do_purge or purge_plan is not None):
        raise UsageError(
            "--format json is for the plan", hint="drop --push, --purge and --purge-plan"
        )
    if do_purge:
        if mirror is None:
            raise UsageError("--purge needs --mirror DIR", hint="a fresh `git clone --mirror`")
        return _purge(state, mirror, purge_plan, repo)
    if do_open and not do_push:
        raise UsageError("--open needs --push", hint="the pull request is for a pushed branch")
    if from_sweep is not None:
        if workdir is None:
            raise UsageError("--from-sweep needs --workdir DIR", hint="where to clone")
        where = Where(remote, base, branch, author, do_open, forge, api_url, from_sweep)
        return _from_sweep(state, options, where, workdir, repo_map, do_push, fmt)
    root = gitops.repo_root(repo)
    if purge_plan is not None and not do_push:
        from leakguard.remediation.purge import write_plan

        guide = build_guide(state, root, options)
        lines = write_plan(purge_plan, root, guide.values)
        click.echo(f"leakguard: wrote {lines} replacement(s) to {purge_plan} (0600): it holds "
                   "the secret values; use it with --purge, then delete it", err=True)  # fmt: skip
        return ExitCode.CLEAN
    if not do_push:
        guide = build_guide(state, root, options, sweep_report)
        if fmt == "json":
            from leakguard.formats import remediate_json

            click.echo(remediate_json.render([(guide, {"repository": str(root)})]), nl=False)
        else:
            _show(guide)
        if guide.nothing_to_fix:
            click.echo("leakguard: nothing to fix", err=True)
            return ExitCode.CLEAN
        return ExitCode.FINDINGS
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _push(
            state,
            root,
            options,
            Where(remote, base, branch, author, do_open, forge, api_url, sweep_report),
        )
    finally:
        signal.signal(signal.SIGTERM, previous)


def _from_sweep(
    state: State, options: Options, where: Where, workdir: Path, repo_map: Path | None,
    do_push: bool, fmt: str = "text",
) -> ExitCode:  # fmt: skip
    """One pull request (or plan) per source repository of the swept images."""
    from leakguard.errors import LeakguardError
    from leakguard.remediation import gitops, sources

    assert where.sweep_report is not None
    images = sources.images_in(where.sweep_report)
    mapping = sources.load_repo_map(repo_map) if repo_map else []
    found, unmapped = sources.map_images(images, mapping)
    for image, why in unmapped:
        click.echo(f"leakguard: not mapped: {image}: {why}", err=True)
    codes = [ExitCode.FINDINGS] if unmapped else []
    planned: list[tuple[Guide, dict[str, Any]]] = []  # with --format json: shown at the end
    failed: list[dict[str, Any]] = []

    def show(guide: Guide, url: str, start: str | None) -> None:
        if fmt == "json":
            about = {"repository": url, "images": list(found[url].images), "start": start}
            planned.append((guide, about))
        else:
            _show(guide)

    for url, source in found.items():
        click.echo(f"leakguard: {url}: {len(source.images)} image(s): "
                   f"{', '.join(source.images)}", err=True)  # fmt: skip
        try:
            path = sources.clone_once(workdir, url)
            state._config = None  # each repository has its own config
            base = gitops.check_checkout(path, where.base)
            start, notes = sources.starting_point(path, where.remote, base, source.revisions)
            if start is not None:
                click.echo(f"leakguard: {url}: starting from {start[:12]}, the revision the "
                           "images were built from", err=True)  # fmt: skip
            for note in notes:
                if not note.startswith("This pull request starts"):
                    click.echo(f"leakguard: {url}: {note.replace('`', '')}", err=True)
            if do_push:
                codes.append(_push(state, path, options, where, start, notes))
                continue
            if start is None:
                guide = build_guide(state, path, options, where.sweep_report, notes)
                show(guide, url, start)
            else:
                with gitops.worktree(path, start) as tree:
                    guide = build_guide(state, tree, options, where.sweep_report, notes)
                    show(guide, url, start)
            codes.append(ExitCode.CLEAN if guide.nothing_to_fix else ExitCode.FINDINGS)
        except LeakguardError as e:
            click.echo(f"leakguard: error: {url}: {e.message}", err=True)
            if e.hint:
                click.echo(f"  hint: {e.hint}", err=True)
            codes.append(e.exit_code)
            failed.append({"repository": url, "error": e.message, "exit_code": int(e.exit_code)})
    if fmt == "json":
        from leakguard.formats import remediate_json

        not_mapped = [{"image": image, "reason": why} for image, why in unmapped]
        click.echo(remediate_json.render(planned, not_mapped=not_mapped, failed=failed), nl=False)
    errors = [c for c in codes if c not in (ExitCode.CLEAN, ExitCode.FINDINGS)]
    if errors:
        return max(errors)
    return max(codes, default=ExitCode.CLEAN)


def _history_secrets(state: State, repo: Path) -> list[Finding]:
    """History findings that carry a value long enough to purge."""
    from leakguard.detectors.git_history import HistoryOptions, scan_history
    from leakguard.engine import Engine
    from leakguard.policy import apply_policy

    config = effective_config(state, [str(repo)])
    options = HistoryOptions(check_head=False)
    scanned = scan_history(Engine(config.ruleset()), str(repo), options, jobs=1)
    result = apply_policy(scanned.result, disable=config.disable)
    return [f for f in result.findings if f.has_secret and "credential-file" not in f.rule_id
            and len(f.secret.raw) >= 6]  # fmt: skip


def _purge(state: State, mirror: Path, plan_file: Path | None, repo: Path) -> ExitCode:
    from leakguard.remediation.purge import check_mirror, purge, write_plan

    checkout = repo if (repo / ".git").exists() else None
    check_mirror(mirror, checkout)
    found = _history_secrets(state, mirror)
    values = list({f.secret for f in found})
    if not values:
        click.echo(f"leakguard: nothing to purge in {mirror}", err=True)
        return ExitCode.CLEAN
    if plan_file is not None and not plan_file.exists():
        write_plan(plan_file, mirror, values)
    result = purge(mirror, values, plan_file, lambda m: _history_secrets(state, m))
    if result.remaining:
        shown = ", ".join(sorted({f"{f.rule_id} {f.redacted}" for f in result.remaining}))
        raise ChangeRefused(
            f"{len(result.remaining)} purged secret(s) are still in the history of {mirror}: "
            f"{shown}",
            hint="do not push this mirror; check the replacements file covers every value",
        )
    click.echo(
        f"leakguard: rewrote the history of {mirror}: {len(values)} secret(s) replaced; a new "
        "scan finds none of them. Push it with `git push --force --mirror URL`, then have "
        "every collaborator clone afresh.",
        err=True,
    )
    return ExitCode.CLEAN


def _show(guide: Guide) -> None:
    click.echo(f"# {guide.title}\n")
    click.echo(guide.body)
    diff = guide.scrub(guide.plan.diff())
    if diff:
        click.echo("```diff")
        click.echo(diff, nl=False)
        click.echo("```")


@dataclass(frozen=True)
class Where:
    remote: str
    base: str | None
    branch: str
    author: str | None
    do_open: bool
    forge: str | None
    api_url: str | None
    sweep_report: Path | None = None


def _push(
    state: State, root: Path, options: Options, where: Where, start: str | None = None,
    notes: tuple[str, ...] = (),
) -> ExitCode:  # fmt: skip
    from leakguard.migrators.auto import apply_migration
    from leakguard.remediation import forges, gitops
    from leakguard.remediation.guide import relative

    remote, branch = where.remote, where.branch
    base = gitops.check_checkout(root, where.base)
    gitops.check_branch_name(root, branch, base)
    url = gitops.remote_url(root, remote)
    who = gitops.Author.parse(where.author) if where.author else gitops.Author.from_config(root)
    target = token = None
    if where.do_open:  # before anything is pushed: a missing token stops here
        target = forges.target_for(url, where.forge, where.api_url)
        token = forges.find_token(target)
    start = start or gitops.base_commit(root, remote, base)
    with gitops.worktree(root, start) as path:
        guide = build_guide(state, path, options, where.sweep_report, notes)
        if guide.nothing_to_fix:
            click.echo("leakguard: nothing to fix: no branch pushed", err=True)
            _left_open(url, remote, branch, base, target, token)
            return ExitCode.CLEAN
        apply_migration(guide.plan, options)
        changed = sorted(relative(path, str(e.path)) for e in guide.plan.edits)
        commits = gitops.commit_changes(
            path, changed, who, guide.values, fallback_message=guide.title
        )
        expected = gitops.remote_head(url, branch)
        if expected and gitops.same_tree(path, url, expected, branch):
            click.echo(f"leakguard: {branch} on {remote} already has this fix", err=True)
        else:
            gitops.push(path, url, branch, expected)
            click.echo(
                f"leakguard: pushed {len(commits)} commit(s) to {branch} on {remote}", err=True
            )
        if target is not None and token is not None:
            opened = forges.open_or_update(target, token, guide.title, guide.body, branch, base)
            verb = "opened" if opened.created else "updated"
            click.echo(f"leakguard: {verb} {opened.url}", err=True)
        _show(guide)
    return ExitCode.CLEAN


def _left_open(
    url: str, remote: str, branch: str, base: str, target: Any, token: str | None
) -> None:
    """Say so when the pull request (or its branch) an earlier run made is still there."""
    from leakguard.remediation import forges, gitops

    if target is not None and token is not None:
        opened = forges.still_open(target, token, branch, base)
        if opened:
            click.echo(f"leakguard: the pull request an earlier run opened is still open: "
                       f"{opened}; nothing in it is needed any more: close it (left as it "
                       "is)", err=True)  # fmt: skip
        return
    if gitops.remote_head(url, branch):
        click.echo(f"leakguard: the branch {branch} an earlier run pushed is still on {remote}; "
                   "if its pull request is still open, close it (left as it is)",
                   err=True)  # fmt: skip
