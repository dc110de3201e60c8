"""The registry client against a real distribution registry, and against a fake one
(FakeRegistry: the v2 API served from memory) for auth flows and misbehaviour that a
real registry does not produce on demand: 500s, hangs, altered blobs, token auth."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from leakguard.errors import ExitCode
from leakguard.registry import Reference, RegistryClient, RegistryError, credentials_for
from leakguard.registry.client import DOCKER_MANIFEST, OCI_MANIFEST, sha256_digest
from tests.conftest import GITHUB_PAT, PASSWORD
from tests.detectors.test_image import Spec, file, layer_tar, write_archive
from tests.services import free_port, registry  # noqa: F401
from tests.test_cli import run

SKOPEO = "/usr/bin/skopeo"


# -- a fake registry ----------------------------------------------------------------------


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is the point of some tests


class FakeRegistry:
    """Registry v2 endpoints over blobs in memory, with switchable misbehaviour."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[str, tuple[str, bytes]] = {}  # tag or digest -> (type, body)
        self.auth: str | None = None  # None, "basic" or "bearer"
        self.user, self.password = "robot", "s3cret-pass"
        self.token = "tok-" + os.urandom(8).hex()
        self.fail_next = 0  # answer this many requests with 500
        self.hang = 0.0  # sleep this long before answering
        self.alter_blobs = False
        self.catalog: bytes | None = None  # the body /v2/_catalog answers, if any
        self.requests: list[str] = []
        self.port = free_port()
        self.server = _QuietServer(("127.0.0.1", self.port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def add_image(self, repo: str, tag: str, tar: bytes, config: dict[str, Any]) -> str:
        import gzip

        layer = gzip.compress(tar, mtime=0)
        config_bytes = json.dumps(config).encode()
        self.blobs[sha256_digest(layer)] = layer
        self.blobs[sha256_digest(config_bytes)] = config_bytes
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "digest": sha256_digest(config_bytes),
                    "size": len(config_bytes),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "digest": sha256_digest(layer),
                        "size": len(layer),
                    }
                ],
            }
        ).encode()
        digest = sha256_digest(manifest)
        self.manifests[f"{repo}:{tag}"] = (DOCKER_MANIFEST, manifest)
        self.manifests[f"{repo}:{digest}"] = (DOCKER_MANIFEST, manifest)
        return digest

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def authorized(self) -> bool:
                header = self.headers.get("Authorization", "")
                basic = (
                    "Basic " + base64.b64encode(f"{fake.user}:{fake.password}".encode()).decode()
                )
                if fake.auth == "basic":
                    if header == basic:
                        return True
                    self.send(401, b"{}", {"WWW-Authenticate": 'Basic realm="fake"'})
                    return False
                if fake.auth == "bearer":
                    if header == f"Bearer {fake.token}":
                        return True
                    realm = f"http://{fake.host}/token"
                    self.send(
                        401, b"{}", {"WWW-Authenticate": f'Bearer realm="{realm}",service="fake"'}
                    )
                    return False
                return True

            def do_GET(self) -> None:  # noqa: N802
                fake.requests.append(self.path)
                if fake.hang:
                    time.sleep(fake.hang)
                if fake.fail_next > 0:
                    fake.fail_next -= 1
                    self.send(500, b"oops")
                    return
                if self.path.startswith("/token"):
                    basic = (
                        "Basic "
                        + base64.b64encode(f"{fake.user}:{fake.password}".encode()).decode()
                    )
                    if self.headers.get("Authorization") != basic:
                        self.send(401, b"{}")
                        return
                    self.send(200, json.dumps({"token": fake.token}).encode())
                    return
                if not self.authorized():
                    return
                parts = self.path.split("?")[0].split("/")
                if self.path == "/v2/":
                    self.send(200, b"{}")
                elif parts[:3] == ["", "v2", "_catalog"] and fake.catalog is not None:
                    self.send(200, fake.catalog, {"Content-Type": "application/json"})
                elif "manifests" in parts:
                    i = parts.index("manifests")
                    key = "/".join(parts[2:i]) + ":" + parts[i + 1]
                    if key not in fake.manifests:
                        self.send(404, b"{}")
                        return
                    media, body = fake.manifests[key]
                    self.send(
                        200,
                        body,
                        {"Content-Type": media, "Docker-Content-Digest": sha256_digest(body)},
                    )
                elif "blobs" in parts:
                    digest = parts[-1]
                    if digest not in fake.blobs:
                        self.send(404, b"{}")
                        return
                    body = fake.blobs[digest]
                    if fake.alter_blobs:
                        body = body[:-1] + bytes([body[-1] ^ 1])
                    self.send(200, body)
                else:
                    self.send(404, b"{}")

        return Handler


@pytest.fixture
def fake_registry() -> Iterator[FakeRegistry]:
    fake = FakeRegistry()
    try:
        yield fake
    finally:
        fake.close()


CONFIG = {"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"diff_ids": []}}


def _image(fake: FakeRegistry) -> str:
    tar = layer_tar([file("app/.env", f"GH={GITHUB_PAT}\n")])
    config = {**CONFIG, "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]}}
    return fake.add_image("team/app", "1", tar, config)


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "docker-config"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    return folder


# -- references ----------------------------------------------------------------------------


def test_reference_parsing():
    ref = Reference.parse("docker://127.0.0.1:5000/team/app:1.2")
    assert (ref.host, ref.repository, ref.tag, ref.reference) == (
        "127.0.0.1:5000",
        "team/app",
        "1.2",
        "1.2",
    )
    digest = "sha256:" + "a" * 64
    assert Reference.parse(f"localhost:5000/app@{digest}").reference == digest
    assert Reference.parse("alpine").repository == "library/alpine"
    with pytest.raises(Exception, match="not a valid"):
        Reference.parse("127.0.0.1:5000/UPPER:1")


@pytest.mark.parametrize(
    "args",
    [
        ("image", "docker://ci:{pw}@127.0.0.1:9/team/app:1"),
        ("sweep", "https://ci:{pw}@127.0.0.1:9"),
        ("sweep", "ci:{pw}@127.0.0.1:9"),
        ("image", "ci:{pw}@reg.example.com"),  # no path after the host
        ("image", "https://ci:pa/{pw}@reg.example.com/app:1"),  # a `/` in the password
        ("sweep", "https://ci:pa/{pw}@reg.example.com"),
    ],
)
def test_credentials_in_a_registry_address_are_refused_and_never_echoed(args):
    password = PASSWORD
    code, out, err = run(*(a.format(pw=password) for a in args))
    assert code == 2
    assert "must not carry credentials" in err and "docker login" in err
    assert password not in out + err


@pytest.mark.parametrize(
    ("given", "message"),
    [("", "no registry named"), ("127.0.0.1:9/team", "is not HOST[:PORT]")],
)
def test_sweep_wants_one_registry_host(given, message):
    code, _, err = run("sweep", given)
    assert code == 2 and message in err and "Traceback" not in err


def test_sweep_takes_a_registry_url(registry):  # noqa: F811
    code, out, err = run("sweep", f"http://{registry}/", "-f", "json")
    assert code in (0, 1), err  # other tests may have pushed leaky images
    assert "swept" in err and "http://http" not in err


def test_a_registry_that_accepts_and_never_answers_is_reported_quickly():
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # the kernel accepts connections; nobody ever answers
    host = f"127.0.0.1:{server.getsockname()[1]}"
    try:
        started = time.monotonic()
        code, _, err = run("image", "--no-cache", "--timeout", "1", f"docker://{host}/team/app:1")
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert code == 3 and "timed out" in err
    assert elapsed < 10, elapsed  # two attempts of one second, plus a short back-off


# -- auth -------------------------------------------------------------------------------


def test_bearer_token_flow_with_credentials_from_docker_config(fake_registry, docker_config):
    digest = _image(fake_registry)
    fake_registry.auth = "bearer"
    auth = base64.b64encode(f"{fake_registry.user}:{fake_registry.password}".encode()).decode()
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {fake_registry.host: {"auth": auth}}})
    )
    client = RegistryClient(fake_registry.host)
    manifest = client.manifest("team/app", "1")
    assert manifest.digest == digest
    assert any(p.startswith("/token") for p in fake_registry.requests)


def test_missing_credentials_give_a_401_with_a_login_hint(fake_registry, docker_config):
    _image(fake_registry)
    fake_registry.auth = "basic"
    with pytest.raises(RegistryError, match="authentication required") as info:
        RegistryClient(fake_registry.host).manifest("team/app", "1")
    assert "docker login" in (info.value.hint or "")
    code, _out, err = run("image", "--no-cache", f"docker://{fake_registry.host}/team/app:1")
    assert code == 3 and "HTTP 401" in err and "docker login" in err


def test_a_broken_docker_config_is_named_not_silently_ignored(fake_registry, docker_config, caplog):
    _image(fake_registry)
    fake_registry.auth = "basic"
    (docker_config / "config.json").write_text('{"auths": {')
    with pytest.raises(RegistryError, match="authentication required"):
        RegistryClient(fake_registry.host).manifest("team/app", "1")
    assert any("config.json" in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)  # fmt: skip


def test_basic_auth_through_a_credential_helper(
    fake_registry, docker_config, monkeypatch, tmp_path
):
    _image(fake_registry)
    fake_registry.auth = "basic"
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text(
        "#!/bin/sh\nread server\n"
        f'printf \'{{"ServerURL":"%s","Username":"{fake_registry.user}",'
        f'"Secret":"{fake_registry.password}"}}\' "$server"\n'
    )
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
    (docker_config / "config.json").write_text(json.dumps({"credsStore": "fake"}))
    assert credentials_for(fake_registry.host) == (fake_registry.user, fake_registry.password)
    code, out, err = run("image", "--no-cache", f"docker://{fake_registry.host}/team/app:1")
    assert code == 1 and "/app/.env" in out, err


# -- misbehaving registries -----------------------------------------------------------------


def test_5xx_are_retried_with_backoff(fake_registry):
    digest = _image(fake_registry)
    fake_registry.fail_next = 2
    client = RegistryClient(fake_registry.host, backoff=0.01)
    assert client.manifest("team/app", "1").digest == digest


def test_a_registry_that_keeps_failing_or_hangs_gives_exit_3(fake_registry):
    _image(fake_registry)
    fake_registry.fail_next = 100
    with pytest.raises(RegistryError, match="HTTP 500"):
        RegistryClient(fake_registry.host, backoff=0.01, retries=2).manifest("team/app", "1")
    fake_registry.fail_next = 0
    fake_registry.hang = 3
    started = time.monotonic()
    with pytest.raises(RegistryError, match="timed out"):
        RegistryClient(fake_registry.host, timeout=0.5, retries=1, backoff=0.01).ping()
    assert time.monotonic() - started < 10


def test_altered_blob_is_rejected(fake_registry):
    _image(fake_registry)
    fake_registry.alter_blobs = True
    code, out, err = run("image", "--no-cache", f"docker://{fake_registry.host}/team/app:1")
    assert code == 3, out + err
    assert "does not match its digest" in out + err


def test_manifest_that_does_not_match_its_digest_is_rejected(fake_registry):
    digest = _image(fake_registry)
    media, body = fake_registry.manifests["team/app:1"]
    fake_registry.manifests[f"team/app:{digest}"] = (media, body + b" ")
    with pytest.raises(RegistryError, match="does not match its digest"):
        RegistryClient(fake_registry.host).manifest("team/app", digest)


def test_connection_refused_is_quick_and_clear():
    started = time.monotonic()
    with pytest.raises(RegistryError, match="connection refused") as info:
        RegistryClient(f"127.0.0.1:{free_port()}").ping()
    assert time.monotonic() - started < 5 and "listening" in (info.value.hint or "")


def test_plain_http_only_for_loopback_unless_insecure():
    assert RegistryClient("127.0.0.1:5000").scheme == "http"
    assert RegistryClient("localhost:5000").scheme == "http"
    assert RegistryClient("registry.example.com").scheme == "https"
    assert RegistryClient("registry.example.com", insecure=True).scheme == "http"


# -- a real registry ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pushed(registry, tmp_path_factory) -> str:  # noqa: F811
    """Three repositories, two tags each, pushed with skopeo."""
    folder = tmp_path_factory.mktemp("push")
    for n in range(3):
        spec = Spec(layers=[layer_tar([file(f"srv/{n}.env", f"GH={GITHUB_PAT}\n")])])
        archive = write_archive(folder / f"{n}.tar", spec)
        for tag in ("1", "2"):
            subprocess.run(
                [
                    SKOPEO,
                    "copy",
                    "-q",
                    "--dest-tls-verify=false",
                    f"docker-archive:{archive}",
                    f"docker://{registry}/client/r{n}:{tag}",
                ],
                check=True,
            )
    return str(registry)


@pytest.mark.registry
def test_catalog_and_tags_follow_pagination(pushed):
    client = RegistryClient(pushed)
    client.ping()
    repos = [r for r in client.catalog(page_size=1) if r.startswith("client/")]
    assert repos == ["client/r0", "client/r1", "client/r2"]
    assert sorted(client.tags("client/r1", page_size=1)) == ["1", "2"]


@pytest.mark.registry
def test_manifest_and_streamed_blob_are_verified(pushed):
    client = RegistryClient(pushed)
    manifest = client.manifest("client/r0", "1")
    assert manifest.media_type in (DOCKER_MANIFEST, OCI_MANIFEST)
    assert client.manifest("client/r0", manifest.digest).data == manifest.data
    layer = manifest.json["layers"][0]["digest"]
    blob = client.blob("client/r0", layer)
    data = b""
    while chunk := blob.read(100):
        data += chunk
    blob.close()
    assert blob.verified and sha256_digest(data) == layer
    with pytest.raises(RegistryError, match="not found"):
        client.manifest("client/r0", "nope")


def test_json_nested_without_end_from_a_registry_or_a_docker_config_is_bad_input(
    fake_registry, docker_config
):
    deep = b"[" * 200_000 + b"]" * 200_000
    (docker_config / "config.json").write_bytes(b'{"auths": ' + deep + b"}")
    assert credentials_for(fake_registry.host) is None  # ignored with a warning, as docker does
    _image(fake_registry)
    fake_registry.manifests["team/app:deep"] = (
        "application/vnd.docker.distribution.manifest.v2+json",
        b'{"schemaVersion": 2, "layers": ' + deep + b"}",
    )
    code, out, err = run("image", "--no-cache", f"docker://{fake_registry.host}/team/app:deep")
    assert code == 3, err
    assert "manifest is not JSON" in err and "internal error" not in err
    code, out, err = run("image", "--no-cache", f"docker://{fake_registry.host}/team/app:1")
    assert code == 1 and "/app/.env" in out, err


@pytest.mark.parametrize(
    "body", [b'{"repositories": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", b"[1, 2]"]
)
def test_a_catalog_nested_without_end_or_of_the_wrong_shape_is_bad_input(fake_registry, body):
    fake_registry.catalog = body
    code, out, err = run("sweep", fake_registry.host)
    assert code in (ExitCode.CLEAN, ExitCode.UNREADABLE), err
    assert "internal error" not in err and "Traceback" not in err
    if body.startswith(b"{"):
        assert code == ExitCode.UNREADABLE and "response is not JSON" in err
