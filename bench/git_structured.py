"""`leakguard git` on a history where most commits change a Dockerfile and a Compose file.

    python3 bench/git_structured.py [--commits 1000] [--files 3000] [--keep DIR]

Each such commit makes leakguard read both versions of the file through its
structured detector, each with the files of its own commit: the Dockerfile's
`COPY . /app` lists the build context from the commit's trees, the Compose
file reads its `env_file` from the commit. The repository (git fast-import)
has N commits over F files in F/20 folders; every commit edits the
Dockerfile, one in two the Compose file, and one other file.

Prints the time of `git log -p --all` alone (the patches), of `leakguard git`
run from the repository's root and from an unrelated folder, their ratio to
git alone, and whether both runs gave the same report.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="Bench",
    GIT_AUTHOR_EMAIL="bench@example.test",
    GIT_COMMITTER_NAME="Bench",
    GIT_COMMITTER_EMAIL="bench@example.test",
    GIT_CONFIG_NOSYSTEM="1",
    HOME="/nonexistent",
)


def build(repo: Path, commits: int, files: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=ENV)
    out: list[bytes] = []

    def blob(mark: int, text: str) -> None:
        data = text.encode()
        out.append(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data))

    def modify(path: str, text: str) -> bytes:
        data = text.encode()
        return b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data)

    stamp = 1_700_000_000
    first = [modify(f"src/d{i % (files // 20)}/f{i}.py", f"x = {i}\n") for i in range(files)]
    first.append(modify(".gitignore", ".env\n"))
    for n in range(commits):
        lines = "".join(f"RUN echo step {k}\n" for k in range(n % 40))
        changes = [modify("Dockerfile", f"FROM alpine:3.19\n{lines}COPY . /app\n")]
        if n % 2 == 0:
            changes.append(modify(
                "docker-compose.yml",
                f"services:\n  app:\n    build: .\n    env_file: .env\n"
                f"    environment:\n      STEP: '{n}'\n",
            ))  # fmt: skip
        changes.append(modify(f"src/d{n % (files // 20)}/f{n % files}.py", f"x = {n}\n"))
        if n == 0:
            changes = first + changes
        message = f"commit {n}".encode()
        out.append(
            b"commit refs/heads/main\ncommitter Bench <b@example.test> %d +0000\n"
            b"data %d\n%s\n" % (stamp + n, len(message), message) + b"".join(changes)
        )
    subprocess.run(
        ["git", "-C", str(repo), "fast-import", "--quiet"],
        input=b"".join(out), check=True, env=ENV,
    )  # fmt: skip
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "main"], check=True, env=ENV)


def timed(command: list[str], cwd: Path) -> tuple[float, bytes]:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, env=ENV)
    took = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        sys.exit(f"{command}: exit {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return took, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    top = args.keep or Path(tempfile.mkdtemp(prefix="lg-bench-"))
    repo = top / "repo"
    if not repo.exists():
        build(repo, args.commits, args.files)
    elsewhere = top / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    git_s, _ = timed(["git", "-C", str(repo), "log", "-p", "--all", "-U0"], top)
    leakguard = [sys.executable, "-m", "leakguard", "git", "-j", "1", "-f", "json"]
    here_s, here = timed([*leakguard, "."], repo)
    away_s, away = timed([*leakguard, str(repo)], elsewhere)

    def strip(report: bytes) -> bytes:
        return re.sub(rb'"duration_s": [0-9.e-]+', b"", report)

    print(f"history: {args.commits} commits, {args.files} files")
    print(f"git log -p alone:               {git_s:6.2f} s")
    print(f"leakguard git, from the root:   {here_s:6.2f} s  ({here_s / git_s:.1f}x git)")
    print(f"leakguard git, from elsewhere:  {away_s:6.2f} s  ({away_s / git_s:.1f}x git)")
    print(f"same report from both folders:  {strip(here) == strip(away)}")
    if args.keep is None:
        shutil.rmtree(top)


if __name__ == "__main__":
    main()
