#!/usr/bin/env python3
"""`leakguard sweep --scheduler` on a local Dask cluster against the local sweep.

    python3 bench/sweep_cluster.py [--images 60] [--new 10] [--base-mb 40] [--repeat 2]

Everything on loopback, in one run: the fleet of `sweep_throughput.py` (N images
sharing two base layers, one small layer of each image's own with planted
values) pushed to a `docker-registry`; a `dask scheduler` and `dask worker
--nworkers 2 --nthreads 1` started as processes; then, best of --repeat each:

* `leakguard sweep --no-cache HOST -f json` (layers in local worker processes);
* the same with `--scheduler tcp://127.0.0.1:PORT` (one task per distinct layer).

Both report the same findings (checked). On a 2-core machine the cluster cannot
be faster; what it costs is the figure: wall-time overhead against the local
sweep, in total and per distinct layer. Process start is included in both.

Then the per-layer overhead with the cluster already running, in this process:
the fleet discovered once, its layers scanned locally (two processes) and on
the cluster in turns (--turns), wall and CPU seconds of each (the cluster's CPU
counts the client, the scheduler and both workers); the overhead is the median
of the turns' differences. Also: the time to connect, the cost of one empty
task, and the CPU an idle cluster burns per second (heartbeats). With
--cluster-up-only the script stops there.

Then the store: a full `sweep --store FILE`, --new more images pushed, and the
incremental sweep that follows (it reads only their layers), as a fraction of
the full one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sweep_throughput import (  # noqa: E402
    MB,
    best_of,
    findings,
    free_port,
    key,
    push,
    run,
    start_registry,
    stop,
    write_fleet,
)

OUT = Path(__file__).resolve().parent / "out" / "sweep_cluster"


def start_cluster(root: Path) -> tuple[list[subprocess.Popen[bytes]], str]:
    dask = Path(sys.executable).parent / "dask"
    exe = str(dask) if dask.exists() else shutil.which("dask")
    if exe is None:
        sys.exit("dask is not on PATH (pip install 'leakguard[cluster]')")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = open(root / "dask.log", "wb")  # noqa: SIM115 - lives as long as the processes
    procs = [
        subprocess.Popen(
            [exe, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ),
        subprocess.Popen(
            [exe, "worker", address, "--nworkers", "2", "--nthreads", "1", "--host",
             "127.0.0.1", "--no-dashboard", "--local-directory", str(root)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ),
    ]  # fmt: skip
    from distributed import Client

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with Client(address, timeout=5, set_as_default=False) as client:
                client.wait_for_workers(2, timeout=10)
                return procs, address
        except (OSError, TimeoutError):
            time.sleep(0.5)
    for proc in procs:
        stop(proc)
    sys.exit(f"the Dask cluster did not start:\n{(root / 'dask.log').read_text()[-2000:]}")


def cpu_seconds() -> float:
    """This process's CPU seconds, and its finished children's."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def _noop(x: int) -> int:
    return x


def per_layer_overhead(host: str, refs: list[str], address: str, turns: int) -> dict[str, float]:
    """Local layer scans against cluster ones, the cluster already running."""
    import statistics

    from leakguard.config import Config
    from leakguard.detectors.image import ImageOptions, registry_images, scan_layers
    from leakguard.detectors.image.cluster import DaskExecutor, batches
    from leakguard.engine import Engine

    engine = Engine(Config().ruleset())
    options = ImageOptions()
    distinct = {}
    for ref in refs:
        for image in registry_images(f"{host}/{ref}", options):
            for layer in image.layers:
                distinct.setdefault(layer.digest, layer)
    layers = list(distinct.values())
    started = time.perf_counter()
    executor = DaskExecutor(address)
    connect = time.perf_counter() - started
    client = executor.client

    def cluster_cpu() -> float:
        return sum(client.run(_own_cpu).values()) + client.run_on_scheduler(_own_cpu)

    def timed(scan: Any) -> tuple[float, float, float]:
        cpu, remote, began = cpu_seconds(), cluster_cpu(), time.perf_counter()
        scan()
        wall = time.perf_counter() - began
        return wall, cpu_seconds() - cpu, cluster_cpu() - remote

    try:
        executor.run(engine, layers, options, lambda scan: None)  # workers build their engine
        _, _, idle = timed(lambda: time.sleep(5))
        background = idle / 5  # CPU seconds per second of an idle cluster (heartbeats)
        noop_wall, _, _ = timed(lambda: client.gather([client.submit(_noop, i, pure=False)
                                                      for i in range(200)]))  # fmt: skip
        local, remote, extra = [], [], []
        for _ in range(turns):  # in turns, so that the machine's load falls on both alike
            wall, cpu, _ = timed(lambda: scan_layers(engine, layers, options, jobs=2))
            local.append((wall, cpu))
            cluster_wall, cpu, workers = timed(
                lambda: executor.run(engine, layers, options, lambda scan: None)
            )
            remote.append((cluster_wall, cpu + workers))
            extra.append(cluster_wall - wall)
        threads = sum(client.nthreads().values())
        tasks = len(batches(layers, threads))
    finally:
        executor.close()
    return {
        "layers": len(layers),
        "tasks": tasks,
        "connect_s": connect,
        "noop_task_ms": noop_wall / 200 * 1000,
        "idle_cluster_cpu_per_s": background,
        "local_wall_s": statistics.median(w for w, _ in local),
        "local_cpu_s": statistics.median(c for _, c in local),
        "cluster_wall_s": statistics.median(w for w, _ in remote),
        "cluster_cpu_s": statistics.median(c for _, c in remote),
        "local_wall_best_s": min(w for w, _ in local),
        "cluster_wall_best_s": min(w for w, _ in remote),
        "extra_wall_median_s": statistics.median(extra),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--new", type=int, default=10, help="images pushed before the increment")
    parser.add_argument("--base-mb", type=float, default=40, help="shared base, uncompressed")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--turns", type=int, default=5, help="local/cluster turns, cluster up")
    parser.add_argument(
        "--cluster-up-only", action="store_true", help="only the per-layer overhead, cluster up"
    )
    args = parser.parse_args()
    lg = shutil.which("leakguard") or str(Path(sys.executable).parent / "leakguard")
    if shutil.which("skopeo") is None:
        sys.exit("skopeo is not on PATH (Debian package skopeo)")
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix="leakguard-cluster-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        whole = write_fleet(tmp / "oci", args.images + args.new, args.base_mb, args.seed)
        fleet = replace(whole, refs=whole.refs[: args.images], own=whole.own[: args.images])
        later = replace(whole, refs=whole.refs[args.images :])
        (tmp / "registry").mkdir()
        registry, host = start_registry(tmp / "registry")
        procs.append(registry)
        push(tmp / "oci", fleet, host)
        cluster, address = start_cluster(tmp)
        procs.extend(cluster)
        distinct = len(fleet.distinct)
        distinct_raw = sum(b.raw_size for b in fleet.distinct)
        print(
            f"fleet: {len(fleet.refs)} images, {distinct} distinct layers "
            f"({distinct_raw / MB:.1f} MB uncompressed); cluster: {address}, 2 workers x 1 thread",
            flush=True,
        )
        o = per_layer_overhead(host, fleet.refs, address, args.turns)
        n = o["layers"]
        print(
            f"cluster already running ({o['connect_s'] * 1000:.0f} ms to connect; "
            f"{n:.0f} layers in {o['tasks']:.0f} tasks; an empty task "
            f"{o['noop_task_ms']:.1f} ms; the idle cluster burns {o['idle_cluster_cpu_per_s']:.3f} "
            f"CPU s/s), median of {args.turns} turns:"
        )
        print(
            f"  layers locally:   {o['local_wall_s']:6.2f}s wall (best "
            f"{o['local_wall_best_s']:.2f}s)  {o['local_cpu_s']:6.2f}s CPU (this process and its"
            " workers)"
        )
        print(
            f"  layers on Dask:   {o['cluster_wall_s']:6.2f}s wall (best "
            f"{o['cluster_wall_best_s']:.2f}s)  {o['cluster_cpu_s']:6.2f}s CPU (client, "
            "scheduler, workers)"
        )
        extra = o["extra_wall_median_s"]
        print(
            f"  Dask overhead: {extra:+.2f}s wall (median of the turns' differences), "
            f"{extra / n * 1000:+.1f} ms per layer, {extra / o['local_wall_s']:+.1%} of the "
            "local time"
        )
        if args.cluster_up_only:
            return 0
        base = [lg, "sweep", host, "--no-cache", "-f", "json", "--no-baseline"]
        local_json, cluster_json = OUT / "local.json", OUT / "cluster.json"
        lines: dict[str, str] = {}

        def once(name: str, extra: list[str], out: Path) -> None:
            said = run([*base, *extra, "-o", str(out)]).stderr.strip().splitlines()
            swept = [line for line in said if line.startswith("leakguard: swept")]
            lines[name] = (swept or said)[-1].removeprefix("leakguard: ")

        local = best_of(args.repeat, lambda: once("local", [], local_json))
        remote = best_of(
            args.repeat, lambda: once("cluster", ["--scheduler", address], cluster_json)
        )
        same = sorted(map(key, findings(local_json))) == sorted(map(key, findings(cluster_json)))
        print(f"local sweep:    {local:7.2f}s  {distinct / local:7.1f} layers/s  {lines['local']}")
        print(
            f"cluster sweep:  {remote:7.2f}s  {distinct / remote:7.1f} layers/s  {lines['cluster']}"
        )
        overhead = remote - local
        print(
            f"cluster/local wall time: {remote / local:.2f}x; overhead {overhead:+.2f}s, "
            f"{overhead / distinct * 1000:+.1f} ms per distinct layer; "
            f"same findings: {'yes' if same else 'NO'}"
        )
        store = tmp / "sweep.sqlite"
        started = time.perf_counter()
        once("full", ["--store", str(store)], OUT / "full.json")
        full = time.perf_counter() - started
        push(tmp / "oci", later, host)
        started = time.perf_counter()
        once("increment", ["--store", str(store)], OUT / "increment.json")
        increment = time.perf_counter() - started
        print(f"store, full sweep:        {full:7.2f}s  {lines['full']}")
        print(f"store, after {args.new} new images: {increment:7.2f}s  {lines['increment']}")
        print(f"incremental/full wall time: {increment / full:.1%}")
        (OUT / "figures.json").write_text(
            json.dumps(
                {
                    "local_s": local,
                    "cluster_s": remote,
                    "layers": distinct,
                    "same": same,
                    "cluster_up": o,
                    "store_full_s": full,
                    "store_increment_s": increment,
                },
                indent=1,
            )
            + "\n"
        )
        return 0 if same else 1
    finally:
        for proc in reversed(procs):
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
