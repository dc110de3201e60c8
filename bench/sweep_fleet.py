#!/usr/bin/env python3
"""`leakguard sweep --store` over a generated fleet: full, on Dask, incremental, resumed.

    python3 bench/sweep_fleet.py [--repos 500] [--tags 3] [--new 10] [--bases 4]

Everything on loopback, in one run:

1. a `docker-registry` with a temporary config; --repos repositories of --tags
   tags each, pushed through the registry API (blob uploads, manifest PUTs; no
   engine, no skopeo). Every image is two layers of one of --bases shared base
   images plus one small layer of its own; some of those carry a GitHub token
   or an AWS key id made up at run time;
2. a `dask scheduler` and `dask worker --nworkers 2 --nthreads 1` as processes;
3. then, each once (a fresh store each time unless said):
   * full:        `sweep --store S1`: every tag fetched, every distinct layer read;
   * dask:        `sweep --store S2 --scheduler tcp://...`: the same on the cluster;
   * incremental: --new images pushed (new tags of existing repositories), then
                  `sweep --store S1H` (a copy of S1 taken before the push): a HEAD
                  per tag, only the new tags' manifests fetched, only their layers
                  read;
   * feed:        the same increment, `sweep --store S1 --feed`: the registry sends
                  its push notifications to `leakguard listen` (started before the
                  fleet was pushed, recording into S1), so only the repositories
                  named since the full sweep are listed; the others are carried
                  over (1 % of their tags, at least 16, checked with a HEAD)
                  (median of three runs: two on copies of S1, then S1 itself);
   * unchanged:   `sweep --store S1H` once more with nothing pushed: the HEAD
                  requests and listing alone (the floor of an incremental sweep
                  without a feed), and `sweep --store S1 --feed` likewise, then
                  with `--keep-runs 2` (the store's size before and after);
   * resume:      `sweep --store S3` killed (SIGKILL) once half the distinct layers
                  are stored, then run again: layers stored at the kill, layers the
                  second run read, and whether any finished layer was read again.

Figures: wall time (process start included), distinct layers per second,
ratios (incremental / full, dask / full), and seconds per tag of the
unchanged sweep; recall of the planted values is checked on every report.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from sweep_cluster import start_cluster  # noqa: E402
from sweep_throughput import aws_key_id, github_token, start_registry, stop  # noqa: E402

from leakguard.models import fingerprint  # noqa: E402
from tests.registry_push import Blob, Pusher, layer  # noqa: E402
from tests.services import free_port  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "sweep_fleet"


def notifications(port: int, token: str) -> str:
    """Registry config: every push and delete POSTed to `leakguard listen` on `port`."""
    return (
        "notifications:\n  endpoints:\n    - name: leakguard\n"
        f"      url: http://127.0.0.1:{port}/events\n"
        f"      headers:\n        Authorization: [Bearer {token}]\n"
        "      timeout: 5s\n      threshold: 5\n      backoff: 500ms\n"
        "      ignore:\n        actions: [pull]\n"
    )


def start_listener(
    lg: str, host: str, store: Path, port: int, token: str
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [lg, "listen", host, "--store", str(store), "--bind", f"127.0.0.1:{port}", "--quiet"],
        env={**os.environ, "LEAKGUARD_FEED_TOKEN": token},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    stop(proc)
    sys.exit("leakguard listen did not start")


def recorded(store: Path, since: float = 0.0) -> set[str]:
    """Repositories the listener recorded events of, received after `since`."""
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
            rows = db.execute("SELECT DISTINCT repository FROM events WHERE received>=?", (since,))
            return {name for (name,) in rows}
    except sqlite3.Error:
        return set()


def events_settled(store: Path, quiet: float = 2.0, limit: float = 300.0) -> int:
    """Wait until no event has come for `quiet` seconds; the number recorded."""
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
            count = int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return count
        time.sleep(0.2)
    return last


@dataclass(frozen=True)
class Fleet:
    tags: int
    distinct_layers: int
    planted: dict[str, str]  # fingerprint → repo:tag


def base_layers(n: int, rng: random.Random) -> list[Blob]:
    """Two layers of config-like text for base image n (about 300 KB each)."""
    out = []
    for part in range(2):
        files = {
            f"usr/share/base{n}/{part}/{i}.conf": "".join(
                f"option_{j} = {rng.randrange(10**6)} # base {n} part {part}\n" for j in range(60)
            )
            for i in range(120)
        }
        out.append(layer(files))
    return out


def own_layer(repo: str, tag: str, secret: str | None) -> Blob:
    files = {
        f"srv/{repo}/{tag}/settings{i}.ini": f"[app]\nname = {repo}\ntag = {tag}\nworkers = {i}\n"
        * 8
        for i in range(12)
    }
    if secret is not None:
        files[f"srv/{repo}/{tag}/.env"] = f"TOKEN={secret}\n"
    return layer(files)


def push_fleet(host: str, repos: int, tags: int, bases: int, seed: int) -> Fleet:
    rng = random.Random(seed)
    base = [base_layers(n, rng) for n in range(bases)]
    home: dict[str, str] = {}
    local = threading.local()
    planted: dict[str, str] = {}
    jobs = []
    for r in range(repos):
        for t in range(1, tags + 1):
            secret = None
            if r % 25 == 0 and t == 1:
                secret = github_token(rng)
            elif r % 40 == 7 and t == 2:
                secret = aws_key_id(rng)
            if secret is not None:
                planted[fingerprint(secret.encode())] = f"fleet/app{r}:{t}"
            jobs.append((r, t, secret))
    pushers: list[Pusher] = []

    def pusher() -> Pusher:
        found: Pusher | None = getattr(local, "pusher", None)
        if found is None:
            found = local.pusher = Pusher(host, home)
            pushers.append(found)
        return found

    # Bases first, each in one repository, so the others mount them.
    for n, layers in enumerate(base):
        pusher().image(f"base/b{n}", "1", layers, "2026-01-01T00:00:00Z")

    def one(r: int) -> None:
        # One repository's tags one after another: concurrent mounts of a blob into
        # the same repository can leave the registry without the link.
        for rr, t, secret in jobs:
            if rr == r:
                layers = [*base[r % bases], own_layer(f"app{r}", str(t), secret)]
                created = f"2026-{1 + t:02d}-{1 + r % 28:02d}T00:00:00Z"
                pusher().image(f"fleet/app{r}", str(t), layers, created)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(repos)))
    for p in pushers:
        p.close()
    return Fleet(len(jobs), 2 * bases + len(jobs), planted)


def push_new(host: str, count: int, tags: int, seed: int) -> dict[str, str]:
    """`count` new tags of existing repositories, each with a layer of its own."""
    rng = random.Random(seed + 1)
    base = base_layers(0, random.Random(seed))  # same bytes as base 0: already there
    pusher = Pusher(host)
    planted = {}
    for r in range(count):
        secret = github_token(rng) if r == 0 else None
        tag = str(tags + 1)
        pusher.image(f"fleet/app{r}", tag, [*base, own_layer(f"app{r}", tag, secret)],
                     "2026-09-01T00:00:00Z")  # fmt: skip
        if secret:
            planted[fingerprint(secret.encode())] = f"fleet/app{r}:{tag}"
    pusher.close()
    return planted


@dataclass
class Sweep:
    seconds: float
    read: int
    cached: int
    unchanged: int
    found: set[str]  # fingerprints
    line: str
    discovery: float  # seconds listing tags, HEAD requests, manifests and configs
    inside: float  # seconds the sweep itself says it took (process start left out)
    not_asked: int  # repositories the feed carried over without listing them
    note: str  # why --feed was not used ("" when it was, or not wanted)


def sweep(lg: str, host: str, store: Path, out: Path, extra: tuple[str, ...] = ()) -> Sweep:
    cmd = [lg, "sweep", host, "--repo", "fleet/*", "--store", str(store), "-f", "json",
           "--no-baseline", "-o", str(out), *extra]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"$ {' '.join(cmd)}\nexited {done.returncode}\n{done.stderr[-3000:]}")
    line = next(x for x in done.stderr.splitlines() if x.startswith("leakguard: swept"))
    counts = re.search(r"\((\d+) read, (\d+) cached\)", line)
    unchanged = re.search(r"(\d+) tags unchanged", line)
    phases = re.search(r"in ([\d.]+)s \(([\d.]+)s listing tags", line)
    not_asked = re.search(r"\((\d+) repositories carried over", line)
    note = next((x for x in done.stderr.splitlines() if "--feed not used" in x), "")
    assert counts and phases, line
    found = {f["fingerprint"] for f in json.loads(out.read_text())["findings"]}
    return Sweep(
        seconds,
        int(counts.group(1)),
        int(counts.group(2)),
        int(unchanged.group(1)) if unchanged else 0,
        found,
        line.removeprefix("leakguard: "),
        float(phases.group(2)),
        float(phases.group(1)),
        int(not_asked.group(1)) if not_asked else 0,
        note,
    )


def size(path: Path) -> int:
    """Bytes of a store's pages in use, as a reader sees it (its write-ahead log included)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * db.execute("PRAGMA page_size").fetchone()[0])


def stored(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM layers").fetchone()[0])
    except sqlite3.Error:
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=500)
    parser.add_argument("--tags", type=int, default=3)
    parser.add_argument("--new", type=int, default=10, help="images pushed before the increment")
    parser.add_argument("--bases", type=int, default=4)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--no-dask", action="store_true", help="leave the cluster run out")
    args = parser.parse_args()
    lg = shutil.which("leakguard") or str(Path(sys.executable).parent / "leakguard")
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix="leakguard-fleet-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        (tmp / "registry").mkdir()
        s1 = tmp / "s1.sqlite"
        port, token = free_port(), secrets.token_hex(16)
        registry, host = start_registry(tmp / "registry", notifications(port, token))
        procs.append(registry)
        # The listener is up before anything is pushed (and before the full sweep, which
        # a --feed sweep then starts from).
        procs.append(start_listener(lg, host, s1, port, token))
        started = time.perf_counter()
        fleet = push_fleet(host, args.repos, args.tags, args.bases, args.seed)
        pushed = time.perf_counter() - started
        count = events_settled(s1)
        print(
            f"fleet: {args.repos} repositories x {args.tags} tags = {fleet.tags} images, "
            f"{fleet.distinct_layers} distinct layers, {len(fleet.planted)} planted values; "
            f"pushed through the registry API in {pushed:.1f}s; {count} notifications "
            f"recorded by `leakguard listen` in {time.perf_counter() - started:.1f}s",
            flush=True,
        )

        def recall(done: Sweep, planted: dict[str, str]) -> str:
            missed = [where for fp, where in planted.items() if fp not in done.found]
            return "all planted values found" if not missed else f"MISSED {missed}"

        full = sweep(lg, host, s1, OUT / "full.json")
        # The store as the full sweep left it, for the sweeps without the feed.
        s1h = tmp / "s1h.sqlite"
        with sqlite3.connect(s1) as source, sqlite3.connect(s1h) as copy:
            source.backup(copy)
        per_tag = full.discovery / fleet.tags
        per_layer = (full.inside - full.discovery) / full.read
        print(f"full sweep:        {full.seconds:7.2f}s  "
              f"{full.read / full.seconds:6.1f} layers/s  {recall(full, fleet.planted)}\n"
              f"                   {full.line}\n"
              f"                   per tag (list, manifest, config): {per_tag * 1000:.1f} ms; "
              f"per distinct layer (download, scan, store): {per_layer * 1000:.1f} ms",
              flush=True)  # fmt: skip
        if not args.no_dask:
            cluster, address = start_cluster(tmp)
            procs.extend(cluster)
            dask = sweep(lg, host, tmp / "s2.sqlite", OUT / "dask.json", ("--scheduler", address))
            same = dask.found == full.found
            print(f"dask sweep (2 workers): {dask.seconds:7.2f}s  "
                  f"{dask.read / dask.seconds:6.1f} layers/s  {dask.seconds / full.seconds:.2f}x "
                  f"the local sweep, {(dask.seconds - full.seconds) / dask.read * 1000:+.1f} ms "
                  f"per layer; {'same findings' if same else 'FINDINGS DIFFER'}\n"
                  f"                   {dask.line}", flush=True)  # fmt: skip
        before_new = time.time()
        planted = {**fleet.planted, **push_new(host, args.new, args.tags, args.seed)}
        changed = {f"fleet/app{r}" for r in range(args.new)}
        deadline = time.monotonic() + 60
        while not changed <= recorded(s1, before_new) and time.monotonic() < deadline:
            time.sleep(0.1)
        inc = sweep(lg, host, s1h, OUT / "incremental.json")
        print(f"incremental sweep: {inc.seconds:7.2f}s  {inc.read} layers read, "
              f"{inc.unchanged} tags unchanged; {inc.seconds / full.seconds:.1%} of the full "
              f"sweep  {recall(inc, planted)}\n"
              f"                   {inc.line}", flush=True)  # fmt: skip
        # Three runs, the median kept: two on copies of the store taken just before (the
        # listener's heartbeat in them still fresh), the last on the store itself.
        runs = []
        for n in range(3):
            store = s1
            if n < 2:
                store = tmp / f"s1f{n}.sqlite"
                with sqlite3.connect(s1) as source, sqlite3.connect(store) as copy:
                    source.backup(copy)
            runs.append(sweep(lg, host, store, OUT / f"feed{n}.json", ("--feed",)))
        fed = sorted(runs, key=lambda r: r.seconds)[1]
        same = all(r.found == inc.found for r in runs)
        print(f"feed sweep:        {fed.seconds:7.2f}s  (median of "
              f"{', '.join(f'{r.seconds:.2f}' for r in runs)})  {fed.read} layers read, "
              f"{fed.not_asked} repositories not listed; {fed.seconds / full.seconds:.1%} of the "
              f"full sweep (target < 5%), {fed.seconds / inc.seconds:.1%} of the incremental "
              f"one  {recall(fed, planted)}; {'same findings' if same else 'FINDINGS DIFFER'}"
              f"{'  ' + fed.note if fed.note else ''}\n"
              f"                   {fed.line}", flush=True)  # fmt: skip
        still = sweep(lg, host, s1h, OUT / "unchanged.json")
        tags = fleet.tags + args.new
        print(f"nothing changed:   {still.seconds:7.2f}s  {still.read} layers read; "
              f"{still.discovery / tags * 1000:.2f} ms per tag (list + HEAD), "
              f"{still.seconds - still.inside:.2f}s process start and rule set; "
              f"{still.seconds / full.seconds:.1%} of the full sweep", flush=True)  # fmt: skip
        grown = size(s1)
        quiet = sweep(lg, host, s1, OUT / "feed-unchanged.json", ("--feed",))
        print(f"nothing changed, feed: {quiet.seconds:5.2f}s  {quiet.not_asked} repositories "
              f"not listed; {quiet.seconds - quiet.inside:.2f}s process start and rule set; "
              f"{quiet.seconds / full.seconds:.1%} of the full sweep; the store grew by "
              f"{(size(s1) - grown) / 1e3:.0f} kB (to {size(s1) / 1e6:.1f} MB)",
              flush=True)  # fmt: skip
        before_prune = size(s1)
        pruned = sweep(lg, host, s1, OUT / "feed-pruned.json", ("--feed", "--keep-runs", "2"))
        print(f"same, --keep-runs 2: {pruned.seconds:5.2f}s; the store went from "
              f"{before_prune / 1e6:.1f} MB to {size(s1) / 1e6:.1f} MB; "
              f"{'same findings' if pruned.found == quiet.found else 'FINDINGS DIFFER'}",
              flush=True)  # fmt: skip
        # Resume: killed once half the distinct layers are stored.
        s3 = tmp / "s3.sqlite"
        total = fleet.distinct_layers + args.new
        cmd = [lg, "sweep", host, "--repo", "fleet/*", "--store", str(s3), "-f", "json",
               "--no-baseline", "-o", str(OUT / "killed.json")]  # fmt: skip
        jobs = os.cpu_count() or 1
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while stored(s3) < total // 2 and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        at_kill = stored(s3)
        resumed = sweep(lg, host, s3, OUT / "resumed.json")
        again = resumed.read - (total - at_kill)
        print(f"resume after SIGKILL: {at_kill} of {total} layers stored at the kill; the "
              f"second run read {resumed.read} and took {resumed.cached} from the store: "
              f"{again} finished layer(s) read again (in flight at the kill: at most "
              f"{jobs}, one per worker); {resumed.seconds:.2f}s  {recall(resumed, planted)}",
              flush=True)  # fmt: skip
        figures = {
            "repos": args.repos, "tags": tags, "distinct_layers": total,
            "full_s": full.seconds, "full_layers_per_s": full.read / full.seconds,
            "incremental_s": inc.seconds, "incremental_ratio": inc.seconds / full.seconds,
            "feed_s": fed.seconds, "feed_ratio": fed.seconds / full.seconds,
            "feed_same_findings": same, "feed_unchanged_s": quiet.seconds,
            "store_bytes": before_prune, "store_growth_per_run": before_prune - grown,
            "store_bytes_kept_2": size(s1), "pruned_run_s": pruned.seconds,
            "unchanged_s": still.seconds, "head_per_tag_ms": still.discovery / tags * 1000,
            "full_per_tag_ms": per_tag * 1000, "full_per_layer_ms": per_layer * 1000,
            "resume_at_kill": at_kill, "resume_read": resumed.read, "reread": again,
        }  # fmt: skip
        if not args.no_dask:
            figures |= {"dask_s": dask.seconds, "dask_ratio": dask.seconds / full.seconds}
        (OUT / "figures.json").write_text(json.dumps(figures, indent=1) + "\n")
        return 0
    finally:
        for proc in reversed(procs):
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
