#!/usr/bin/env python3
"""What showing progress costs: the same scans with and without it, from one run.

    python3 bench/make_corpus.py                 # once: bench/out/corpus
    python3 bench/progress_overhead.py [--repeat 5] [--commits 6000]

Each workload runs in four ways, interleaved round by round so that other work
on a shared machine disturbs them alike:

* `--no-progress`: the baseline (no display, no thread, the detectors' no-op);
* a heartbeat on a pipe, as in a CI log, at its default interval (5 s);
* a heartbeat every 50 ms (`LEAKGUARD_HEARTBEAT_S=0.05`): the worst case;
* the live line on a pseudo-terminal from the start (`LEAKGUARD_PROGRESS_DELAY_S=0`).

Workloads: `leakguard scan -j1` and `-j2` over the corpus (per-file progress;
with -j2 per batch as results come back from the workers), and `leakguard git
-j1` and `-j2` over a generated history of `--commits` commits (with progress,
the history is counted first with `git rev-list --count`). Each figure is the
best of `--repeat` wall times and the least CPU time (user + system of the
command and its children); the ratio is against `--no-progress`. First, the
hooks alone inside one process (`--in-process-only` stops there): `scan_files`
with the no-op and with a heartbeat, and the cost of one `advance()` call.
"""

from __future__ import annotations

import argparse
import os
import pty
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MODES = {
    "no-progress": ({}, False, ["--no-progress"]),
    "heartbeat 5 s": ({}, False, []),
    "heartbeat 50 ms": ({"LEAKGUARD_HEARTBEAT_S": "0.05"}, False, []),
    "live (terminal)": ({"LEAKGUARD_PROGRESS_DELAY_S": "0", "COLUMNS": "120"}, True, []),
}


def timed(cmd: list[str], env: dict[str, str], tty: bool) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; its standard error on a pipe or a terminal."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    if tty:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=follower, env=dict(os.environ, **env)
        )
        os.close(follower)

        def drain() -> None:
            try:
                while os.read(leader, 65536):
                    pass
            except OSError:
                pass

        reader = threading.Thread(target=drain)
        reader.start()
        code = proc.wait()
        reader.join()
        os.close(leader)
    else:
        done = subprocess.run(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ, **env),
            check=False,
        )  # fmt: skip
        code = done.returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code not in (0, 1):
        raise SystemExit(f"{cmd} exited {code}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def history(folder: Path, commits: int) -> Path:
    """A repository of `commits` commits, each changing one of 50 files by 2 KB."""
    repo = folder / "history"
    empty = folder / "gitconfig"
    empty.write_text("")
    env = dict(os.environ, GIT_CONFIG_GLOBAL=str(empty), GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    lines = "".join(f"setting_{i} = value {i * 7919 % 1000} of the service\n" for i in range(50))
    stream = bytearray()
    for n in range(commits):
        data = f"{n}\n{lines}".encode()
        stream += b"commit refs/heads/main\n"
        stream += f"committer B <b@example.com> {1_600_000_000 + n} +0000\n".encode()
        stream += b"data 7\nchange\n"
        stream += f"M 100644 inline f{n % 50}.txt\n".encode()
        stream += b"data %d\n%s\n" % (len(data), data)
    subprocess.run(
        ["git", "-C", str(repo), "fast-import", "--quiet"], input=bytes(stream), check=True,
        env=env,
    )  # fmt: skip
    return repo


def in_process(corpus: Path, repeat: int) -> None:
    """The hooks alone: one walk, then `scan_files -j1` with the no-op and with a
    heartbeat (every 50 ms, to a temporary file), alternately; CPU time of this process."""
    from leakguard.detectors.files import WalkOptions, scan_files, walk
    from leakguard.display import Counter, Heartbeat
    from leakguard.engine import Engine
    from leakguard.progress import NO_PROGRESS
    from leakguard.rules import builtin_rules

    engine = Engine(builtin_rules())
    files = walk([str(corpus)], WalkOptions()).files
    times: dict[str, list[float]] = {"no-op": [], "heartbeat 50 ms": []}
    with tempfile.TemporaryFile("w") as sink:
        for _ in range(repeat):
            for name in times:
                started = time.process_time()
                if name == "no-op":
                    scan_files(engine, files, jobs=1, progress=NO_PROGRESS)
                else:
                    with Heartbeat(sink, 0.05) as beat:
                        scan_files(engine, files, jobs=1, progress=beat)
                times[name].append(time.process_time() - started)
    base = min(times["no-op"])
    print(f"\nin process: scan_files -j1 over {len(files)} files, CPU time, best of {repeat}")
    for name, seen in times.items():
        print(f"  {name:<16} cpu {min(seen):6.2f}s ({min(seen) / base:5.3f})")
    counter, calls = Counter(), 1_000_000
    started = time.perf_counter()
    for _ in range(calls):
        counter.advance(1, 4096)
    per_call = (time.perf_counter() - started) / calls
    started = time.perf_counter()
    for _ in range(calls):
        NO_PROGRESS.advance(1, 4096)
    per_noop = (time.perf_counter() - started) / calls
    print(
        f"  advance(): {per_call * 1e9:.0f} ns a call (the no-op: {per_noop * 1e9:.0f} ns); "
        f"one a file: {len(files) * per_call * 1e3:.1f} ms for this corpus"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = Path(__file__).resolve().parent
    parser.add_argument("--corpus", type=Path, default=here / "out" / "corpus")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--commits", type=int, default=6000)
    parser.add_argument(
        "--in-process-only",
        action="store_true",
        help="only the hooks' cost measured inside one process",
    )
    args = parser.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"{args.corpus}: no corpus; run bench/make_corpus.py first")
    in_process(args.corpus, args.repeat)
    if args.in_process_only:
        return
    exe = shutil.which("leakguard") or f"{sys.executable} -m leakguard"
    base = exe.split()
    with tempfile.TemporaryDirectory(prefix="leakguard-progress-bench-") as tmp:
        repo = history(Path(tmp), args.commits)
        workloads = {
            f"scan -j{j} corpus": [*base, "scan", "-f", "json", "--no-baseline", f"-j{j}",
                                   str(args.corpus)]
            for j in (1, 2)
        } | {
            f"git -j{j} {args.commits} commits": [*base, "git", "-f", "json", "--no-baseline",
                                                  f"-j{j}", str(repo)]
            for j in (1, 2)
        }  # fmt: skip
        print(f"best of {args.repeat}, interleaved; ratio = time / time with --no-progress")
        for name, cmd in workloads.items():
            runs: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
            for _ in range(args.repeat):
                for mode, (env, tty, flags) in MODES.items():
                    runs[mode].append(timed([*cmd, *flags], env, tty))
            wall0 = min(w for w, _ in runs["no-progress"])
            cpu0 = min(c for _, c in runs["no-progress"])
            print(f"\n{name}")
            for mode, seen in runs.items():
                wall, cpu = min(w for w, _ in seen), min(c for _, c in seen)
                print(
                    f"  {mode:<16} wall {wall:6.2f}s ({wall / wall0:5.3f})"
                    f"  cpu {cpu:6.2f}s ({cpu / cpu0:5.3f})"
                )


if __name__ == "__main__":
    main()
