"""`leakguard sweep`: every image of a registry, each shared layer read once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from leakguard.cli import Output, State, find_baseline, finish, pass_state, policy
from leakguard.commands.image import image_options, prepare
from leakguard.errors import ExitCode

if TYPE_CHECKING:
    from leakguard.detectors.sweep import SweepStats


@click.command("sweep")
@click.argument("host", metavar="HOST[:PORT]")
@click.option(
    "--repo",
    "repositories",
    multiple=True,
    metavar="GLOB",
    help="Only repositories matching this pattern; repeatable (default: all).",
)
@click.option(
    "--shard",
    default="1/1",
    show_default=True,
    metavar="I/N",
    help="Scan only the I-th of N shards of the layers (split a sweep over N machines).",
)
@image_options
@pass_state
def sweep(
    state: State,
    /,
    host: str,
    repositories: tuple[str, ...],
    shard: str,
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
    """Scan every tag of every repository in a registry; shared layers are read once.

    A layer's results are cached by its digest, so an interrupted sweep
    resumes where it stopped, and `--shard I/N` on N machines splits the
    layers between them. Exit codes as for `leakguard image`.
    """
    from leakguard.detectors.sweep import SweepOptions, parse_shard
    from leakguard.detectors.sweep import sweep as run_sweep
    from leakguard.registry.reference import registry_host

    shard_spec = parse_shard(shard)
    host = registry_host(host)
    config, engine, options, cache = prepare(
        state, overrides, platform, no_cache, cache_path, out.show_secrets
    )
    sweep_options = SweepOptions(
        repositories=repositories,
        shard=shard_spec,
        jobs=jobs,
        insecure=insecure,
        skip_inherited=skip_inherited,
    )
    try:
        done = run_sweep(engine, host, options, sweep_options, cache=cache)
    finally:
        if cache is not None:
            cache.close()
    baseline = None if no_baseline else find_baseline(baseline_path, config)
    result = policy(done.result, config, baseline)
    return finish(result, config, out, notes=[_summary(done.stats)])


def _summary(s: SweepStats) -> str:
    """What was swept; of the layers read: MB the rules ran on, MB passed over, MB downloaded."""
    passed_over = (
        f", {s.bytes_skipped / 1e6:.1f} MB passed over (binary or over the size bound)"
        if s.bytes_skipped
        else ""
    )
    return (
        f"leakguard: swept {s.repositories} repositories, {s.tags} tags, {s.images} images; "
        f"{s.layers} distinct layers of {s.layer_refs} ({s.layers_scanned} read, "
        f"{s.layers_cached} cached), {s.bytes_read / 1e6:.1f} MB read{passed_over} "
        f"({s.bytes_scanned / 1e6:.1f} MB compressed) in {s.seconds:.2f}s "
        f"({s.layers_per_second:.1f} layers/s, {s.mb_per_second:.1f} MB/s read)"
    )
