"""`leakguard context`: what `docker build` would send, and what COPY puts in the image."""

from __future__ import annotations

import os
from typing import Any

import click

from leakguard.cli import (
    DETECT_SECRETS_PLUGIN_OPTION,
    MIN_CONFIDENCE_OPTION,
    NO_BASELINE_OPTION,
    Output,
    State,
    effective_config,
    find_baseline,
    finish,
    gate_options,
    output_options,
    pass_state,
    policy,
)
from leakguard.errors import ExitCode, TargetUnreadable, UsageError


@click.command("context")
@click.argument("target", required=False, default=".", metavar="[DIR|DOCKERFILE|COMPOSE]")
@click.option(
    "--dockerfile",
    type=click.Path(dir_okay=False),
    help="Dockerfile to use with a context folder (default: DIR/Dockerfile).",
)
@click.option(
    "--list",
    "list_only",
    is_flag=True,
    help="Only print the files the build context holds, one per line.",
)
@output_options
@NO_BASELINE_OPTION
@MIN_CONFIDENCE_OPTION
@gate_options
@DETECT_SECRETS_PLUGIN_OPTION
@pass_state
def context(
    state: State, /, target: str, dockerfile: str | None, list_only: bool, out: Output,
    no_baseline: bool, **overrides: Any,
) -> ExitCode:  # fmt: skip
    """Check a build context: the credential files and secrets that COPY/ADD would
    put into the image, after `.dockerignore`.

    TARGET is a context folder (with its Dockerfile, or --dockerfile), a
    Dockerfile (its folder is the context), or a Compose file (every service's
    `build:`). Exit codes: 0 clean, 1 findings, 3 something could not be read.
    """
    from leakguard.detectors.context import list_context, scan_context
    from leakguard.engine import Engine, kind_of_path
    from leakguard.models import ScanResult

    builds = _builds(target, dockerfile, kind_of_path(target))
    if list_only:
        for folder, file in builds:
            for rel in list_context(folder, file).files:
                click.echo(os.path.join(folder, rel) if len(builds) > 1 else rel)
        return ExitCode.CLEAN
    config = effective_config(state, [target], **overrides)
    engine = Engine(config.ruleset())
    result = ScanResult()
    from leakguard.cli import progress_for

    with progress_for(out) as progress:
        for folder, file in builds:
            result.extend(scan_context(
                engine, file, folder, max_file_size=config.max_file_size, progress=progress
            ))  # fmt: skip
    baseline = None if no_baseline else find_baseline(None, config)
    return finish(policy(result, config, baseline), config, out)


def _builds(target: str, dockerfile: str | None, kind: str | None) -> list[tuple[str, str]]:
    """(context folder, Dockerfile) pairs to check."""
    if os.path.isdir(target):
        file = dockerfile or os.path.join(target, "Dockerfile")
        if not os.path.isfile(file):
            raise UsageError(f"no Dockerfile at {file}", hint="name it with --dockerfile")
        return [(target, file)]
    if not os.path.exists(target):
        raise TargetUnreadable(
            f"{target} does not exist", hint="give a folder, Dockerfile or Compose file"
        )
    if kind == "compose":
        from leakguard.detectors.compose import build_targets

        builds = [(b.context, b.dockerfile) for b in build_targets(target)]
        if not builds:
            raise UsageError(f"no service in {target} has a `build:`")
        return builds
    return [(os.path.dirname(target) or ".", target)]
