"""Layer scans on an existing Dask cluster: one task per distinct layer.

The client (the machine running `leakguard sweep --scheduler ...`) discovers
repositories, tags and images, and fetches every manifest and config itself;
only the layers, the part worth spreading, go to the cluster. Each task names
a blob (registry host, repository, digest) and the worker reads it from the
registry itself, with its own credentials (its `~/.docker/config.json` and
credential helpers): no credential crosses the wire. What does cross it is
each layer's result, findings included, so use a `tls://` scheduler (Dask's
own TLS settings) on a network you do not trust.

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
CONNECT_TIMEOUT = 20.0  # seconds to reach the scheduler


class ClusterUnavailable(TargetUnreadable):
    """The scheduler could not be reached."""


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

    @contextlib.contextmanager
    def open(self) -> Iterator[Readable]:
        client = _worker_client(self.host, self.insecure, self.timeout)
        blob = client.blob(self.repository, self.digest)
        try:
            yield blob
        finally:
            blob.close()


_local = threading.local()


def _worker_client(host: str, insecure: bool, timeout: float) -> RegistryClient:
    """One registry client per worker thread and registry (connections are reused)."""
    from leakguard.registry import RegistryClient

    clients: dict[tuple[str, bool, float], RegistryClient] = _local.__dict__.setdefault(
        "clients", {}
    )
    key = (host, insecure, timeout)
    if key not in clients:
        clients[key] = RegistryClient(host, insecure=insecure, timeout=timeout)
    return clients[key]


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
    from leakguard.detectors.image.runner import scan_one

    try:
        engine = _worker_engine(ruleset, version, options)
    except _VersionMismatch as e:
        return LayerScan(layer.digest, skipped=[Skipped(f"layer {layer.digest}", str(e))])
    return scan_one(engine, layer, options)


def portable(layer: Layer) -> Layer:
    """The layer with a source a worker on another machine can open."""
    from leakguard.detectors.image.sources import RegistryBlob

    source = layer.source
    if isinstance(source, RegistryBlob):
        client = source.client
        seconds = client.timeout[1] if isinstance(client.timeout, tuple) else client.timeout
        remote = RemoteBlob(
            client.host, source.repository, source.digest, client.insecure, float(seconds)
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
        """Every layer as one task; `finished` is called here, on the client, as each ends."""
        from leakguard.detectors.image.cache import ruleset_version

        if not layers:
            return
        version = ruleset_version(engine, options)
        [ruleset] = self.client.scatter([engine.ruleset], broadcast=True, hash=False)
        futures = {
            self.client.submit(
                scan_task,
                portable(layer),
                ruleset,
                version,
                options,
                key=f"leakguard-layer-{layer.digest}-{version}",
                retries=ATTEMPTS - 1,
                pure=False,
            ): layer
            for layer in layers
        }
        for future in self.dask.as_completed(futures, loop=self.client.loop):
            layer = futures[future]
            try:
                scan = future.result()
            except Exception as e:  # failed ATTEMPTS times, or its worker kept dying
                reason = f"failed on the cluster (tried up to {ATTEMPTS} times): {_one_line(e)}"
                log.debug("layer %s: %s", layer.digest, reason)
                scan = LayerScan(layer.digest, skipped=[Skipped(f"layer {layer.digest}", reason)])
            finished(scan)
            future.release()

    def close(self) -> None:
        self.client.close()


__all__ = ["ATTEMPTS", "ClusterUnavailable", "DaskExecutor", "RemoteBlob", "scan_task"]
