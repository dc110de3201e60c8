"""`leakguard migrate`: move found secrets out of Dockerfiles and Compose files.
`leakguard secrets`: materialise moved secrets, and the flags a build needs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from leakguard.cli import State, effective_config, existing_path, pass_state, run_scan
from leakguard.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from leakguard.migrators.auto import Options
    from leakguard.migrators.plan import Plan
    from leakguard.models import ScanResult

TARGETS = ("auto", "buildkit", "compose", "swarm", "vault")


def migration_options(f: Any) -> Any:
    """The options that say where secrets go (shared by `migrate` and `remediate`)."""
    options = [
        click.option("--to", "target", type=click.Choice(TARGETS), default="auto",
                     show_default=True, help="Where the secrets go."),
        click.option("--dockerfile-syntax", type=click.Choice(["builtin", "1.10"]),
                     default="builtin",
                     help="builtin: `RUN --mount` that Docker 20.10+ builds offline; 1.10: "
                          "the `env=` form with a `# syntax` line."),
        click.option("--vault-addr", metavar="URL",
                     help="Vault/OpenBao address (or VAULT_ADDR)."),
        click.option("--vault-path", metavar="MOUNT/PATH",
                     help="KV v2 path for the values (default: secret/leakguard/FOLDER)."),
        click.option("--vault-agent", is_flag=True, help="Also write vault-agent.hcl templates."),
        click.option("--force", is_flag=True,
                     help="Overwrite a different value already in Vault."),
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


def migration_options_from(
    target: str, dockerfile_syntax: str, vault_addr: str | None, vault_path: str | None,
    vault_agent: bool, force: bool,
) -> Options:  # fmt: skip
    from leakguard.migrators.auto import Options

    if vault_addr is None and target == "vault":
        vault_addr = os.environ.get("VAULT_ADDR")
        if not vault_addr:
            raise UsageError("--to vault needs --vault-addr (or VAULT_ADDR)")
    return Options(
        target=target, vault_addr=vault_addr, vault_path=vault_path, force=force,
        dockerfile_syntax=None if dockerfile_syntax == "builtin" else dockerfile_syntax,
        vault_agent=vault_agent,
    )  # fmt: skip


@click.command("migrate")
@click.argument("path", default=".", type=click.Path(path_type=Path), callback=existing_path)
@click.option("--apply", "--write", "do_apply", is_flag=True,
              help="Write the changes (default: only show the plan).")  # fmt: skip
@migration_options
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True,
              help="text: the diff and a table of moves; json: the plan as one document "
                   "(values redacted), for CI.")  # fmt: skip
@pass_state
def migrate(
    state: State, /, path: Path, target: str, do_apply: bool, dockerfile_syntax: str,
    vault_addr: str | None, vault_path: str | None, vault_agent: bool, force: bool, fmt: str,
) -> ExitCode:  # fmt: skip
    """Plan (and with --apply, make) the move of secrets found under PATH.

    Without --apply, prints the unified diff and the secrets that would move
    (values redacted) and changes nothing. Exit codes: 0 nothing left to do,
    1 secrets still in files (a plan to apply, or findings that need a manual
    change), 3 a file could not be read or parsed (it may hold secrets too),
    4 refused (a file changed since planning, a store failed, a target holds
    another value: every file is as it was).
    """
    from leakguard.migrators.auto import apply_migration

    options = migration_options_from(
        target, dockerfile_syntax, vault_addr, vault_path, vault_agent, force
    )
    result, plan = scan_and_plan(state, path, options)
    if fmt == "text":
        click.echo(plan.diff(), nl=False)
        if plan.moves:
            click.echo("\nsecret\tdestination\tvalue\tused by")
            click.echo(plan.table(), nl=False)
        for note in plan.notes:
            click.echo(note)
    elif not do_apply:
        from leakguard.formats import plan_json

        click.echo(plan_json.render(plan, result.skipped), nl=False)
    for skip in plan.skipped:
        loc = skip.finding.location
        click.echo(f"leakguard: not moved: {loc.path}:{loc.line}: {skip.finding.rule_id} "
                   f"{skip.finding.redacted}: {skip.reason}", err=True)  # fmt: skip
    for unread in result.skipped:
        click.echo(f"leakguard: skipped {unread.target}: {unread.reason}", err=True)
    unreadable = any(s.error for s in result.skipped)
    if not do_apply:
        verb = "would move" if not plan.empty else "nothing to move"
        click.echo(f"leakguard: {verb}: {len(plan.moves)} secret(s), {len(plan.edits)} file(s) "
                   f"changed, {len(plan.skipped)} left for a manual change"
                   + (" (run again with --apply to write)" if not plan.empty else ""),
                   err=True)  # fmt: skip
        if unreadable:
            return ExitCode.UNREADABLE
        return ExitCode.FINDINGS if (not plan.empty or plan.skipped) else ExitCode.CLEAN
    applied = apply_migration(plan, options)
    if fmt == "json":
        from leakguard.formats import plan_json

        click.echo(plan_json.render(plan, result.skipped, applied=applied), nl=False)
    click.echo(f"leakguard: moved {len(plan.moves)} secret(s); wrote {len(applied.written)} "
               f"file(s) and {len(applied.secret_files)} local secret file(s) (0600)",
               err=True)  # fmt: skip
    if unreadable:
        return ExitCode.UNREADABLE
    return ExitCode.FINDINGS if plan.skipped else ExitCode.CLEAN


def scan_and_plan(state: State, path: Path, options: Options) -> tuple[ScanResult, Plan]:
    """Scan PATH as `scan` walks it and plan the move of what was found."""
    from leakguard.migrators.auto import plan_migration
    from leakguard.policy import apply_policy

    root = path if path.is_dir() else path.parent
    config = effective_config(state, [str(path)])
    result = run_scan(config, [str(path)], jobs=1)  # the walk `scan` makes: excludes too
    # What `scan` would report, baselined findings included: accepting a finding in
    # the baseline is no reason to keep it in the file when asked to move it.
    result = apply_policy(result, min_confidence=config.min_confidence, disable=config.disable)
    return result, plan_migration(root, result.findings, options)


@click.group("secrets")
def secrets() -> None:
    """Work with the secrets that `leakguard migrate` moved (leakguard-secrets.toml)."""


def _manifest_root(start: Path) -> Path:
    from leakguard.migrators.plan import MANIFEST_NAME

    here = Path(os.path.realpath(start))  # a symlink loop must not raise
    for folder in (here, *here.parents):
        if (folder / MANIFEST_NAME).is_file():
            return folder
    raise UsageError(f"no {MANIFEST_NAME} in {start} or above",
                     hint="run `leakguard migrate --apply` first")  # fmt: skip


@secrets.command("pull")
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=Path),
                callback=existing_path)  # fmt: skip
@click.option("--vault-addr", metavar="URL", help="Vault/OpenBao address (or VAULT_ADDR).")
def secrets_pull(path: Path, vault_addr: str | None) -> ExitCode:
    """Write each moved secret's value from its source into its local file (0600)."""
    from leakguard.migrators import manifest
    from leakguard.migrators.plan import write_secret_files

    root = _manifest_root(path)
    entries = manifest.load(root)
    remote = [(e.name, e.source) for e in entries.values() if e.source.startswith("vault:")]
    values: dict[str, Any] = {}
    if remote:
        from leakguard.migrators.vault import VaultStore

        values.update(VaultStore.from_env(vault_addr).fetch(remote))
    local_only = [e.name for e in entries.values() if e.source == "file"]
    missing = [n for n in local_only if not (root / entries[n].file).exists()]
    if missing:
        raise UsageError(f"no local copy of {', '.join(missing)} and no other source",
                         hint="the values were only ever in the local files")  # fmt: skip
    pulled = dict(values)
    moves = [m for m in manifest.to_moves(root, entries) if m.name in pulled]
    from leakguard.migrators.plan import local_contents

    files = local_contents(moves, pulled, overwrite=True)
    backups: list[Any] = []
    try:
        write_secret_files(files, backups)
    except OSError as e:
        from leakguard.errors import ChangeRefused
        from leakguard.migrators.plan import restore

        restore(backups)
        raise ChangeRefused(f"cannot write {e.filename}: {e.strerror}; nothing was changed") from e
    click.echo(f"leakguard: wrote {len(files)} local secret file(s) (0600) from "
               f"{len(pulled)} value(s)", err=True)  # fmt: skip
    return ExitCode.CLEAN


@secrets.command("docker-flags")
@click.argument("dockerfile", required=False, callback=existing_path,
                type=click.Path(dir_okay=False, path_type=Path))  # fmt: skip
def secrets_docker_flags(dockerfile: Path | None) -> ExitCode:
    """Print the `--secret id=NAME,src=PATH` flags a `docker build` needs."""
    from leakguard.migrators import manifest

    root = _manifest_root(dockerfile.parent if dockerfile else Path("."))
    flags = manifest.docker_flags(root, str(dockerfile) if dockerfile else None)
    click.echo(" ".join(flags))
    return ExitCode.CLEAN
