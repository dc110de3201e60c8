"""A sweep on a real Dask cluster (a scheduler and two worker processes) against a real registry."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from leakguard.detectors.image import ImageOptions, Layer, LayerScan
from leakguard.detectors.sweep import SweepOptions, SweepResult, sweep
from leakguard.registry import RegistryClient
from tests.conftest import GITHUB_PAT, fake
from tests.detectors.test_image import Spec, file, layer_tar, write_archive
from tests.services import REGISTRY_LOGS, dask_cluster, free_port, registry  # noqa: F401
from tests.test_cli import run

SKOPEO = "/usr/bin/skopeo"
REPOS = 4
BULK_FILES = 15_000  # a layer that takes the best part of a second to read

pytestmark = [pytest.mark.registry, pytest.mark.slow]


def stripe(n: int) -> str:
    return fake("sk_" + "live_", 24, seed=300 + n)


@pytest.fixture(scope="module")
def cluster_fleet(registry, tmp_path_factory) -> str:  # noqa: F811
    """Four repositories (two tags each) sharing a leaky base layer, each with a bulky layer."""
    folder = tmp_path_factory.mktemp("cluster-fleet")
    base = layer_tar([file("etc/base.env", f"GH={GITHUB_PAT}\n")])
    for n in range(REPOS):
        own = layer_tar([file(f"app/{n}.env", f"STRIPE={stripe(n)}\n")])
        line = "".join(f"setting_{j} = value {j} of {n}\n" for j in range(40))
        bulk = layer_tar([file(f"srv/{n}/f{i}.conf", line) for i in range(BULK_FILES)])
        archive = write_archive(folder / f"{n}.tar", Spec(layers=[base, bulk, own]))
        for tag in ("1", "latest"):
            subprocess.run(
                [SKOPEO, "copy", "-q", "--dest-tls-verify=false", f"docker-archive:{archive}",
                 f"docker://{registry}/cluster/app{n}:{tag}"],
                check=True,
            )  # fmt: skip
    return str(registry)


def layer_blobs(host: str) -> set[str]:
    """The (compressed) digests of every layer blob of the fleet, from its manifests."""
    client = RegistryClient(host)
    blobs: set[str] = set()
    for n in range(REPOS):
        manifest = client.manifest(f"cluster/app{n}", "1")
        blobs |= {layer["digest"] for layer in json.loads(manifest.data)["layers"]}
    client.close()
    return blobs


def blob_reads(host: str, since: int) -> dict[str, int]:
    """Blob GETs in the registry's access log after byte `since`, by digest."""
    text = REGISTRY_LOGS[host].read_bytes()[since:].decode("utf-8", "replace")
    reads: dict[str, int] = {}
    for digest in re.findall(r'"GET /v2/cluster/[^ ]+/blobs/(sha256:[0-9a-f]{64}) ', text):
        reads[digest] = reads.get(digest, 0) + 1
    return reads


def outcome(done: SweepResult) -> list[tuple[object, ...]]:
    return sorted(
        (f.identity, f.location.deleted, f.location.inherited, f.secret.reveal())
        for f in done.result.findings
    )


def options(**kw: object) -> SweepOptions:
    return SweepOptions(repositories=("cluster/*",), **kw)  # type: ignore[arg-type]


def test_cluster_sweep_matches_the_local_one_and_reads_each_layer_once(
    engine,
    cluster_fleet,
    dask_cluster,  # noqa: F811
):
    local = sweep(engine, cluster_fleet, ImageOptions(), options(jobs=2))
    mark = REGISTRY_LOGS[cluster_fleet].stat().st_size
    remote = sweep(engine, cluster_fleet, ImageOptions(), options(scheduler=dask_cluster))
    assert outcome(remote) == outcome(local)
    assert not remote.result.skipped
    stripes = {f.secret.reveal() for f in remote.result.findings if "/app/" in f.location.path}
    assert stripes == {stripe(n) for n in range(REPOS)}
    assert remote.stats.layers == remote.stats.layers_scanned == 2 * REPOS + 1
    # Every layer blob was read exactly once, across the two workers.
    reads = blob_reads(cluster_fleet, mark)
    blobs = layer_blobs(cluster_fleet)
    assert {d: reads.get(d, 0) for d in blobs} == dict.fromkeys(blobs, 1)


def worker_pids(address: str) -> dict[str, int]:
    from distributed import Client

    with Client(address, timeout=10, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
        pids: dict[str, int] = client.run(os.getpid)
        return pids


def test_a_worker_killed_mid_sweep_still_gives_the_complete_result(
    engine,
    cluster_fleet,
    dask_cluster,  # noqa: F811
):
    from distributed import Client

    local = sweep(engine, cluster_fleet, ImageOptions(), options(jobs=2))
    pids = worker_pids(dask_cluster)
    done: list[SweepResult] = []
    failed: list[BaseException] = []

    def swept() -> None:
        try:
            done.append(
                sweep(engine, cluster_fleet, ImageOptions(), options(scheduler=dask_cluster))
            )
        except BaseException as e:  # reported by the assertion below
            failed.append(e)

    thread = threading.Thread(target=swept)
    thread.start()
    killed = None
    with Client(dask_cluster, timeout=10, set_as_default=False) as watcher:
        deadline = time.monotonic() + 120
        while killed is None and thread.is_alive() and time.monotonic() < deadline:
            busy = {w for w, keys in watcher.processing().items() if keys}
            for worker in busy & set(pids):
                killed = pids[worker]
                os.kill(killed, signal.SIGKILL)  # mid-layer: no chance to finish or say so
                break
            time.sleep(0.01)
    thread.join(300)
    assert killed is not None, "no layer was ever seen in flight"
    assert not failed, failed
    with contextlib.suppress(ProcessLookupError), pytest.raises(ProcessLookupError):
        os.kill(killed, 0)  # it really died
    assert outcome(done[0]) == outcome(local)
    assert not done[0].result.skipped
    assert len(worker_pids(dask_cluster)) == 2  # its nanny started another one


@dataclass(frozen=True)
class FailingSourceFake:
    """A layer source that fails on every open, counting attempts in a file (a fake)."""

    attempts: str

    @contextlib.contextmanager
    def open(self) -> Iterator[bytes]:
        with open(self.attempts, "a") as out:
            out.write(f"{os.getpid()}\n")
        raise RuntimeError("this layer always breaks its reader")
        yield b""  # pragma: no cover


def test_a_layer_failing_three_times_is_reported_not_read(engine, tmp_path, dask_cluster):  # noqa: F811
    from leakguard.detectors.image.cluster import DaskExecutor

    attempts = tmp_path / "attempts"
    layer = Layer("sha256:" + "ab" * 32, FailingSourceFake(str(attempts)))  # type: ignore[arg-type]
    got: list[LayerScan] = []
    executor = DaskExecutor(dask_cluster)
    try:
        executor.run(engine, [layer], ImageOptions(), got.append)
    finally:
        executor.close()
    assert len(attempts.read_text().splitlines()) == 3
    [scan] = got
    assert not scan.complete and not scan.findings
    assert "failed on the cluster (tried up to 3 times)" in scan.skipped[0].reason
    assert "always breaks its reader" in scan.skipped[0].reason


def test_cli_sweep_on_a_cluster(cluster_fleet, dask_cluster):  # noqa: F811
    code, out, err = run(
        "sweep", "--no-cache", "--repo", "cluster/app1", "--scheduler", dask_cluster, cluster_fleet
    )
    assert code == 1, err
    assert "/etc/base.env" in out and stripe(1) not in out + err and GITHUB_PAT not in out + err
    code, _, err = run(
        "sweep", "--no-cache", "--scheduler", f"tcp://127.0.0.1:{free_port()}", cluster_fleet
    )
    assert code == 3 and "cannot reach the Dask scheduler" in err, err
    assert "Traceback" not in err


def test_scan_does_not_import_dask(tmp_path: Path):
    (tmp_path / "a.txt").write_text("nothing here\n")
    probe = (
        "import atexit, sys\n"
        "loaded = lambda: 'distributed' in sys.modules\n"
        "atexit.register(lambda: sys.stderr.write(f'dask loaded: {loaded()}'))\n"
        "from leakguard.cli import main\n"
        f"sys.argv = ['leakguard', 'scan', {str(tmp_path / 'a.txt')!r}]\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "dask loaded: False" in done.stderr


def test_small_layers_share_tasks_and_a_failing_one_is_tried_alone(engine, tmp_path, dask_cluster):  # noqa: F811
    """Twelve small layers go out in fewer tasks; the one that breaks its reader is
    sent again on its own (three tries in all) and reported; the others are read."""
    from distributed import Client, get_task_stream

    from leakguard.detectors.image.cluster import DaskExecutor
    from leakguard.detectors.image.sources import FileSlice

    layers = []
    for n in range(12):
        tar = tmp_path / f"{n}.tar"
        tar.write_bytes(layer_tar([file(f"app/{n}.env", f"STRIPE={stripe(n)}\n")]))
        layers.append(Layer(f"sha256:{n:064x}", FileSlice(str(tar)), size=tar.stat().st_size))
    attempts = tmp_path / "attempts"
    broken = Layer("sha256:" + "ab" * 32, FailingSourceFake(str(attempts)), size=100)  # type: ignore[arg-type]
    got: list[LayerScan] = []
    with Client(dask_cluster, timeout=10, set_as_default=False) as watcher:
        with get_task_stream(watcher) as stream:
            executor = DaskExecutor(dask_cluster)
            try:
                executor.run(engine, [*layers, broken], ImageOptions(), got.append)
            finally:
                executor.close()
        tasks = [t for t in stream.data if str(t["key"]).startswith("leakguard-")]
    assert sorted(s.digest for s in got) == sorted(layer.digest for layer in [*layers, broken])
    read = {s.digest: s for s in got}
    for n, layer in enumerate(layers):
        scan = read[layer.digest]
        assert scan.complete and [f.secret.reveal() for f in scan.findings] == [stripe(n)]
    assert not read[broken.digest].complete
    assert "always breaks its reader" in read[broken.digest].skipped[0].reason
    assert len(attempts.read_text().splitlines()) == 3
    # Batches (at most 4 per worker thread), then the broken layer alone twice more.
    assert len(tasks) <= 4 * 2 + 2 < len(layers) + 1, [t["key"] for t in tasks]
