"""A whole registry: every repository, every tag, every layer read once.

Images in one registry share most of their layers (base images, common
dependencies). A sweep lists repositories and tags (`_catalog` and
`tags/list`, following pagination), resolves each tag to its images (every
platform), and scans each distinct layer once, however many images hold it;
each image's report is then put together from its layers' results.

Scaling past one machine: `scheduler="tcp://HOST:PORT"` sends one task per
distinct layer to an existing Dask cluster (`leakguard.detectors.image.cluster`);
this machine discovers, collects and assembles. `shard=(i, n)` scans only the
layers (and image configs) whose digest hashes to shard i of n, so n machines
that cannot reach one another split the work. The layer cache (keyed by layer
digest and ruleset version) makes an interrupted sweep resume where it stopped.

With a sweep store (`detectors/sweep_store.py`), a tag that answers a HEAD with
the digest the store recorded for it is carried over from the store: its
manifests, config and layers are not read again. With `feed=True` and an event
listener (`leakguard listen`) that has run without a break since the store's
last complete sweep, only the repositories the registry's notifications named
since then are listed; the others are carried over, a few of their tags
checked with a HEAD request.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from leakguard.detectors.image import (
    Image,
    ImageOptions,
    KnownImage,
    Layer,
    LayerCache,
    LayerScan,
    PlatformMissing,
    assemble,
    base_of,
    registry_images,
    scan_layers,
)
from leakguard.detectors.sweep_store import ImageRecord, SweepStore, TagSeen
from leakguard.engine import Engine
from leakguard.errors import TargetUnreadable, UsageError
from leakguard.models import Finding, ScanResult, Skipped
from leakguard.progress import NO_PROGRESS, Progress
from leakguard.registry import RegistryClient

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

# A sweep with --feed checks one in SPOT_CHECK_EVERY of the tags it carries over
# (at least SPOT_CHECK_MIN of them) with a HEAD request, picked at random each run.
SPOT_CHECK_EVERY = 100
SPOT_CHECK_MIN = 16


@dataclass(frozen=True)
class SweepOptions:
    repositories: tuple[str, ...] = ()  # glob patterns; empty: every repository
    shard: tuple[int, int] = (0, 1)  # (index from 0, count)
    jobs: int = 0
    discovery_threads: int = 8
    insecure: bool = False
    skip_inherited: bool = False  # a layer is reported on the base image only
    scheduler: str | None = None  # a Dask scheduler's address: layers are scanned there
    # Repositories to sweep instead of the registry's catalog (which Docker Hub,
    # GHCR, ECR and others do not serve); None: the catalog.
    repos_from: tuple[str, ...] | None = None
    # With a store: list only the repositories its event feed names as changed.
    feed: bool = False


@dataclass
class SweepStats:
    repositories: int = 0
    tags: int = 0
    images: int = 0
    layer_refs: int = 0  # layers summed over every image
    layers: int = 0  # distinct layers in this shard
    layers_scanned: int = 0  # read now (not from the cache)
    layers_cached: int = 0
    tags_unchanged: int = 0  # a HEAD answered the digest the store had: not read again
    # repositories the event feed named no change in: carried over, not listed
    repositories_carried: int = 0
    tags_spot_checked: int = 0  # of their tags, checked with a HEAD (picked at random)
    feed_note: str | None = None  # why --feed could not be used (every tag was checked)
    discovery_seconds: float = 0.0  # listing, HEAD requests, manifests and configs
    bytes_scanned: int = 0  # compressed bytes downloaded and read
    bytes_read: int = 0  # uncompressed bytes the rules ran on
    # uncompressed bytes of files passed over unread (binary, over --max-file-size)
    bytes_skipped: int = 0
    seconds: float = 0.0

    @property
    def layers_per_second(self) -> float:
        return self.layers_scanned / self.seconds if self.seconds else 0.0

    @property
    def mb_per_second(self) -> float:
        """MB the rules ran on per second: comparable with `scan` and `image` figures."""
        return self.bytes_read / 1e6 / self.seconds if self.seconds else 0.0


@dataclass
class SweepResult:
    result: ScanResult
    stats: SweepStats = field(default_factory=SweepStats)


def parse_shard(text: str) -> tuple[int, int]:
    """`i/n` with 1 <= i <= n, as given on the command line; (i - 1, n) returned."""
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard {text!r}: expected I/N, e.g. 2/8") from None
    if not 1 <= index <= count:
        raise UsageError(f"--shard {text!r}: I must be between 1 and N")
    return index - 1, count


def in_shard(key: str, shard: tuple[int, int]) -> bool:
    index, count = shard
    if count <= 1:
        return True
    return int(hashlib.sha256(key.encode()).hexdigest()[:16], 16) % count == index


def sweep(
    engine: Engine,
    host: str,
    image_options: ImageOptions,
    options: SweepOptions,
    *,
    cache: LayerCache | None = None,
    progress: Progress = NO_PROGRESS,
    store: SweepStore | None = None,
) -> SweepResult:
    """With a `store`, it is the layer cache too, and the run is recorded in it
    (a run stopped by SIGINT is marked so; one killed stays `running`)."""
    if store is None:
        return _sweep(engine, host, image_options, options, cache, progress, None, None)
    run = store.begin(host, _reuse_key(options, image_options), _scope(options))
    try:
        return _sweep(engine, host, image_options, options, store, progress, store, run)
    except KeyboardInterrupt:
        store.interrupted(run)
        raise


def _reuse_key(options: SweepOptions, image_options: ImageOptions) -> str:
    """Options that change a tag's findings, beside the ruleset version."""
    return repr((options.skip_inherited, image_options.platform))


def _scope(options: SweepOptions) -> str:
    """Which repositories a run sweeps: a run with --feed carries over only runs of the same."""
    chosen = (sorted(options.repositories), options.repos_from)
    return hashlib.sha256(repr(chosen).encode()).hexdigest()[:16]


def _sweep(
    engine: Engine,
    host: str,
    image_options: ImageOptions,
    options: SweepOptions,
    cache: LayerCache | None,
    progress: Progress,
    store: SweepStore | None,
    run: int | None,
) -> SweepResult:
    started = time.perf_counter()
    stats = SweepStats()
    result = ScanResult()
    # One client for every thread (and, pickled, one per worker process): its
    # connection pool is the --max-connections limit, its retry state is shared.
    lister = RegistryClient(
        host,
        insecure=options.insecure,
        timeout=image_options.timeout,
        max_connections=image_options.max_connections,
        max_wait=image_options.max_retry_wait,
    )

    def client() -> RegistryClient:
        return lister

    plan = _feed_plan(store, lister, host, options, image_options) if options.feed else None
    if isinstance(plan, str):
        stats.feed_note = plan
    carried_tags: list[TagSeen] = []
    records: list[ImageRecord] = []
    kept: list[Finding] = []
    if isinstance(plan, FeedPlan) and store is not None:
        repos = plan.listed
        carried_tags = plan.carried
        unasked = plan.unasked
        records, kept = store.carried_repositories(plan.base, unasked)
        stats.repositories_carried = len(unasked)
        stats.tags_spot_checked = plan.checked
        stats.repositories = len(repos) + len(unasked)
    else:
        progress.phase(f"listing the repositories of {host}")
        listed = list(lister.catalog()) if options.repos_from is None else list(options.repos_from)
        repos = _chosen(listed, options.repositories)
        stats.repositories = len(repos)
    # Tags the store holds a complete record of (same rules, same options): a HEAD
    # that answers the digest stored means the tag need not be read again. Not
    # with --show-secrets (the store keeps no values) nor for one shard of many.
    candidates = (
        store.unchanged_candidates(host, _reuse_key(options, image_options))
        if store is not None and store.read and options.shard[1] == 1
        else {}
    )

    def tags_of(repo: str) -> list[tuple[str, str]]:
        try:
            return [(repo, tag) for tag in client().tags(repo)]
        except TargetUnreadable as e:
            result.skipped.append(Skipped(f"{host}/{repo}", e.message))
            return []

    def images_of(item: tuple[str, str]) -> tuple[str | None, list[Image] | None]:
        """(digest now, images); images None when the stored digest still holds."""
        repo, tag = item
        known = candidates.get(item)
        digest = None
        try:
            if known is not None:
                digest = client().head_manifest(repo, tag)
                if digest == known.digest:
                    return digest, None
            found: list[Image] = registry_images(
                f"{host}/{repo}:{tag}", image_options, client=client()
            )
            return (found[0].top if found else digest), found
        except PlatformMissing as e:  # not an error: --platform leaves it out
            result.skipped.append(Skipped(f"{host}/{repo}:{tag}", e.message, error=False))
            return digest, []
        except TargetUnreadable as e:
            result.skipped.append(Skipped(f"{host}/{repo}:{tag}", e.message))
            return None, []

    with ThreadPoolExecutor(options.discovery_threads) as pool:
        progress.phase("listing tags")
        progress.start(len(repos), "repositories")
        tagged = [t for group in pool.map(_advancing(tags_of, progress), repos) for t in group]
        stats.tags = len(tagged) + len(carried_tags)
        stats.tags_unchanged = len(carried_tags)
        progress.phase("reading manifests")
        progress.start(len(tagged), "tags")
        resolved = list(pool.map(_advancing(images_of, progress), tagged))
    stats.discovery_seconds = time.perf_counter() - started
    images = [i for _, found in resolved for i in found or []]
    for (repo, tag), (_, found) in zip(tagged, resolved, strict=True):
        if found is None and store is not None:  # unchanged: as the store has it
            carried, findings = store.carried(candidates[(repo, tag)], repo, tag)
            records.extend(carried)
            kept.extend(findings)
            stats.tags_unchanged += 1
        else:
            records.extend(_record(i, repo, tag) for i in found or [])
    stats.images = len(records)

    distinct: dict[str, Layer] = {}
    for image in images:
        for layer in image.layers:
            stats.layer_refs += 1
            distinct.setdefault(layer.digest, layer)
    mine = [layer for d, layer in distinct.items() if in_shard(d, options.shard)]
    stats.layers = len(mine)

    def counted(scan: LayerScan) -> None:
        if scan.cached:
            stats.layers_cached += 1
        else:
            stats.layers_scanned += 1
            stats.bytes_scanned += distinct[scan.digest].size
            stats.bytes_read += scan.stats.bytes
            stats.bytes_skipped += scan.stats.bytes_skipped
        progress.advance(1, distinct[scan.digest].size)

    executor = None
    if options.scheduler is not None:
        from leakguard.detectors.image.cluster import DaskExecutor

        executor = DaskExecutor(options.scheduler)
    where = f" on the cluster at {options.scheduler}" if options.scheduler else ""
    progress.phase(f"reading layers{where}")
    progress.start(len(mine), "layers", sum(layer.size for layer in mine))
    try:
        scans = scan_layers(
            engine,
            mine,
            image_options,
            jobs=options.jobs,
            cache=cache,
            progress=counted,
            executor=executor,
        )
    finally:
        if executor is not None:
            executor.close()
    # Every swept image is a candidate base of the others.
    known = [KnownImage(r.name, r.layers, r.history or None) for r in records]
    progress.phase("putting the image reports together")
    progress.start(len(images), "images")
    for image in images:
        progress.advance()
        ordered: list[LayerScan | None] = []
        for layer in image.layers:
            scan = scans.get(layer.digest)
            if scan is None and cache is not None:
                scan = cache.get(layer.digest)  # another shard's layer: its deletions count
                if scan is not None:
                    scan.findings = []
                    scan.skipped = []
            ordered.append(scan)
        part = assemble(engine, image, ordered, base_of(image, known), options.skip_inherited)
        if not in_shard(image.name, options.shard):
            part.findings = [
                f
                for f in part.findings
                if f.location.layer is not None
                and f.location.origin is not None
                and f.location.origin.value == "layer-file"
            ]
        result.extend(part)
    # Layers read in this process used the listing's connections (worker processes
    # open their own: the runner closes these before it forks).
    lister.close()
    result.findings.extend(kept)
    # Before notes are merged below: which images could not be read whole.
    errors = [s.target for s in result.skipped if s.error]
    # A layer's notes once, not once per image that holds it.
    seen: set[tuple[str, str]] = set()
    notes = []
    for note in result.skipped:
        key = (note.target.split(": ", 1)[-1], note.reason)
        if key not in seen:
            seen.add(key)
            notes.append(note)
    result.skipped = notes
    # Each distinct layer counted once, not once per image that holds it.
    result.stats.files = sum(s.stats.files for s in scans.values())
    result.stats.bytes = sum(s.stats.bytes for s in scans.values())
    result.stats.skipped_binary = sum(s.stats.skipped_binary for s in scans.values())
    result.stats.bytes_skipped = sum(s.stats.bytes_skipped for s in scans.values())
    stats.seconds = time.perf_counter() - started
    result.stats.duration_s = stats.seconds
    result.sort()
    if store is not None and run is not None:
        tags_seen = carried_tags + [
            TagSeen(repo, tag, digest, found is not None, _all_read(f"{host}/{repo}:{tag}", errors))
            for (repo, tag), (digest, found) in zip(tagged, resolved, strict=True)
        ]
        store.finish(
            run,
            host,
            tags_seen,
            records,
            result.findings,
            layers_read=stats.layers_scanned,
            layers_stored=stats.layers_cached,
            complete=not errors,
        )
    return SweepResult(result, stats)


@dataclass(frozen=True)
class FeedPlan:
    """What a sweep with --feed asks: `listed`; what it carries over from run `base`."""

    base: int
    listed: list[str]  # repositories the feed named, or that run `base` did not have
    carried: list[TagSeen]  # the other repositories' tags, as run `base` saw them
    checked: int  # carried tags spot-checked with a HEAD

    @property
    def unasked(self) -> set[str]:
        """The repositories carried over without listing them."""
        return {t.repo for t in self.carried}


def _feed_plan(
    store: SweepStore | None,
    client: RegistryClient,
    host: str,
    options: SweepOptions,
    image_options: ImageOptions,
) -> FeedPlan | str:
    """What the store's event feed lets this sweep leave unasked, or why it cannot."""
    if store is None:
        return "--feed needs --store"
    if not store.read:
        return "the store keeps no secret values, and --show-secrets needs them"
    if options.shard[1] != 1:
        return "--feed is not used with --shard"
    changes = store.feed_changes(host, _reuse_key(options, image_options), _scope(options))
    if isinstance(changes, str):
        return changes
    before = store.tags_by_repository(changes.base.id)
    named = sorted(before.keys() | changes.repositories)
    listed = named if options.repos_from is None else list(options.repos_from)
    wanted = _chosen(listed, options.repositories)
    repos = [r for r in wanted if r in changes.repositories or r not in before]
    unasked = set(wanted) - set(repos)
    carried = [TagSeen(r, t, d, False, True) for r in sorted(unasked) for t, d in before[r]]
    count = min(len(carried), max(SPOT_CHECK_MIN, len(carried) // SPOT_CHECK_EVERY))
    unseen = _spot_check(client, random.Random().sample(carried, count), options)
    if unseen:
        return unseen
    return FeedPlan(changes.base.id, repos, carried, count)


def _spot_check(client: RegistryClient, sample: list[TagSeen], options: SweepOptions) -> str:
    """Tags the feed says are unchanged, asked with a HEAD: a registry that stopped
    sending notifications (reconfigured, another token, a listener it cannot reach)
    shows as a tag that changed unannounced. Why the feed cannot be trusted, or ""."""

    def moved(seen: TagSeen) -> bool:
        try:
            return client.head_manifest(seen.repo, seen.tag) != seen.digest
        except TargetUnreadable:
            return True

    with ThreadPoolExecutor(options.discovery_threads) as pool:
        changed = sum(pool.map(moved, sample))
    if not changed:
        return ""
    return (
        f"{changed} of {len(sample)} tags checked at random changed without a notification "
        "(is the registry still sending them?)"
    )


def _advancing(work: Callable[[T], R], progress: Progress) -> Callable[[T], R]:
    """`work`, advancing `progress` by one each time it returns (from any thread)."""

    def run(item: T) -> R:
        try:
            return work(item)
        finally:
            progress.advance()

    return run


def _record(image: Image, repo: str, tag: str) -> ImageRecord:
    created = image.config.get("created")
    return ImageRecord(
        image.name,
        repo,
        tag,
        tuple(layer.digest for layer in image.layers),
        image.digest,
        image.top,
        created if isinstance(created, str) else None,
        len(image.config.get("history") or []),
    )


def _all_read(name: str, errors: list[str]) -> bool:
    """Whether no error note is about image `name` (or one of its platforms)."""
    return not any(t == name or t.startswith((f"{name}: ", f"{name} (")) for t in errors)


def _chosen(names: list[str], patterns: tuple[str, ...]) -> list[str]:
    """`names` matching one of `patterns` (every name without any), each once, in order."""
    return [
        name
        for name in dict.fromkeys(names)
        if not patterns or any(fnmatch.fnmatchcase(name, p) for p in patterns)
    ]
