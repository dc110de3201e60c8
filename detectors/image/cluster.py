"""Layer scans on an existing Dask cluster: one task per distinct layer.

The client (the machine running `leakguard sweep --scheduler ...`) discovers
repositories, tags and images, and fetches every manifest and config itself;
only the layers, the part worth spreading, go to the cluster. Each task names
a blob (registry host, repository, digest) and the worker reads it from the
registry itself, with its own credentials (its `~/.docker/config.json` and
credential helpers): no credential crosses the wire. What does cross it is
each layer's result, findings included, so use a `tls://` scheduler (Dask's
own TLS settings) on a network you do not trust.

Layers smaller than `BATCH_BYTES` share a task with others (a task costs a
round trip through the scheduler, several milliseconds, as much as reading a
small layer); the batches are sized so that every worker thread still gets
several. A layer that fails inside a batch, or whose batch's worker died three
times, is sent again as a task of its own.

The rule set goes to every worker once; each worker builds its engine from it
and checks that its own leakguard gives the same ruleset version as the
client's (a worker running another version would give other results: its
layers are reported as not read). A task whose worker dies is run again
elsewhere by the scheduler; a task that fails `ATTEMPTS` times is reported as
a layer not read, never left out.

`distributed` is imported only here, and only when a scheduler is given.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from leakguard.detectors.image.model import ImageOptions, Layer, LayerScan, Readable, _one_line
from leakguard.errors import TargetUnreadable, UsageError
from leakguard.models import Skipped

if TYPE_CHECKING:
    from collections.abc import Iterator

    from leakguard.engine import Engine
    from leakguard.registry import RegistryClient
    from leakguard.rules import RuleSet

log = logging.getLogger(__name__)

ATTEMPTS = 3  # a layer whose task fails this many times is reported as not read
BATCH_BYTES = 4 * 1024 * 1024  # compressed: a smaller layer shares its task with others
BATCH_LAYERS = 64  # layers in one batch, at most
BATCHES_PER_THREAD = 4  # small layers are spread over at least this many tasks per thread
CONNECT_TIMEOUT = 20.0  # seconds to reach the scheduler


class ClusterUnavailable(TargetUnreadable):
    """The scheduler could not be reached."""


@dataclass(frozen=True)
class _Failed:
    """What a batch says about a layer whose scan raised (the others go on)."""

    reason: str


@dataclass(frozen=True)
class RemoteBlob:
    """A registry blob named by host, repository and digest; the reader opens its own client.

    Unlike a `RegistryBlob`, it carries no client, hence no credential or token.
    """

    host: str
    repository: str
    digest: str
    insecure: bool = False
    timeout: float = 30.0
    max_connections: int = 8
    max_wait: float = 60.0

    @contextlib.contextmanager
    def open(self) -> Iterator[Readable]:
        client = _worker_client(
            self.host, self.insecure, self.timeout, self.max_connections, self.max_wait
        )
        blob = client.blob(self.repository, self.digest)
        try:
            yield blob
        finally:
            blob.close()


_clients: dict[tuple[str, bool, float, int, float], RegistryClient] = {}
_clients_lock = threading.Lock()


def _worker_client(
    host: str, insecure: bool, timeout: float, max_connections: int, max_wait: float
) -> RegistryClient:
    """One registry client per worker process and registry, shared by its threads:
    connections and tokens are reused from task to task."""
    from leakguard.registry import RegistryClient

    key = (host, insecure, timeout, max_connections, max_wait)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = RegistryClient(
                host,
                insecure=insecure,
                timeout=timeout,
                max_connections=max_connections,
                max_wait=max_wait,
            )
    return client


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _worker_engine(ruleset: RuleSet, version: str, options: ImageOptions) -> Engine:
    """The engine for this rule set, built once per worker process and checked."""
    from leakguard.detectors.image.cache import ruleset_version
    from leakguard.engine import Engine

    with _engines_lock:
        engine = _engines.get(version)
        if engine is None:
            engine = Engine(ruleset)
            mine = ruleset_version(engine, options)
            if mine != version:
                raise _VersionMismatch(
                    f"this worker's leakguard gives ruleset {mine}, the client's {version}: "
                    "install the same leakguard on the workers"
                )
            _engines[version] = engine
    return engine


class _VersionMismatch(Exception):
    pass


def scan_task(layer: Layer, ruleset: RuleSet, version: str, options: ImageOptions) -> LayerScan:
    """What a worker runs: one layer, read from where it lives, through the engine."""
    [scan] = scan_batch([layer], ruleset, version, options)
    assert isinstance(scan, LayerScan)
    return scan


def scan_batch(
    layers: Sequence[Layer], ruleset: RuleSet, version: str, options: ImageOptions
) -> list[LayerScan | _Failed]:
    """What a worker runs: layers, each read from where it lives, through the engine.

    A lone layer's failure fails the task (the scheduler tries it again
    elsewhere); in a batch it is reported for that layer, and the rest go on.
    """
    from leakguard.detectors.image.runner import scan_one

    try:
        engine = _worker_engine(ruleset, version, options)
    except _VersionMismatch as e:
        return [
            LayerScan(layer.digest, skipped=[Skipped(f"layer {layer.digest}", str(e))])
            for layer in layers
        ]
    if len(layers) == 1:
        return [scan_one(engine, layers[0], options)]
    done: list[LayerScan | _Failed] = []
    for layer in layers:
        try:
            done.append(scan_one(engine, layer, options))
        except Exception as e:  # this layer only; the client sends it again on its own
            done.append(_Failed(_one_line(e)))
    return done


def batches(layers: Sequence[Layer], threads: int) -> list[list[Layer]]:
    """Tasks: each large layer (or one of unknown size) alone, in the order given; the
    small ones packed, largest first, into the lightest of enough batches that every
    thread gets `BATCHES_PER_THREAD` of them (none over `BATCH_LAYERS` layers)."""
    import math

    alone = [[layer] for layer in layers if not 0 < layer.size < BATCH_BYTES]
    small = sorted(
        (layer for layer in layers if 0 < layer.size < BATCH_BYTES), key=lambda x: -x.size
    )
    if not small:
        return alone
    count = max(
        math.ceil(sum(layer.size for layer in small) / BATCH_BYTES),
        math.ceil(len(small) / BATCH_LAYERS),
        min(len(small), BATCHES_PER_THREAD * max(1, threads)),
    )
    packed: list[list[Layer]] = [[] for _ in range(count)]
    loads = [0] * count
    for layer in small:
        i = min(range(count), key=lambda j: (len(packed[j]) >= BATCH_LAYERS, loads[j]))
        packed[i].append(layer)
        loads[i] += layer.size
    return alone + [group for group in packed if group]


def portable(layer: Layer) -> Layer:
    """The layer with a source a worker on another machine can open."""
    from leakguard.detectors.image.sources import RegistryBlob

    source = layer.source
    if isinstance(source, RegistryBlob):
        client = source.client
        seconds = client.timeout[1] if isinstance(client.timeout, tuple) else client.timeout
        remote = RemoteBlob(
            client.host,
            source.repository,
            source.digest,
            client.insecure,
            float(seconds),
            client.max_connections,
            client.max_wait,
        )
        return replace(layer, source=remote, blob_digest=None)
    return layer


class DaskExecutor:
    """Runs layer scans on the Dask cluster whose scheduler is at `address`."""

    def __init__(self, address: str, *, connect_timeout: float = CONNECT_TIMEOUT):
        import importlib

        try:
            self.dask = importlib.import_module("distributed")  # untyped: used as Any
        except ImportError:
            raise UsageError(
                "--scheduler needs Dask's distributed package",
                hint="pip install 'leakguard[cluster]'",
            ) from None
        self.address = address
        try:
            self.client: Any = self.dask.Client(
                address, timeout=connect_timeout, set_as_default=False
            )
        except (OSError, TimeoutError, ValueError) as e:
            raise ClusterUnavailable(
                f"cannot reach the Dask scheduler at {address}: {_one_line(e)}",
                hint="is `dask scheduler` running there, and is the address tcp://HOST:PORT?",
            ) from e

    def run(
        self,
        engine: Engine,
        layers: Sequence[Layer],
        options: ImageOptions,
        finished: Callable[[LayerScan], None],
    ) -> None:
        """Layers as tasks (small ones batched); `finished` is called here, on the
        client, for each layer as its task ends."""
        import hashlib

        from leakguard.detectors.image.cache import ruleset_version

        if not layers:
            return
        version = ruleset_version(engine, options)
        [ruleset] = self.client.scatter([engine.ruleset], broadcast=True, hash=False)
        threads = sum(self.client.nthreads().values())
        pending: dict[Any, list[Layer]] = {}

        def submit(group: list[Layer], key: str, retries: int) -> Any:
            future = self.client.submit(
                scan_batch,
                [portable(layer) for layer in group],
                ruleset,
                version,
                options,
                key=key,
                retries=retries,
                pure=False,
            )
            pending[future] = group
            return future

        for group in batches(layers, threads):
            digests = "".join(layer.digest for layer in group).encode()
            key = (
                f"leakguard-layer-{group[0].digest}-{version}"
                if len(group) == 1
                else f"leakguard-batch-{hashlib.sha256(digests).hexdigest()[:32]}-{version}"
            )
            submit(group, key, ATTEMPTS - 1)
        done = self.dask.as_completed(list(pending), loop=self.client.loop)

        def alone(layer: Layer, retries: int) -> None:
            done.add(submit([layer], f"leakguard-layer-{layer.digest}-{version}-alone", retries))

        for future in done:
            group = pending.pop(future)
            try:
                results = future.result()
            except Exception as e:  # failed ATTEMPTS times, or its worker kept dying
                if len(group) > 1:  # the batch failed: each layer gets tries of its own
                    for layer in group:
                        alone(layer, ATTEMPTS - 1)
                else:
                    finished(_not_read(group[0], _one_line(e)))
                future.release()
                continue
            for layer, scan in zip(group, results, strict=True):
                if isinstance(scan, _Failed):
                    if len(group) > 1:
                        alone(layer, ATTEMPTS - 2)  # it failed once already, in the batch
                    else:
                        finished(_not_read(layer, scan.reason))
                else:
                    finished(scan)
            future.release()

    def close(self) -> None:
        self.client.close()


def _not_read(layer: Layer, why: str) -> LayerScan:
    reason = f"failed on the cluster (tried up to {ATTEMPTS} times): {why}"
    log.debug("layer %s: %s", layer.digest, reason)
    return LayerScan(layer.digest, skipped=[Skipped(f"layer {layer.digest}", reason)])


__all__ = [
    "ATTEMPTS",
    "ClusterUnavailable",
    "DaskExecutor",
    "RemoteBlob",
    "batches",
    "scan_batch",
    "scan_task",
]
