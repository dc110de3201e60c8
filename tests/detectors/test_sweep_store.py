"""The sweep store against a real registry: incremental sweeps, and resuming a killed one."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from leakguard.detectors.image import ImageOptions, ruleset_version
from leakguard.detectors.sweep import SweepOptions, sweep
from leakguard.detectors.sweep_store import SweepStore
from leakguard.models import fingerprint
from tests.conftest import GITHUB_PAT, fake
from tests.detectors.test_image import Spec, file, layer_tar, write_archive
from tests.formats.test_formats import report_validator, sarif_validator  # noqa: F401
from tests.services import registry  # noqa: F401
from tests.test_cli import run

SKOPEO = "/usr/bin/skopeo"
REPOS = 4
BULK_FILES = 15_000  # the best part of a second to read: a sweep can be killed halfway

pytestmark = [pytest.mark.registry, pytest.mark.slow]


def stripe(n: int) -> str:
    return fake("sk_" + "live_", 24, seed=500 + n)


def push(host: str, folder: Path, n: int, bulky: bool = True) -> None:
    base = layer_tar([file("etc/base.env", f"GH={GITHUB_PAT}\n")])
    layers = [base]
    if bulky:
        line = "".join(f"setting_{j} = value {j} of {n}\n" for j in range(40))
        layers.append(layer_tar([file(f"srv/{n}/f{i}.conf", line) for i in range(BULK_FILES)]))
    layers.append(layer_tar([file(f"app/{n}.env", f"STRIPE={stripe(n)}\n")]))
    archive = write_archive(folder / f"{n}.tar", Spec(layers=layers))
    subprocess.run(
        [SKOPEO, "copy", "-q", "--dest-tls-verify=false", f"docker-archive:{archive}",
         f"docker://{host}/store/app{n}:1"],
        check=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def store_fleet(registry, tmp_path_factory) -> str:  # noqa: F811
    folder = tmp_path_factory.mktemp("store-fleet")
    for n in range(REPOS):
        push(str(registry), folder, n)
    return str(registry)


def outcome(findings) -> list[tuple[object, ...]]:
    return sorted((f.identity, f.location.deleted) for f in findings)


def test_the_next_sweep_reads_only_new_layers(
    engine,
    store_fleet,
    tmp_path,
    report_validator,  # noqa: F811
    sarif_validator,  # noqa: F811
):
    options = ImageOptions()
    path = tmp_path / "sweep.sqlite"
    only = SweepOptions(repositories=("store/*",))
    store = SweepStore(path, ruleset_version(engine, options))
    first = sweep(engine, store_fleet, options, only, store=store)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert first.stats.layers_scanned == 2 * REPOS + 1
    push(store_fleet, tmp_path, REPOS, bulky=False)  # one new image: one new layer
    second = sweep(engine, store_fleet, options, only, store=store)
    # The unchanged tags answer a HEAD with the digest stored: neither their manifests
    # nor their layers are looked at; the new image's base layer comes from the store.
    assert second.stats.tags_unchanged == REPOS
    assert (second.stats.layers_scanned, second.stats.layers_cached) == (1, 1)
    whole = sweep(engine, store_fleet, options, only)
    assert outcome(second.result.findings) == outcome(whole.result.findings)
    # Layers served from the store carry no value (it keeps none): compare fingerprints.
    stripes = {f.fingerprint for f in second.result.findings if "/app/" in f.location.path}
    assert stripes == {fingerprint(stripe(n).encode()) for n in range(REPOS + 1)}
    runs = store.runs()
    assert [r.status for r in runs] == ["done", "done"]
    assert [r.layers_read for r in runs] == [2 * REPOS + 1, 1]
    assert runs[1].findings == len(second.result.findings)
    store.close()
    with sqlite3.connect(path) as db:
        held = db.execute("SELECT redacted FROM findings").fetchall()
        assert held and all(GITHUB_PAT not in r[0] and "sk_" + "live_" not in r[0] for r in held)
    # Rendered from the store alone: what the second run added, in every format.
    added = [f for f in second.result.findings if "store/app4:" in (f.location.image or "")]
    code, out, err = run("sweep", "report", "--store", str(path), "-f", "json")
    assert code == 1, err
    assert f"{len(added)} new since run {runs[0].id}, 0 fixed" in err
    assert f"{len(first.result.findings)} remaining" in err
    report_validator.validate(json.loads(out))
    assert len(json.loads(out)["findings"]) == len(second.result.findings)
    code, sarif, _ = run("sweep", "report", "--store", str(path), "-f", "sarif")
    sarif_validator.validate(json.loads(sarif))
    code, text, _ = run("sweep", "report", "--store", str(path))
    assert code == 1 and "/etc/base.env" in text
    for shown in (out, sarif, text, err):
        assert GITHUB_PAT not in shown and not any(stripe(n) in shown for n in range(REPOS + 1))
    # The new image's tag is deleted: the next run reports its findings fixed.
    request = urllib.request.Request(
        f"http://{store_fleet}/v2/store/app{REPOS}/manifests/1",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        method="HEAD",
    )
    with urllib.request.urlopen(request) as answer:
        digest = answer.headers["Docker-Content-Digest"]
    deleting = urllib.request.Request(
        f"http://{store_fleet}/v2/store/app{REPOS}/manifests/{digest}", method="DELETE"
    )
    urllib.request.urlopen(deleting).close()
    code, _, err = run("sweep", "--store", str(path), "--repo", "store/*", store_fleet)
    assert code == 1, err
    code, _, err = run("sweep", "report", "--store", str(path), "-f", "json")
    assert f"0 new since run {runs[1].id}, {len(added)} fixed" in err, err
    code, _, err = run("sweep", "report", "--store", str(tmp_path / "none.sqlite"))
    assert code == 2 and "no such sweep store" in err
    # A changed rule set (another --max-file-size bound) rereads everything.
    bounded = ImageOptions(max_file_size=1_000_000)
    again = SweepStore(path, ruleset_version(engine, bounded))
    third = sweep(engine, store_fleet, bounded, only, store=again)
    again.close()
    assert third.stats.layers_scanned == 2 * REPOS + 1  # app4 is gone


def summary_counts(stderr: str) -> tuple[int, int]:
    found = re.search(r"\((\d+) read, (\d+) cached\)", stderr)
    assert found, stderr
    return int(found.group(1)), int(found.group(2))


def stored_layers(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM layers").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_a_killed_sweep_resumes_without_rereading_finished_layers(engine, store_fleet, tmp_path):
    path = tmp_path / "sweep.sqlite"
    cmd = [sys.executable, "-m", "leakguard", "sweep", "--repo", "store/app[0-3]",
           "--jobs", "1", "--store", str(path), "-f", "json", store_fleet]  # fmt: skip
    total = 2 * REPOS + 1
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while stored_layers(path) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    done_before = stored_layers(path)
    assert 2 <= done_before < total
    resumed = subprocess.run(cmd, capture_output=True, text=True)
    assert resumed.returncode == 1, resumed.stderr
    read, cached = summary_counts(resumed.stderr)
    assert cached == done_before and read == total - done_before
    with sqlite3.connect(path) as db:
        statuses = [r[0] for r in db.execute("SELECT status FROM runs ORDER BY id")]
        assert statuses == ["running", "done"]  # the killed run is left as it was
        assert db.execute("SELECT COUNT(*) FROM layers").fetchone()[0] == total
    whole = sweep(
        engine, store_fleet, ImageOptions(), SweepOptions(repositories=("store/app[0-3]",))
    )
    store = SweepStore(path, ruleset_version(engine, ImageOptions()))
    run = store.runs()[-1]
    store.close()
    assert run.findings == len(whole.result.findings)
    assert GITHUB_PAT not in resumed.stderr
