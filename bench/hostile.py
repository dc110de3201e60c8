"""Cost of hostile inputs against ordinary ones of the same size.

    python3 bench/hostile.py [--scale 1.0] [--limit 600] [--keep DIR] [--only CLASS ...]

Each class of input that once cost leakguard more than linear time is made at
two sizes (the second twice the first; a third past a bound for two classes),
next to an ordinary input of the same size run through the same command:

- findings: `password=VALUE` on every line (`leakguard scan`); ordinary: lines
  of words. The third size is past the engine's bound (10,000 findings a
  file): the figure is the cost of the first 10,000 and of saying where the
  report stops.
- continuations: one `RUN` of N continuation lines (`leakguard scan` of a
  Dockerfile); ordinary: a Dockerfile of one `RUN` a line.
- dockerignore: `**/` repeated K times then `z`, and `*a` K/2 times then `b`,
  against a 7-deep tree (`leakguard context`); ordinary: K plain patterns.
  Sizes are in pattern pieces, not MB.
- git-line: one commit whose file is a single line of base64 with an
  assignment every 20 KB (`leakguard git`); ordinary: the same bytes in
  80-byte lines.
- migrate: a Compose file of many services, each with two literal secrets
  (`leakguard migrate`, plan only); ordinary: `leakguard scan` of the same
  file. The second size is past migrate's bound (50,000 YAML nodes): its
  secrets are reported as left for a manual change, and the figure is the
  cost of saying so.

For each run: wall seconds, CPU seconds of the process, its peak memory
(VmHWM, sampled every 20 ms), CPU
seconds per MB (or pattern piece), the same for the ordinary input, and the
ratio of the two. "growth" is the cost per unit at a size over that at the
size before it: 1.0 is linear, 2.0 quadratic. A run is stopped after --limit
seconds (600): its figures are then lower bounds.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
WORDS = ("alpha beta gamma delta record value index total count buffer result item "
         "config handler request response parse render update commit").split()  # fmt: skip
ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="Bench",
    GIT_AUTHOR_EMAIL="bench@example.test",
    GIT_COMMITTER_NAME="Bench",
    GIT_COMMITTER_EMAIL="bench@example.test",
    GIT_CONFIG_NOSYSTEM="1",
    LEAKGUARD_CACHE_DIR="",
)
MB = 1024 * 1024
ENV_NAMES = ("POSTGRES_" + "PASSWORD", "API_" + "TOKEN")  # split: no literal secret here


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float
    code: int | None  # None: stopped at the time limit


def run(args: list[str], cwd: Path, limit: float) -> Run:
    """One leakguard process: wall and CPU time, peak memory (of that process alone),
    stopped after `limit` seconds."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["leakguard", *args], cwd=cwd, env=ENV,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    code: int | None = None
    peak_kb = 0
    while True:
        # VmHWM, read while it runs: the child's own peak (ru_maxrss would also
        # count the pages of this process that the fork copied before the exec).
        try:
            with open(f"/proc/{proc.pid}/status") as fh:
                for row in fh:
                    if row.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(row.split()[1]))
        except (OSError, ValueError):
            pass
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.perf_counter() - started > limit:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    proc.returncode = code if code is not None else -9
    wall = time.perf_counter() - started
    return Run(wall, usage.ru_utime + usage.ru_stime, peak_kb / 1024, code)


def words_text(rng: random.Random, size: int) -> str:
    out, total = [], 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(10)) + "\n"
        out.append(line)
        total += len(line)
    return "".join(out)


def value(rng: random.Random, n: int = 16) -> str:
    return "".join(rng.choice(ALNUM) for _ in range(n))


# -- inputs: each returns (hostile args, ordinary args, size in MB or pieces) ----------


def findings(root: Path, size: int, rng: random.Random) -> tuple[list[str], list[str], float]:
    lines, total = [], 0
    while total < size:
        line = f"password={value(rng)}\n"
        lines.append(line)
        total += len(line)
    (root / "many.txt").write_text("".join(lines))
    (root / "plain.txt").write_text(words_text(rng, size))
    scan = ["scan", "--no-baseline", "-f", "json", "-o", os.devnull]
    return [*scan, "many.txt"], [*scan, "plain.txt"], size / MB


def continuations(root: Path, size: int, rng: random.Random) -> tuple[list[str], list[str], float]:
    cont = ["FROM alpine\nRUN echo start \\\n"]
    flat = ["FROM alpine\n"]
    total = 0
    i = 0
    while total < size:
        step = f"  && echo word{i} {rng.choice(WORDS)} \\\n"
        cont.append(step)
        flat.append(f"RUN echo word{i} {rng.choice(WORDS)}\n")
        total += len(step)
        i += 1
    cont.append("  && true\n")
    (root / "cont").mkdir()
    (root / "flat").mkdir()
    (root / "cont" / "Dockerfile").write_text("".join(cont))
    (root / "flat" / "Dockerfile").write_text("".join(flat))
    scan = ["scan", "--no-baseline", "-f", "json", "-o", os.devnull]
    return [*scan, "cont/Dockerfile"], [*scan, "flat/Dockerfile"], size / MB


def dockerignore(root: Path, pieces: int, rng: random.Random) -> tuple[list[str], list[str], float]:
    for name in ("hostile", "plain"):
        deep = root / name / "a" / "b" / "c" / "d" / "e" / "f"
        deep.mkdir(parents=True)
        (deep / "g").write_text("x\n")
        (root / name / ("a" * 60)).write_text("x\n")
        for i in range(200):
            (root / name / "a" / f"file{i}.txt").write_text("x\n")
        (root / name / "Dockerfile").write_text("FROM alpine\nCOPY . /app\n")
    hostile = ["**/" * pieces + "z", "*a" * (pieces // 2) + "b"]
    (root / "hostile" / ".dockerignore").write_text("\n".join(hostile) + "\n")
    plain = [f"dir{i}/" for i in range(pieces)]
    (root / "plain" / ".dockerignore").write_text("\n".join(plain) + "\n")
    context = ["context", "--no-baseline", "-f", "json", "-o", os.devnull]
    return [*context, "hostile"], [*context, "plain"], float(pieces)


def git_line(root: Path, size: int, rng: random.Random) -> tuple[list[str], list[str], float]:
    data = bytearray(base64.b64encode(rng.randbytes(size * 3 // 4)))
    for at in range(10_000, len(data) - 100, 20_000):
        data[at : at + 30] = f" token={value(rng, 22)} ".encode()
    lined = bytearray()
    for at in range(0, len(data), 79):
        lined += data[at : at + 79] + b"\n"
    for name, blob in (("line", bytes(data)), ("lines", bytes(lined))):
        repo = root / name
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True, env=ENV)
        (repo / "blob.txt").write_bytes(blob)
        subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=ENV)
        subprocess.run(["git", "-C", str(repo), "commit", "-qm", "blob"], check=True, env=ENV)
    git = ["git", "--no-baseline", "-f", "json", "-o", os.devnull]
    return [*git, "line"], [*git, "lines"], size / MB


def compose(root: Path, size: int, rng: random.Random) -> tuple[list[str], list[str], float]:
    parts, total, i = ["services:\n"], 10, 0
    while total < size:
        image = rng.choice(["postgres:16", "redis:7", "example/app:1", "mysql:8"])
        service = (
            f"  svc{i}:\n    image: {image}\n    restart: unless-stopped\n"
            f'    ports:\n      - "{8000 + i % 1000}:80"\n    environment:\n'
            f"      {ENV_NAMES[0]}: {value(rng, 20)}\n      LOG_LEVEL: info\n"
            f'      {ENV_NAMES[1]}: "{value(rng, 20)}"\n      DB_HOST: db{i}\n'
            f"    labels:\n      team: t{i % 7}\n"
        )
        parts.append(service)
        total += len(service)
        i += 1
    (root / "project").mkdir()
    (root / "project" / "docker-compose.yml").write_text("".join(parts))
    return (
        ["migrate", "project"],
        ["scan", "--no-baseline", "-f", "json", "-o", os.devnull, "project"],
        size / MB,
    )


Maker = Callable[[Path, int, random.Random], tuple[list[str], list[str], float]]
# (class, maker, sizes, unit of the size column)
CLASSES: list[tuple[str, Maker, tuple[int, ...], str]] = [
    ("findings", findings, (MB // 10, MB // 5, 20 * MB), "MB"),  # the last is past the bound
    ("continuations", continuations, (1 * MB, 2 * MB), "MB"),
    ("dockerignore", dockerignore, (60, 120), "pieces"),
    ("git-line", git_line, (8 * MB, 16 * MB), "MB"),
    ("migrate", compose, (MB // 4, MB // 2, 10 * MB), "MB"),  # the last is past the bound
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    parser.add_argument("--keep", type=Path, help="make the inputs here and keep them")
    parser.add_argument("--only", nargs="*", choices=[c[0] for c in CLASSES])
    parser.add_argument("--limit", type=float, default=600, help="seconds before a run is stopped")
    args = parser.parse_args()
    if shutil.which("leakguard") is None:
        print("leakguard is not on PATH (pip install -e .)", file=sys.stderr)
        return 2
    base = args.keep or Path(tempfile.mkdtemp(prefix="leakguard-hostile-"))
    base.mkdir(parents=True, exist_ok=True)
    header = (f"{'class':<14}{'size':>10} {'wall s':>8}{'cpu s':>8}{'peak MB':>9}"
              f"{'cpu s/unit':>11}{'ordinary':>10}{'ratio':>7}{'growth':>8}")  # fmt: skip
    print(header)
    print("-" * len(header))
    try:
        for name, make, sizes, unit in CLASSES:
            if args.only and name not in args.only:
                continue
            previous: float | None = None
            for k, first in enumerate(sizes):
                size = max(1, int(first * args.scale))
                root = base / f"{name}-{k}"
                shutil.rmtree(root, ignore_errors=True)
                root.mkdir()
                hostile, ordinary, amount = make(root, size, random.Random(7))
                peer = run(ordinary, root, args.limit)
                got = run(hostile, root, args.limit)
                per, per_peer = got.cpu / amount, peer.cpu / amount
                growth = f"{per / previous:8.2f}" if previous else f"{'':>8}"
                previous = per
                ended = (
                    f"exit {got.code}" if got.code is not None else f"stopped at {args.limit:.0f} s"
                )
                print(f"{name:<14}{amount:>8.2f} {unit[:2]:<2}{got.wall:>7.2f}{got.cpu:>8.2f}"
                      f"{got.rss_mb:>9.0f}{per:>11.3f}{per_peer:>10.3f}"
                      f"{per / per_peer if per_peer else float('inf'):>7.1f}{growth}"
                      f"  {ended}")  # fmt: skip
                sys.stdout.flush()
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
