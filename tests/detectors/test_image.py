"""The image surface: layers (deleted files too), config, history; four ways to read an image.

The first half builds image archives and OCI layouts byte by byte in Python
(hostile ones included); the second builds real images with the Docker engine
and reads them from the daemon, a `docker save` tarball, an OCI layout and a
registry.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from leakguard.detectors.image import (
    ImageOptions,
    LayerCache,
    docker_archive,
    ruleset_version,
    scan_images,
    scan_layers,
)
from leakguard.engine import Engine
from leakguard.errors import TargetUnreadable
from leakguard.models import Origin, ScanResult
from tests.conftest import AWS_KEY_ID, GITHUB_PAT, STRIPE_KEY, fake
from tests.services import DOCKER, build_context, busybox_image, dockerd, registry  # noqa: F401
from tests.test_cli import run

NPM_TOKEN = fake("npm" + "_", 36, seed=11)
SSH_KEY = (
    "-----BEGIN OPENSSH "
    + "PRIVATE KEY-----\n"
    + fake("b3BlbnNzaC1rZXktdjEAAAAA", 200, seed=12)
    + "\n"
    + "-----END OPENSSH "
    + "PRIVATE KEY-----\n"
)


# -- building layers and images in Python ------------------------------------------------


@dataclass
class Entry:
    name: str
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    link: str = ""
    size: int | None = None  # a lie about the size, for hostile tars


def file(name: str, text: str | bytes) -> Entry:
    return Entry(name, text.encode() if isinstance(text, str) else text)


def layer_tar(entries: Iterable[Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = e.kind
            info.linkname = e.link
            info.mode = 0o644
            info.size = len(e.data) if e.kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(e.data) if e.kind == tarfile.REGTYPE else None)
    return buf.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Spec:
    layers: list[bytes]  # uncompressed tars
    env: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)  # created_by per layer

    def config(self) -> bytes:
        history = self.history or [
            f"/bin/sh -c #(nop) COPY layer{i}" for i in range(len(self.layers))
        ]
        return json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Env": self.env, "Labels": self.labels, "Cmd": ["/bin/sh"]},
                "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in self.layers]},
                "history": [{"created_by": h} for h in history],
            }
        ).encode()


def write_archive(
    path: Path, spec: Spec, tag: str = "demo/app:1", blobs: dict[int, bytes] | None = None
) -> Path:
    """A `docker save` tarball (legacy layout); `blobs` replaces a layer's bytes."""
    config = spec.config()
    config_name = sha(config).split(":")[1] + ".json"
    layer_names = []
    with tarfile.open(path, "w") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        for i, data in enumerate(spec.layers):
            name = f"{i:064x}/layer.tar"
            layer_names.append(name)
            add(name, (blobs or {}).get(i, data))
        add(config_name, config)
        manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": layer_names}]
        add("manifest.json", json.dumps(manifest).encode())
    return path


def write_oci(
    folder: Path,
    spec: Spec,
    tag: str = "v1",
    compress: str = "gzip",
    mangle: dict[str, Any] | None = None,
) -> Path:
    """An OCI image layout with gzip or zstd layers."""
    mangle = mangle or {}
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> str:
        digest = sha(data)
        (blobs / digest.split(":")[1]).write_bytes(data)
        return digest

    descriptors = []
    for i, tar in enumerate(spec.layers):
        if compress == "zstd":
            import zstandard

            blob = zstandard.ZstdCompressor().compress(tar)
            media = "application/vnd.oci.image.layer.v1.tar+zstd"
        else:
            blob = gzip.compress(tar, mtime=0)
            media = "application/vnd.oci.image.layer.v1.tar+gzip"
        digest = put(blob)
        if i in mangle.get("layer_bytes", {}):
            (blobs / digest.split(":")[1]).write_bytes(mangle["layer_bytes"][i])
        descriptors.append({"mediaType": media, "digest": digest, "size": len(blob)})
    config = spec.config()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": put(config),
                "size": len(config),
            },
            "layers": descriptors,
        }
    ).encode()
    digest = put(manifest)
    if mangle.get("manifest"):
        (blobs / digest.split(":")[1]).write_bytes(
            manifest.replace(b'"schemaVersion": 2', b'"schemaVersion": 2 ')
        )
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (folder / "index.json").write_text(json.dumps(index))
    (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return folder


@pytest.fixture
def options() -> ImageOptions:
    return ImageOptions()


def scan(
    engine: Engine, ref: str, options: ImageOptions | None = None, jobs: int = 1
) -> ScanResult:
    return scan_images(engine, [ref], options or ImageOptions(), jobs=jobs)


def by_path(result: ScanResult) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for f in result.findings:
        out.setdefault(f.location.path or "", []).append(f)
    return out


LEAKY = Spec(
    layers=[
        layer_tar(
            [
                file("app/.npmrc", f"//registry.npmjs.org/:_authToken={NPM_TOKEN}\n"),
                file("app/keep.py", f'TOKEN = "{GITHUB_PAT}"\n'),
                file("etc/old/creds.env", f"AWS_ACCESS_KEY_ID={AWS_KEY_ID}\n"),
            ]
        ),
        layer_tar([file("app/.wh..npmrc", b""), file("etc/old/.wh..wh..opq", b"")]),
    ],
    env=[f"STRIPE_KEY={STRIPE_KEY}", "PATH=/bin"],
    labels={"org.example.token": GITHUB_PAT},
    history=[f"|1 NPM_TOKEN={NPM_TOKEN} /bin/sh -c echo build", "/bin/sh -c rm /app/.npmrc"],
)


# -- what is found ---------------------------------------------------------------------


def test_deleted_files_are_found_and_marked(engine, tmp_path):
    result = scan(engine, f"docker-archive:{write_archive(tmp_path / 'a.tar', LEAKY)}")
    found = by_path(result)
    assert [f.location.deleted for f in found["/app/.npmrc"]] == [True]  # whiteout
    assert [f.location.deleted for f in found["/etc/old/creds.env"]] == [True]  # opaque folder
    assert [f.location.deleted for f in found["/app/keep.py"]] == [False]
    npmrc = found["/app/.npmrc"][0]
    assert npmrc.location.layer == sha(LEAKY.layers[0]) and npmrc.location.image == "demo/app:1"
    assert npmrc.location.origin is Origin.LAYER_FILE
    # provenance: the instruction that made the layer, with the build-arg secret masked
    assert "layer 1 of 2" in npmrc.message and NPM_TOKEN not in npmrc.message
    assert "<redacted>" in npmrc.message
    assert not result.skipped


def test_overwritten_file_counts_as_deleted(engine, tmp_path):
    spec = Spec(
        layers=[
            layer_tar([file("srv/app.env", f"GH={GITHUB_PAT}\n")]),
            layer_tar([file("srv/app.env", "GH=changeme\n")]),
        ]
    )
    result = scan(engine, f"docker-archive:{write_archive(tmp_path / 'a.tar', spec)}")
    assert [f.location.deleted for f in by_path(result)["/srv/app.env"]] == [True]


def test_config_env_labels_and_history(engine, tmp_path):
    result = scan(engine, f"docker-archive:{write_archive(tmp_path / 'a.tar', LEAKY)}")
    origins = {(f.location.origin, f.location.path, f.secret.reveal()) for f in result.findings}
    assert (Origin.ENV, "ENV STRIPE_KEY", STRIPE_KEY) in origins
    assert (Origin.LABEL, "LABEL org.example.token", GITHUB_PAT) in origins
    history = [f for f in result.findings if f.location.origin is Origin.HISTORY]
    assert NPM_TOKEN in {f.secret.reveal() for f in history}  # the build arg in `RUN |1 ...`
    assert all(f.location.path.startswith("history[0]") for f in history)


def test_oci_layout_gzip_and_zstd_give_the_same_findings(engine, tmp_path):
    archive = scan(engine, f"docker-archive:{write_archive(tmp_path / 'a.tar', LEAKY)}")
    for compress in ("gzip", "zstd"):
        folder = write_oci(tmp_path / compress, LEAKY, compress=compress)
        result = scan(engine, f"oci:{folder}:v1")
        assert {f.identity[2] for f in result.findings} == {f.identity[2] for f in archive.findings}
        assert {
            (f.location.path, f.location.layer, f.location.deleted) for f in result.findings
        } == {(f.location.path, f.location.layer, f.location.deleted) for f in archive.findings}
        assert not result.skipped


def test_credential_files_and_archives_inside_layers(engine, tmp_path):
    inner = layer_tar([file("conf/.git-credentials", f"https://u:{GITHUB_PAT}@github.com\n")])
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config/settings.py", f'STRIPE = "{STRIPE_KEY}"\n')
    spec = Spec(
        layers=[
            layer_tar(
                [
                    file("root/.ssh/id_ed25519", SSH_KEY),
                    file(
                        "root/.docker/config.json",
                        json.dumps(
                            {"auths": {"r.example.com": {"auth": "dXNlcjpwYXNz" + "d29yZDEyMw=="}}}
                        ),
                    ),
                    file("opt/bundle.tar.gz", gzip.compress(inner)),
                    file("opt/app.jar", zipped.getvalue()),
                ]
            )
        ]
    )
    result = scan(engine, f"docker-archive:{write_archive(tmp_path / 'a.tar', spec)}")
    paths = set(by_path(result))
    assert "/root/.ssh/id_ed25519" in paths
    assert "/root/.docker/config.json" in paths
    assert "/opt/bundle.tar.gz!/conf/.git-credentials" in paths
    assert "/opt/app.jar!/config/settings.py" in paths


def test_archives_nested_deep_are_read_and_past_the_bound_reported(tmp_path):
    leaf = layer_tar([file("conf/deep.env", f"GH={GITHUB_PAT}\n")])

    # opt/app.tar.gz holds lib.war, which holds core.jar, which holds conf.tar
    conf = leaf
    jar = io.BytesIO()
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("conf.tar", conf)
    war = io.BytesIO()
    with zipfile.ZipFile(war, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("WEB-INF/lib/core.jar", jar.getvalue())
    app = gzip.compress(layer_tar([file("lib.war", war.getvalue())]), mtime=0)
    deeper = gzip.compress(layer_tar([file("app.tar.gz", app)]), mtime=0)
    spec = Spec(
        layers=[
            layer_tar(
                [
                    file("opt/app.tar.gz", app),  # 4 levels: read
                    file("srv/bundle.tgz", deeper),  # 5 levels: past the bound
                    file("etc/a.env", f"S={STRIPE_KEY}\n"),
                ]
            )
        ]
    )
    path = write_archive(tmp_path / "a.tar", spec)
    code, out, err = run("image", "--no-cache", "-f", "json", f"docker-archive:{path}")
    report = json.loads(out)
    paths = {f["location"]["path"] for f in report["findings"]}
    assert "/opt/app.tar.gz!/lib.war!/WEB-INF/lib/core.jar!/conf.tar!/conf/deep.env" in paths
    assert "/etc/a.env" in paths
    [skipped] = report["skipped"]
    assert skipped["error"] and "not opened" in skipped["reason"]
    assert (
        "/srv/bundle.tgz!/app.tar.gz!/lib.war!/WEB-INF/lib/core.jar!/conf.tar"
        in (skipped["target"])
    )
    assert code == 3, err


def test_a_nested_archive_larger_than_the_read_buffer_is_read_whole(engine, tmp_path):
    inner = layer_tar(
        [file("pad.bin", os.urandom(3_000_000)), file("conf/x.env", f"GH={GITHUB_PAT}\n")]
    )
    spec = Spec(layers=[layer_tar([file("opt/big.tar.gz", gzip.compress(inner, mtime=0))])])
    result = scan(engine, f"docker-archive:{write_archive(tmp_path / 'a.tar', spec)}")
    assert "/opt/big.tar.gz!/conf/x.env" in by_path(result)
    assert not result.skipped


def test_members_over_max_file_size_are_reported_as_not_read(tmp_path):
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.properties", "k=v\n" * 1000 + f"token={GITHUB_PAT}\n")
    spec = Spec(
        layers=[
            layer_tar(
                [
                    file("var/log/big.log", "line\n" * 1000 + f"S={STRIPE_KEY}\n"),
                    file("opt/app.jar", zipped.getvalue()),
                    file("etc/a.env", f"GH={GITHUB_PAT}\n"),
                ]
            )
        ]
    )
    path = write_archive(tmp_path / "a.tar", spec)
    ref = f"docker-archive:{path}"
    code, out, _ = run("image", "--no-cache", "--max-file-size", "2K", "-f", "json", ref)
    report = json.loads(out)
    assert code == 3
    assert [f["location"]["path"] for f in report["findings"]] == ["/etc/a.env"]
    targets = sorted(s["target"] for s in report["skipped"] if s["error"])
    assert [t.split(" (layer")[0].split(": ", 1)[1] for t in targets] == [
        "/opt/app.jar!/big.properties",
        "/var/log/big.log",
    ]
    assert report["stats"]["bytes_skipped"] > 8000
    code, out, _ = run("image", "--no-cache", "-f", "json", ref)  # no bound by default
    assert code == 1 and len(json.loads(out)["findings"]) == 3


# -- hostile input -----------------------------------------------------------------------


def test_hostile_members_are_read_in_place_and_never_followed(engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    evil = layer_tar(
        [
            file("../../escape.env", f"GH={GITHUB_PAT}\n"),
            file("/abs/path.env", f"STRIPE={STRIPE_KEY}\n"),
            Entry("etc/shadow-link", kind=tarfile.SYMTYPE, link="/etc/shadow"),
            Entry("etc/up-link", kind=tarfile.SYMTYPE, link="../../../../etc/passwd"),
            Entry("etc/hard", kind=tarfile.LNKTYPE, link="does/not/exist"),
            Entry("dev/sda", kind=tarfile.BLKTYPE),
            file("app/ok.py", f'T = "{GITHUB_PAT}"\n'),
        ]
    )
    path = write_archive(tmp_path / "evil.tar", Spec(layers=[evil]))
    after_write = sorted(p.name for p in tmp_path.iterdir())
    result = scan(engine, f"docker-archive:{path}")
    assert sorted(p.name for p in tmp_path.iterdir()) == after_write  # nothing written
    assert set(after_write) - set(before) == {"evil.tar"}
    assert {"/escape.env", "/abs/path.env", "/app/ok.py"} <= set(by_path(result))
    reasons = " ".join(s.reason for s in result.skipped)
    assert "leaves the image root" in reasons and "device or FIFO" in reasons
    assert not any(s.error for s in result.skipped)  # noted, but everything was read


def test_truncated_and_corrupt_layers_are_skipped_and_the_rest_still_scanned(engine, tmp_path):
    good = layer_tar([file("app/a.env", f"GH={GITHUB_PAT}\n")])
    bad = layer_tar([file("app/b.env", f"S={STRIPE_KEY}\n" + "x" * 100_000)])
    spec = Spec(layers=[good, bad])
    gz = gzip.compress(bad)
    for name, blob in (
        ("truncated", bad[: len(bad) // 2]),
        ("gzip-truncated", gz[: len(gz) // 2]),
        ("garbage", b"\x1f\x8b" + os.urandom(4000)),
        ("deflate-corrupt", gz[:30] + bytes(b ^ 0x5A for b in gz[30:200]) + gz[200:]),
    ):
        path = write_archive(tmp_path / f"{name}.tar", spec, blobs={1: blob})
        code, out, err = run("image", "--no-cache", f"docker-archive:{path}")
        assert code == 3, (name, out, err)
        assert "/app/a.env" in out  # the good layer's finding is still reported
        assert "Traceback" not in out + err
        assert "Could not read" in out and "layer" in out


def test_a_truncated_layer_keeps_what_was_read_before_the_cut(engine, tmp_path):
    # The first member is whole before the cut; the second is cut in the middle.
    tar = layer_tar(
        [file("app/a.env", f"GH={GITHUB_PAT}\n"), file("app/big.bin", os.urandom(300_000))]
    )
    gz = gzip.compress(tar, mtime=0)
    spec = Spec(layers=[tar])
    archive = write_archive(tmp_path / "a.tar", spec, blobs={0: gz[: len(gz) - 100_000]})
    oci = write_oci(tmp_path / "oci", spec, mangle={"layer_bytes": {0: gz[: len(gz) - 100_000]}})
    for ref in (f"docker-archive:{archive}", f"oci:{oci}:v1"):
        code, out, err = run("image", "--no-cache", "-f", "json", ref)
        report = json.loads(out)
        assert code == 3, (ref, err)
        assert [f["location"]["path"] for f in report["findings"]] == ["/app/a.env"], ref
        assert any("truncated" in s["reason"] and s["error"] for s in report["skipped"]), ref


def test_gzip_bomb_is_stopped_in_bounded_time(engine, tmp_path):
    zeros = io.BytesIO()
    with gzip.GzipFile(fileobj=zeros, mode="wb", compresslevel=9, mtime=0) as gz:
        header = tarfile.TarInfo("big.bin")
        header.size = 2 * 1024**3
        gz.write(header.tobuf(format=tarfile.PAX_FORMAT))
        chunk = b"\0" * (1024 * 1024)
        for _ in range(600):  # 600 MiB of zeros, ~600 KiB compressed
            gz.write(chunk)
    folder = write_oci(
        tmp_path / "bomb",
        Spec(layers=[layer_tar([])]),
        mangle={"layer_bytes": {0: zeros.getvalue()}},
    )
    options = ImageOptions(bomb_min_bytes=64 * 1024**2)
    started = time.monotonic()
    result = scan(engine, f"oci:{folder}:v1", options)
    assert time.monotonic() - started < 20
    assert any("bomb" in s.reason for s in result.skipped if s.error)


def test_layer_whose_content_does_not_match_its_digest_is_reported(engine, tmp_path):
    spec = Spec(layers=[layer_tar([file("a.env", f"GH={GITHUB_PAT}\n")])])
    other = gzip.compress(layer_tar([file("a.env", "GH=nothing\n")]))
    folder = write_oci(tmp_path / "o", spec, mangle={"layer_bytes": {0: other}})
    result = scan(engine, f"oci:{folder}:v1")
    assert any("does not match" in s.reason and s.error for s in result.skipped)


def test_manifest_whose_digest_does_not_match_is_rejected(engine, tmp_path):
    folder = write_oci(tmp_path / "o", LEAKY, mangle={"manifest": True})
    with pytest.raises(TargetUnreadable, match="does not match its digest"):
        scan(engine, f"oci:{folder}:v1")
    code, _out, err = run("image", "--no-cache", f"oci:{folder}:v1")
    assert code == 3 and "does not match its digest" in err and "hint:" in err


def test_unreadable_refs_give_one_line_and_exit_3(tmp_path):
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    whole = write_archive(tmp_path / "whole.tar", LEAKY).read_bytes()
    (tmp_path / "cut.tar").write_bytes(whole[: len(whole) // 2])
    for ref in (
        f"docker-archive:{tmp_path / 'missing.tar'}",
        f"docker-archive:{tmp_path / 'junk.tar'}",
        f"oci:{tmp_path}",
        f"docker-archive:{tmp_path / 'cut.tar'}",
        "docker://127.0.0.1:9/nothing/here:1",
    ):
        code, out, err = run("image", "--no-cache", ref)
        assert code == 3, (ref, err)
        assert "leakguard: error:" in err and "Traceback" not in err
    code, _, err = run("image", "--no-cache", "docker:foo")
    assert code == 2


# -- cache and parallel scans ---------------------------------------------------------


def test_layer_cache_serves_a_second_scan(engine, tmp_path, monkeypatch):
    from leakguard.detectors.image import runner

    monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 0)  # workers even for tiny layers
    path = write_archive(tmp_path / "a.tar", LEAKY)
    options = ImageOptions()
    cache = LayerCache(tmp_path / "cache" / "layers.sqlite", ruleset_version(engine, options))
    assert oct((tmp_path / "cache" / "layers.sqlite").stat().st_mode & 0o777) == "0o600"
    first = scan_images(engine, [f"docker-archive:{path}"], options, cache=cache, jobs=2)
    image = docker_archive(str(path))[0]
    again = scan_layers(engine, image.layers, options, cache=cache)
    assert all(s.cached for s in again.values())
    second = scan_images(engine, [f"docker-archive:{path}"], options, cache=cache)
    assert [(f.identity, f.location.deleted, f.redacted) for f in second.findings] == [
        (f.identity, f.location.deleted, f.redacted) for f in first.findings
    ]
    # The cache keeps no value: a finding served from it has none to show.
    layer_files = [f for f in second.findings if f.location.origin == Origin.LAYER_FILE]
    assert layer_files and all(f.secret.raw == b"" for f in layer_files)
    cache.close()


def test_layer_cache_files_are_private_even_under_umask_0(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = tmp_path / "xdg" / "leakguard" / "layers.sqlite"
    path.parent.mkdir(parents=True, mode=0o777)
    path.touch(mode=0o666)
    os.chmod(path, 0o666)  # left loose by an older run or another tool
    old = os.umask(0)
    try:
        cache = LayerCache(path, ruleset_version(engine, ImageOptions()))
        cache.close()
    finally:
        os.umask(old)
    for private in path.parent.iterdir():
        assert private.stat().st_mode & 0o777 == 0o600, private.name
    assert path.parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_layer_cache_that_is_not_a_regular_file_is_refused_untouched(tmp_path, kind):
    import stat

    if kind == "device" and os.geteuid() != 0:
        pytest.skip("mknod of a device needs root")
    node = tmp_path / kind
    if kind == "device":  # a copy of /dev/null's node: the real one is never touched
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    else:
        os.mkfifo(node)
    before = os.lstat(node)
    archive = write_archive(tmp_path / "a.tar", LEAKY)
    code, out, err = run("image", "--cache", str(node), f"docker-archive:{archive}")
    assert code == 3
    assert err.splitlines()[0] == f"leakguard: error: layer cache {node}: not a regular file"
    after = os.lstat(node)
    assert (after.st_ino, after.st_mode, after.st_rdev) == (
        before.st_ino,
        before.st_mode,
        before.st_rdev,
    )
    assert sorted(os.listdir(tmp_path)) == ["a.tar", kind]  # no journal beside it


def test_cli_json_report_and_no_secrets_in_output(tmp_path):
    path = write_archive(tmp_path / "a.tar", LEAKY)
    code, out, err = run(
        "image", "--cache", str(tmp_path / "c.sqlite"), "-f", "json", f"docker-archive:{path}"
    )
    assert code == 1
    report = json.loads(out)
    import jsonschema

    schema = Path(__file__).parents[2] / "leakguard" / "formats" / "report.schema.json"
    jsonschema.validate(report, json.loads(schema.read_text()))
    deleted = {f["location"]["path"]: f["location"]["deleted"] for f in report["findings"]}
    assert deleted["/app/.npmrc"] is True and deleted["/app/keep.py"] is False
    for secret in (NPM_TOKEN, GITHUB_PAT, STRIPE_KEY, AWS_KEY_ID):
        assert secret not in out + err


# -- real images built by the Docker engine ---------------------------------------------

SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"


def _build(
    client: Any,
    tag: str,
    dockerfile: str,
    files: dict[str, str | bytes],
    buildargs: dict[str, str] | None = None,
) -> str:
    context = build_context({"Dockerfile": dockerfile, **files})
    client.images.build(
        fileobj=io.BytesIO(context),
        custom_context=True,
        tag=tag,
        rm=True,
        buildargs=buildargs or {},
    )
    return tag


@pytest.fixture(scope="module")
def leaky_image(dockerd, busybox_image):  # noqa: F811
    dockerfile = f"""FROM {busybox_image}
COPY .npmrc /root/.npmrc
COPY .git-credentials /root/.git-credentials
COPY id_ed25519 /root/.ssh/id_ed25519
COPY bundle.tgz /opt/bundle.tgz
COPY app.zip /opt/app.zip
RUN rm /root/.npmrc
ARG NPM_TOKEN
RUN echo "$NPM_TOKEN" | wc -c > /len
ENV STRIPE_KEY={STRIPE_KEY}
LABEL org.example.aws={AWS_KEY_ID}
"""
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("settings.py", f'GH = "{GITHUB_PAT}"\n')
    files: dict[str, str | bytes] = {
        ".npmrc": f"//registry.npmjs.org/:_authToken={NPM_TOKEN}\n",
        ".git-credentials": f"https://bot:{GITHUB_PAT}@github.com\n",
        "id_ed25519": SSH_KEY,
        "bundle.tgz": gzip.compress(layer_tar([file("deploy/.env", f"STRIPE={STRIPE_KEY}\n")])),
        "app.zip": zipped.getvalue(),
    }
    return _build(dockerd, "leakguard-test/leaky:1", dockerfile, files, {"NPM_TOKEN": NPM_TOKEN})


def _summary(result: ScanResult) -> set[tuple[Any, ...]]:
    return {
        (
            f.rule_id,
            f.location.path,
            f.location.layer,
            f.location.origin,
            f.location.deleted,
            f.fingerprint,
        )
        for f in result.findings
    }


@pytest.mark.docker
@pytest.mark.registry
def test_real_image_through_all_four_references(engine, leaky_image, registry, tmp_path):  # noqa: F811
    daemon = scan(engine, f"docker-daemon:{leaky_image}", jobs=2)
    archive = tmp_path / "leaky.tar"
    subprocess.run([DOCKER, "save", "-o", str(archive), leaky_image], check=True)
    subprocess.run(
        [SKOPEO, "copy", "-q", f"docker-archive:{archive}", f"oci:{tmp_path / 'oci'}:v1"],
        check=True,
    )
    subprocess.run(
        [
            SKOPEO,
            "copy",
            "-q",
            "--dest-tls-verify=false",
            f"docker-archive:{archive}",
            f"docker://{registry}/leaky/app:1",
        ],
        check=True,
    )
    results = {
        "daemon": daemon,
        "archive": scan(engine, f"docker-archive:{archive}"),
        "oci": scan(engine, f"oci:{tmp_path / 'oci'}:v1"),
        "registry": scan(engine, f"docker://{registry}/leaky/app:1", jobs=2),
    }
    for name, result in results.items():
        assert not result.skipped, (name, result.skipped)
        assert _summary(result) == _summary(daemon), name
    found = {(f.location.path, f.location.deleted) for f in daemon.findings}
    assert ("/root/.npmrc", True) in found  # COPY, then RUN rm: still there
    assert ("/root/.git-credentials", False) in found
    assert ("/root/.ssh/id_ed25519", False) in found
    assert ("/opt/bundle.tgz!/deploy/.env", False) in found
    assert ("/opt/app.zip!/settings.py", False) in found
    assert ("ENV STRIPE_KEY", False) in found and ("LABEL org.example.aws", False) in found
    history = {f.secret.reveal() for f in daemon.findings if f.location.origin is Origin.HISTORY}
    assert NPM_TOKEN in history  # the build arg, recorded in `RUN |1 NPM_TOKEN=...`


@pytest.mark.docker
def test_cli_on_the_daemon_and_bare_name(leaky_image):
    code, out, err = run("image", "--no-cache", f"docker-daemon:{leaky_image}")
    assert code == 1 and "/root/.npmrc" in out, err
    code, out, _ = run("image", "--no-cache", leaky_image)
    assert code == 1 and "/root/.npmrc" in out
    code, _, err = run("image", "--no-cache", "docker-daemon:leakguard-test/absent:9")
    assert code == 3 and "no such image" in err


@pytest.mark.docker
def test_multi_stage_secret_stays_in_the_builder(engine, dockerd, busybox_image):  # noqa: F811
    dockerfile = f"""FROM {busybox_image} AS builder
COPY .npmrc /root/.npmrc
RUN wc -c /root/.npmrc > /out.txt
FROM {busybox_image}
COPY --from=builder /out.txt /out.txt
"""
    tag = _build(
        dockerd,
        "leakguard-test/multistage:1",
        dockerfile,
        {".npmrc": f"//registry.npmjs.org/:_authToken={NPM_TOKEN}\n"},
    )
    result = scan(engine, f"docker-daemon:{tag}")
    assert result.findings == [] and not result.skipped


@pytest.mark.docker
def test_buildkit_secret_mount_leaves_the_image_clean(engine, dockerd, busybox_image, tmp_path):  # noqa: F811
    # no `# syntax=` line: that would fetch a frontend image; the built-in one knows --mount
    (tmp_path / "Dockerfile").write_text(
        f"FROM {busybox_image}\nRUN --mount=type=secret,id=npm wc -c /run/secrets/npm > /len\n"
    )
    (tmp_path / "npm.txt").write_text(NPM_TOKEN)
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    done = subprocess.run(
        [
            DOCKER,
            "build",
            "-q",
            "-t",
            "leakguard-test/bksecret:1",
            "--secret",
            f"id=npm,src={tmp_path / 'npm.txt'}",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = scan(engine, "docker-daemon:leakguard-test/bksecret:1")
    assert result.findings == [] and not result.skipped


def test_layers_shared_with_a_base_are_marked_inherited_or_skipped(engine, tmp_path):
    base_layer = layer_tar([file("etc/vendor.env", f"GH={GITHUB_PAT}\n")])
    own_layer = layer_tar([file("app/app.env", f"STRIPE={STRIPE_KEY}\n")])
    base = write_archive(tmp_path / "base.tar", Spec(layers=[base_layer]), tag="vendor/base:1")
    app = write_archive(tmp_path / "app.tar", Spec(layers=[base_layer, own_layer]))
    refs = [f"docker-archive:{base}", f"docker-archive:{app}"]
    result = scan_images(engine, refs, ImageOptions(), find_bases=True)
    vendor = {f.location.image: f for f in result.findings if f.location.path == "/etc/vendor.env"}
    assert "inherited from vendor/base:1" in vendor["demo/app:1"].message
    assert vendor["demo/app:1"].location.inherited == "vendor/base:1"
    assert "inherited" not in vendor["vendor/base:1"].message
    assert vendor["vendor/base:1"].location.inherited is None
    skipped = scan_images(engine, refs, ImageOptions(), skip_inherited=True)
    paths = {(f.location.image, f.location.path) for f in skipped.findings}
    assert ("demo/app:1", "/etc/vendor.env") not in paths  # left to the base's own report
    assert ("vendor/base:1", "/etc/vendor.env") in paths and ("demo/app:1", "/app/app.env") in paths


def write_oci_index(
    folder: Path, platforms: dict[str, Spec], provenance: dict[str, Any], *, signed: bool = False
) -> Path:
    """An OCI layout whose tag `v1` is an index: one image per platform, and a BuildKit-style
    attestation manifest (in-toto SLSA provenance) attached to the first one; `signed`: the
    statement in a DSSE envelope, as signing tools store it."""
    blobs = folder / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> str:
        digest = sha(data)
        (blobs / digest.split(":")[1]).write_bytes(data)
        return digest

    def manifest(config: bytes, layers: list[tuple[str, bytes]]) -> tuple[str, int]:
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": put(config),
                    "size": len(config),
                },
                "layers": [
                    {"mediaType": media, "digest": put(data), "size": len(data)}
                    for media, data in layers
                ],
            }
        ).encode()
        return put(body), len(body)

    entries = []
    for platform, spec in platforms.items():
        os_name, arch = platform.split("/")
        layers = [
            ("application/vnd.oci.image.layer.v1.tar+gzip", gzip.compress(t, mtime=0))
            for t in spec.layers
        ]
        digest, size = manifest(spec.config(), layers)
        entries.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest,
                "size": size,
                "platform": {"os": os_name, "architecture": arch},
            }
        )
    statement = json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "predicate": provenance,
        }
    ).encode()
    media = "application/vnd.in-toto+json"
    if signed:
        media = "application/vnd.dsse.envelope.v1+json"
        statement = json.dumps(
            {
                "payloadType": "application/vnd.in-toto+json",
                "payload": base64.b64encode(statement).decode(),
                "signatures": [{"keyid": "", "sig": base64.b64encode(b"sig" * 20).decode()}],
            }
        ).encode()
    attestation_config = json.dumps(
        {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha(statement)]},
        }
    ).encode()
    digest, size = manifest(attestation_config, [(media, statement)])
    entries.append(
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": size,
            "platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": entries[0]["digest"],
            },
        }
    )
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }
    ).encode()
    top = {
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": put(index),
        "size": len(index),
        "annotations": {"org.opencontainers.image.ref.name": "v1"},
    }
    (folder / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return folder


PLATFORMS = {
    "linux/amd64": Spec(layers=[layer_tar([file("app/amd64.env", f"GH={GITHUB_PAT}\n")])]),
    "linux/arm64": Spec(layers=[layer_tar([file("app/arm64.env", f"STRIPE={STRIPE_KEY}\n")])]),
}
PROVENANCE = {
    "buildType": "https://mobyproject.org/buildkit@v1",
    "invocation": {
        "parameters": {"frontend": "dockerfile.v0", "args": {"build-arg:NPM_TOKEN": NPM_TOKEN}}
    },
}


@pytest.mark.parametrize("signed", [False, True], ids=["in-toto", "dsse-signed"])
def test_every_platform_of_an_index_and_its_attestation(engine, tmp_path, signed):
    folder = write_oci_index(tmp_path / "multi", PLATFORMS, PROVENANCE, signed=signed)
    result = scan(engine, f"oci:{folder}:v1")
    seen = {(f.location.image, f.location.path) for f in result.findings}
    assert (f"oci:{folder}:v1 (linux/amd64)", "/app/amd64.env") in seen
    assert (f"oci:{folder}:v1 (linux/arm64)", "/app/arm64.env") in seen
    attested = [f for f in result.findings if f.location.origin is Origin.ATTESTATION]
    assert [f.secret.reveal() for f in attested] == [NPM_TOKEN]  # the build arg, from provenance
    assert not result.skipped
    one = scan(engine, f"oci:{folder}:v1", ImageOptions(platform="linux/arm64"))
    assert {f.location.path for f in one.findings if f.location.layer} >= {"/app/arm64.env"}
    assert "/app/amd64.env" not in {f.location.path for f in one.findings}
    with pytest.raises(TargetUnreadable) as absent:  # asked for and absent: never a clean scan
        scan(engine, f"oci:{folder}:v1", ImageOptions(platform="linux/s390x"))
    assert "no linux/s390x image (it has: linux/amd64, linux/arm64)" in absent.value.message


@pytest.mark.registry
def test_multi_platform_index_through_a_registry(engine, registry, tmp_path):  # noqa: F811
    folder = write_oci_index(tmp_path / "multi", PLATFORMS, PROVENANCE)
    subprocess.run(
        [
            SKOPEO,
            "copy",
            "-q",
            "--all",
            "--dest-tls-verify=false",
            f"oci:{folder}:v1",
            f"docker://{registry}/multi/app:v1",
        ],
        check=True,
    )
    result = scan(engine, f"docker://{registry}/multi/app:v1")
    paths = {f.location.path for f in result.findings}
    assert {"/app/amd64.env", "/app/arm64.env"} <= paths
    assert any(f.location.origin is Origin.ATTESTATION for f in result.findings)
    code, out, _ = run(
        "image", "--no-cache", "--platform", "linux/amd64", f"{registry}/multi/app:v1"
    )
    assert code == 1 and "/app/amd64.env" in out and "/app/arm64.env" not in out


def test_zip_bomb_inside_a_layer_is_bounded(engine, tmp_path):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(100):
            z.writestr(f"zeros{i}.txt", b"0" * (8 * 1024 * 1024))  # 800 MiB in ~800 KiB
    spec = Spec(
        layers=[
            layer_tar(
                [file("opt/bomb.zip", bomb.getvalue()), file("opt/real.env", f"GH={GITHUB_PAT}\n")]
            )
        ]
    )
    path = write_archive(tmp_path / "a.tar", spec)
    started = time.monotonic()
    result = scan(engine, f"docker-archive:{path}", ImageOptions(max_file_size=16 * 1024 * 1024))
    assert time.monotonic() - started < 20
    assert "/opt/real.env" in by_path(result)
    assert any("zip bomb" in s.reason and s.error for s in result.skipped)


def test_a_missing_layer_blob_is_reported_and_the_other_layers_scanned(engine, tmp_path):
    spec = Spec(
        layers=[
            layer_tar([file("a.env", f"GH={GITHUB_PAT}\n")]),
            layer_tar([file("b.env", f"S={STRIPE_KEY}\n")]),
        ]
    )
    folder = write_oci(tmp_path / "o", spec)
    manifest = json.loads((folder / "index.json").read_text())["manifests"][0]["digest"]
    blobs = folder / "blobs" / "sha256"
    first = json.loads((blobs / manifest.split(":")[1]).read_bytes())["layers"][0]["digest"]
    (blobs / first.split(":")[1]).unlink()
    code, out, err = run("image", "--no-cache", f"oci:{folder}:v1")
    assert code == 3 and "/b.env" in out and "is missing" in out, out + err


@dataclass
class HostileConfig(Spec):
    """A spec whose config is replaced by hand-made bytes."""

    raw: bytes = b""

    def config(self) -> bytes:
        return self.raw


DEEP = 200_000


def test_a_config_nested_without_end_is_reported_and_the_layers_still_scanned(tmp_path):
    deep = b"[" * DEEP + b"]" * DEEP
    spec = HostileConfig(layers=LEAKY.layers, raw=b'{"config": {"Labels": {"x": ' + deep + b"}}}")
    for ref in (
        f"docker-archive:{write_archive(tmp_path / 'deep.tar', spec)}",
        f"oci:{write_oci(tmp_path / 'oci', spec)}:v1",
    ):
        for fmt in ("text", "json"):
            code, out, err = run("image", "--no-cache", "-f", fmt, ref)
            assert code == 3, (ref, err)
            assert "internal error" not in err and "Traceback" not in err
        report = json.loads(out)
        assert {f["location"]["path"] for f in report["findings"]} >= {"/app/keep.py"}
        [skipped] = report["skipped"]
        assert skipped["reason"] == "not JSON: nested more than 100 levels deep"


def test_a_config_of_the_wrong_shapes_is_read_as_far_as_it_goes(tmp_path):
    raw = json.dumps(
        {
            "config": {
                "Env": f"STRIPE_KEY={STRIPE_KEY}",
                "Labels": ["x"],
                "Healthcheck": {"Test": 3},
            },
            "history": [1, None, {"created_by": f"/bin/sh -c echo {GITHUB_PAT}"}],
            "rootfs": {"diff_ids": 7},
        }
    ).encode()
    path = write_archive(tmp_path / "odd.tar", HostileConfig(layers=LEAKY.layers, raw=raw))
    code, out, err = run("image", "--no-cache", "-f", "json", f"docker-archive:{path}")
    assert code == 1, err
    paths = {f["location"]["path"] for f in json.loads(out)["findings"]}
    assert {"ENV STRIPE_KEY", "/app/keep.py"} <= paths
    assert any(p.startswith("history[2]") for p in paths)


def test_a_manifest_nested_without_end_is_one_line_and_exit_3(tmp_path):
    path = tmp_path / "deep.tar"
    with tarfile.open(path, "w") as tar:
        data = b'[{"Config": "c.json", "X": ' + b"[" * DEEP + b"]" * DEEP + b"}]"
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    code, out, err = run("image", "--no-cache", f"docker-archive:{path}")
    assert code == 3
    assert err.strip().splitlines()[0] == (
        f"leakguard: error: {path}: manifest.json is not JSON: nested more than 100 levels deep"
    )


@pytest.mark.parametrize("tar_format", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_member_names_that_are_not_utf8_read_as_backslash_x(tmp_path, tar_format):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tar_format, errors="surrogateescape") as tar:
        data = f"GH_TOKEN={GITHUB_PAT}\n".encode()
        info = tarfile.TarInfo(os.fsdecode(b"app/cred\xff.env"))
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    # and a config that spells a lone surrogate, which no UTF-8 text can hold
    raw = json.dumps(
        {"config": {"Labels": {"k\ud800": "v"}}, "rootfs": {"diff_ids": [sha(buf.getvalue())]}}
    ).encode()
    archive = write_archive(tmp_path / "a.tar", HostileConfig(layers=[buf.getvalue()], raw=raw))
    # with a cache, the first format fills it and the others read the layer from it
    for cache in (["--no-cache"], ["--cache", str(tmp_path / "c.sqlite")]):
        outputs = {}
        for fmt in ("text", "json", "sarif"):
            code, out, err = run("image", *cache, "-f", fmt, f"docker-archive:{archive}")
            assert code == 1, err
            out.encode("utf-8")  # strict: nothing that is not valid UTF-8
            outputs[fmt] = out
        assert "/app/cred\\xff.env" in outputs["text"]
        [finding] = json.loads(outputs["json"])["findings"]
        assert finding["location"]["path"] == "/app/cred\\xff.env"
        assert '"uri": "app/cred%FF.env"' in outputs["sarif"]


def test_command_lines_in_layers_are_read_like_a_scan_of_files(engine, tmp_path):
    password = "Lq9" + "vX2mHunter"
    other = "W7q" + "Lz2Pp9xk"
    spec = Spec(layers=[layer_tar([
        file("usr/local/bin/deploy.sh", f"#!/bin/sh\nsshpass -p {password} ssh deploy@host\n"),
        file("opt/release", f"#!/bin/bash\necho go\nsshpass -p {other} ssh h\n"),
        file("opt/ci.sh", f"curl -u ci:{GITHUB_PAT} https://x.example\n"),
    ])])  # fmt: skip
    result = scan(engine, f"docker-archive:{write_archive(tmp_path / 'a.tar', spec)}")
    found = sorted((f.location.path, f.location.line, f.rule_id) for f in result.findings)
    assert found == [
        ("/opt/ci.sh", 1, "github-pat"),  # once: the token, not again as a command credential
        ("/opt/release", 3, "command-credential"),
        ("/usr/local/bin/deploy.sh", 2, "command-credential"),
    ]
    assert all(f.location.layer == sha(spec.layers[0]) for f in result.findings)


def test_the_quoted_instruction_never_carries_a_value_detection_missed(engine, tmp_path):
    missed = "Zk3" + "pQ9xLmW2vB7"  # no rule knows this shape, and no name says what it is
    word = "sword" + "fishes"  # a plain word, only after a credential option
    spec = Spec(
        layers=[layer_tar([file("app/keep.py", f'TOKEN = "{GITHUB_PAT}"\n')])],
        history=[f"/bin/sh -c echo {missed} > /etc/app.conf && mysql -u root -p{word} -e 1"],
    )
    result = scan(engine, f"docker-archive:{write_archive(tmp_path / 'a.tar', spec)}")
    assert missed not in {f.secret.reveal() for f in result.findings}  # detection misses it
    [finding] = [f for f in result.findings if f.location.path == "/app/keep.py"]
    assert "layer 1 of 1: RUN echo <redacted> > /etc/app.conf" in finding.message
    assert missed not in finding.message and word not in finding.message
    assert missed[:6] not in finding.message
