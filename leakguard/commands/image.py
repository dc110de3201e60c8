"""`leakguard image`: every layer, env var, label and history entry of container images."""

from __future__ import annotations

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
from leakguard.errors import ExitCode

if TYPE_CHECKING:
    from leakguard.config import Config
    from leakguard.detectors.image import ImageOptions, LayerCache
    from leakguard.engine import Engine


def image_options(f: Any) -> Any:
    """Options shared by `image` and `sweep`."""
    options = [
        click.option(
            "--platform",
            metavar="OS/ARCH",
            callback=_platform,
            help="Only this platform of a multi-platform image (default: every one).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=1),
            default=30,
            show_default=True,
            metavar="SECONDS",
            help="How long a registry may keep a request unanswered (a silent one is "
            "asked once more, then reported).",
        ),
        click.option(
            "--max-connections",
            type=click.IntRange(min=1),
            default=8,
            show_default=True,
            metavar="N",
            help="Connections open to the registry at once, at most (on a Dask cluster: "
            "per worker process).",
        ),
        click.option(
            "--max-retry-wait",
            type=click.FloatRange(min=0),
            default=60,
            show_default=True,
            metavar="SECONDS",
            help="How long one request may wait out a registry answering 429 or 5xx "
            "(it honours Retry-After, else backs off exponentially) before it is reported.",
        ),
        click.option(
            "--insecure",
            is_flag=True,
            help="Allow plain HTTP to a registry that is not on loopback.",
        ),
        click.option(
            "--skip-inherited",
            is_flag=True,
            help="Leave out layers shared with a known base image (default: report them, "
            "marked inherited).",
        ),
        click.option(
            "--no-cache",
            is_flag=True,
            help="Read every layer again instead of using cached layer results.",
        ),
        click.option(
            "--cache",
            "cache_path",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Layer result cache (default: layers.sqlite in the user cache folder).",
        ),
        click.option(
            "--baseline",
            "baseline_path",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Do not report findings in this baseline.",
        ),
        NO_BASELINE_OPTION,
        DISABLE_OPTION,
        ENABLE_OPTION,
        click.option(
            "--max-file-size",
            callback=_size,
            metavar="SIZE",
            help="Do not read files larger than this (each is reported, and the exit code is 3). "
            "Default: no bound, files are streamed.",
        ),
        MIN_CONFIDENCE_OPTION,
        *GATE_OPTIONS,
        click.option(
            "-j",
            "--jobs",
            type=click.IntRange(min=0),
            default=0,
            help="Worker processes (default: one per core).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return output_options(f)


def _platform(_ctx: Any, _param: Any, value: str | None) -> str | None:
    import re

    if value is not None and not re.fullmatch(r"[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?", value):
        raise click.BadParameter(f"{value!r} is not OS/ARCH[/VARIANT], e.g. linux/amd64")
    return value


def _size(ctx: Any, param: Any, value: str | None) -> int | None:
    from leakguard.cli import _parse_size

    return _parse_size(ctx, param, value)


def prepare(
    state: State,
    overrides: dict[str, Any],
    platform: str | None,
    no_cache: bool,
    cache_path: Path | None,
    show_secrets: bool = False,
) -> tuple[Config, Engine, ImageOptions, LayerCache | None]:
    """The config, engine, options and layer cache of an image scan. The cache
    holds no values: with `show_secrets` every layer is read again."""
    from leakguard.detectors.image import (
        ImageOptions,
        LayerCache,
        default_cache_path,
        ruleset_version,
    )
    from leakguard.engine import Engine

    # Registry access, from image_options (a caller without them gets the defaults).
    timeout = float(overrides.pop("timeout", ImageOptions.timeout))
    max_connections = int(overrides.pop("max_connections", ImageOptions.max_connections))
    max_retry_wait = float(overrides.pop("max_retry_wait", ImageOptions.max_retry_wait))
    config = effective_config(state, (), **overrides)
    engine = Engine(config.ruleset())
    options = ImageOptions(
        max_file_size=config.max_file_size,
        platform=platform,
        timeout=timeout,
        max_connections=max_connections,
        max_retry_wait=max_retry_wait,
    )
    path = cache_path or default_cache_path()
    cache = None
    if not no_cache and path is not None:
        cache = LayerCache(path, ruleset_version(engine, options), read=not show_secrets)
    return config, engine, options, cache


@click.command("image")
@click.argument("refs", nargs=-1, required=True, metavar="REF...")
@image_options
@DETECT_SECRETS_PLUGIN_OPTION
@pass_state
def image(
    state: State,
    /,
    refs: tuple[str, ...],
    platform: str | None,
    insecure: bool,
    skip_inherited: bool,
    no_cache: bool,
    cache_path: Path | None,
    out: Output,
    baseline_path: Path | None,
    no_baseline: bool,
    jobs: int,
    **overrides: Any,
) -> ExitCode:
    """Scan container images: every layer (deleted files too), env, labels and history.

    \b
    REF is one of:
      docker-daemon:NAME[:TAG]    an image of the local Docker engine
      docker-archive:PATH         a `docker save` tarball
      oci:DIR[:TAG]               an OCI image layout
      docker://HOST[:PORT]/REPO[:TAG|@DIGEST]   a registry (plain HTTP only on loopback)
      NAME[:TAG]                  the local engine if it has it, else the registry

    A layer shared with a base image (another REF, or a tagged image of the
    local engine) is reported as inherited from it. Exit codes: 0 clean,
    1 findings, 2 usage error, 3 an image or a layer could not be read
    (findings from the rest are still reported).
    """
    from leakguard.cli import progress_for
    from leakguard.detectors.image import scan_images

    config, engine, options, cache = prepare(
        state, overrides, platform, no_cache, cache_path, out.show_secrets
    )
    try:
        with progress_for(out) as progress:
            result = scan_images(
                engine,
                refs,
                options,
                jobs=jobs,
                cache=cache,
                insecure=insecure,
                skip_inherited=skip_inherited,
                progress=progress,
            )
    finally:
        if cache is not None:
            cache.close()
    baseline = None if no_baseline else find_baseline(baseline_path, config)
    return finish(policy(result, config, baseline), config, out)
