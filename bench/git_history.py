"""Git history and pre-push hook speed, against git itself and a grep pipeline.

    python3 bench/git_history.py [--commits 5000] [--keep DIR]

1. Builds a synthetic repository (git fast-import): N commits over 250 files,
   about 20 MB of patch text, a side branch and a tag, with secrets planted
   at recorded commits (some removed again later).
2. Full history: times `git log -p --all` alone (the patches, piped to a
   byte counter), `leakguard git` (whole process, JSON report) and a peer that
   runs here, `git log -p --all | rg` with provider patterns equivalent to
   the planted kinds. Checks that leakguard finds every planted secret at the
   commit that planted it.
3. Pre-push hook: pushes 20 commits touching 50 files to a local bare remote
   through the installed hook; times the hook process alone (median of 15).

Prints the figures and the ratios; exits 1 if a planted secret is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="Bench",
    GIT_AUTHOR_EMAIL="bench@example.test",
    GIT_COMMITTER_NAME="Bench",
    GIT_COMMITTER_EMAIL="bench@example.test",
    GIT_CONFIG_NOSYSTEM="1",
)
ALNUM = string.ascii_letters + string.digits
WORDS = ("alpha beta gamma delta record value index total count buffer result item "
         "config handler request response parse render update commit").split()  # fmt: skip


def fake(rng: random.Random, prefix: str, n: int, alphabet: str = ALNUM) -> str:
    return prefix + "".join(rng.choice(alphabet) for _ in range(n))


def planted_secret(rng: random.Random, i: int) -> tuple[str, str]:
    """(rule id, line) for the i-th planted secret; literals split so this file is clean."""
    kind = i % 3
    if kind == 0:
        token = fake(rng, "gh" + "p_", 36)
        return "github-pat", f'GITHUB_TOKEN = "{token}"\n'
    if kind == 1:
        token = fake(rng, "AK" + "IA", 16, string.ascii_uppercase + "234567")
        return "aws-access-key-id", f'aws_key = "{token}"\n'
    token = fake(rng, "sk_" + "live_", 24)
    return "stripe-secret-key", f'stripe = "{token}"\n'


def code_line(rng: random.Random, n: int) -> str:
    a, b, c = rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS)
    return f"    {a}_{n} = {b}.{c}({n}, {rng.randint(0, 99999)})  # {a} {c}\n"


def build_repo(path: Path, commits: int, seed: int = 7) -> list[dict[str, object]]:
    """A repository with `commits` commits; returns the planted secrets."""
    rng = random.Random(seed)
    files: dict[str, list[str]] = {f"src/mod{i:03d}.py": [] for i in range(250)}
    planted: list[dict[str, object]] = []
    removals: dict[int, tuple[str, str]] = {}
    out: list[bytes] = []
    every = max(1, commits // 24)

    def data(text: str) -> None:
        raw = text.encode()
        out.append(b"data %d\n" % len(raw) + raw + b"\n")

    for n in range(1, commits + 1):
        name = rng.choice(list(files))
        lines = files[name]
        lines.extend(code_line(rng, n * 100 + k) for k in range(60))
        secret = None
        if n % every == 0:
            secret = planted_secret(rng, len(planted))
            lines.insert(rng.randrange(len(lines)), secret[1])
            if len(planted) % 2:
                removals[min(commits, n + 50)] = (name, secret[1])
        if n in removals:
            rname, rline = removals.pop(n)
            if rline in files[rname]:
                files[rname].remove(rline)
            if rname != name:
                out.append(b"commit refs/heads/main\nmark :%d\n" % n)
                _commit_header(out, n, data)
                out.append(b"M 100644 inline %s\n" % rname.encode())
                data("".join(files[rname]))
                out.append(b"\n")
                # and the commit of this round below gets its own mark
        branch = b"refs/heads/main"
        out.append(b"commit %s\nmark :%d\n" % (branch, n + commits))
        _commit_header(out, n, data)
        out.append(b"M 100644 inline %s\n" % name.encode())
        data("".join(lines))
        out.append(b"\n")
        if secret is not None:
            planted.append({"rule": secret[0], "path": name, "mark": n + commits,
                            "line": lines.index(secret[1]) + 1})  # fmt: skip
    # a side branch and a tag-only commit, each with a secret of its own
    for ref in (b"refs/heads/side", b"refs/tags/only-tag"):
        secret = planted_secret(rng, len(planted))
        mark = len(planted) + 10 * commits
        out.append(b"commit %s\nmark :%d\n" % (ref, mark))
        _commit_header(out, commits + mark, data)
        out.append(b"from :%d\n" % (commits + commits // 2))
        out.append(b"M 100644 inline side/leak.py\n")
        data(secret[1])
        out.append(b"\n")
        planted.append({"rule": secret[0], "path": "side/leak.py", "mark": mark, "line": 1})
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=ENV)
    marks = path / ".git" / "bench-marks"
    subprocess.run(
        ["git", "-C", str(path), "fast-import", "--quiet", f"--export-marks={marks}"],
        input=b"".join(out), check=True, env=ENV,
    )  # fmt: skip
    by_mark = dict(line.split() for line in marks.read_text().splitlines())
    for p in planted:
        p["commit"] = by_mark[f":{p['mark']}"]
    subprocess.run(["git", "-C", str(path), "reset", "-q", "--hard", "main"], check=True)
    return planted


def _commit_header(out: list[bytes], n: int, data: object) -> None:
    stamp = 1_700_000_000 + n * 60
    out.append(b"author Bench <bench@example.test> %d +0000\n" % stamp)
    out.append(b"committer Bench <bench@example.test> %d +0000\n" % stamp)
    data(f"change {n}\n")  # type: ignore[operator]


def timed(
    cmd: list[str] | str, **kw: object
) -> tuple[float, float, subprocess.CompletedProcess[bytes]]:
    """(wall seconds, CPU seconds of children, the process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, shell=isinstance(cmd, str), **kw)  # type: ignore[call-overload]
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc


def leakguard_cmd() -> list[str]:
    return [sys.executable, "-m", "leakguard"]


RG_PATTERNS = [r"gh[pousr]_[A-Za-z0-9]{36}", r"AKIA[A-Z2-7]{16}", r"sk_live_[A-Za-z0-9]{24}"]


def bench_history(repo: Path, planted: list[dict[str, object]], runs: int) -> bool:
    q = str(repo)
    git_runs, lg_runs, rg_runs, lg_cpu = [], [], [], []
    patch_bytes = 0
    report: dict[str, Any] = {}
    for _ in range(runs):
        wall, _cpu, proc = timed(f"git -C {q} log -p --all | wc -c")
        git_runs.append(wall)
        patch_bytes = int(proc.stdout)
        wall, cpu, proc = timed([*leakguard_cmd(), "git", q, "-f", "json", "--no-baseline"])
        lg_runs.append(wall)
        lg_cpu.append(cpu)
        report = json.loads(proc.stdout)
        pats = " ".join(f"-e '{p}'" for p in RG_PATTERNS)
        wall, _cpu, proc = timed(f"git -C {q} log -p --all | rg -c {pats}")
        rg_runs.append(wall)
    findings: list[dict[str, Any]] = report["findings"]
    found = {(f["location"]["commit"], f["location"]["path"], f["rule_id"]) for f in findings}
    missed = [p for p in planted if (p["commit"], p["path"], p["rule"]) not in found]
    g, lg, rg = (statistics.median(x) for x in (git_runs, lg_runs, rg_runs))
    mb = patch_bytes / 1e6
    print(f"history: {mb:.1f} MB of patch text (git log -p --all), median of {runs}")
    print(f"  git log -p --all alone       {g:6.2f}s  {mb / g:5.1f} MB/s")
    print(
        f"  leakguard git (whole process){lg:6.2f}s  {mb / lg:5.1f} MB/s  "
        f"ratio to git {lg / g:.2f}x  CPU {statistics.median(lg_cpu) / lg:.2f} cores"
    )
    print(f"  git log -p --all | rg (3 patterns) {rg:6.2f}s  ratio leakguard/rg {lg / rg:.2f}x")
    print(
        f"  planted {len(planted)}, found {len(planted) - len(missed)}; "
        f"{len(findings)} finding(s) in all"
    )
    for p in missed:
        print(f"  MISSED {p}")
    return not missed


def bench_gitpython(repo: Path, sample: int) -> None:
    """One GitPython diff object per commit (the newest `sample` commits), vs leakguard on
    the same commits. Skipped when GitPython is not installed."""
    try:
        import git  # GitPython
    except ImportError:
        print("gitpython: not installed, skipped")
        return
    started = time.perf_counter()
    handle = git.Repo(str(repo))
    text = 0
    for commit in handle.iter_commits("--all", max_count=sample):
        base = commit.parents[0] if commit.parents else None
        changes = (
            base.diff(commit, create_patch=True)
            if base
            else commit.diff(git.NULL_TREE, create_patch=True)
        )
        for change in changes:
            text += len(change.diff or b"")
    gp = time.perf_counter() - started
    lg, _cpu, _proc = timed(
        [*leakguard_cmd(), "git", str(repo), "--max-commits", str(sample), "-j1", "--no-baseline"]
    )
    print(
        f"GitPython, one diff object per commit ({sample} newest commits): {gp:.2f}s; "
        f"leakguard git on the same commits {lg:.2f}s: GitPython/leakguard {gp / lg:.1f}x"
    )


def bench_pre_push(work: Path, runs: int) -> float:
    remote = work / "remote.git"
    clone = work / "clone"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True, env=ENV)
    subprocess.run(["git", "init", "-q", "-b", "main", str(clone)], check=True, env=ENV)
    rng = random.Random(3)

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(clone), *args], check=True, env=ENV,
                              capture_output=True).stdout.decode().strip()  # fmt: skip

    for i in range(50):
        (clone / f"f{i:02d}.py").write_text("".join(code_line(rng, k) for k in range(40)))
    git("add", ".")
    git("commit", "-q", "-m", "base")
    git("remote", "add", "origin", str(remote))
    git("push", "-q", "origin", "main")
    base = git("rev-parse", "HEAD")
    for c in range(20):  # 20 commits touching 50 files
        for i in range(50):
            if (i + c) % 8 == 0 or c == 19:
                with (clone / f"f{i:02d}.py").open("a") as fh:
                    fh.write("".join(code_line(rng, c * 1000 + k) for k in range(5)))
        git("commit", "-q", "-am", f"work {c}")
    head = git("rev-parse", "HEAD")
    subprocess.run([*leakguard_cmd(), "hook", "install", str(clone)], check=True,
                   capture_output=True)  # fmt: skip
    hook = clone / ".git" / "hooks" / "pre-push"
    stdin = f"refs/heads/main {head} refs/heads/main {base}\n".encode()
    times = []
    for _ in range(runs):
        wall, _cpu, proc = timed([str(hook), "origin", str(remote)], input=stdin, cwd=clone)
        assert proc.returncode == 0, proc.stderr
        times.append(wall)
    push_wall, _cpu, proc = timed(["git", "-C", str(clone), "push", "-q", "origin", "main"])
    assert proc.returncode == 0, proc.stderr
    median = statistics.median(times)
    files = git("diff", "--name-only", base, head).count("\n") + 1
    print(
        f"pre-push hook: 20 commits, {files} files; hook process median {median:.3f}s "
        f"(min {min(times):.3f}s, max {max(times):.3f}s, {runs} runs); "
        f"whole `git push` {push_wall:.3f}s"
    )
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="Build (or reuse) the repository here.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lg-bench-git-"))
    try:
        repo = args.keep or work / "history"
        planted_file = repo.parent / f"{repo.name}.planted.json"
        if not (repo / ".git").exists():
            started = time.perf_counter()
            planted = build_repo(repo, args.commits)
            planted_file.write_text(json.dumps(planted))
            print(f"built {repo} ({args.commits} commits) in {time.perf_counter() - started:.1f}s")
        else:
            planted = json.loads(planted_file.read_text())
        ok = bench_history(repo, planted, args.runs)
        bench_gitpython(repo, 300)
        bench_pre_push(work, 15)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
