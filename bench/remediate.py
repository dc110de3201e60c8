"""Wall time of `leakguard remediate --push --open` on the samples repository.

    python3 bench/remediate.py [--repeat 5]

Each round builds a throwaway git repository of samples/ (one commit), a bare
remote served by `git daemon` on 127.0.0.1, and a local stand-in of the
GitHub REST API (tests/remediation/forge_standin.py: the forge's own latency
is not part of the figure, the stand-in answers in well under a millisecond).
It times, as whole processes:

- `remediate --push --open` (the first run: opens the pull request), and a
  second run (finds and updates it);
- the baseline, what a user does by hand for the same change: a clone,
  `leakguard migrate --apply`, `git add` + `git commit`, `git push` (no guide,
  no pull request).

Prints the medians and the ratio to the baseline. Target: under 3 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.remediation.forge_standin import ForgeStandIn  # noqa: E402
from tests.remediation.git_daemon import git_daemon  # noqa: E402

LEAKGUARD = shutil.which("leakguard") or str(Path(sys.executable).parent / "leakguard")
STANDIN_VALUE = "bench-" + "stand-in-token"
ENV = dict(os.environ, GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.test",
           GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.test",
           GITHUB_TOKEN=STANDIN_VALUE)  # fmt: skip


def git(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"git {args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}")


def timed(args: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(args[:3])} exited {proc.returncode}: {proc.stderr[-400:]}")
    return elapsed


def one_round(tmp: Path) -> tuple[float, float, float]:
    repo = tmp / "app"
    shutil.copytree(ROOT / "samples", repo)
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "samples", cwd=repo)
    served = tmp / "served"
    (served / "team").mkdir(parents=True)
    git("init", "-q", "--bare", str(served / "team" / "app.git"), cwd=tmp)
    with git_daemon(served) as served_at:
        url = f"{served_at}/team/app.git"
        git("remote", "add", "origin", url, cwd=repo)
        git("push", "-q", "origin", "main", cwd=repo)
        git("fetch", "-q", "origin", cwd=repo)
        with ForgeStandIn(STANDIN_VALUE) as forge:
            command = [LEAKGUARD, "remediate", "--push", "--open", "--forge", "github",
                       "--api-url", forge.url]  # fmt: skip
            first = timed(command, repo)
            second = timed(command, repo)
            assert len(forge.pulls) == 1, "expected one pull request, updated"
        by_hand = tmp / "by-hand"
        started = time.perf_counter()
        git("clone", "-q", "-b", "main", url, str(by_hand), cwd=tmp)
        timed([LEAKGUARD, "migrate", "--apply", "."], by_hand, ok=(0, 1))
        git("add", "-A", cwd=by_hand)
        git("reset", "-q", "--", "secrets", cwd=by_hand)
        git("commit", "-qm", "move secrets", cwd=by_hand)
        git("push", "-q", "origin", "HEAD:refs/heads/by-hand", cwd=by_hand)
        baseline = time.perf_counter() - started
    return first, second, baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rounds = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="lg-bench-remediate-") as tmp:
            rounds.append(one_round(Path(tmp)))
    first = statistics.median(r[0] for r in rounds)
    second = statistics.median(r[1] for r in rounds)
    baseline = statistics.median(r[2] for r in rounds)
    print(f"remediate --push --open, first run (opens):   {first:.2f} s (median of {args.repeat})")
    print(f"remediate --push --open, second run (updates): {second:.2f} s")
    print(f"by hand: clone + migrate --apply + commit + push: {baseline:.2f} s")
    print(f"ratio to by hand: {first / baseline:.2f}x (first), {second / baseline:.2f}x (second)")
    print(f"target under 3 s: {'met' if max(first, second) < 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
