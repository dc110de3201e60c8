#!/usr/bin/env python3
"""False alarms per 100 MB of real, secret-free text: leakguard against detect-secrets.

    python3 bench/precision.py [--size-mb 40] [--seed 7] [--out bench/out/precision]

The corpus is copied from what this machine has installed, none of it written
to hold credentials, so every finding in it counts as a false alarm:

* installed Python packages (site-packages: code, metadata, docs, test suites);
* Debian's package documentation (/usr/share/doc, gzip'd files inflated);
* manual pages (/usr/share/man, inflated to their roff source);
* lockfile-like hash lists: the `RECORD` file of every installed distribution
  (a sha256 per file) and npm's `node_modules/.package-lock.json` where present.

Files are picked in a seeded order from sorted lists until each source reaches
its share of --size-mb, so the same machine gives the same corpus. Both tools
run as their command-line programs over the whole corpus, one core each:
`leakguard scan . -f json --no-baseline -j1` and `detect-secrets -c 1 scan
--all-files .`. The figures: findings per 100 MB for each tool, leakguard's at
each --min-confidence, and the ratio (target: leakguard at most one tenth of
detect-secrets). Recall on planted secrets is bench/scan_throughput.py's job.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import site
import subprocess
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path

MB = 1e6
SHARES = {"python": 0.5, "doc": 0.2, "man": 0.15, "hashes": 0.15}
TEXT_SUFFIXES = {".py", ".pyi", ".txt", ".md", ".rst", ".cfg", ".toml", ".ini", ".json", ".yaml",
                 ".yml", ".html", ".js", ".sh", ".c", ".h"}  # fmt: skip


def files_under(root: Path, keep) -> list[Path]:  # type: ignore[no-untyped-def]
    found = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink() and keep(path):
                found.append(path)
    return found


def python_roots() -> list[Path]:
    """The running interpreter's standard library and every site-packages it reads,
    in a venv too (whose own site-packages holds little but the tools under test):
    the base interpreter's library, its site-packages, and the venv's."""
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    found = [sysconfig.get_paths()[n] for n in names]
    base = {
        "base": sys.base_prefix,
        "platbase": sys.base_exec_prefix,
        "installed_base": sys.base_prefix,
        "installed_platbase": sys.base_exec_prefix,
    }
    found += [sysconfig.get_paths(vars=base)[n] for n in names]
    found += site.getsitepackages()
    roots: list[Path] = []
    for path in map(Path, found):
        if path.is_dir() and path.resolve() not in roots:
            roots.append(path.resolve())
    return sorted(roots)


def sources() -> dict[str, list[Path]]:
    packages = python_roots()
    # A site-packages inside the standard library's folder is walked once.
    python = sorted({f for root in packages
                     for f in files_under(root, lambda p: p.suffix in TEXT_SUFFIXES)})  # fmt: skip
    doc = files_under(Path("/usr/share/doc"), lambda p: p.suffix != ".png")
    man = files_under(Path("/usr/share/man"), lambda p: p.name.endswith(".gz"))
    hashes = sorted({f for root in packages
                     for f in files_under(root, lambda p: p.name == "RECORD")})  # fmt: skip
    hashes += files_under(Path("/usr/lib/node_modules"), lambda p: p.name == ".package-lock.json")
    return {"python": python, "doc": doc, "man": man, "hashes": hashes}


def content(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if b"\0" in data[:8192] or len(data) > 4_000_000:
        return None  # binaries and giants: both tools skip or choke on them alike
    return data


def build(out: Path, size_mb: float, seed: int) -> tuple[int, int, dict[str, int]]:
    corpus = out / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    rng = random.Random(seed)
    per_source: dict[str, int] = {}
    files = total = 0
    for name, paths in sources().items():
        rng.shuffle(paths)
        budget = size_mb * MB * SHARES[name]
        used = 0
        for path in paths:
            if used >= budget:
                break
            data = content(path)
            if not data:
                continue
            target = corpus / name / str(path).lstrip("/").removesuffix(".gz")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            used += len(data)
            files += 1
        per_source[name] = used
        total += used
    return files, total, per_source


def timed(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - started, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench/out/precision"))
    args = parser.parse_args()
    detect_secrets = shutil.which("detect-secrets")
    if detect_secrets is None:
        sys.exit("detect-secrets is not installed (pip install detect-secrets)")

    files, total, per_source = build(args.out, args.size_mb, args.seed)
    corpus = args.out / "corpus"
    shares = ", ".join(f"{k} {v / MB:.1f} MB" for k, v in per_source.items())
    print(f"corpus: {files} files, {total / MB:.1f} MB ({shares})", flush=True)
    per_100 = 100 * MB / total

    report = args.out / "leakguard.json"
    lg_time, proc = timed([sys.executable, "-m", "leakguard", "scan", ".", "-f", "json", "-o",
                           str(report.resolve()), "--no-baseline", "-j1"], corpus)  # fmt: skip
    # 3 is a complete report that also lists what could not be read (a man page named
    # `Dockerfile.5` that does not parse as a Dockerfile): still a result.
    if proc.returncode not in (0, 1, 3) or not report.is_file():
        sys.exit(f"leakguard failed ({proc.returncode}): {proc.stderr[-500:]}")
    body = json.loads(report.read_text())
    findings = body["findings"]
    if proc.returncode == 3:
        print(f"leakguard: {len(body.get('skipped', []))} entries not read in full "
              "(exit 3); their findings are counted as reported", flush=True)  # fmt: skip
    by_confidence = Counter(f["confidence"] for f in findings)
    medium_up = by_confidence["medium"] + by_confidence["high"]
    print(f"leakguard -j1: {lg_time:.1f}s, {len(findings)} findings = "
          f"{len(findings) * per_100:.1f} per 100 MB (medium and up: {medium_up} = "
          f"{medium_up * per_100:.1f}; high: {by_confidence['high']})", flush=True)  # fmt: skip
    rules = Counter(f"{f['rule_id']}/{f['confidence']}" for f in findings)
    print("  by rule/confidence: " + ", ".join(f"{r} x{n}" for r, n in rules.most_common()))

    print("detect-secrets -c 1 (this takes a while) ...", flush=True)
    ds_time, proc = timed([detect_secrets, "-c", "1", "scan", "--all-files", "."], corpus)
    if proc.returncode != 0:
        sys.exit(f"detect-secrets failed ({proc.returncode}): {proc.stderr[-500:]}")
    results = json.loads(proc.stdout)["results"]
    ds = [s["type"] for secrets in results.values() for s in secrets]
    print(f"detect-secrets -c 1: {ds_time:.1f}s, {len(ds)} findings = "
          f"{len(ds) * per_100:.1f} per 100 MB", flush=True)  # fmt: skip
    print("  by type: " + ", ".join(f"{t} x{n}" for t, n in Counter(ds).most_common()))
    ratio = len(findings) / len(ds) if ds else float("inf")
    ratio_medium = medium_up / len(ds) if ds else float("inf")
    print(f"ratio leakguard/detect-secrets false alarms: {ratio:.3f} (all), "
          f"{ratio_medium:.3f} (medium and up); target <= 0.1; "
          f"speed {ds_time / lg_time:.0f}x")  # fmt: skip
    (args.out / "results.json").write_text(json.dumps({
        "files": files, "bytes": total, "per_source": per_source,
        "leakguard": {"seconds": lg_time, "findings": len(findings),
                      "by_confidence": dict(by_confidence), "by_rule": dict(rules)},
        "detect_secrets": {"seconds": ds_time, "findings": len(ds), "by_type": dict(Counter(ds))},
        "ratio": ratio, "ratio_medium_and_up": ratio_medium,
    }, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
