"""`leakguard build-check`: a build's Dockerfiles, Compose files and context in one report."""

from __future__ import annotations

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
from leakguard.errors import ExitCode


@click.command("build-check")
@click.argument("target", required=False, default=".", metavar="[DIR|DOCKERFILE|COMPOSE]")
@click.option(
    "--dockerfile",
    type=click.Path(dir_okay=False),
    help="The Dockerfile of a context folder (default: the folder's own Dockerfiles).",
)
@output_options
@NO_BASELINE_OPTION
@MIN_CONFIDENCE_OPTION
@gate_options
@DETECT_SECRETS_PLUGIN_OPTION
@pass_state
def build_check(
    state: State, /, target: str, dockerfile: str | None, out: Output, no_baseline: bool,
    **overrides: Any,
) -> ExitCode:  # fmt: skip
    """Check a build before running it: its Dockerfiles, its Compose files (and
    the env files they name) and what each build context would copy into the
    image, after `.dockerignore`, in one report.

    TARGET is a folder (its Dockerfiles and Compose files; each Compose
    service's `build:` is followed wherever it is), a Dockerfile or a Compose
    file. Exit codes: 0 clean, 1 findings, 2 usage error (nothing to check),
    3 something could not be read.
    """
    from leakguard.detectors.build import check_build, find_build_files
    from leakguard.engine import Engine

    files = find_build_files(target, dockerfile)
    config = effective_config(state, [target], **overrides)
    result = check_build(Engine(config.ruleset()), files, config.max_file_size)
    baseline = None if no_baseline else find_baseline(None, config, [target])
    return finish(policy(result, config, baseline), config, out)
