"""Progress on standard error while long work runs: a live line on a terminal, a
heartbeat line in a log, nothing for short work or with -q/--no-progress; the
report on standard output is the same byte for byte, and no secret is shown."""

from __future__ import annotations

import os
import pty
import random
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from leakguard.display import Counter, Snapshot, describe
from tests.conftest import GITHUB_PAT, STRIPE_KEY, fake
from tests.detectors.test_git_history import ENV
from tests.detectors.test_image import Spec, file, layer_tar, write_oci
from tests.services import dask_cluster, registry  # noqa: F401

FILES = 1500
COMMITS = 1600  # above git_history.PARALLEL_MIN_COMMITS: -j2 splits the history
# A line of words with no secret in it; files are made of it.
FILLER = "".join(f"word{i} value_{i * 7919 % 1000} the quick brown fox\n" for i in range(64))


def leakguard(
    *args: str, heartbeat: float | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """`python -m leakguard ARGS` with standard error on a pipe (a CI log)."""
    extra = dict(ENV, **(env or {}))
    if heartbeat is not None:
        extra["LEAKGUARD_HEARTBEAT_S"] = str(heartbeat)
    return subprocess.run(
        [sys.executable, "-m", "leakguard", *args], capture_output=True, timeout=300,
        env=dict(os.environ, **extra), check=False,
    )  # fmt: skip


def on_a_terminal(*args: str, env: dict[str, str]) -> tuple[bytes, str]:
    """Run leakguard with standard error on a pseudo-terminal: (standard output, what
    the terminal received)."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "leakguard", *args], stdout=subprocess.PIPE, stderr=follower,
            env=dict(os.environ, **ENV, **env),
        )  # fmt: skip
        os.close(follower)
        received: list[bytes] = []

        def read() -> None:
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the terminal is closed: all was read
                    return
                if not chunk:
                    return
                received.append(chunk)

        reader = threading.Thread(target=read)
        reader.start()
        out, _ = proc.communicate(timeout=300)
        reader.join(timeout=30)
        assert proc.returncode in (0, 1)
        return out, b"".join(received).decode()
    finally:
        os.close(leader)


def same_report(a: bytes, b: bytes) -> bool:
    """Byte for byte, but for the run's duration."""
    duration = re.compile(rb'"duration_s": [0-9.e-]+')
    return duration.sub(b"", a) == duration.sub(b"", b)


def no_secret(text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    for secret in (GITHUB_PAT, STRIPE_KEY, FAKE_LEAK):
        assert secret.encode() not in data


FAKE_LEAK = fake("gh" + "p_", 36, seed=77)


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FILES files of about 24 KB, one holding a secret."""
    root = tmp_path_factory.mktemp("big")
    text = FILLER * 6
    for n in range(FILES):
        folder = root / f"d{n % 30}"
        folder.mkdir(exist_ok=True)
        (folder / f"f{n}.txt").write_text(text)
    (root / "d7" / "f7.txt").write_text(f'{text}TOKEN = "{FAKE_LEAK}"\n')
    return root


@pytest.fixture(scope="module")
def long_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository of COMMITS commits (written by `git fast-import`), one adding a secret."""
    repo = tmp_path_factory.mktemp("history")
    env = dict(os.environ, **ENV)
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    stream = []
    for n in range(COMMITS):
        body = FILLER + (f'TOKEN = "{FAKE_LEAK}"\n' if n == COMMITS // 2 else "")
        data = f"{n}\n{body}".encode()
        message = f"change {n}\n".encode()
        stream += [
            b"commit refs/heads/main\n",
            f"committer T <t@example.com> {1_600_000_000 + n} +0000\n".encode(),
            b"data %d\n%s" % (len(message), message),
            f"M 100644 inline f{n % 40}.txt\n".encode(),
            b"data %d\n%s\n" % (len(data), data),
        ]
    subprocess.run(
        ["git", "-C", str(repo), "fast-import", "--quiet"], input=b"".join(stream), check=True,
        env=env,
    )  # fmt: skip
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "main"], check=True, env=env)
    return repo


SUMMARY = re.compile(r"leakguard: (\d+ findings?|exit \d|read \d+ commit)")


def heartbeats(stderr: bytes) -> list[str]:
    """Standard error but for the summary lines every run writes."""
    return [line for line in stderr.decode().splitlines() if not SUMMARY.match(line)]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_scan_beats_in_a_log_and_reports_the_same(big_tree: Path, jobs: str) -> None:
    args = ("scan", "-f", "json", "--no-baseline", "-j", jobs, str(big_tree))
    beating = leakguard(*args, heartbeat=0.05)
    quiet = leakguard(*args, "--no-progress", heartbeat=0.05)
    assert beating.returncode == quiet.returncode == 1
    assert same_report(beating.stdout, quiet.stdout)
    lines = heartbeats(beating.stderr)
    scanning = [x for x in lines if re.fullmatch(
        rf"leakguard: scanning files: \d+/{FILES} files, [\d.]+/[\d.]+ MB, .*\d+:\d\d elapsed", x
    )]  # fmt: skip
    assert scanning, beating.stderr.decode()
    assert all(x.startswith("leakguard: ") for x in lines)
    assert heartbeats(quiet.stderr) == []
    no_secret(beating.stderr)
    silent = leakguard(*args, "-q", heartbeat=0.05)
    assert silent.stderr == b""
    assert same_report(silent.stdout, quiet.stdout)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_long_history_beats_with_done_of_total(long_history: Path, jobs: str) -> None:
    args = ("git", "-f", "json", "--no-baseline", "-j", jobs, str(long_history))
    beating = leakguard(*args, heartbeat=0.05)
    quiet = leakguard(*args, "--no-progress")
    assert beating.returncode == quiet.returncode == 1
    assert same_report(beating.stdout, quiet.stdout)
    counts = [
        int(m.group(1))
        for line in heartbeats(beating.stderr)
        if (m := re.match(rf"leakguard: reading the history of .*: (\d+)/{COMMITS} commits", line))
    ]
    assert counts, beating.stderr.decode()
    assert counts == sorted(counts) and 0 <= counts[-1] <= COMMITS
    no_secret(beating.stderr)
    assert leakguard(*args, "--quiet", heartbeat=0.05).stderr == b""


def test_a_live_line_on_a_terminal_is_wiped_at_the_end(big_tree: Path) -> None:
    args = ("scan", "-f", "json", "--no-baseline", "-j", "1", str(big_tree))
    out, shown = on_a_terminal(*args, env={"LEAKGUARD_PROGRESS_DELAY_S": "0", "COLUMNS": "150"})
    live = [m.end() for m in re.finditer(rf"scanning files.*?\d+/{FILES} files • [\d.]+/", shown)]
    assert live, shown
    assert "\x1b[2K" in shown[live[-1] :]  # the line is erased once the scan ends
    assert shown.rstrip().endswith("leakguard: exit 1: 1 finding")
    no_secret(shown)
    assert same_report(out, leakguard(*args, "--no-progress").stdout)
    for flag in ("--no-progress", "-q"):
        _, shown = on_a_terminal(*args, flag, env={"LEAKGUARD_PROGRESS_DELAY_S": "0"})
        assert "scanning files" not in shown and "\x1b[" not in shown


def test_short_work_shows_nothing(leaky_tree: Path) -> None:
    """Under the terminal's delay (default 1.5 s) and the heartbeat's interval (5 s)."""
    _, shown = on_a_terminal("scan", "-j", "1", str(leaky_tree), env={})
    assert "\x1b[" not in shown and "scanning" not in shown
    assert shown.startswith("leakguard: exit 1")  # only the exit line
    piped = leakguard("scan", "-j", "1", "-f", "json", str(leaky_tree))
    assert heartbeats(piped.stderr) == []


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_image_beats_per_layer(tmp_path: Path, jobs: str) -> None:
    """Six layers of about 4 MB of text and 2 MB of random bytes each (12 MB compressed:
    -j2 reads them in worker processes), with the heartbeat at 50 ms."""
    rng = random.Random(5)
    layers = [
        layer_tar([*(file(f"srv/{n}/{i}.txt", FILLER * 64) for i in range(16)),
                   file(f"srv/{n}/blob.bin", rng.randbytes(2 * 1024 * 1024))])
        for n in range(6)
    ]  # fmt: skip
    layers[3] = layer_tar([file("srv/.env", f"TOKEN={FAKE_LEAK}\n"), file("a.txt", FILLER)])
    oci = write_oci(tmp_path / "oci", Spec(layers=layers))
    args = ("image", "-f", "json", "--no-cache", "--no-baseline", "-j", jobs, f"oci:{oci}:v1")
    beating = leakguard(*args, heartbeat=0.05)
    quiet = leakguard(*args, "--no-progress")
    assert beating.returncode == quiet.returncode == 1
    assert same_report(beating.stdout, quiet.stdout)
    lines = heartbeats(beating.stderr)
    layer_line = re.compile(r"leakguard: reading the layers of .*: \d/6 layers, ([\d.]+)/1\d.\d MB")
    read = [float(m.group(1)) for x in lines if (m := layer_line.match(x))]
    assert read and read == sorted(read), beating.stderr.decode()
    no_secret(beating.stderr)


# -- the counts behind both displays ---------------------------------------------------


def test_counts_from_many_threads_add_up() -> None:
    counter = Counter()
    counter.start(8 * 5000, "layers", 8 * 5000 * 3)

    def work() -> None:
        for _ in range(5000):
            counter.advance(1, 3)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = counter.snapshot()
    assert (s.done, s.done_bytes) == (40000, 120000)


def test_a_heartbeat_line_says_what_is_known() -> None:
    s = Snapshot("scanning files", "files", 500, 120, 200_000_000, 50_000_000, 10.0, 12.0)
    assert describe(s) == (
        "scanning files: 120/500 files, 50.0/200.0 MB, 5.0 MB/s, ETA 0:30, 0:12 elapsed"
    )
    s = Snapshot("reading the history of r", "commits", None, 42, None, 3_000_000, 2.0, 2.0)
    assert describe(s) == "reading the history of r: 42 commits, 3.0 MB, 1.5 MB/s, 0:02 elapsed"
    assert describe(Snapshot("listing files", "", None, 0, None, 0, 0.1, 7.0)) == (
        "listing files: 0:07 elapsed"
    )


def test_names_in_a_phase_are_escaped() -> None:
    counter = Counter()
    counter.phase("reading the layers of evil\x1b[2J\udcff:1")
    assert counter.snapshot().phase == "reading the layers of evil\\x1b[2J\\xff:1"


# -- sweeps: a real registry, and a real Dask cluster --------------------------------------

REPOS = 3


@pytest.fixture(scope="module")
def progress_fleet(registry: str, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    """Three repositories of two tags each, sharing a base layer, each with a bulky layer."""
    folder = tmp_path_factory.mktemp("progress-fleet")
    base = layer_tar([file("etc/base.env", f"GH={FAKE_LEAK}\n")])
    for n in range(REPOS):
        bulk = layer_tar([file(f"srv/{n}/f{i}.conf", FILLER * 4) for i in range(600)])
        archive = write_oci(folder / f"{n}", Spec(layers=[base, bulk]))
        for tag in ("1", "latest"):
            subprocess.run(
                ["/usr/bin/skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{archive}:v1",
                 f"docker://{registry}/progress/app{n}:{tag}"],
                check=True,
            )  # fmt: skip
    return registry


SWEEP_LINE = re.compile(
    r"leakguard: (listing the repositories of \S+|listing tags: \d+/\d+ repositories"
    r"|reading manifests: \d+/\d+ tags|reading layers(?P<where> on the cluster at \S+)?: "
    r"(?P<layers>\d+)/(?P<total>\d+) layers, [\d.]+/[\d.]+ MB"
    r"|putting the image reports together: \d+/\d+ images)(: |, )(.*, )?\d+:\d\d elapsed"
)


def sweep_heartbeats(stderr: bytes) -> list[re.Match[str]]:
    lines = [x for x in heartbeats(stderr) if not x.startswith("leakguard: swept ")]
    matches = [SWEEP_LINE.fullmatch(x) for x in lines]
    assert all(matches), stderr.decode()
    return [m for m in matches if m is not None]


@pytest.mark.registry
def test_a_sweep_beats_through_discovery_and_layers(progress_fleet: str) -> None:
    args = ("sweep", "--no-cache", "--repo", "progress/*", "-f", "json", "-j", "1", progress_fleet)
    beating = leakguard(*args, heartbeat=0.05)
    quiet = leakguard(*args, "--no-progress")
    assert beating.returncode == quiet.returncode == 1
    assert same_report(beating.stdout, quiet.stdout)
    layers = [m for m in sweep_heartbeats(beating.stderr) if m.group("layers")]
    assert layers and {m.group("total") for m in layers} == {str(REPOS + 1)}, beating.stderr
    no_secret(beating.stderr)
    assert leakguard(*args, "-q", heartbeat=0.05).stderr == b""


@pytest.mark.slow
@pytest.mark.registry
def test_a_sweep_on_a_dask_cluster_advances_as_layers_come_back(
    progress_fleet: str,
    dask_cluster: str,  # noqa: F811
) -> None:
    args = ("sweep", "--no-cache", "--repo", "progress/*", "-f", "json", progress_fleet)
    beating = leakguard(*args, "--scheduler", dask_cluster, heartbeat=0.05)
    assert beating.returncode == 1, beating.stderr
    assert same_report(beating.stdout, leakguard(*args, "--no-progress", "-j", "1").stdout)
    layers = [m for m in sweep_heartbeats(beating.stderr) if m.group("where")]
    assert layers and {m.group("total") for m in layers} == {str(REPOS + 1)}, beating.stderr
    assert dask_cluster in layers[0].group("where")
    no_secret(beating.stderr)


def test_a_closed_standard_error_is_no_error(leaky_tree: Path) -> None:
    """`2>&-`: no progress, no internal error; the report and exit code as ever."""
    cmd = f'"{sys.executable}" -m leakguard scan -f json "{leaky_tree}" 2>&-'
    closed = subprocess.run(["sh", "-c", cmd], capture_output=True, check=False)
    assert closed.returncode == 1
    assert same_report(closed.stdout, leakguard("scan", "-f", "json", str(leaky_tree)).stdout)
