"""`leakguard listen` and `sweep --feed` against a real registry that sends its push
notifications to the listener: only the repositories named are asked again."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from leakguard.models import fingerprint
from tests.conftest import GITHUB_PAT, fake
from tests.registry_push import Pusher, layer
from tests.services import free_port, registry_server, wait_for
from tests.test_registry_access import FaultyProxy, leakguard

pytestmark = [pytest.mark.registry, pytest.mark.slow]

TOKEN = fake("feed-", 32, seed=71)
REPOS = 6


def stripe(n: int) -> str:
    return fake("sk_" + "live_", 24, seed=700 + n)


def notifications(port: int) -> str:
    """The README's registry config: every push and delete POSTed to the listener on
    `port`, with the token."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (block,) = re.findall(r"```yaml\n(notifications:\n.*?)```", readme, re.S)
    assert "127.0.0.1:5050" in block and "Bearer TOKEN" in block
    return block.replace("127.0.0.1:5050", f"127.0.0.1:{port}").replace("TOKEN", TOKEN)


@dataclass
class Feed:
    registry: str  # where images are pushed
    proxy: FaultyProxy  # what the sweeps and the listener call the registry: counts requests
    port: int  # the listener's
    store: Path
    pusher: Pusher
    process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        if self.process is not None:  # a test that failed before stopping its listener
            self.stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "leakguard", "listen", self.proxy.host, "--store",
             str(self.store), "--bind", f"127.0.0.1:{self.port}"],
            env={**os.environ, "LEAKGUARD_FEED_TOKEN": TOKEN},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_for(self._listening, "leakguard listen")

    def _listening(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/")  # 405: up (and not a refused notification)
            return connection.getresponse().status == 405
        except OSError:
            return False
        finally:
            connection.close()

    def stop(self) -> tuple[int, str]:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=30)
        code = self.process.returncode
        self.process = None
        return code, err

    def push(self, repo: str, tag: str, secret: str) -> None:
        own = layer({f"app/{repo}/{tag}.env": f"STRIPE={secret}\n"})
        base = layer({"etc/base.env": f"GH={GITHUB_PAT}\n"})
        self.pusher.image(repo, tag, [base, own], "2026-01-01T00:00:00Z")

    def push_heard(self, repo: str, tag: str, secret: str) -> None:
        """Push, then wait until the listener has recorded the push's notifications (the
        layers' and config's blob pushes, then the manifest's)."""
        recorded = len(self.events())
        self.push(repo, tag, secret)
        self.wait_for_events(recorded + 3)

    def events(self) -> list[tuple[str, str, str | None]]:
        with sqlite3.connect(self.store) as db:
            return db.execute("SELECT repository, action, tag FROM events").fetchall()

    def wait_for_events(self, count: int) -> None:
        wait_for(lambda: len(self.events()) >= count, "the registry's notifications", timeout=30)


def post(port: int, body: bytes, token: str | None = None, **headers: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        sent = {"Content-Type": "application/vnd.docker.distribution.events.v1+json", **headers}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        connection.request("POST", "/events", body=body, headers=sent)
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Feed]:
    root = tmp_path_factory.mktemp("feed-registry")
    port = free_port()
    with registry_server(root, notifications(port)) as host:
        proxy = FaultyProxy(host)
        pusher = Pusher(host)
        state = Feed(host, proxy, port, root / "sweep.sqlite", pusher)
        try:
            yield state
        finally:
            if state.process is not None:
                state.stop()
            pusher.close()
            proxy.close()


def sweep(feed: Feed, *extra: str) -> tuple[int, dict[str, object], str, list[str]]:
    """A sweep through the counting proxy: (exit code, JSON report, stderr, paths asked)."""
    before = len(feed.proxy.paths)
    code, out, err, _ = leakguard(
        "sweep", feed.proxy.host, "--store", str(feed.store), "--no-baseline", "-f", "json",
        "--repo", "feed/*", *extra,
    )  # fmt: skip
    assert code in (0, 1), err
    return code, json.loads(out), err, feed.proxy.paths[before:]


def found(report: dict[str, object]) -> set[tuple[str, str, str]]:
    return {
        (f["rule_id"], f["location"]["image"], f["fingerprint"])
        for f in report["findings"]  # type: ignore[union-attr]
    }


def asked(paths: list[str]) -> set[str]:
    """The repositories a sweep read anything of (tag lists, manifests, blobs)."""
    return {_repository(p) for p in paths if not p.startswith("HEAD ") and p.count("/") > 3}


def spot_checks(paths: list[str]) -> set[str]:
    """The repositories a sweep only sent a HEAD for a manifest (checking a digest)."""
    heads = {_repository(p) for p in paths if p.startswith("HEAD ") and "/manifests/" in p}
    return heads - asked(paths)


def _repository(request: str) -> str:
    return request.split(" ", 1)[1].split("/v2/", 1)[1].rsplit("/", 2)[0]


def test_a_feed_sweep_asks_only_the_repositories_the_registry_named(feed):
    feed.start()
    for n in range(REPOS):
        feed.push(f"feed/app{n}", "1", stripe(n))
    feed.wait_for_events(3 * REPOS)  # each image: its layers' pushes, then its manifest's
    code, first, err, paths = sweep(feed, "--feed")
    # No complete sweep to start from yet: every tag is checked, and the note says why.
    assert code == 1 and "--feed not used, every tag checked" in err, err
    assert asked(paths) == {f"feed/app{n}" for n in range(REPOS)}
    # A new tag in one repository, a tag deleted in another; the registry notifies.
    feed.push("feed/app1", "2", stripe(100))
    feed.pusher.delete_tag("feed/app2", "1")
    feed.wait_for_events(3 * REPOS + 4)  # the new tag's layer, config and manifest; the deletion
    code, second, err, paths = sweep(feed, "--feed")
    assert code == 1 and "--feed not used" not in err, err
    assert asked(paths) == {"feed/app1", "feed/app2"}
    assert not any("_catalog" in p for p in paths)
    # The others' tags are only spot-checked (here, having few, all of them): a HEAD each.
    assert spot_checks(paths) == {f"feed/app{n}" for n in (0, 3, 4, 5)}
    assert "(4 repositories carried over: no event named them; 4 of their tags" in err
    # The same findings as a sweep that lists everything (with a store of its own).
    code, whole, _, _ = leakguard(
        "sweep", feed.proxy.host, "--no-cache", "--no-baseline", "-f", "json", "--repo", "feed/*"
    )
    assert found(second) == found(json.loads(whole))
    assert fingerprint(stripe(100).encode()) in {f[2] for f in found(second)}
    assert not any("feed/app2:" in f[1] for f in found(second))
    # The store says what changed: the new tag's findings are new, the deleted tag's fixed.
    code, out, err, _ = leakguard("sweep", "report", "--store", str(feed.store), "-f", "json")
    changes = json.loads(out)["changes"]
    assert {(f["location"]["image"], f["fingerprint"]) for f in changes["new"]} == {
        (f"{feed.proxy.host}/feed/app1:2", fingerprint(stripe(100).encode())),
        (f"{feed.proxy.host}/feed/app1:2", fingerprint(GITHUB_PAT.encode())),
    }
    assert {x["reason"] for x in changes["fixed"]} == {"tag gone"}
    # Nothing pushed since: no repository is read, no tag list asked; HEADs only.
    code, third, err, paths = sweep(feed, "--feed")
    assert asked(paths) == set() and found(third) == found(second), err
    assert paths and all(p.startswith("HEAD ") for p in paths)
    for shown in (err, json.dumps(third)):
        assert TOKEN not in shown and stripe(100) not in shown
    # The listener stops on SIGTERM with exit 0, and never showed the token.
    code, err = feed.stop()
    assert code == 0 and "listener stopped" in err and TOKEN not in err
    assert "changes recorded: feed/app1" in err


def test_without_a_listener_up_since_the_last_sweep_every_tag_is_checked(feed):
    # After the test above: its listener is stopped, so this push is not recorded.
    assert feed.process is None
    feed.push("feed/app3", "9", stripe(200))
    code, report, err, paths = sweep(feed, "--feed")
    assert "--feed not used, every tag checked: no event listener" in err, err
    assert fingerprint(stripe(200).encode()) in {f[2] for f in found(report)}
    assert "feed/app0" in asked(paths)
    # A listener started now did not see what came before it: every tag again...
    recorded = len(feed.events())
    feed.start()
    feed.wait_for_events(recorded + 3)  # the registry sends what it kept: app3's push
    code, report, err, paths = sweep(feed, "--feed")
    assert "--feed not used, every tag checked: no event listener" in err, err
    assert "feed/app0" in asked(paths)
    # ...and from that run on, the feed stands in for the listing.
    feed.push_heard("feed/app4", "2", stripe(300))
    code, report, err, paths = sweep(feed, "--feed")
    assert "--feed not used" not in err, err
    assert asked(paths) == {"feed/app4"}
    assert fingerprint(stripe(300).encode()) in {f[2] for f in found(report)}
    # A listener killed outright stops beating: after FEED_ALIVE seconds it is not trusted.
    assert feed.process is not None
    feed.process.kill()
    feed.process.communicate(timeout=30)
    feed.process = None
    from leakguard.detectors.sweep_store import FEED_ALIVE

    time.sleep(FEED_ALIVE + 0.5)
    code, report, err, paths = sweep(feed, "--feed")
    assert "--feed not used, every tag checked: no event listener" in err, err


def test_the_listener_refuses_what_is_not_a_notification(feed, tmp_path):
    feed.start()
    try:
        before = len(feed.events())
        envelope = json.dumps(
            {"events": [{"action": "push", "target": {"repository": "feed/x", "tag": "1"}}]}
        ).encode()
        assert post(feed.port, envelope)[0] == 401  # no token
        assert post(feed.port, envelope, token="wrong")[0] == 401
        assert post(feed.port, b"not json", token=TOKEN)[0] == 400
        assert post(feed.port, b'{"events": [{"action": "push"}]}', token=TOKEN)[0] == 400
        bad_name = json.dumps(
            {"events": [{"action": "push", "target": {"repository": "../../etc"}}]}
        ).encode()
        assert post(feed.port, bad_name, token=TOKEN)[0] == 400
        deep = b'{"events": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        assert post(feed.port, deep, token=TOKEN)[0] == 400
        status, _ = post(feed.port, b"", token=TOKEN, **{"Content-Length": str(64 << 20)})
        assert status == 413
        pulls = json.dumps(
            {"events": [{"action": "pull", "target": {"repository": "feed/pulled"}}]}
        ).encode()
        assert post(feed.port, pulls, token=TOKEN)[0] == 200
        assert len(feed.events()) == before  # none of the above recorded anything
        # Harbor's webhook, its auth header the token itself.
        harbor = {
            "type": "PUSH_ARTIFACT",
            "occur_at": 1767225600,
            "operator": "ci",
            "event_data": {
                "resources": [{"digest": "sha256:" + "a" * 64, "tag": "v2",
                               "resource_url": "harbor.example/team/web:v2"}],
                "repository": {"name": "web", "namespace": "team", "repo_full_name": "team/web",
                               "repo_type": "private"},
            },
        }  # fmt: skip
        connection = http.client.HTTPConnection("127.0.0.1", feed.port, timeout=10)
        connection.request("POST", "/", body=json.dumps(harbor), headers={"Authorization": TOKEN})
        assert connection.getresponse().status == 200
        connection.close()
        assert feed.events()[before:] == [("team/web", "push", "v2")]
        connection = http.client.HTTPConnection("127.0.0.1", feed.port, timeout=10)
        connection.request("GET", "/events")
        assert connection.getresponse().status == 405
        connection.close()
        # Connections that send nothing hold a thread each, up to MAX_CONNECTIONS; one
        # more is closed unanswered (and counted as refused), and once they go, the
        # listener answers again.
        from leakguard.detectors.sweep_feed import MAX_CONNECTIONS

        idle = [socket.create_connection(("127.0.0.1", feed.port)) for _ in range(MAX_CONNECTIONS)]
        try:
            time.sleep(0.5)
            with pytest.raises((ConnectionError, http.client.HTTPException)):
                post(feed.port, envelope, token=TOKEN)
        finally:
            for s in idle:
                s.close()
        wait_for(lambda: post(feed.port, envelope, token=TOKEN)[0] == 200, "the listener")
        assert ("feed/x", "push", "1") in feed.events()
        with sqlite3.connect(feed.store) as db:
            (refused,) = db.execute("SELECT MAX(refused) FROM feeds").fetchone()
        # 2 tokens, not JSON, no target, a bad name, too deep, too large, one too many
        assert refused == 8
    finally:
        code, err = feed.stop()
    assert code == 0 and TOKEN not in err


def test_the_feed_is_trusted_only_once_the_registry_is_heard_and_nothing_was_refused(feed):
    """A listener that is up is not enough: it must have heard from the registry, have
    refused nothing since the run a sweep starts from, and the tags it says are unchanged
    must answer so when a few of them are asked."""
    feed.start()
    try:
        code, _, err, _ = sweep(feed)  # complete, and started after the listener did
        assert code == 1, err
        code, _, err, paths = sweep(feed, "--feed")
        assert "has received no notification yet" in err, err
        assert "feed/app0" in asked(paths)
        feed.push_heard("feed/app5", "1", stripe(500))
        code, _, err, paths = sweep(feed, "--feed")
        assert "--feed not used" not in err and asked(paths) == {"feed/app5"}, err
        # A request the listener refused may have been a change.
        assert post(feed.port, b"{}", token="not-the-token")[0] == 401
        code, _, err, paths = sweep(feed, "--feed")
        assert "the event listener refused 1 request(s)" in err, err
        assert "feed/app0" in asked(paths)
        code, _, err, paths = sweep(feed, "--feed")  # from that complete run on: trusted
        assert "--feed not used" not in err and len(asked(paths)) < REPOS, err
        # Notifications lost on the way (here: taken out of the store) show when the
        # tags carried over are spot-checked: the tag moved without a word.
        with sqlite3.connect(feed.store) as db:
            (last,) = db.execute("SELECT MAX(rowid) FROM events").fetchone()
        feed.push_heard("feed/app5", "1", stripe(501))
        with sqlite3.connect(feed.store) as db:  # this push's notifications only
            db.execute("DELETE FROM events WHERE rowid > ?", (last,))
        code, report, err, paths = sweep(feed, "--feed")
        assert "tags checked at random changed without a notification" in err, err
        assert fingerprint(stripe(501).encode()) in {f[2] for f in found(report)}
        assert fingerprint(stripe(500).encode()) not in {f[2] for f in found(report)}
    finally:
        feed.stop()


def test_listen_usage_and_unusable_addresses(tmp_path, feed):
    store = str(tmp_path / "s.sqlite")
    env = {"LEAKGUARD_FEED_TOKEN": ""}
    code, _, err, _ = leakguard("listen", "r.example", "--store", store, "--bind", "0.0.0.0:0",
                                env=env)  # fmt: skip
    assert code == 2 and "beyond loopback, senders must give a token" in err
    code, _, err, _ = leakguard("listen", "r.example", "--store", store, "--bind", "nowhere")
    assert code == 2 and "expected ADDRESS:PORT" in err
    # The port the registry's own listener... is the registry's: in use.
    code, _, err, _ = leakguard("listen", "r.example", "--store", store, "--bind", feed.registry)
    assert code == 3 and err.count("\n") <= 2 and "Traceback" not in err, err
    code, _, err, _ = leakguard("sweep", "r.example", "--feed")
    assert code == 2 and "--feed needs --store" in err
