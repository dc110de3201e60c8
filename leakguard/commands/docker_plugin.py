"""`leakguard docker-plugin`: install `docker leakguard` (a Docker CLI plugin)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from leakguard.errors import ExitCode

DIR_OPTION = click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="The Docker CLI's plugin folder (default: $DOCKER_CONFIG/cli-plugins, else "
    "~/.docker/cli-plugins).",
)
FORCE_OPTION = click.option(
    "--force",
    is_flag=True,
    help="Also replace (or remove) a docker-leakguard leakguard did not write.",
)


@click.group("docker-plugin")
def docker_plugin() -> None:
    """Make leakguard a Docker CLI plugin: `docker leakguard image myapp:1`,
    `docker leakguard build-check .`, with the Docker CLI's context (`docker
    --context NAME leakguard ...`, DOCKER_HOST) used for the engine."""


def _folder(folder: Path | None) -> Path:
    from leakguard.dockerplugin import default_folder

    return folder if folder is not None else default_folder(os.environ, Path.home())


@docker_plugin.command("install")
@DIR_OPTION
@FORCE_OPTION
def install(folder: Path | None, force: bool) -> ExitCode:
    """Write docker-leakguard (0755) into the plugin folder; it runs this leakguard
    (this Python's). Exit codes: 0 installed, 4 refused (a file leakguard did not
    write is there; --force replaces it) or could not be written."""
    from leakguard.dockerplugin import install as write

    done = write(_folder(folder), sys.executable, force=force)
    verb = "replaced" if done.replaced else "wrote"
    click.echo(f"leakguard: {verb} {done.path}; try `docker leakguard --help`", err=True)
    return ExitCode.CLEAN


@docker_plugin.command("uninstall")
@DIR_OPTION
@FORCE_OPTION
def uninstall(folder: Path | None, force: bool) -> ExitCode:
    """Remove docker-leakguard from the plugin folder. Exit codes: 0 removed (or
    there was none), 4 refused (a file leakguard did not write; --force removes it)."""
    from leakguard.dockerplugin import SCRIPT
    from leakguard.dockerplugin import uninstall as remove

    where = _folder(folder)
    removed = remove(where, force=force)
    if removed is None:
        click.echo(f"leakguard: no {SCRIPT} in {where}: nothing to remove", err=True)
    else:
        click.echo(f"leakguard: removed {removed}", err=True)
    return ExitCode.CLEAN
