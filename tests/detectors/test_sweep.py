"""A registry-wide sweep against a real registry: shared layers read once, cache, shards."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from leakguard.detectors.image import ImageOptions, LayerCache, ruleset_version
from leakguard.detectors.sweep import SweepOptions, in_shard, parse_shard, sweep
from leakguard.errors import UsageError
from tests.conftest import GITHUB_PAT, STRIPE_KEY, fake
from tests.detectors.test_image import Spec, file, layer_tar, write_archive
from tests.services import free_port, registry  # noqa: F401
from tests.test_cli import run

SKOPEO = "/usr/bin/skopeo"
IMAGES = 5

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def fleet(registry, tmp_path_factory) -> str:  # noqa: F811
    """Five images in five repositories sharing one leaky base layer; two tags each."""
    folder = tmp_path_factory.mktemp("fleet")
    base = layer_tar([file("etc/base.env", f"GH={GITHUB_PAT}\n")])
    for n in range(IMAGES):
        token = fake("sk_" + "live_", 24, seed=100 + n)
        own = layer_tar([file(f"app/{n}.env", f"STRIPE={token}\n"), file("app/ok.txt", "fine\n")])
        archive = write_archive(folder / f"{n}.tar", Spec(layers=[base, own]))
        for tag in ("1", "latest"):
            subprocess.run(
                [
                    SKOPEO,
                    "copy",
                    "-q",
                    "--dest-tls-verify=false",
                    f"docker-archive:{archive}",
                    f"docker://{registry}/fleet/app{n}:{tag}",
                ],
                check=True,
            )
    return str(registry)


def test_each_shared_layer_is_read_once(engine, fleet):
    done = sweep(engine, fleet, ImageOptions(), SweepOptions(repositories=("fleet/*",), jobs=2))
    s = done.stats
    assert (s.repositories, s.tags, s.images) == (IMAGES, 2 * IMAGES, 2 * IMAGES)
    assert s.layer_refs == 4 * IMAGES and s.layers == IMAGES + 1 == s.layers_scanned
    base = [f for f in done.result.findings if f.location.path == "/etc/base.env"]
    assert len({f.location.image for f in base}) == 2 * IMAGES  # reported for every image
    own = {f.secret.reveal() for f in done.result.findings if f.location.path.startswith("/app/")}
    assert own == {fake("sk_" + "live_", 24, seed=100 + n) for n in range(IMAGES)}
    assert not done.result.skipped


def test_cache_makes_a_second_sweep_read_nothing(engine, fleet, tmp_path):
    options = ImageOptions()
    cache = LayerCache(tmp_path / "layers.sqlite", ruleset_version(engine, options))
    first = sweep(engine, fleet, options, SweepOptions(repositories=("fleet/*",)), cache=cache)
    second = sweep(engine, fleet, options, SweepOptions(repositories=("fleet/*",)), cache=cache)
    cache.close()
    assert first.stats.layers_scanned == IMAGES + 1
    assert second.stats.layers_scanned == 0 and second.stats.layers_cached == IMAGES + 1
    key = [(f.identity, f.location.deleted) for f in first.result.findings]
    assert [(f.identity, f.location.deleted) for f in second.result.findings] == key


def test_shards_split_the_layers_and_add_up_to_the_whole(engine, fleet):
    whole = sweep(engine, fleet, ImageOptions(), SweepOptions(repositories=("fleet/*",)))
    parts = [
        sweep(engine, fleet, ImageOptions(), SweepOptions(repositories=("fleet/*",), shard=(i, 3)))
        for i in range(3)
    ]
    assert sum(p.stats.layers for p in parts) == whole.stats.layers
    union = sorted(f.identity for p in parts for f in p.result.findings)
    assert union == sorted(f.identity for f in whole.result.findings)
    assert parse_shard("2/3") == (1, 3)
    with pytest.raises(UsageError):
        parse_shard("4/3")
    assert sum(in_shard(f"sha256:{i:064x}", (0, 2)) for i in range(1000)) in range(400, 600)


def test_cli_sweep_reports_speed_and_exit_codes(fleet, tmp_path):
    code, out, err = run(
        "sweep", "--repo", "fleet/app1", "--cache", str(tmp_path / "c.sqlite"), fleet
    )
    assert code == 1 and "/etc/base.env" in out and GITHUB_PAT not in out + err
    assert "layers/s" in err and "MB/s" in err
    code, _, err = run("sweep", "--no-cache", f"127.0.0.1:{free_port()}")
    assert code == 3 and "connection refused" in err
    code, _, _ = run("sweep", "--shard", "0/2", fleet)
    assert code == 2


def test_sweep_of_clean_repositories_exits_0(engine, fleet, tmp_path: Path):
    archive = write_archive(
        tmp_path / "clean.tar", Spec(layers=[layer_tar([file("a.txt", "hi\n")])])
    )
    subprocess.run(
        [
            SKOPEO,
            "copy",
            "-q",
            "--dest-tls-verify=false",
            f"docker-archive:{archive}",
            f"docker://{fleet}/clean/only:1",
        ],
        check=True,
    )
    code, out, err = run("sweep", "--no-cache", "--repo", "clean/*", fleet)
    assert code == 0, out + err
    assert STRIPE_KEY not in out


def test_sweep_summary_counts_bytes_passed_over_apart_from_bytes_read(fleet, tmp_path: Path):
    blob = b"\0" * 4_000_000  # binary: passed over, not read
    spec = Spec(layers=[layer_tar([file("opt/data.bin", blob), file("a.txt", "hi\n")])])
    archive = write_archive(tmp_path / "bin.tar", spec)
    subprocess.run(
        [
            SKOPEO,
            "copy",
            "-q",
            "--dest-tls-verify=false",
            f"docker-archive:{archive}",
            f"docker://{fleet}/binary/only:1",
        ],
        check=True,
    )
    code, _, err = run("sweep", "--no-cache", "--repo", "binary/*", fleet)
    assert code == 0, err
    line = next(x for x in err.splitlines() if x.startswith("leakguard: swept"))
    assert "0.0 MB read, 4.0 MB passed over" in line, line


def test_repositories_listed_in_a_file_or_on_stdin_replace_the_catalog(fleet, tmp_path: Path):
    listed = tmp_path / "repos.txt"
    listed.write_text("# the two apps this team owns\nfleet/app1\n\nfleet/app3  # and this one\n")
    code, out, err = run("sweep", "--no-cache", "--repos-from", str(listed), "-f", "json", fleet)
    assert code == 1, err
    images = {f["location"]["image"].split("/", 1)[1] for f in json.loads(out)["findings"]}
    assert images == {"fleet/app1:1", "fleet/app1:latest", "fleet/app3:1", "fleet/app3:latest"}
    assert "swept 2 repositories, 4 tags" in err
    code, out, err = run(
        "sweep", "--no-cache", "--repos-from", "-", "-f", "json", fleet,
        stdin="fleet/app2\nfleet/gone\n",
    )  # fmt: skip
    assert code == 3, err  # a listed repository the registry does not have is not read
    assert "fleet/gone" in err
    assert {f["location"]["image"] for f in json.loads(out)["findings"]} == {
        f"{fleet}/fleet/app2:1",
        f"{fleet}/fleet/app2:latest",
    }
    code, _, err = run("sweep", "--repos-from", "-", fleet, stdin="Fleet/App 1\n")
    assert code == 2 and "line 1" in err and "Traceback" not in err
