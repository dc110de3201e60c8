"""Vault (OpenBao, KV v2): values go to Vault with check-and-set; files read local copies."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import GITHUB_PAT, PASSWORD
from tests.migrators.conftest import Run
from tests.migrators.projects import compose_project, tree_hashes
from tests.services import free_port

pytestmark = pytest.mark.vault


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return compose_project(tmp_path / "proj", "example/app:1", "postgres:16")


def kv(openbao: tuple[str, str], path: str) -> dict[str, str]:
    import hvac

    url, token = openbao
    client = hvac.Client(url=url, token=token)
    data: dict[str, str] = client.secrets.kv.v2.read_secret_version(
        path=path, mount_point="secret", raise_on_deleted_version=True
    )["data"]["data"]
    return data


def test_values_go_to_vault_and_secrets_pull_renders_them(
    project: Path, leakguard: Callable[..., Run], openbao: tuple[str, str], tmp_path: Path
) -> None:
    url, token = openbao
    path = f"leakguard/{tmp_path.name}"
    run = leakguard("migrate", "--to", "vault", "--vault-addr", url, "--vault-path",
                    f"secret/{path}", "--vault-agent", "--apply", str(project),
                    env={"VAULT_TOKEN": token})  # fmt: skip
    assert run.code == 0, run.err
    assert kv(openbao, path) == {"github_token": GITHUB_PAT, "postgres_password": PASSWORD}
    assert not (project / "secrets").exists()  # nothing local until `secrets pull`
    manifest = (project / "leakguard-secrets.toml").read_text()
    assert f'source = "vault:secret/{path}#postgres_password"' in manifest
    assert "postgres_password" in (project / "vault-agent.hcl").read_text()
    assert GITHUB_PAT not in (project / "docker-compose.yml").read_text()

    pulled = leakguard("secrets", "pull", str(project), "--vault-addr", url,
                       env={"VAULT_TOKEN": token})  # fmt: skip
    assert pulled.code == 0, pulled.err
    secret = project / "secrets" / "postgres_password"
    assert secret.read_text() == PASSWORD and stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert (project / "secrets" / "app.env").read_text() == f"GITHUB_TOKEN={GITHUB_PAT}\n"

    again = leakguard(
        "migrate",
        "--to",
        "vault",
        "--vault-addr",
        url,
        "--vault-path",
        f"secret/{path}",
        "--apply",
        str(project),
        env={"VAULT_TOKEN": token},
    )
    assert again.code == 0 and "moved 0 secret(s)" in again.err


def test_a_different_value_in_vault_is_not_overwritten_without_force(
    project: Path, leakguard: Callable[..., Run], openbao: tuple[str, str], tmp_path: Path
) -> None:
    import hvac

    url, token = openbao
    path = f"leakguard/{tmp_path.name}"
    hvac.Client(url=url, token=token).secrets.kv.v2.create_or_update_secret(
        path=path, secret={"postgres_password": "another", "kept": "yes"}, mount_point="secret"
    )
    before = tree_hashes(project)
    args = ("migrate", "--to", "vault", "--vault-addr", url, "--vault-path", f"secret/{path}",
            "--apply", str(project))  # fmt: skip
    run = leakguard(*args, env={"VAULT_TOKEN": token})
    assert run.code == 4 and "already holds a different value for postgres_password" in run.err
    assert tree_hashes(project) == before
    assert kv(openbao, path) == {"postgres_password": "another", "kept": "yes"}

    forced = leakguard(*args, "--force", env={"VAULT_TOKEN": token})
    assert forced.code == 0, forced.err
    assert kv(openbao, path) == {"postgres_password": PASSWORD, "github_token": GITHUB_PAT,
                                 "kept": "yes"}  # fmt: skip


@pytest.mark.parametrize("problem", ["unreachable", "bad token"])
def test_a_failing_vault_leaves_every_file_as_it_was(
    project: Path, leakguard: Callable[..., Run], openbao: tuple[str, str], problem: str
) -> None:
    url, token = openbao
    if problem == "unreachable":
        url = f"http://127.0.0.1:{free_port()}"
    else:
        token = "not-a-token"
    before = tree_hashes(project)
    run = leakguard("migrate", "--to", "vault", "--vault-addr", url, "--apply", str(project),
                    env={"VAULT_TOKEN": token})  # fmt: skip
    assert run.code == 4, run.err
    assert ("cannot reach Vault" if problem == "unreachable" else "permission denied") in run.err
    assert "nothing was changed" in run.err and "Traceback" not in run.err
    assert tree_hashes(project) == before


def test_the_vault_agent_config_renders_the_same_files(
    project: Path, leakguard: Callable[..., Run], openbao: tuple[str, str], tmp_path: Path
) -> None:
    import shutil
    import subprocess

    url, token = openbao
    run = leakguard("migrate", "--to", "vault", "--vault-addr", url, "--vault-path",
                    f"secret/agent/{tmp_path.name}", "--vault-agent", "--apply", str(project),
                    env={"VAULT_TOKEN": token})  # fmt: skip
    assert run.code == 0, run.err
    token_file = tmp_path / "token"
    token_file.write_text(token)
    auth = tmp_path / "auth.hcl"
    auth.write_text(
        f'vault {{\n  address = "{url}"\n}}\n'
        'auto_auth {\n  method "token_file" {\n'
        f'    config = {{\n      token_file_path = "{token_file}"\n    }}\n  }}\n}}\n'
        "template_config {\n  exit_on_retry_failure = true\n}\n"
    )
    agent = subprocess.run(
        [shutil.which("bao") or "bao", "agent", f"-config={project / 'vault-agent.hcl'}",
         f"-config={auth}", "-exit-after-auth"],
        cwd=project, capture_output=True, text=True, timeout=60,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert agent.returncode == 0, agent.stdout + agent.stderr
    assert (project / "secrets" / "postgres_password").read_text() == PASSWORD
    assert (project / "secrets" / "app.env").read_text() == f"GITHUB_TOKEN={GITHUB_PAT}\n"


def test_credentials_in_the_vault_address_are_refused_and_never_echoed():
    from leakguard.errors import UsageError
    from leakguard.migrators.vault import VaultStore

    for addr in (f"http://admin:{PASSWORD}@127.0.0.1:8200", f"http://a:pa/{PASSWORD}@h:8200"):
        with pytest.raises(UsageError) as info:
            VaultStore.from_env(addr)
        assert "must not carry credentials" in str(info.value)
        assert PASSWORD not in str(info.value) + str(info.value.hint)
