"""Swarm: values become Swarm secrets (through the API) and the stack references them."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GITHUB_PAT, PASSWORD
from tests.migrators.conftest import Run, docker
from tests.migrators.projects import tree_hashes

pytestmark = pytest.mark.docker


def stack_file(root: Path, app_image: str, db_image: str, suffix: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "docker-compose.yml"
    path.write_text(
        'version: "3.8"\n'
        "services:\n"
        "  app:\n"
        f"    image: {app_image}\n"
        '    command: ["sleep", "600"]\n'
        "    environment:\n"
        f"      GITHUB_TOKEN_{suffix}: {GITHUB_PAT}\n"
        "    deploy:\n"
        "      replicas: 1\n"
        "  db:\n"
        f"    image: {db_image}\n"
        '    command: ["sleep", "600"]\n'
        "    environment:\n"
        f"      POSTGRES_PASSWORD: {PASSWORD}\n"
        "    deploy: {}\n"
    )
    return path


@pytest.fixture(scope="module")
def swarm(dockerd: Any) -> Iterator[Any]:
    """A single-node swarm on loopback (left alone if the engine already is one)."""
    state = dockerd.info()["Swarm"]["LocalNodeState"]
    if state == "inactive":
        docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:0")
    try:
        yield dockerd
    finally:
        if state == "inactive":
            docker("swarm", "leave", "--force", check=False)


def wait_container(dockerd: Any, service: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = dockerd.containers.list(
            filters={"label": f"com.docker.swarm.service.name={service}"}
        )
        if found and found[0].status == "running":
            return found[0]
        time.sleep(0.5)
    tasks = docker("service", "ps", "--no-trunc", service, check=False).stdout
    pytest.fail(f"{service} did not start:\n{tasks}")


def test_the_stack_deploys_and_reads_its_secrets_from_run_secrets(
    tmp_path: Path, leakguard: Callable[..., Run], swarm: Any, busybox_image: str,
    file_env_image: str,
) -> None:  # fmt: skip
    suffix = tmp_path.name[-6:].strip("_").upper() or "X"
    project = tmp_path / "stack"
    compose_file = stack_file(project, busybox_image, file_env_image, suffix)
    name = f"github_token_{suffix.lower()}"
    stack = f"lgmig{suffix.lower()}"
    try:
        run = leakguard("migrate", "--apply", str(project))
        assert run.code == 0, run.err
        text = compose_file.read_text()
        assert GITHUB_PAT not in text and PASSWORD not in text
        assert f"  {name}:\n    external: true\n" in text
        assert "POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password" in text
        assert f"must read /run/secrets/{name}" in run.out
        assert not (project / "secrets").exists()
        secret = swarm.secrets.get(name)
        assert "Data" not in secret.attrs["Spec"]  # the API never gives a value back
        docker("stack", "deploy", "--resolve-image", "never", "-c", str(compose_file), stack)
        app = wait_container(swarm, f"{stack}_app")
        db = wait_container(swarm, f"{stack}_db")
        assert app.exec_run(["cat", f"/run/secrets/{name}"]).output.decode() == GITHUB_PAT
        got = db.exec_run(["sh", "-c", 'cat "$POSTGRES_PASSWORD_FILE"']).output.decode()
        assert got == PASSWORD
        assert "GITHUB_TOKEN" not in " ".join(app.attrs["Config"]["Env"] or [])

        again = leakguard("migrate", "--apply", str(project))
        assert again.code == 0 and "moved 0 secret(s)" in again.err
    finally:
        docker("stack", "rm", stack, check=False)
        for _ in range(60):  # secrets in use cannot be removed until the tasks are gone
            left = [s for s in (name, "postgres_password")
                    if subprocess.run(["/usr/bin/docker", "secret", "rm", s],
                                      capture_output=True).returncode != 0
                    and docker("secret", "inspect", s, check=False).returncode == 0]  # fmt: skip
            if not left:
                break
            time.sleep(1)


def test_an_existing_swarm_secret_with_another_value_is_refused(
    tmp_path: Path, leakguard: Callable[..., Run], swarm: Any
) -> None:
    suffix = tmp_path.name[-6:].strip("_").upper() or "Y"
    project = tmp_path / "stack"
    stack_file(project, "example/app", "example/db", suffix)
    name = f"github_token_{suffix.lower()}"
    swarm.secrets.create(name=name, data=b"another value")
    try:
        before = tree_hashes(project)
        run = leakguard("migrate", "--to", "swarm", "--apply", str(project))
        assert run.code == 4 and "already has a secret" in run.err
        assert tree_hashes(project) == before
        assert not [s for s in swarm.secrets.list() if s.name == "postgres_password"]
    finally:
        swarm.secrets.get(name).remove()
