"""Registry access against real registries: retries through a proxy that answers 429/503,
the connection limit as the proxy counts it, a blob damaged in the registry's storage,
htpasswd basic auth, and bearer tokens from an issuer the registry itself verifies."""

from __future__ import annotations

import base64
import email.utils
import gzip
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import GITHUB_PAT, PASSWORD, fake
from tests.detectors.test_image import Spec, file, layer_tar, write_archive
from tests.services import REGISTRY_LOGS, free_port, registry_server

SKOPEO = "/usr/bin/skopeo"
REPOS = 4

pytestmark = pytest.mark.registry


def stripe(n: int) -> str:
    return fake("sk_" + "live_", 24, seed=500 + n)


def push_fleet(host: str, folder: Path, creds: str | None = None) -> None:
    """REPOS repositories of one tag each, sharing a leaky base layer."""
    base = layer_tar([file("etc/base.env", f"GH={GITHUB_PAT}\n")])
    for n in range(REPOS):
        own = layer_tar([file(f"app/{n}.env", f"STRIPE={stripe(n)}\n")])
        archive = write_archive(folder / f"{n}.tar", Spec(layers=[base, own]))
        subprocess.run(
            [SKOPEO, "copy", "-q", "--dest-tls-verify=false",
             *(["--dest-creds", creds] if creds else []),
             f"docker-archive:{archive}", f"docker://{host}/access/app{n}:1"],
            check=True, capture_output=True,
        )  # fmt: skip


def leakguard(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str, float]:
    """The CLI as a process of its own (its worker processes never fork the test's threads)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "leakguard", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def findings(out: str) -> list[tuple[str, str, str]]:
    return sorted(
        (f["rule_id"], f["location"]["image"], f["location"]["path"])
        for f in json.loads(out)["findings"]
    )


# -- a proxy that misbehaves on purpose ----------------------------------------------------


class FaultyProxy:
    """A loopback HTTP proxy in front of a real registry.

    It answers the first `failures` requests itself (429 and 503 in turn, with a
    `Retry-After` in seconds, then as an HTTP date), forwards the others, and counts
    requests in flight and client connections open at once.
    """

    def __init__(self, upstream: str, failures: int = 0, retry_after: bool = True, status: int = 0):
        self.upstream = upstream
        self.status = status  # 0: 429 and 503 in turn
        self.failures = failures
        self.retry_after = retry_after
        self.delay = 0.0  # seconds each forwarded request is held (to make overlap visible)
        self.injected = 0
        self.forwarded = 0
        self.in_flight = self.max_in_flight = 0
        self.open = self.max_open = 0
        self.paths: list[str] = []  # every request's method and path, in the order they came
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: connections are reused, and counted

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with proxy.lock:
                    proxy.open += 1
                    proxy.max_open = max(proxy.max_open, proxy.open)

            def finish(self) -> None:
                with proxy.lock:
                    proxy.open -= 1
                super().finish()

            def do_GET(self) -> None:  # noqa: N802
                self.relay()

            def do_HEAD(self) -> None:  # noqa: N802
                self.relay()

            def relay(self) -> None:
                with proxy.lock:
                    proxy.in_flight += 1
                    proxy.max_in_flight = max(proxy.max_in_flight, proxy.in_flight)
                    proxy.paths.append(f"{self.command} {self.path}")
                    fail = proxy.injected < proxy.failures
                    if fail:
                        proxy.injected += 1
                    number = proxy.injected
                try:
                    if fail:
                        self.refuse(number)
                    else:
                        self.forward()
                finally:
                    with proxy.lock:
                        proxy.in_flight -= 1

            def refuse(self, number: int) -> None:
                status = proxy.status or (429 if number % 2 else 503)
                self.send_response(status)
                if proxy.retry_after:
                    after = (
                        "1"
                        if number % 4 in (1, 2)
                        else email.utils.formatdate(time.time() + 1, usegmt=True)
                    )
                    self.send_header("Retry-After", after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def forward(self) -> None:
                time.sleep(proxy.delay)
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                    upstream.request(self.command, self.path, headers=headers)
                    answer = upstream.getresponse()
                    body = answer.read()
                finally:
                    upstream.close()
                with proxy.lock:
                    proxy.forwarded += 1
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        return Handler


@pytest.fixture(scope="module")
def own_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(host, storage folder) of a registry of this module's own, holding the fleet."""
    root = tmp_path_factory.mktemp("access-registry")
    # Catalog pages of two at most: it refuses a larger n=, and gives a Link to the next.
    with registry_server(root, "catalog:\n  maxentries: 2\n") as host:
        push_fleet(host, root)
        yield host, root / "data"


@pytest.fixture
def proxy_for(own_registry) -> Iterator[Any]:
    made: list[FaultyProxy] = []

    def make(**kw: Any) -> FaultyProxy:
        made.append(FaultyProxy(own_registry[0], **kw))
        return made[-1]

    yield make
    for p in made:
        p.close()


def sweep_args(host: str, *extra: str) -> list[str]:
    return ["sweep", host, "--no-cache", "--no-baseline", "-f", "json", "--repo", "access/*",
            *extra]  # fmt: skip


def test_a_registry_that_caps_its_page_size_is_listed_page_by_page(own_registry):
    host, _ = own_registry
    mark = REGISTRY_LOGS[host].stat().st_size
    code, out, err, _ = leakguard(*sweep_args(host))
    assert code == 1, err
    assert {image for _, image, _ in findings(out)} == {
        f"{host}/access/app{n}:1" for n in range(REPOS)
    }
    log = REGISTRY_LOGS[host].read_text()[mark:]
    assert log.count("GET /v2/_catalog?last=") >= 1  # the Link of each full page followed


def test_a_sweep_through_429_and_503_with_retry_after_completes_with_the_same_findings(
    own_registry, proxy_for
):
    host, _ = own_registry
    code, direct, err, _ = leakguard(*sweep_args(host))
    assert code == 1, err
    proxy = proxy_for(failures=6)  # 429 and 503 in turn; Retry-After as seconds, then dates
    code, out, err, seconds = leakguard(*sweep_args(proxy.host))
    assert code == 1, err
    assert proxy.injected == 6 and proxy.forwarded > 0
    assert findings(out) == [
        (rule, image.replace(host, proxy.host), path) for rule, image, path in findings(direct)
    ]
    assert len(findings(out)) == 2 * REPOS  # the shared base's and each image's own
    assert seconds < 30, seconds  # six waits of about a second each


def test_a_registry_that_always_answers_503_gives_exit_3_within_the_retry_bound(proxy_for):
    proxy = proxy_for(failures=10**9, retry_after=False, status=503)
    code, out, err, seconds = leakguard(*sweep_args(proxy.host, "--max-retry-wait", "3"))
    assert code == 3, err
    assert seconds < 3 + 15, seconds  # the retry budget, plus start-up on a busy machine
    lines = [line for line in err.splitlines() if line.startswith("leakguard: error")]
    assert len(lines) == 1 and "HTTP 503" in lines[0] and proxy.host in lines[0], err
    assert "tries over" in lines[0]
    assert "Traceback" not in err
    # The catalog passed over: each repository's listing is a skipped entry; after the
    # first gave up, the others are tried once each, so the sweep still ends in bounds.
    repos = "".join(f"access/app{n}\n" for n in range(REPOS))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "leakguard", "sweep", proxy.host, "--repos-from", "-",
         "--no-cache", "--max-retry-wait", "3", "-f", "json"],
        input=repos, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    seconds = time.monotonic() - started
    assert done.returncode == 3, done.stderr
    assert seconds < 3 + 15, seconds
    skipped = json.loads(done.stdout)["skipped"]
    assert sorted(s["target"] for s in skipped) == [
        f"{proxy.host}/access/app{n}" for n in range(REPOS)
    ]
    assert all("HTTP 503" in s["reason"] for s in skipped)


@pytest.mark.parametrize("limit", [1, 3])
def test_max_connections_bounds_what_the_registry_sees(own_registry, proxy_for, limit):
    host, _ = own_registry
    proxy = proxy_for()
    proxy.delay = 0.05
    code, out, err, _ = leakguard(*sweep_args(proxy.host, "--max-connections", str(limit)))
    assert code == 1, err
    assert len(findings(out)) == 2 * REPOS
    assert 1 <= proxy.max_in_flight <= limit, (proxy.max_in_flight, limit)
    assert proxy.max_open <= limit, (proxy.max_open, limit)
    if limit > 1:  # the measure can see overlap: the limit is what held it down
        assert proxy.max_in_flight > 1
    image = proxy_for()
    ref = f"docker://{image.host}/access/app2:1"
    code, out, err, _ = leakguard("image", "--no-cache", "--max-connections", str(limit), ref)
    assert code == 1 and "/app/2.env" in out, err
    assert image.max_open <= limit and image.forwarded > 0


# -- a blob damaged in the registry's storage -------------------------------------------------


def test_a_blob_altered_on_the_registrys_disk_is_reported_and_never_cached(own_registry, tmp_path):
    host, data = own_registry
    blobs = data / "docker" / "registry" / "v2" / "blobs" / "sha256"
    # The layer of access/app0's own: the only blob holding its value.
    needle = f"STRIPE={stripe(0)}".encode()
    [target] = [p for p in blobs.glob("*/*/data") if needle in unpacked(p.read_bytes())]
    original = target.read_bytes()
    # Still a valid layer (a tar, compressed as it was), with one character changed.
    changed = unpacked(original).replace(needle, needle[:-1] + b"!")
    altered = gzip.compress(changed, mtime=0) if original[:2] == b"\x1f\x8b" else changed
    cache = str(tmp_path / "layers.sqlite")
    args = ["sweep", host, "--cache", cache, "--no-baseline", "-f", "json", "--repo", "access/*"]
    target.write_bytes(altered)
    try:
        for _ in range(2):  # the second run reads it again: nothing was cached as clean
            code, out, err, _ = leakguard(*args)
            assert code == 3, err
            reasons = [s["reason"] for s in json.loads(out)["skipped"]]
            assert any("does not match its digest" in r for r in reasons), reasons
            code, out, err, _ = leakguard(
                "image", "--cache", cache, "--no-baseline", f"docker://{host}/access/app0:1"
            )
            assert code == 3 and "does not match its digest" in out + err, out + err
    finally:
        target.write_bytes(original)
    code, out, err, _ = leakguard(*args)
    assert code == 1 and not json.loads(out)["skipped"], err
    assert f"{host}/access/app0:1" in {image for _, image, path in findings(out) if "0.env" in path}


def unpacked(blob: bytes) -> bytes:
    return gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob


# -- auth -----------------------------------------------------------------------------------


def docker_config(folder: Path, host: str, user: str, password: str) -> dict[str, str]:
    """The environment for leakguard to find `user`/`password` for `host` in config.json."""
    folder.mkdir(exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return {"DOCKER_CONFIG": str(folder)}


def check_auth(host: str, tmp_path: Path, user: str, password: str) -> None:
    """Right credentials: findings; wrong ones: exit 3, one line naming the registry,
    the password in no output."""
    env = docker_config(tmp_path / "right", host, user, password)
    code, out, err, _ = leakguard(*sweep_args(host), env=env)
    assert code == 1, err
    assert len(findings(out)) == 2 * REPOS
    code, out, err, _ = leakguard("image", "--no-cache", f"docker://{host}/access/app1:1", env=env)
    assert code == 1 and "/app/1.env" in out, err
    wrong = password[::-1]
    # Debug logging on: no password in the logs either.
    env = {**docker_config(tmp_path / "wrong", host, user, wrong), "LEAKGUARD_LOGLEVEL": "DEBUG"}
    for args in (sweep_args(host), ["image", "--no-cache", f"docker://{host}/access/app1:1"]):
        code, out, err, _ = leakguard(*args, env=env)
        assert code == 3, out + err
        lines = [line for line in err.splitlines() if line.startswith("leakguard: error")]
        assert len(lines) == 1 and host in lines[0] and "refused" in lines[0], err
        assert "Traceback" not in err
        assert wrong not in out + err and password not in out + err


def bcrypt_line(user: str, password: str) -> str:
    import bcrypt

    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"


def test_htpasswd_basic_auth(tmp_path):
    user, password = "robot", PASSWORD
    (tmp_path / "htpasswd").write_text(bcrypt_line(user, password))
    auth = f"auth:\n  htpasswd:\n    realm: leakguard-test\n    path: {tmp_path / 'htpasswd'}\n"
    with registry_server(tmp_path, auth) as host:
        push_fleet(host, tmp_path, creds=f"{user}:{password}")
        check_auth(host, tmp_path, user, password)


class TokenIssuer:
    """A token service on loopback: checks a user's password (HTTP basic) and signs a
    JWT (RS256, its certificate in the `x5c` header) granting the scopes asked for.
    The registry verifies each token against its rootcertbundle."""

    SERVICE, ISSUER = "leakguard-test-registry", "leakguard-test-issuer"

    def __init__(self, folder: Path, user: str, password: str):
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leakguard test issuer")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = folder / "issuer.pem"
        self.bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.user, self.password = user, password
        self.issued: list[list[str]] = []  # the scopes of each token given
        self.refused = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def config(self) -> str:
        return (
            "auth:\n  token:\n"
            f"    realm: {self.realm}\n    service: {self.SERVICE}\n"
            f"    issuer: {self.ISSUER}\n    rootcertbundle: {self.bundle}\n"
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def token(self, scopes: list[str]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {
            "iss": self.ISSUER, "sub": self.user, "aud": self.SERVICE, "exp": now + 300,
            "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access,
        }  # fmt: skip
        signed = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
        signature = self.key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signed + "." + b64(signature)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                basic = base64.b64encode(f"{issuer.user}:{issuer.password}".encode()).decode()
                if (
                    url.path != "/token"
                    or query.get("service") != [issuer.SERVICE]
                    or self.headers.get("Authorization") != f"Basic {basic}"
                ):
                    issuer.refused += 1
                    body = b'{"errors": [{"code": "UNAUTHORIZED"}]}'
                    self.send_response(401)
                else:
                    scopes = query.get("scope", [])
                    issuer.issued.append(scopes)
                    body = json.dumps({"token": issuer.token(scopes)}).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def test_bearer_tokens_from_an_issuer_the_registry_verifies(tmp_path):
    user, password = "robot", PASSWORD
    issuer = TokenIssuer(tmp_path, user, password)
    try:
        with registry_server(tmp_path, issuer.config()) as host:
            # The registry itself wants a token, and refuses one it cannot verify.
            request = http.client.HTTPConnection(host, timeout=10)
            request.request("GET", "/v2/_catalog", headers={"Authorization": "Bearer x.y.z"})
            assert request.getresponse().status == 401
            request.close()
            push_fleet(host, tmp_path, creds=f"{user}:{password}")
            before = len(issuer.issued)
            check_auth(host, tmp_path, user, password)
            scopes = {s for given in issuer.issued[before:] for s in given}
            assert "registry:catalog:*" in scopes and "repository:access/app1:pull" in scopes
            assert issuer.refused >= 2  # the wrong password, for the sweep and for the image
    finally:
        issuer.close()
