#!/usr/bin/env python3
"""Throughput and recall of leakguard against detect-secrets and ripgrep, from one run.

    python3 bench/make_corpus.py          # once: bench/out/corpus, slice/, planted.json
    python3 bench/scan_throughput.py [--out bench/out] [--repeat 3] [--skip-detect-secrets]

All three tools run as their command-line programs on a warm page cache; each
figure is the best of `--repeat` runs (detect-secrets: one run, it is slow),
as wall time and as CPU time (user + system of the command and its children),
which other work on a shared machine disturbs less.

* leakguard: `leakguard scan . -f json -o FILE --no-baseline -j1` and `-j2` over
  the whole corpus. Recall: a planted secret counts as found when a finding
  sits on its file and line, or carries its sha256 as fingerprint. Precision:
  findings on planted lines over all findings (the rest are false alarms on
  real-world text: test vectors, hashes, example passwords).
* detect-secrets: `detect-secrets -c 1 scan --all-files` over the slice (about
  30 MB holding every planted file); recall by file and line.
* ripgrep: `rg -j1 --no-ignore --hidden -c` over the whole corpus with the
  provider rules' regexes, each prefixed `(?-u)`: as they are (ripgrep rejects
  those with look-arounds, which is nearly all), then adapted to what its
  engine takes (look-arounds dropped, back-references and conditionals
  loosened); and with the rules' literal keywords (`-F -i`), the cost of a
  literal prefilter alone. `--rg-all-rules` adds every rule's adapted regex
  (keyword and entropy rules too), which takes minutes.

Writes the figures to OUT/results.json as well.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from leakguard.rules import Rule

MB = 1e6  # throughput in MB/s (10^6 bytes), as disk and network figures are given


def say(text: str) -> None:
    print(text, flush=True)


def warm(root: Path) -> int:
    """Read every file once so that every tool starts from the page cache."""
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            with open(os.path.join(folder, name), "rb") as fh:
                while chunk := fh.read(1 << 20):
                    total += len(chunk)
    return total


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the command and its children
    proc: subprocess.CompletedProcess[bytes]


def timed(cmd: list[str], cwd: Path, ok: tuple[int, ...]) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if proc.returncode not in ok:
        tail = proc.stderr.decode(errors="replace")[-2000:]
        raise SystemExit(f"{cmd[0]} exited {proc.returncode}:\n{tail}")
    return Run(elapsed, cpu, proc)


def best_of(n: int, cmd: list[str], cwd: Path, ok: tuple[int, ...]) -> Run:
    """The fastest of `n` runs, with the least CPU time seen in any of them."""
    runs = [timed(cmd, cwd, ok) for _ in range(n)]
    best = min(runs, key=lambda r: r.wall)
    return Run(best.wall, min(r.cpu for r in runs), best.proc)


# -- leakguard --------------------------------------------------------------------


def run_leakguard(corpus: Path, out: Path, jobs: int, repeat: int) -> tuple[Run, dict[str, Any]]:
    """Best wall time (and least CPU time) of `repeat` scans, and the fastest one's report."""
    report = out / f"leakguard-j{jobs}.json"
    cmd = ["leakguard", "scan", ".", "-f", "json", "-o", str(report), "--no-baseline", f"-j{jobs}"]
    best: Run | None = None
    best_report, least_cpu = "", float("inf")
    for _ in range(repeat):
        run = timed(cmd, corpus, ok=(0, 1))
        least_cpu = min(least_cpu, run.cpu)
        if best is None or run.wall < best.wall:
            best, best_report = run, report.read_text()
    assert best is not None
    report.write_text(best_report)
    return Run(best.wall, least_cpu, best.proc), json.loads(best_report)


def match(plants: list[dict[str, Any]], found: list[tuple[str, int, str, str]]) -> dict[str, Any]:
    """found: (path, line, rule, fingerprint-or-"") of each finding."""
    by_place: dict[tuple[str, int], list[tuple[str, str]]] = {}
    by_print: dict[tuple[str, str], list[str]] = {}
    for path, line, rule, fp in found:
        by_place.setdefault((path, line), []).append((rule, fp))
        if fp:
            by_print.setdefault((path, fp), []).append(rule)
    hit, right_rule, missed = 0, 0, []
    planted_places = set()
    for p in plants:
        planted_places.add((p["path"], p["line"]))
        rules = [r for r, _ in by_place.get((p["path"], p["line"]), [])]
        rules += by_print.get((p["path"], p["sha256"]), [])
        if rules:
            hit += 1
            right_rule += p["rule"] in rules
        else:
            missed.append(p)
    on_plants = sum(
        1
        for f in found
        if (f[0], f[1]) in planted_places
        or any(f[0] == p["path"] and f[3] == p["sha256"] for p in plants)
    )
    return {
        "found": hit,
        "right_rule": right_rule,
        "total": len(plants),
        "missed": missed,
        "findings": len(found),
        "on_plants": on_plants,
    }


def leakguard_found(
    report: dict[str, Any], paths: set[str] | None = None, min_confidence: str = "low"
) -> list[tuple[str, int, str, str]]:
    order = {"low": 0, "medium": 1, "high": 2}
    out = []
    for f in report["findings"]:
        loc = f["location"]
        if paths is not None and loc["path"] not in paths:
            continue
        if order[f.get("confidence", "high")] < order[min_confidence]:
            continue
        out.append((loc["path"], loc["line"], f["rule_id"], f["fingerprint"]))
    return out


# -- detect-secrets ------------------------------------------------------------------


def run_detect_secrets(slice_dir: Path) -> tuple[Run, list[tuple[str, int, str, str]]]:
    exe = shutil.which("detect-secrets")
    if exe is None:
        raise SystemExit("detect-secrets is not installed (pip install detect-secrets)")
    run = timed([exe, "-c", "1", "scan", "--all-files", "."], slice_dir, ok=(0,))
    results = json.loads(run.proc.stdout)["results"]
    found = [
        (os.path.normpath(name), s["line_number"], s["type"], "")
        for name, secrets in results.items()
        for s in secrets
    ]
    return run, found


# -- ripgrep -------------------------------------------------------------------------

_LOOKAROUND = re.compile(r"\(\?(?:<!|<=|!|=)")


def strip_lookarounds(pattern: str) -> str:
    """The pattern without its (?<!..), (?<=..), (?!..) and (?=..) groups."""
    out, i = [], 0
    while True:
        m = _LOOKAROUND.search(pattern, i)
        if m is None:
            out.append(pattern[i:])
            return "".join(out)
        out.append(pattern[i : m.start()])
        depth, j = 0, m.start()
        while j < len(pattern):
            c = pattern[j]
            if c == "\\":
                j += 2
                continue
            if c == "[":  # skip a character class, where parentheses are literal
                j += 1
                if j < len(pattern) and pattern[j] == "]":
                    j += 1
                while j < len(pattern) and pattern[j] != "]":
                    j += 2 if pattern[j] == "\\" else 1
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        i = j + 1


def adapt(pattern: str) -> str:
    """The nearest pattern ripgrep's engine takes: no look-arounds, quotes unescaped,
    a back-reference to a quote read as any quote, a conditional as a plain group."""
    pattern = strip_lookarounds(pattern)
    pattern = re.sub(r"(?<!\\)\\([\"'`])", r"\1", pattern)
    pattern = re.sub(r"\(\?P=\w+\)", "[\"'`]", pattern)
    pattern = re.sub(r"\(\?\(\w+\)", "(?:", pattern)
    # (?-u) matches bytes: spell a non-ASCII letter as its UTF-8 bytes.
    return "".join(c if c.isascii() else _utf8_bytes(c) for c in pattern)


def _utf8_bytes(char: str) -> str:
    return "(?:" + "".join(f"\\x{b:02x}" for b in char.encode()) + ")"


def unnamed(pattern: str) -> str:
    """Named groups as plain groups: ripgrep joins all patterns into one regex, where
    two rules' `(?P<secret>...)` would clash."""
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


def rg_accepts(rg: str, pattern: str, limits: list[str]) -> bool:
    proc = subprocess.run(
        [rg, *limits, "-q", "-e", pattern, "--", "-"], input=b"", capture_output=True, check=False
    )
    return proc.returncode in (0, 1)


def ripgrep_command(rg: str, patterns: list[str], jobs: int, limits: list[str]) -> list[str]:
    args = [a for p in patterns for a in ("-e", p)]
    if patterns and patterns[0] == "-F":  # fixed strings, any case
        args = ["-F", "-i", *(a for p in patterns[1:] for a in ("-e", p))]
    return [rg, f"-j{jobs}", "--no-ignore", "--hidden", "-c", *limits, *args, "."]


def run_ripgrep(
    rg: str, corpus: Path, patterns: list[str], jobs: int, repeat: int, limits: list[str]
) -> tuple[Run, int]:
    cmd = ripgrep_command(rg, patterns, jobs, limits)
    run = best_of(repeat, cmd, corpus, ok=(0, 1))
    lines = sum(int(row.rsplit(b":", 1)[1]) for row in run.proc.stdout.splitlines() if row)
    return run, lines


def ripgrep_figures(
    corpus: Path, size: int, repeat: int, results: dict[str, Any], all_rules: bool
) -> dict[str, Run]:
    """ripgrep -j1 over the corpus with the provider rules' regexes (as they are, then
    adapted), with every rule's, adapted, and with the rules' literal keywords (the work
    of a literal prefilter alone). Runs per variant."""
    from leakguard.rules import builtin_rules

    rg = shutil.which("rg") or "/usr/bin/rg"
    rules = [r for r in builtin_rules() if r.enabled_by_default]
    providers = [r for r in rules if "provider" in r.tags]
    limits = ["--regex-size-limit", "1G", "--dfa-size-limit", "1G"]
    variants: list[tuple[str, list[Rule], Callable[[str], str], int]] = [
        ("provider rules, as-is", providers, str, repeat),
        ("provider rules, adapted", providers, adapt, 1),  # slow: one run
    ]
    if all_rules:  # every rule, keyword and entropy ones too: minutes, not seconds
        variants.append(("all rules, adapted", rules, adapt, 1))
    keywords = sorted({k for r in rules for k in r.keywords})
    seconds: dict[str, Run] = {}
    for label, chosen, transform, runs in variants:
        candidates = [f"(?-u){unnamed(transform(r.pattern))}" for r in chosen]
        patterns = [p for p in candidates if rg_accepts(rg, p, limits)]
        results.setdefault("ripgrep", {})[label] = {"rules": len(chosen), "accepted": len(patterns)}
        if not patterns:
            say(f"ripgrep ({label}): ripgrep rejects all {len(chosen)} regexes")
            continue
        run, lines = run_ripgrep(rg, corpus, patterns, 1, runs, limits)
        seconds[label] = run
        results["ripgrep"][label].update(
            mbps=size / MB / run.wall, mb_per_cpu_s=size / MB / run.cpu
        )
        say(
            f"ripgrep -j1, {label}: {len(patterns)} of {len(chosen)} regexes "
            f"({len(chosen) - len(patterns)} rejected): {rate(size, run)}, {lines} matching lines"
        )
    # What a literal prefilter alone costs: every rule keyword, as fixed strings, any case.
    run, lines = run_ripgrep(rg, corpus, ["-F", *keywords], 1, repeat, limits)
    label = "rule keywords as literals"
    seconds[label] = run
    results["ripgrep"][label] = {
        "keywords": len(keywords),
        "mbps": size / MB / run.wall,
        "mb_per_cpu_s": size / MB / run.cpu,
        "command": ripgrep_command(rg, ["-F", *keywords], 1, limits),
    }
    say(f"ripgrep -j1 -F -i, {len(keywords)} {label}: {rate(size, run)}, {lines} matching lines")
    return seconds


# -- report --------------------------------------------------------------------------


def figures(size: int, run: Run) -> dict[str, float]:
    return {
        "s": run.wall,
        "cpu_s": run.cpu,
        "mbps": size / MB / run.wall,
        "mb_per_cpu_s": size / MB / run.cpu,
    }


def rate(size: int, run: Run) -> str:
    return (
        f"{run.wall:.2f}s, {size / MB / run.wall:.2f} MB/s "
        f"({run.cpu:.2f} CPU-s, {size / MB / run.cpu:.2f} MB per CPU-second)"
    )


def recall_line(name: str, m: dict[str, Any]) -> str:
    return (
        f"{name:<34} recall {m['found']}/{m['total']} ({100 * m['found'] / m['total']:.1f}%)"
        f", same rule {m['right_rule']}; precision {m['on_plants']}/{m['findings']}"
        f" ({100 * m['on_plants'] / max(1, m['findings']):.1f}%)"
    )


def misses(m: dict[str, Any]) -> str:
    c = Counter(
        f"{p['rule']} in {p['file_kind']}{'/latin-1' if p['encoding'] != 'utf-8' else ''}"
        for p in m["missed"]
    )
    return ", ".join(f"{k} x{v}" for k, v in c.most_common()) or "none"


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=here / "out")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-detect-secrets", action="store_true")
    parser.add_argument("--skip-ripgrep", action="store_true")
    parser.add_argument(
        "--rg-all-rules", action="store_true", help="also time ripgrep with every rule (slow)"
    )
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    corpus, slice_dir = out / "corpus", out / "slice"
    meta = json.loads((out / "planted.json").read_text())
    plants: list[dict[str, Any]] = meta["planted"]
    slice_paths = {
        os.path.relpath(os.path.join(d, f), slice_dir)
        for d, _, fs in os.walk(slice_dir)
        for f in fs
    }
    results: dict[str, Any] = {
        "corpus_bytes": meta["bytes"],
        "corpus_files": meta["files"],
        "slice_bytes": meta["slice"]["bytes"],
        "planted": len(plants),
    }

    size = warm(corpus)
    say(
        f"corpus: {meta['files']} files, {size / MB:.1f} MB, {len(plants)} planted secrets "
        f"({sum(p['encoding'] != 'utf-8' for p in plants)} in Latin-1 files); "
        f"slice: {meta['slice']['files']} files, {meta['slice']['bytes'] / MB:.1f} MB; "
        f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; best of {args.repeat}"
    )

    # leakguard
    lg: dict[int, Run] = {}
    reports: dict[int, dict[str, Any]] = {}
    for jobs in (1, 2):
        lg[jobs], reports[jobs] = run_leakguard(corpus, out, jobs, args.repeat)
        say(
            f"leakguard -j{jobs}: {rate(size, lg[jobs])}; {len(reports[jobs]['findings'])} findings"
        )
    lg_match = match(plants, leakguard_found(reports[1]))
    say(recall_line("leakguard (all findings)", lg_match))
    for level in ("medium", "high"):
        m = match(plants, leakguard_found(reports[1], min_confidence=level))
        say(recall_line(f"leakguard (--min-confidence {level})", m))
        results[f"leakguard_{level}"] = {k: v for k, v in m.items() if k != "missed"}
    say(f"  leakguard misses: {misses(lg_match)}")
    places = {(p["path"], p["line"]) for p in plants}
    prints = {p["sha256"] for p in plants}
    unplanted = [
        f
        for f in reports[1]["findings"]
        if (f["location"]["path"], f["location"]["line"]) not in places
        and f["fingerprint"] not in prints
    ]
    false_alarms = Counter((f["rule_id"], f.get("confidence")) for f in unplanted)
    generated = sum(f["location"]["path"].startswith("generated/") for f in unplanted)
    say(
        f"  unplanted findings: {len(unplanted)} ({len(unplanted) - generated} in installed "
        f"files, {generated} in generated configs); by rule/confidence: "
        + ", ".join(f"{r}/{c} x{n}" for (r, c), n in false_alarms.most_common(12))
    )
    results["leakguard"] = {
        **{f"j{j}_{k}": v for j in (1, 2) for k, v in figures(size, lg[j]).items()},
        **{k: v for k, v in lg_match.items() if k != "missed"},
        "missed": [{k: p[k] for k in ("path", "line", "rule")} for p in lg_match["missed"]],
    }

    # ripgrep
    rg_runs: dict[str, Run] = {}
    if not args.skip_ripgrep:
        rg_runs = ripgrep_figures(corpus, size, args.repeat, results, args.rg_all_rules)

    # leakguard -j1 and the keyword scan in alternation: on a machine whose speed moves
    # by half within minutes, the pair measured in the same minutes is the fair one.
    paired: tuple[Run, Run] | None = None
    if "rule keywords as literals" in rg_runs:
        rg_cmd = results["ripgrep"]["rule keywords as literals"]["command"]
        lg_cmd = ["leakguard", "scan", ".", "-f", "json", "-o", str(out / "leakguard-paired.json"),
                  "--no-baseline", "-j1"]  # fmt: skip
        rounds = [(timed(lg_cmd, corpus, (0, 1)), timed(rg_cmd, corpus, (0, 1)))
                  for _ in range(args.repeat)]  # fmt: skip
        paired = (
            min((lg_run for lg_run, _ in rounds), key=lambda r: r.wall),
            min((rg_run for _, rg_run in rounds), key=lambda r: r.wall),
        )
        say(
            f"alternated {args.repeat} times: leakguard -j1 {rate(size, paired[0])}; "
            f"ripgrep -j1 -F -i keywords {rate(size, paired[1])}"
        )

    # detect-secrets
    ds_run: Run | None = None
    slice_bytes = meta["slice"]["bytes"]
    if not args.skip_detect_secrets:
        say("detect-secrets -c 1 on the slice (this takes a while) ...")
        ds_run, ds_found = run_detect_secrets(slice_dir)
        ds_match = match(plants, ds_found)
        say(f"detect-secrets -c 1: {rate(slice_bytes, ds_run)}; {len(ds_found)} findings")
        say(re.sub(r", same rule \d+", "", recall_line("detect-secrets (slice)", ds_match)))
        say(f"  detect-secrets misses: {misses(ds_match)}")
        lg_slice = match(plants, leakguard_found(reports[1], slice_paths))
        say(recall_line("leakguard (same slice)", lg_slice))
        results["detect_secrets"] = {
            **figures(slice_bytes, ds_run),
            **{k: v for k, v in ds_match.items() if k != "missed"},
        }
        results["leakguard_slice"] = {k: v for k, v in lg_slice.items() if k != "missed"}

    say("")
    say("ratios (wall time; CPU time in brackets, steadier on a busy machine):")
    mine = figures(size, lg[1])

    def ratio(
        name: str, theirs: dict[str, float], target: str, ours: dict[str, float] = mine
    ) -> None:
        by_wall = ours["mbps"] / theirs["mbps"]
        by_cpu = ours["mb_per_cpu_s"] / theirs["mb_per_cpu_s"]
        shown = target if target.startswith("(") else f"target {target}"
        say(f"  leakguard 1 core / {name}: {by_wall:.2f} ({by_cpu:.2f})  {shown}")
        results[f"ratio {name}"] = {"wall": by_wall, "cpu": by_cpu}

    if ds_run is not None:
        ratio("detect-secrets 1 core", figures(slice_bytes, ds_run), ">= 300")
    for label, run in rg_runs.items():
        # As-is, ripgrep runs the few provider regexes it accepts: no reference for the
        # rule set, so no target is set against it.
        target = "(no target: only the regexes it accepts)" if "as-is" in label else ">= 0.25"
        ratio(f"ripgrep 1 core, {label}", figures(size, run), target)
    if paired is not None:
        name = "ripgrep 1 core, rule keywords as literals, alternated"
        ratio(name, figures(size, paired[1]), ">= 0.25", figures(size, paired[0]))
    say(f"  leakguard 2 cores / 1 core: {lg[1].wall / lg[2].wall:.2f}")
    say(
        f"recall: leakguard {lg_match['found']}/{len(plants)}"
        + (f", detect-secrets {results['detect_secrets']['found']}/{len(plants)}" if ds_run else "")
    )
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
