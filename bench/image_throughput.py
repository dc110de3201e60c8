#!/usr/bin/env python3
"""`leakguard image` against decompressing the same layers with `gzip -dc`, in one run.

    python3 bench/image_throughput.py [--source DIR] [--repeat 3]

Builds (once; reused while tagged) an image of at least 1 GB with the real
Docker engine, FROM scratch plus four COPY layers of a real source tree
(default: this Python's standard library and site-packages: code, text, and
binaries), saves it (`docker save`) and converts it to an OCI layout with gzip
layers (`skopeo copy`). Then, best of --repeat runs each:

* gzip -dc: every gzip layer blob of the OCI layout to /dev/null, one after another;
* leakguard image --no-cache oci:...  (gzip layers, digests verified, all cores);
* leakguard image --no-cache docker-archive:...  (uncompressed layers);
* leakguard image oci:... with a warm layer cache.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

DOCKER = "/usr/bin/docker"
TAG = "leakguard-bench/big:1"


def timed(cmd: list[str], repeat: int, ok: tuple[int, ...] = (0, 1)) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if done.returncode not in ok:
            sys.exit(f"{' '.join(cmd)} exited {done.returncode}")
        best = min(best, time.perf_counter() - started)
    return best


def build(source: Path, work: Path) -> None:
    if subprocess.run([DOCKER, "image", "inspect", TAG], capture_output=True).returncode == 0:
        return
    ctx = work / "ctx"
    entries = sorted(p for p in source.iterdir() if p.name != "__pycache__")
    for i, entry in enumerate(entries):
        target = ctx / f"p{i % 4}" / entry.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.is_dir():
            shutil.copytree(entry, target, symlinks=True)
        elif entry.is_file():
            shutil.copy2(entry, target)
    (ctx / "Dockerfile").write_text(
        "FROM scratch\n" + "".join(f"COPY p{i} /py/\n" for i in range(4))
    )
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    subprocess.run([DOCKER, "build", "-q", "-t", TAG, str(ctx)], check=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leakguard-bench-") as tmp:
        work = Path(tmp)
        build(args.source, work)
        archive, oci = work / "big.tar", work / "oci"
        subprocess.run([DOCKER, "save", "-o", str(archive), TAG], check=True)
        subprocess.run(
            ["skopeo", "copy", "-q", f"docker-archive:{archive}", f"oci:{oci}:1"], check=True
        )
        blobs = [
            p for p in (oci / "blobs" / "sha256").iterdir() if p.read_bytes()[:2] == b"\x1f\x8b"
        ]
        size = archive.stat().st_size
        gz = "for f in " + " ".join(map(str, blobs)) + '; do gzip -dc "$f" > /dev/null; done'
        lg = [sys.executable, "-m", "leakguard", "image"]
        env_cache = work / "cache"
        os.environ["LEAKGUARD_CACHE_DIR"] = str(env_cache)
        t_gzip = timed(["sh", "-c", gz], args.repeat)
        t_oci = timed([*lg, "--no-cache", f"oci:{oci}:1"], args.repeat)
        t_archive = timed([*lg, "--no-cache", f"docker-archive:{archive}"], args.repeat)
        timed([*lg, f"oci:{oci}:1"], 1)
        t_warm = timed([*lg, f"oci:{oci}:1"], args.repeat)
        print(
            f"image: {size / 1e9:.2f} GB uncompressed in 4 layers, "
            f"{sum(b.stat().st_size for b in blobs) / 1e6:.0f} MB gzip; {os.cpu_count()} cores"
        )
        print(f"gzip -dc of each layer:           {t_gzip:6.2f} s")
        print(f"leakguard image oci: (gzip)       {t_oci:6.2f} s  ({t_gzip / t_oci:.2f}x gzip -dc)")
        print(
            f"leakguard image docker-archive:   {t_archive:6.2f} s  "
            f"({size / 1e6 / t_archive:.0f} MB/s)"
        )
        print(f"leakguard image, warm cache:      {t_warm:6.2f} s")


if __name__ == "__main__":
    main()
