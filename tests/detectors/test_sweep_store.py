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
from leakguard.detectors.sweep_store import STORE_FORMAT, SweepStore, iso
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


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_killed_sweep_resumes_without_rereading_finished_layers(
    engine, store_fleet, tmp_path, how
):
    path = tmp_path / "sweep.sqlite"
    cmd = [sys.executable, "-m", "leakguard", "sweep", "--repo", "store/app[0-3]",
           "--jobs", "1", "--store", str(path), "-f", "json", store_fleet]  # fmt: skip
    total = 2 * REPOS + 1
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while stored_layers(path) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, how)
    _, stopped = proc.communicate()
    assert proc.poll() is not None and proc.returncode != 0, "the sweep ended before the signal"
    if how == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert b"Traceback" not in stopped
    done_before = stored_layers(path)
    assert 2 <= done_before < total
    resumed = subprocess.run(cmd, capture_output=True, text=True)
    assert resumed.returncode == 1, resumed.stderr
    read, cached = summary_counts(resumed.stderr)
    assert cached == done_before and read == total - done_before
    with sqlite3.connect(path) as db:
        statuses = [r[0] for r in db.execute("SELECT status FROM runs ORDER BY id")]
        # A killed run is left as it was; one stopped by SIGINT says so.
        assert statuses == ["running" if how == signal.SIGKILL else "interrupted", "done"]
        assert db.execute("SELECT COUNT(*) FROM layers").fetchone()[0] == total
        # No duplicates: the stopped run wrote no tag, image or finding; the resumed
        # run each once.
        for table, key in (("tags", "repository, tag"), ("images", "name"),
                           ("findings", "image, path, rule, fingerprint, line")):  # fmt: skip
            per_run = db.execute(f"SELECT DISTINCT run FROM {table}").fetchall()
            assert per_run == [(2,)], table
            twice = db.execute(
                f"SELECT COUNT(*) FROM (SELECT {key} FROM {table} GROUP BY {key} "
                "HAVING COUNT(*) > 1)"
            ).fetchone()
            assert twice == (0,), table
    whole = sweep(
        engine, store_fleet, ImageOptions(), SweepOptions(repositories=("store/app[0-3]",))
    )
    store = SweepStore(path, ruleset_version(engine, ImageOptions()))
    run = store.runs()[-1]
    store.close()
    assert run.findings == len(whole.result.findings)
    assert GITHUB_PAT not in resumed.stderr


def test_the_store_says_where_each_secret_is_and_whether_the_newest_tag_keeps_it(
    engine,
    store_fleet,
    tmp_path,
    report_validator,  # noqa: F811
):
    from tests.registry_push import Pusher, layer

    pusher = Pusher(store_fleet)
    base = layer({"etc/base.env": f"GH={GITHUB_PAT}\n"})
    leaky = layer({"app/app.env": f"STRIPE={stripe(50)}\n"})
    clean = layer({"app/app.env": "STRIPE=from-the-vault\n"})
    pusher.image("where/svc", "1", [base, leaky], "2026-01-01T00:00:00.123456789Z")
    pusher.image("where/svc", "2", [base, clean], "2026-02-01T00:00:00Z")
    # A multi-arch tag: each platform's manifest is kept; the newest tag of the
    # repository is judged by the latest `created` of its platforms.
    amd = pusher.image("where/multi", None, [base, leaky], "2026-01-01T00:00:00Z")
    arm = pusher.image(
        "where/multi", None, [base, clean], "2026-03-01T00:00:00Z", platform=("linux", "arm64")
    )
    pusher.index("where/multi", "1", [(*amd, ("linux", "amd64")), (*arm, ("linux", "arm64"))])
    pusher.image("where/multi", "0", [base], "2025-12-01T00:00:00Z")
    path = tmp_path / "sweep.sqlite"
    cmd = ("sweep", "--store", str(path), "--repo", "where/*", store_fleet)
    code, _, err = run(*cmd)
    assert code == 1, err
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT name, digest, top FROM images WHERE repo='where/multi' AND tag='1'"
        ).fetchall()
        assert sorted(r[1] for r in rows) == sorted([amd[0], arm[0]])
        (index,) = {r[2] for r in rows}
        assert index not in (amd[0], arm[0])
        tagged = dict(db.execute("SELECT tag, digest FROM tags t JOIN repositories r "
                                 "ON r.id = t.repository WHERE r.name='where/multi'"))  # fmt: skip
        assert tagged["1"] == index
    code, out, err = run("sweep", "report", "--store", str(path), "-f", "json")
    report = json.loads(out)
    report_validator.validate(report)
    started = report["changes"]["started"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", started)

    def places(findings, repo, path):
        return {
            f["location"]["image"].split(":")[-1]: f["location"]
            for f in findings
            if f"/{repo}:" in f["location"]["image"] and f["location"]["path"] == path
        }

    svc = places(report["findings"], "where/svc", "/app/app.env")
    assert list(svc) == ["1"] and svc["1"]["in_newest_tag"] is False  # tag 2 dropped it
    base_env = places(report["findings"], "where/svc", "/etc/base.env")
    assert {t: p["in_newest_tag"] for t, p in base_env.items()} == {"1": True, "2": True}
    assert all(p["first_seen"] == p["last_seen"] == started for p in base_env.values())
    multi = [f["location"] for f in report["findings"] if "where/multi:1" in f["location"]["image"]]
    assert multi and all(p["in_newest_tag"] is True for p in multi)  # 1 is newer than 0
    # Retag svc:1 to a clean image and delete svc:2: the next sweep reads only svc:1;
    # the report says what went, and why.
    pusher.image("where/svc", "1", [base, clean], "2026-04-01T00:00:00Z")
    pusher.delete_tag("where/svc", "2")
    pusher.close()
    time.sleep(1.1)  # times are kept to the second
    code, _, err = run(*cmd)
    assert code == 1, err
    assert "2 tags unchanged since the store's run" in err  # where/multi:0 and :1
    assert re.search(r"\d+\.\d\ds listing tags and reading manifests", err)
    store = SweepStore(path, "")
    first, second = store.runs()
    store.close()
    assert (second.tags, second.tags_fetched, second.complete) == (3, 1, True)
    code, out, err = run("sweep", "report", "--store", str(path), "-f", "json")
    report = json.loads(out)
    report_validator.validate(report)
    changes = report["changes"]
    assert (changes["since"], changes["new"]) == (first.id, [])
    fixed = {
        (x["finding"]["location"]["image"].split(":")[-1], x["finding"]["location"]["path"]):
        x["reason"]
        for x in changes["fixed"]
        if "where/svc" in x["finding"]["location"]["image"]
    }  # fmt: skip
    assert fixed == {
        ("1", "/app/app.env"): "no longer in the tag",
        ("2", "/etc/base.env"): "tag gone",
    }
    kept = [f["location"] for f in report["findings"] if "where/multi:1" in f["location"]["image"]]
    assert kept and all(p["first_seen"] == started for p in kept)
    assert all(p["last_seen"] == iso(second.started) != started for p in kept)
    code, text, err = run("sweep", "report", "--store", str(path), "--since", str(first.id))
    assert code == 1 and "fixed: 2" in text and "(tag gone; last seen " in text
    assert "new: 0" in text and f"remaining: {changes['remaining']}" in text
    assert GITHUB_PAT not in text + out and stripe(50) not in text + out
    code, _, err = run("sweep", "report", "--store", str(path), "--since", str(second.id))
    assert code == 2 and "not a finished run before" in err


# The tables a store of format 1 had (leakguard before tags and repositories were kept).
FORMAT_1 = """
CREATE TABLE layers (digest TEXT, version TEXT, data BLOB, PRIMARY KEY (digest, version));
CREATE TABLE runs (id INTEGER PRIMARY KEY, host TEXT, version TEXT, started REAL,
  finished REAL, status TEXT, images INTEGER, layers_read INTEGER, layers_stored INTEGER,
  findings INTEGER);
CREATE TABLE images (run INTEGER, name TEXT, layers TEXT, PRIMARY KEY (run, name));
CREATE TABLE findings (run INTEGER, fingerprint TEXT, rule TEXT, severity TEXT, image TEXT,
  layer TEXT, path TEXT, line INTEGER, deleted INTEGER, inherited TEXT, redacted TEXT,
  confidence TEXT, col INTEGER, origin TEXT, message TEXT, remediation TEXT);
PRAGMA user_version = 1;
INSERT INTO runs VALUES (1, 'old.example', 'v', 1767225600, 1767225660, 'done', 1, 1, 0, 1);
INSERT INTO findings VALUES (1, 'ab', 'stripe-secret-key', 'critical', 'old.example/a:1',
  'sha256:00', '/app.env', 1, 0, NULL, 'sk_…', 'high', 1, 'layer-file', 'm', 'r');
"""


def test_an_older_store_is_migrated_in_place_and_a_newer_one_refused(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(FORMAT_1.replace("'ab'", f"'{'ab' * 32}'"))
    os.chmod(path, 0o600)
    code, out, err = run("sweep", "report", "--store", str(path), "-f", "json")
    assert code == 1, err
    (finding,) = json.loads(out)["findings"]
    assert finding["location"]["first_seen"] == "2026-01-01T00:00:00Z"
    assert finding["location"]["in_newest_tag"] is None  # format 1 did not keep tags
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key='format'").fetchone() == (
            str(STORE_FORMAT),
        )
        assert db.execute("SELECT COUNT(*) FROM findings").fetchone() == (1,)
        assert db.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)  # format 3's
        db.execute("UPDATE meta SET value='99' WHERE key='format'")
    code, _, err = run("sweep", "report", "--store", str(path))
    assert code == 3 and "written by a newer leakguard (store format 99" in err
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value='two' WHERE key='format'")
    code, _, err = run("sweep", "report", "--store", str(path))
    assert code == 3 and "its format ('two') is not a number" in err
