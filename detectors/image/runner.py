"""Running layer scans: once per distinct layer, from the cache, in worker processes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from leakguard.detectors import can_fork
from leakguard.detectors.image.assembly import assemble
from leakguard.detectors.image.bases import KnownImage, _with_history, base_of, known_local_images
from leakguard.detectors.image.cache import LayerCache
from leakguard.detectors.image.model import (
    Image,
    ImageOptions,
    Layer,
    LayerScan,
    Readable,
    _one_line,
)
from leakguard.detectors.image.sources import RegistryBlob, resolve
from leakguard.detectors.image.walker import scan_layer
from leakguard.engine import Engine
from leakguard.errors import TargetUnreadable
from leakguard.models import (
    ScanResult,
    Skipped,
)
from leakguard.progress import NO_PROGRESS, Progress

# Below this much (compressed) layer data, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024

_WORKER_ENGINE: Engine | None = None
_WORKER_BYTES: Any = None  # a counter in shared memory the parent reads, or None


def _init_worker(engine: Engine, shared_bytes: Any = None) -> None:
    global _WORKER_ENGINE, _WORKER_BYTES
    _WORKER_ENGINE = engine
    _WORKER_BYTES = shared_bytes


class _Counted:
    """A blob whose reads are counted, in the bytes a layer's size is given in."""

    def __init__(self, blob: Readable, on_bytes: Callable[[int], None]) -> None:
        self.blob = blob
        self.on_bytes = on_bytes

    def read(self, n: int = -1, /) -> bytes:
        data = self.blob.read(n)
        self.on_bytes(len(data))
        return data


def scan_one(
    engine: Engine,
    layer: Layer,
    options: ImageOptions,
    on_bytes: Callable[[int], None] | None = None,
) -> LayerScan:
    """One layer read through the engine; `on_bytes` is told of each read of its blob."""
    if layer.source is None:
        # Reported once, with its reason, in the image's own skipped list.
        return LayerScan(layer.digest, skipped=[])
    try:
        with layer.source.open() as blob:
            return scan_layer(
                engine,
                blob if on_bytes is None else _Counted(blob, on_bytes),
                layer.digest,
                options,
                expect=layer.blob_digest if not isinstance(layer.source, RegistryBlob) else None,
                expect_uncompressed=layer.diff_id,
            )
    except TargetUnreadable as e:
        return LayerScan(layer.digest, skipped=[Skipped(f"layer {layer.digest}", e.message)])
    except OSError as e:
        return LayerScan(layer.digest, skipped=[Skipped(f"layer {layer.digest}", _one_line(e))])


def _scan_in_worker(layer: Layer, options: ImageOptions) -> LayerScan:
    assert _WORKER_ENGINE is not None
    counted = _add_shared if _WORKER_BYTES is not None else None
    return scan_one(_WORKER_ENGINE, layer, options, counted)


def _add_shared(n: int) -> None:
    with _WORKER_BYTES.get_lock():
        _WORKER_BYTES.value += n


ProgressCallback = Callable[[LayerScan], None]


class LayerExecutor(Protocol):
    """Somewhere else to scan layers (a cluster); `finished` is called for each, here."""

    def run(
        self,
        engine: Engine,
        layers: Sequence[Layer],
        options: ImageOptions,
        finished: Callable[[LayerScan], None],
    ) -> None: ...


def scan_layers(
    engine: Engine,
    layers: Sequence[Layer],
    options: ImageOptions,
    *,
    jobs: int = 0,
    cache: LayerCache | None = None,
    progress: ProgressCallback | None = None,
    executor: LayerExecutor | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> dict[str, LayerScan]:
    """Each distinct layer scanned once (from the cache when it can), in parallel.

    With an `executor` (a cluster), the layers not in the cache are scanned there.
    `progress` is called as each layer is done; `on_bytes` with the blob bytes read
    here, or (with worker processes) by the workers so far, every quarter second.
    """
    done: dict[str, LayerScan] = {}
    todo: list[Layer] = []
    for layer in layers:
        if layer.source is None:  # unreadable: reported by the image, never cached as clean
            continue
        if layer.digest in done or any(t.digest == layer.digest for t in todo):
            continue
        hit = cache.get(layer.digest) if cache is not None else None
        if hit is not None:
            done[layer.digest] = hit
            if progress is not None:
                progress(hit)
        else:
            todo.append(layer)
    jobs = jobs or os.cpu_count() or 1
    todo.sort(key=lambda layer: -layer.size)

    def finished(scan: LayerScan) -> None:
        done[scan.digest] = scan
        if cache is not None:
            cache.put(scan)
        if progress is not None:
            progress(scan)

    if executor is not None:
        executor.run(engine, todo, options, finished)
        return done
    big_enough = sum(layer.size for layer in todo) >= PARALLEL_MIN_BYTES
    # Each worker process reads one blob at a time over one connection: no more
    # processes than a registry may have connections, and none of this process's
    # idle connections inherited by them.
    clients = {
        id(layer.source.client): layer.source.client
        for layer in todo
        if isinstance(layer.source, RegistryBlob)
    }
    if clients:
        jobs = min(jobs, *(c.max_connections for c in clients.values()))
    if jobs > 1 and len(todo) > 1 and big_enough and can_fork():
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        for client in clients.values():
            client.close()
        context = multiprocessing.get_context("fork")
        shared = context.Value("q", 0) if on_bytes is not None else None
        with ProcessPoolExecutor(
            min(jobs, len(todo)), mp_context=context, initializer=_init_worker,
            initargs=(engine, shared),
        ) as pool:  # fmt: skip
            futures = {pool.submit(_scan_in_worker, layer, options): layer for layer in todo}
            pending, reported = set(futures), 0
            while pending:
                ended, pending = wait(pending, None if shared is None else 0.25, FIRST_COMPLETED)
                if on_bytes is not None and shared is not None:
                    now = shared.value
                    on_bytes(now - reported)
                    reported = now
                for future in ended:
                    layer = futures[future]
                    try:
                        finished(future.result())
                    except Exception as e:  # a worker died: report the layer, keep the rest
                        reason = f"worker failed: {_one_line(e)}"
                        skipped = [Skipped(f"layer {layer.digest}", reason)]
                        finished(LayerScan(layer.digest, skipped=skipped))
    else:
        for layer in todo:
            finished(scan_one(engine, layer, options, on_bytes))
    return done


def _advancing(progress: Progress, sizes: dict[str, int]) -> ProgressCallback:
    """Each layer done advances `progress` by one layer (and, from the cache, its size:
    the bytes of a layer read now are counted as they are read)."""
    return lambda scan: progress.advance(1, sizes.get(scan.digest, 0) if scan.cached else 0)


def scan_images(
    engine: Engine,
    refs: Sequence[str],
    options: ImageOptions,
    *,
    jobs: int = 0,
    cache: LayerCache | None = None,
    insecure: bool = False,
    strict_single: bool = True,
    skip_inherited: bool = False,
    find_bases: bool = True,
    progress: Progress = NO_PROGRESS,
) -> ScanResult:
    """Scan every image REF names. An unreadable REF is Skipped (raised when it is the only one).

    A layer shared with a base image (another REF given, or a tagged image of
    the local engine) is marked inherited; `skip_inherited` leaves such layers out.
    """
    import tempfile

    started = time.perf_counter()
    result = ScanResult()
    with tempfile.TemporaryDirectory(prefix="leakguard-image-") as workdir:
        resolved: list[Image] = []
        for ref in refs:
            progress.phase(f"reading {ref}")
            try:
                resolved.extend(resolve(ref, options, workdir, insecure=insecure))
            except TargetUnreadable as e:
                if strict_single and len(refs) == 1:
                    raise
                result.skipped.append(Skipped(ref, e.message))
        known: list[KnownImage] = []
        if find_bases and resolved:
            known = [
                KnownImage(
                    i.name,
                    tuple(layer.digest for layer in i.layers),
                    len(i.config.get("history") or []) or None,
                )
                for i in resolved
            ]
            known += known_local_images()
        for image in resolved:
            base = base_of(image, known)
            if base is not None:
                base = _with_history(base)
            layers = image.layers
            if skip_inherited and base is not None:
                layers = layers[len(base.diff_ids) :]
            progress.phase(f"reading the layers of {image.name}")
            sizes = {layer.digest: layer.size for layer in layers if layer.source is not None}
            progress.start(len(sizes), "layers", sum(sizes.values()))
            scans = scan_layers(
                engine, layers, options, jobs=jobs, cache=cache,
                progress=_advancing(progress, sizes),
                on_bytes=None if progress is NO_PROGRESS else lambda n: progress.advance(0, n),
            )  # fmt: skip
            ordered = [scans.get(layer.digest) for layer in image.layers]
            result.extend(assemble(engine, image, ordered, base, skip_inherited))
    result.stats.duration_s = time.perf_counter() - started
    result.sort()
    return result
