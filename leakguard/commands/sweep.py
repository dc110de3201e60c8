"""`leakguard sweep`: every image of a registry, each shared layer read once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from leakguard.cli import Output, State, find_baseline, finish, pass_state, policy
from leakguard.commands.image import image_options, prepare
from leakguard.errors import ExitCode

if TYPE_CHECKING:
    from leakguard.detectors.sweep import SweepStats
    from leakguard.detectors.sweep_store import StoreReport
    from leakguard.models import ScanResult


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
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    default=None,
    help="Scan the layers on this Dask cluster (needs leakguard[cluster]); "
    "this machine lists, collects and assembles.",
)
@click.option(
    "--repos-from",
    type=click.File("r", encoding="utf-8"),
    default=None,
    metavar="FILE|-",
    help="Sweep the repositories listed here, one a line, instead of the registry's "
    "catalog (for registries that do not serve one).",
)
@click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Keep layer scans, runs, tags, images and findings in this SQLite file (0600; "
    "no default): the next sweep reads only changed tags and new layers; a killed one "
    "resumes.",
)
@click.option(
    "--feed",
    is_flag=True,
    help="With --store: list only the repositories that the registry's notifications "
    "(recorded by `leakguard listen`) named since the store's last complete sweep; the "
    "others are carried over, a few of their tags checked. Every tag is checked instead, "
    "with a note, unless one listener has run without a break since that sweep, heard "
    "from the registry, refused nothing, and the checked tags are unchanged.",
)
@click.option(
    "--keep-runs",
    type=int,
    default=None,
    metavar="N",
    help="With --store: after the run, delete what the store holds of this registry's "
    "finished runs but the newest N (at least 2) and the base of a --feed sweep; first "
    "and last sightings are kept (default: keep every run).",
)
@click.option(
    "--since",
    type=int,
    default=None,
    metavar="RUN",
    help="With `sweep report`: what is new and fixed since this run (default: the "
    "finished run before the newest).",
)
@image_options
@pass_state
def sweep(
    state: State,
    /,
    host: str,
    repositories: tuple[str, ...],
    shard: str,
    scheduler: str | None,
    store_path: Path | None,
    feed: bool,
    keep_runs: int | None,
    since: int | None,
    repos_from: TextIO | None,
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

    `leakguard sweep report --store FILE [--since RUN]` renders the store's
    newest finished sweep without touching the registry: when each secret was
    first and last seen, whether the newest tag still carries it, and what is
    new since the run before it (or RUN), fixed, and remaining (a registry host
    named `report` is given with its port).

    A layer's results are cached by its digest, so an interrupted sweep
    resumes where it stopped. With `--store`, a tag whose digest (one HEAD
    request) is the one stored is not read again; with `--feed` too, and
    `leakguard listen` recording the registry's notifications, a repository no
    notification named is not listed (a few of its tags, picked at random, are
    checked). `--scheduler` sends one task per distinct layer to a Dask cluster;
    `--shard I/N` on N machines that cannot reach one another splits the layers
    between them. Exit codes as for `leakguard image`.
    """
    from leakguard.detectors.sweep import SweepOptions, parse_shard
    from leakguard.detectors.sweep import sweep as run_sweep
    from leakguard.errors import UsageError
    from leakguard.registry.reference import registry_host

    if host == "report":  # `leakguard sweep report --store FILE`: no registry is read
        if keep_runs is not None:
            raise UsageError("--keep-runs is for `leakguard sweep HOST --store FILE`")
        return _report(state, store_path, since, out, baseline_path, no_baseline)
    if since is not None:
        raise UsageError("--since is for `leakguard sweep report --store FILE`")
    if feed and store_path is None:
        raise UsageError("--feed needs --store FILE (where `leakguard listen` records events)")
    if keep_runs is not None and store_path is None:
        raise UsageError("--keep-runs needs --store FILE")
    shard_spec = parse_shard(shard)
    host = registry_host(host)
    no_cache = no_cache or store_path is not None  # the store is the layer cache then
    config, engine, options, cache = prepare(
        state, overrides, platform, no_cache, cache_path, out.show_secrets
    )
    store = None
    if store_path is not None:
        from leakguard.detectors.image import ruleset_version
        from leakguard.detectors.sweep_store import SweepStore

        # The store keeps no values: with --show-secrets every layer is read again.
        store = SweepStore(
            store_path,
            ruleset_version(engine, options),
            read=not out.show_secrets,
            keep_runs=keep_runs,
        )
    sweep_options = SweepOptions(
        repositories=repositories,
        shard=shard_spec,
        jobs=jobs,
        insecure=insecure,
        skip_inherited=skip_inherited,
        scheduler=scheduler,
        repos_from=_repositories(repos_from) if repos_from is not None else None,
        feed=feed,
    )
    try:
        from leakguard.cli import progress_for

        with progress_for(out) as progress:
            done = run_sweep(
                engine, host, options, sweep_options, cache=cache, store=store, progress=progress
            )
    finally:
        for opened in (cache, store):
            if opened is not None:
                opened.close()
    baseline = None if no_baseline else find_baseline(baseline_path, config)
    result = policy(done.result, config, baseline)
    notes = [_summary(done.stats)]
    if done.stats.feed_note:
        notes.append(f"leakguard: --feed not used, every tag checked: {done.stats.feed_note}")
    return finish(result, config, out, notes=notes, facts=_facts(done.stats))


def _summary(s: SweepStats) -> str:
    """What was swept; of the layers read: MB the rules ran on, MB passed over, MB downloaded."""
    passed_over = (
        f", {s.bytes_skipped / 1e6:.1f} MB passed over (binary or over the size bound)"
        if s.bytes_skipped
        else ""
    )
    unchanged = (
        f"; {s.tags_unchanged} tags unchanged since the store's run" if s.tags_unchanged else ""
    )
    if s.repositories_carried:
        unchanged += (
            f" ({s.repositories_carried} repositories carried over: no event named them; "
            f"{s.tags_spot_checked} of their tags checked)"
        )
    return (
        f"leakguard: swept {s.repositories} repositories, {s.tags} tags, {s.images} images; "
        f"{s.layers} distinct layers of {s.layer_refs} ({s.layers_scanned} read, "
        f"{s.layers_cached} cached){unchanged}, {s.bytes_read / 1e6:.1f} MB read{passed_over} "
        f"({s.bytes_scanned / 1e6:.1f} MB compressed) in {s.seconds:.2f}s "
        f"({s.discovery_seconds:.2f}s listing tags and reading manifests; "
        f"{s.layers_per_second:.1f} layers/s, {s.mb_per_second:.1f} MB/s read)"
    )


def _facts(s: SweepStats) -> list[tuple[str, str]]:
    """The sweep's figures for the formats that show them (html's overview)."""
    return [
        ("repositories", str(s.repositories)),
        ("tags", str(s.tags)),
        ("images", str(s.images)),
        ("distinct layers", str(s.layers)),
        ("layers read", str(s.layers_scanned)),
        ("layers from the cache", str(s.layers_cached)),
        ("MB downloaded", f"{s.bytes_scanned / 1e6:.1f}"),
        ("seconds", f"{s.seconds:.2f}"),
    ]


def _report(
    state: State,
    store_path: Path | None,
    since: int | None,
    out: Output,
    baseline_path: Path | None,
    no_baseline: bool,
) -> ExitCode:
    from leakguard.cli import effective_config
    from leakguard.detectors.sweep_store import SweepStore, report_run
    from leakguard.errors import UsageError
    from leakguard.models import ScanResult

    if store_path is None:
        raise UsageError("sweep report: --store FILE is required")
    if not store_path.is_file():
        raise UsageError(f"sweep report: {store_path}: no such sweep store")
    if out.show_secrets:
        raise UsageError(
            "sweep report: the store keeps no secret, only redacted values",
            hint="sweep again with --show-secrets to see them",
        )
    store = SweepStore(store_path, "")
    try:
        done = report_run(store, since)
    finally:
        store.close()
    run = done.run
    before = f"run {done.previous.id}" if done.previous else "nothing before it"
    click.echo(
        f"leakguard: sweep run {run.id} of {run.host}: {len(done.new)} new since {before}, "
        f"{len(done.fixed)} fixed, {done.remaining} remaining"
        + ("" if run.complete in (None, True) else " (the run could not read everything)"),
        err=True,
    )
    config = effective_config(state, ())
    baseline = None if no_baseline else find_baseline(baseline_path, config)
    result = policy(ScanResult(findings=done.findings), config, baseline)
    shown = {f.identity for f in result.findings}  # what the baseline leaves
    facts = [
        ("sweep run", f"{run.id} of {run.host}"),
        (f"new since {before}", str(sum(f.identity in shown for f in done.new))),
        ("fixed", str(len(done.fixed))),
        ("remaining", str(done.remaining)),
    ]
    return finish(
        result, config, out, facts=facts, amend=lambda fmt, text: _changes(fmt, text, done, result)
    )


def _changes(fmt: str, text: str, done: StoreReport, result: ScanResult) -> str:
    """The text and JSON reports of a store end with what changed since the earlier run."""
    from leakguard.detectors.sweep_store import iso
    from leakguard.formats import ReportOptions, json_dumps, printable, where
    from leakguard.formats.json_report import report as json_report
    from leakguard.models import ScanResult

    shown = {f.identity for f in result.findings}  # what the baseline leaves
    new = [f for f in done.new if f.identity in shown]
    since = done.previous
    if fmt == "json":
        document = json.loads(text)
        options = ReportOptions()
        fixed = json_report(ScanResult(findings=[x.finding for x in done.fixed]), options)
        document["changes"] = {
            "run": done.run.id,
            "started": iso(done.run.started),
            "since": since.id if since else None,
            "new": json_report(ScanResult(findings=new), options)["findings"],
            "fixed": [
                {"reason": x.reason, "finding": finding}
                for finding, x in zip(fixed["findings"], done.fixed, strict=True)
            ],
            "remaining": done.remaining,
        }
        return json_dumps(document) + "\n"
    if fmt != "text":
        return text
    than = f"against run {since.id} ({iso(since.started)})" if since else "(no run before it)"
    lines = [f"\nSweep run {done.run.id} ({iso(done.run.started)}) {than}:"]
    lines.append(f"  new: {len(new)}")
    lines += [f"    {f.severity.value:<8} {f.rule_id}  {where(f)}  {f.redacted}" for f in new]
    lines.append(f"  fixed: {len(done.fixed)}")
    lines += [
        f"    {x.finding.severity.value:<8} {x.finding.rule_id}  {where(x.finding)}  "
        f"{x.finding.redacted}  ({x.reason}; last seen {x.finding.location.last_seen})"
        for x in done.fixed
    ]
    lines.append(f"  remaining: {done.remaining}")
    return text + printable("\n".join(lines)) + "\n"


def _repositories(source: TextIO) -> tuple[str, ...]:
    """One repository a line; blank lines and `#` comments left out."""
    from leakguard.errors import UsageError
    from leakguard.registry.reference import is_repository

    names = []
    for number, line in enumerate(source, 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        if not is_repository(name):
            raise UsageError(f"--repos-from line {number}: {name[:80]!r} is not a repository name")
        names.append(name)
    return tuple(names)
