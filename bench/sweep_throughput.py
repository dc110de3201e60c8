#!/usr/bin/env python3
"""`leakguard sweep` over a fleet of images sharing a base, against scanning each image alone.

    python3 bench/sweep_throughput.py [--images 20] [--base-mb 300] [--repeat 2]

Everything happens in one run, on loopback:

1. starts a distribution registry (`docker-registry serve`, storage in a temp dir);
2. writes one OCI layout holding N images (gzip layers): two shared base layers of
   real text (this Python's standard library, repeated under new folders until the
   base reaches --base-mb) plus one small layer of each image's own, with a GitHub
   token and an AWS key id made up at run time; pushes each with `skopeo copy`;
3. times, best of --repeat each:
   * `leakguard sweep --no-cache HOST -f json`  (every distinct layer read once);
   * the naive peer: `leakguard image --no-cache docker://HOST/fleet/appN:1` once per
     image, one after another (shared layers read again for every image);
   * `trivy` / `trufflehog` per image, when on PATH;
   * `leakguard sweep` again with a warm layer cache;
4. checks recall (each planted value's sha256 among the sweep's fingerprints, on its
   own image) and that `--shard 1/2` plus `--shard 2/2` give the unsharded findings.

Figures: "read MB" is the uncompressed size of the layers a run reads (distinct
layers for the sweep, every layer reference for the naive peer); "fleet MB/s" is the
fleet's total (referenced) uncompressed layer size over wall time, the same numerator
for every run. Process start is included. Outputs go to bench/out/sweep/.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import socket
import string
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakguard.rules.checks import crc32_base62

OUT = Path(__file__).resolve().parent / "out" / "sweep"
ALNUM = string.ascii_letters + string.digits
TEXT_SUFFIXES = (".py", ".txt", ".rst")
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MB = 1e6


# fleet ------------------------------------------------------------------------------


@dataclass
class Blob:
    digest: str
    size: int  # compressed, as stored in the registry
    diff_id: str
    raw_size: int  # uncompressed tar


@dataclass
class Plant:
    image: str  # fleet/appN:1
    path: str
    rule: str
    sha256: str


@dataclass
class Fleet:
    refs: list[str] = field(default_factory=list)  # fleet/appN:1
    base: list[Blob] = field(default_factory=list)
    own: list[Blob] = field(default_factory=list)
    plants: list[Plant] = field(default_factory=list)

    @property
    def layer_refs(self) -> int:
        return len(self.refs) * len(self.base) + len(self.own)

    @property
    def distinct(self) -> list[Blob]:
        return self.base + self.own

    @property
    def referenced_raw(self) -> int:
        base = sum(b.raw_size for b in self.base)
        return len(self.refs) * base + sum(b.raw_size for b in self.own)


def github_token(rng: random.Random) -> str:
    body = "".join(rng.choice(ALNUM) for _ in range(30))
    return "gh" + "p_" + body + crc32_base62(body.encode()).decode()


def aws_key_id(rng: random.Random) -> str:
    return "AK" + "IA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))


def text_files(root: Path) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "site-packages"))
        for name in sorted(files):
            path = Path(folder) / name
            if name.endswith(TEXT_SUFFIXES) and path.is_file() and not path.is_symlink():
                found.append(path)
    return found


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


def put_blob(blobs: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return f"sha256:{digest}"


def layer(blobs: Path, files: list[tuple[str, bytes]]) -> Blob:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            _add(tar, name, data)
    tar_bytes = raw.getvalue()
    packed = gzip.compress(tar_bytes, compresslevel=6, mtime=0)
    digest = put_blob(blobs, packed)
    diff_id = f"sha256:{hashlib.sha256(tar_bytes).hexdigest()}"
    return Blob(digest, len(packed), diff_id, len(tar_bytes))


def base_layers(blobs: Path, source: Path, base_bytes: int) -> list[Blob]:
    pool = text_files(source)
    if not pool:
        sys.exit(f"no {'/'.join(TEXT_SUFFIXES)} files under {source}")
    half = base_bytes // 2
    layers: list[Blob] = []
    files: list[tuple[str, bytes]] = []
    size, copy, i = 0, 0, 0
    while len(layers) < 2:
        path = pool[i]
        data = path.read_bytes()
        files.append((f"usr/lib/py{copy}/{path.relative_to(source)}", data))
        size += len(data)
        i += 1
        if i == len(pool):
            i, copy = 0, copy + 1
        if size >= half:
            layers.append(layer(blobs, files))
            files, size = [], 0
    return layers


def own_files(
    n: int, rng: random.Random
) -> tuple[list[tuple[str, bytes]], list[tuple[str, str, str]]]:
    token, key_id = github_token(rng), aws_key_id(rng)
    settings = (
        f'"""Settings of app{n}."""\n\nSERVICE = "app{n}"\nPORT = {8000 + n}\n'
        f'GITHUB_TOKEN = "{token}"\n'
    )
    deploy = f"#!/bin/sh\nexport AWS_ACCESS_KEY_ID={key_id}\nexec python3 -m app{n}\n"
    files = [
        ("app/settings.py", settings.encode()),
        ("app/deploy.sh", deploy.encode()),
        ("app/README.md", f"# app{n}\n\nA service of the fleet.\n".encode()),
    ]
    plants = [("app/settings.py", "github", token), ("app/deploy.sh", "aws", key_id)]
    return files, plants


def write_fleet(folder: Path, images: int, base_mb: float, seed: int) -> Fleet:
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    fleet = Fleet()
    fleet.base = base_layers(blobs, Path(sysconfig.get_paths()["stdlib"]), int(base_mb * MB))
    rng = random.Random(seed)
    manifests = []
    for n in range(images):
        files, plants = own_files(n, rng)
        own = layer(blobs, files)
        fleet.own.append(own)
        ref = f"fleet/app{n}:1"
        fleet.refs.append(ref)
        for path, rule, value in plants:
            fleet.plants.append(Plant(ref, path, rule, hashlib.sha256(value.encode()).hexdigest()))
        layers = [*fleet.base, own]
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Env": [f"SERVICE=app{n}"], "Cmd": ["python3", "-m", f"app{n}"]},
                "rootfs": {"type": "layers", "diff_ids": [b.diff_id for b in layers]},
                "history": [{"created_by": f"COPY layer{i} /"} for i in range(len(layers))],
            }
        ).encode()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": put_blob(blobs, config),
                    "size": len(config),
                },
                "layers": [
                    {"mediaType": OCI_LAYER, "digest": b.digest, "size": b.size} for b in layers
                ],
            }
        ).encode()
        manifests.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": put_blob(blobs, manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": f"app{n}"},
            }
        )
    index = {"schemaVersion": 2, "manifests": manifests}
    (folder / "index.json").write_text(json.dumps(index))
    return fleet


# registry ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_registry(root: Path, extra_config: str = "") -> tuple[subprocess.Popen[bytes], str]:
    """A docker-registry on loopback; `extra_config`: YAML sections added to its config."""
    exe = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n" + extra_config
    )
    log = open(root / "registry.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [exe, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{host}/v2/", timeout=2) as r:
                if r.status == 200:
                    return proc, host
        except OSError:
            time.sleep(0.2)
    stop(proc)
    sys.exit(f"docker-registry did not start:\n{(root / 'registry.log').read_text()[-2000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def push(layout: Path, fleet: Fleet, host: str) -> None:
    for ref in fleet.refs:
        name = ref.split("/")[1].split(":")[0]
        subprocess.run(
            ["skopeo", "copy", "-q", "--dest-tls-verify=false",
             f"oci:{layout}:{name}", f"docker://{host}/{ref}"],
            check=True,
        )  # fmt: skip


# runs -------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    seconds: float
    layers_read: int
    raw_read: int  # uncompressed bytes of the layers read
    note: str = ""


def run(cmd: list[str], ok: tuple[int, ...] = (0, 1)) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode not in ok:
        sys.exit(f"$ {' '.join(cmd)}\nexited {done.returncode}\n{done.stderr[-3000:]}")
    return done


def best_of(repeat: int, once: Any) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        once()
        best = min(best, time.perf_counter() - started)
    return best


def findings(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text())["findings"])


IDENTITY = ("image", "layer", "path", "line", "column", "origin", "deleted")


def key(f: dict[str, Any]) -> str:
    """A finding's identity, from fields every report version has."""
    where = [f["location"].get(name) for name in IDENTITY]
    return json.dumps([f["rule_id"], f["fingerprint"], *where])


def recall(found: list[dict[str, Any]], fleet: Fleet, host: str) -> tuple[int, list[str]]:
    on = {(f["location"].get("image"), f["fingerprint"]) for f in found}
    prints = {f["fingerprint"] for f in found}
    hits, missed = 0, []
    for p in fleet.plants:
        if (f"{host}/{p.image}", p.sha256) in on:
            hits += 1
        else:
            where = "found on another image" if p.sha256 in prints else "not found"
            missed.append(f"{p.image} {p.path} ({p.rule}): {where}")
    return hits, missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--base-mb", type=float, default=300, help="shared base, uncompressed")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-naive", action="store_true", help="time the sweep only")
    args = parser.parse_args()
    lg = shutil.which("leakguard")
    if lg is None:
        sys.exit("leakguard is not on PATH (pip install -e .)")
    if shutil.which("skopeo") is None:
        sys.exit("skopeo is not on PATH (Debian package skopeo)")
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "naive").mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix="leakguard-sweep-bench-"))
    proc = None
    try:
        started = time.perf_counter()
        fleet = write_fleet(tmp / "oci", args.images, args.base_mb, args.seed)
        built = time.perf_counter() - started
        (tmp / "registry").mkdir()
        proc, host = start_registry(tmp / "registry")
        started = time.perf_counter()
        push(tmp / "oci", fleet, host)
        pushed = time.perf_counter() - started
        shutil.rmtree(tmp / "oci")
        (OUT / "planted.json").write_text(
            json.dumps([p.__dict__ for p in fleet.plants], indent=1) + "\n"
        )
        distinct_raw = sum(b.raw_size for b in fleet.distinct)
        distinct_gz = sum(b.size for b in fleet.distinct)
        print(
            f"fleet: {len(fleet.refs)} images at {host}/fleet/*; {fleet.layer_refs} layer "
            f"references, {len(fleet.distinct)} distinct layers, "
            f"{distinct_raw / MB:.1f} MB distinct uncompressed ({distinct_gz / MB:.1f} MB gzip), "
            f"{fleet.referenced_raw / MB:.1f} MB referenced; {len(fleet.plants)} planted "
            f"values (written in {built:.1f}s, pushed in {pushed:.1f}s)",
            flush=True,
        )
        runs: list[Run] = []
        sweep_json = OUT / "sweep.json"
        sweep_cmd = [lg, "sweep", host, "-f", "json", "--no-baseline"]
        last: dict[str, str] = {}

        def sweep_once(extra: list[str], out: Path) -> None:
            last["stderr"] = run([*sweep_cmd, *extra, "-o", str(out)]).stderr.strip()

        t = best_of(args.repeat, lambda: sweep_once(["--no-cache"], sweep_json))
        runs.append(Run("leakguard sweep --no-cache", t, len(fleet.distinct), distinct_raw))
        sweep_line = last["stderr"]

        if not args.skip_naive:

            def naive() -> None:
                for ref in fleet.refs:
                    out = OUT / "naive" / (ref.replace("/", "_").replace(":", "_") + ".json")
                    run([lg, "image", "--no-cache", f"docker://{host}/{ref}",
                         "-f", "json", "--no-baseline", "-o", str(out)])  # fmt: skip

            t = best_of(args.repeat, naive)
            runs.append(Run("leakguard image --no-cache, per image", t, fleet.layer_refs,
                            fleet.referenced_raw))  # fmt: skip
        others = [tool for tool in ("trivy", "trufflehog") if shutil.which(tool)]
        for tool in others:

            def peer(tool: str = tool) -> None:
                for ref in fleet.refs:
                    if tool == "trivy":
                        cmd = [tool, "image", "--scanners", "secret", "--insecure",
                               "--image-src", "remote", f"{host}/{ref}"]  # fmt: skip
                    else:
                        cmd = [tool, "docker", f"--image={host}/{ref}", "--no-verification"]
                    run(cmd, ok=tuple(range(256)))

            t = best_of(args.repeat, peer)
            runs.append(Run(f"{tool}, per image", t, fleet.layer_refs, fleet.referenced_raw))

        cache = OUT / "layers.sqlite"
        sweep_once(["--cache", str(cache)], OUT / "sweep-fill.json")
        t = best_of(args.repeat, lambda: sweep_once(["--cache", str(cache)], OUT / "warm.json"))
        runs.append(Run("leakguard sweep, warm cache", t, 0, 0))
        warm_line = last["stderr"]

        referenced = fleet.referenced_raw / MB
        print(f"\n{'run':40} {'layers':>7} {'read MB':>9} {'s':>8} {'layers/s':>9} "
              f"{'MB/s':>8} {'fleet MB/s':>11}")  # fmt: skip
        for r in runs:
            print(
                f"{r.name:40} {r.layers_read:7d} {r.raw_read / MB:9.1f} {r.seconds:8.2f} "
                f"{r.layers_read / r.seconds:9.1f} {r.raw_read / MB / r.seconds:8.1f} "
                f"{referenced / r.seconds:11.1f}"
            )
        sweep_s = runs[0].seconds
        for r in runs[1:]:
            print(f"ratio {r.name} / sweep --no-cache: {r.seconds / sweep_s:.2f}x")
        if not others:
            print("trivy, trufflehog: not on PATH, not run")
        print(f"sweep says: {sweep_line}")
        print(f"warm sweep says: {warm_line}")

        found = findings(sweep_json)
        hits, missed = recall(found, fleet, host)
        print(f"\nrecall (sweep): {hits}/{len(fleet.plants)} planted values found on their image"
              f"; {len(found)} findings in all")  # fmt: skip
        for m in missed[:10]:
            print(f"  missed: {m}")
        if not args.skip_naive:
            naive_found = [f for p in sorted((OUT / "naive").iterdir()) for f in findings(p)]
            n_hits, _ = recall(naive_found, fleet, host)
            same = {key(f) for f in naive_found} == {key(f) for f in found}
            print(f"recall (naive): {n_hits}/{len(fleet.plants)}; {len(naive_found)} findings; "
                  f"same findings as the sweep: {same}")  # fmt: skip
        warm = {key(f) for f in findings(OUT / "warm.json")}
        same_warm = warm == {key(f) for f in found}
        print(f"warm-cache sweep has the same findings as --no-cache: {same_warm}")

        shards = []
        for i in (1, 2):
            out = OUT / f"shard{i}.json"
            sweep_once(["--no-cache", "--shard", f"{i}/2"], out)
            shards.append({key(f) for f in findings(out)})
            print(f"shard {i}/2: {len(shards[-1])} findings; {last['stderr']}")
        whole = {key(f) for f in found}
        union = shards[0] | shards[1]
        print(
            f"shard check: union {len(union)} findings, unsharded {len(whole)}; "
            f"{'EQUAL' if union == whole else 'DIFFERENT'} "
            f"(missing from union {len(whole - union)}, extra {len(union - whole)}, "
            f"in both shards {len(shards[0] & shards[1])})"
        )
        for k in sorted(whole - union)[:5]:
            print(f"  missing: {k[:300]}")
        for k in sorted(union - whole)[:5]:
            print(f"  extra: {k[:300]}")
        zero = subprocess.run([*sweep_cmd, "--shard", "0/2"], capture_output=True, text=True)
        print(f"--shard 0/2 exits {zero.returncode}: {zero.stderr.strip()[:200]}")
        return 0 if hits == len(fleet.plants) and union == whole else 1
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
