"""`sweep --store FILE --keep-runs N` against a real registry: the store stops growing
with each run, and its reports keep when each secret was first seen."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from leakguard.detectors.sweep_store import SweepStore, iso
from leakguard.models import fingerprint
from tests.conftest import GITHUB_PAT, fake
from tests.detectors.test_sweep_feed import asked, feed, found  # noqa: F401
from tests.detectors.test_sweep_feed import sweep as feed_sweep
from tests.registry_push import Pusher, layer
from tests.services import registry  # noqa: F401
from tests.test_cli import run
from tests.test_registry_access import leakguard

pytestmark = [pytest.mark.registry, pytest.mark.slow]

TAGS = 20  # tags of one repository, each its own manifest


def stripe(n: int) -> str:
    return fake("sk_" + "live_", 24, seed=900 + n)


def rows(path: Path) -> int:
    """The rows a run writes, over all runs the store holds."""
    with sqlite3.connect(path) as db:
        return sum(
            db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("tags", "images", "findings")
        )


def runs(path: Path) -> list[tuple[int, str, float]]:
    store = SweepStore(path, "")
    try:
        return [(r.id, r.status, r.started) for r in store.runs()]
    finally:
        store.close()


def locations(report: dict[str, object], image: str, path: str) -> list[dict[str, object]]:
    return [
        f["location"]
        for f in report["findings"]  # type: ignore[union-attr]
        if f["location"]["image"].endswith(image) and f["location"]["path"] == path
    ]


def test_kept_runs_bound_the_store_and_first_sightings_survive(registry, tmp_path):  # noqa: F811
    pusher = Pusher(registry)
    base = layer({"etc/base.env": f"GH={GITHUB_PAT}\n"})
    for n in range(TAGS):
        pusher.image("prune/many", str(n), [base], f"2026-01-01T00:00:{n:02d}Z")
    pusher.image("prune/gone", "1", [base, layer({"app/gone.env": f"S={stripe(1)}\n"})],
                 "2026-01-02T00:00:00Z")  # fmt: skip
    path = tmp_path / "sweep.sqlite"
    cmd = ("sweep", "--store", str(path), "--no-baseline", "--repo", "prune/*", registry)

    def sweep_and_count(*extra: str) -> int:
        code, _, err = run(*cmd, *extra)
        assert code == 1, err
        return rows(path)

    # Two runs as before --keep-runs: every run's rows stay (the default), and a store
    # written then (no record of first and last sightings apart from the runs' own
    # rows) is brought up to date from them when opened.
    sweep_and_count()
    time.sleep(1.1)  # times are kept to the second
    after_two = sweep_and_count()
    assert [status for _, status, _ in runs(path)] == ["done", "done"]
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE places")
    for n in range(3, 7):
        if n == 4:  # a new repository, first seen by a run that is pruned later
            pusher.image("prune/late", "1", [base], "2026-01-03T00:00:00Z")
        if n == 5:
            time.sleep(1.1)  # run 4's start is not run 5's
        if n == 6:  # a new secret, and a tag deleted: what the last report must say
            time.sleep(1.1)
            pusher.image("prune/new", "1", [base, layer({"app/new.env": f"S={stripe(2)}\n"})],
                         "2026-01-04T00:00:00Z")  # fmt: skip
            pusher.delete_tag("prune/gone", "1")
        after = sweep_and_count("--keep-runs", "2")
    pusher.close()
    history = runs(path)
    assert [status for _, status, _ in history] == ["pruned"] * 4 + ["done"] * 2
    # Six runs hold the rows of two: one more repository and tag, one fewer.
    assert after <= after_two + 10, (after_two, after)
    with sqlite3.connect(path) as db:
        held = {r for (r,) in db.execute("SELECT DISTINCT run FROM findings")}
    assert held == {history[-2][0], history[-1][0]}
    # First seen in run 1 (its rows gone): the report still says so.
    first_started = history[0][2]
    code, out, err = run("sweep", "report", "--store", str(path), "-f", "json")
    assert code == 1, err
    report = json.loads(out)
    kept = locations(report, "prune/many:0", "/etc/base.env")
    assert [(p["first_seen"], p["last_seen"]) for p in kept] == [
        (iso(first_started), iso(history[-1][2]))
    ]
    late = locations(report, "prune/late:1", "/etc/base.env")
    assert [p["first_seen"] for p in late] == [iso(history[3][2])]  # run 4's start
    # New and fixed against run 5, which is kept.
    changes = report["changes"]
    assert changes["since"] == history[-2][0]
    assert {
        (f["location"]["image"].split("/", 1)[1], f["fingerprint"]) for f in changes["new"]
    } == {
        ("prune/new:1", fingerprint(GITHUB_PAT.encode())),
        ("prune/new:1", fingerprint(stripe(2).encode())),
    }
    gone = {
        (x["finding"]["location"]["path"], x["reason"], x["finding"]["location"]["first_seen"],
         x["finding"]["location"]["last_seen"])
        for x in changes["fixed"]
    }  # fmt: skip
    assert gone == {
        (p, "tag gone", iso(first_started), iso(history[-2][2]))
        for p in ("/etc/base.env", "/app/gone.env")
    }
    assert changes["remaining"] == TAGS + 1  # prune/many's and prune/late's base.env
    # A pruned run cannot be compared with; the error names the runs that are left.
    code, _, err = run("sweep", "report", "--store", str(path), "--since", str(history[0][0]))
    assert code == 2 and f"finished runs before it: {history[-2][0]}" in err, err
    code, out, err = run(
        "sweep", "report", "--store", str(path), "--since", str(history[-2][0]), "-f", "json"
    )
    assert code == 1 and json.loads(out)["changes"] == changes, err
    for shown in (out, err):
        assert GITHUB_PAT not in shown and stripe(2) not in shown


def test_keep_runs_usage(tmp_path, registry):  # noqa: F811
    path = tmp_path / "sweep.sqlite"
    code, _, err = run("sweep", "--store", str(path), "--keep-runs", "1", registry)
    assert code == 2 and "keep at least 2 runs" in err, err
    assert not path.exists()
    code, _, err = run("sweep", "--keep-runs", "3", registry)
    assert code == 2 and "--keep-runs needs --store" in err, err
    code, _, err = run("sweep", "report", "--store", str(path), "--keep-runs", "3")
    assert code == 2 and "--keep-runs is for" in err, err


def test_the_feed_base_is_kept_and_a_feed_sweep_still_carries_over(feed):  # noqa: F811
    feed.start()
    try:
        for n in range(3):
            feed.push(f"feed/app{n}", "1", stripe(10 + n))
        feed.wait_for_events(9)
        code, first, err, _ = feed_sweep(feed, "--feed", "--keep-runs", "2")
        assert "--feed not used" in err  # no base yet: this complete run becomes it
        # Two sweeps of one repository: the newest two runs are not the feed's base.
        for _ in range(2):
            code, _, err, _ = leakguard(
                "sweep", feed.proxy.host, "--store", str(feed.store), "--no-baseline",
                "--repo", "feed/app0", "--keep-runs", "2",
            )  # fmt: skip
            assert code == 1, err
        history = runs(feed.store)
        assert [s for _, s, _ in history] == ["done"] * 3  # the base, and the newest two
        feed.push_heard("feed/app1", "2", stripe(20))
        code, second, err, paths = feed_sweep(feed, "--feed", "--keep-runs", "2")
        assert "--feed not used" not in err, err
        assert asked(paths) == {"feed/app1"}
        code, whole, _, _ = leakguard(
            "sweep", feed.proxy.host, "--no-cache", "--no-baseline", "-f", "json",
            "--repo", "feed/*",
        )  # fmt: skip
        assert found(second) == found(json.loads(whole))
        # Its own base now: the one before it is pruned, as is the oldest feed/app0 run.
        assert [s for _, s, _ in runs(feed.store)] == ["pruned", "pruned", "done", "done"]
        feed.push_heard("feed/app2", "2", stripe(30))
        code, third, err, paths = feed_sweep(feed, "--feed", "--keep-runs", "2")
        assert "--feed not used" not in err and asked(paths) == {"feed/app2"}, err
        assert fingerprint(stripe(30).encode()) in {f[2] for f in found(third)}
        assert fingerprint(stripe(20).encode()) in {f[2] for f in found(third)}
        # Notifications from before the oldest run a --feed sweep can start from are
        # dropped (the pushes before the first run), the later ones kept.
        with sqlite3.connect(feed.store) as db:
            (oldest_base,) = db.execute(
                "SELECT MIN(started) FROM runs WHERE status='done' AND complete=1"
            ).fetchone()
            received = [r for (r,) in db.execute("SELECT received FROM events")]
        assert received and min(received) >= oldest_base
    finally:
        feed.stop()


def test_keep_runs_drops_layer_scans_made_under_other_rules(registry, tmp_path):  # noqa: F811
    pusher = Pusher(registry)
    pusher.image("rules/app", "1", [layer({"etc/a.env": f"GH={GITHUB_PAT}\n"})],
                 "2026-01-01T00:00:00Z")  # fmt: skip
    pusher.close()
    path = tmp_path / "sweep.sqlite"
    cmd = ("sweep", "--store", str(path), "--no-baseline", "--repo", "rules/*", registry)
    code, _, err = run(*cmd, "--max-file-size", "1MB")  # a bound that changes the rules
    assert code == 1, err
    code, _, err = run(*cmd, "--keep-runs", "2")
    assert code == 1, err
    with sqlite3.connect(path) as db:
        versions = db.execute("SELECT version, COUNT(*) FROM layers GROUP BY 1").fetchall()
    assert len(versions) == 1 and versions[0][1] == 1, versions  # the current rules' only


def test_the_first_prune_of_a_long_history_shrinks_the_file(registry, tmp_path):  # noqa: F811
    pusher = Pusher(registry)
    base = layer({"etc/base.env": f"GH={GITHUB_PAT}\n"})
    for n in range(10 * TAGS):
        pusher.image("shrink/many", str(n), [base], f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z")
    pusher.close()
    path = tmp_path / "sweep.sqlite"
    cmd = ("sweep", "--store", str(path), "--no-baseline", "--repo", "shrink/*", registry)
    sizes = []
    for _ in range(6):
        code, _, err = run(*cmd)
        assert code == 1, err
        sizes.append(path.stat().st_size)
    assert sizes[-1] > 2.5 * sizes[0], sizes  # each run: a copy of what it saw
    code, _, err = run(*cmd, "--keep-runs", "2")
    assert code == 1, err
    assert [status for _, status, _ in runs(path)] == ["pruned"] * 5 + ["done"] * 2
    # Five runs' records gone out of seven: the file is rewritten without them.
    assert path.stat().st_size < 0.5 * sizes[-1], (sizes, path.stat().st_size)
