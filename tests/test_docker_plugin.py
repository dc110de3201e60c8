"""`docker leakguard`: the Docker CLI plugin, run by the real Debian `docker` 20.10
client against the real engine; and the engine an image scan uses."""

from __future__ import annotations

import io
import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from leakguard.dockerplugin import DockerOptions, resolve_endpoint, split_args
from tests.conftest import GITHUB_PAT
from tests.services import DOCKER, DOCKER_SOCKET, build_context, busybox_image, dockerd  # noqa: F401


def leakguard(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leakguard", *args], capture_output=True, text=True,
        env=env, cwd=cwd, timeout=300,
    )  # fmt: skip


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment without any docker setting of the machine's, with a private
    DOCKER_CONFIG and HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(HOME=str(tmp_path / "home"), DOCKER_CONFIG=str(tmp_path / "docker-config"))
    env.update(extra)
    return env


def test_a_plain_name_says_the_engine_did_not_answer_when_the_registry_fails_too(
    tmp_path: Path,
) -> None:
    dead = f"unix://{tmp_path}/dead.sock"
    done = leakguard(
        "image", "127.0.0.1:1/leakguard-test/none:1", "--no-cache",
        env=clean_env(tmp_path, DOCKER_HOST=dead),
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("leakguard: error: 127.0.0.1:1/leakguard-test/none:1: ")
    assert f"cannot reach the Docker engine at {dead}" in first
    assert "Traceback" not in done.stderr


# -- installing -------------------------------------------------------------------------


def test_install_writes_an_executable_script_that_runs_this_leakguard(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    done = leakguard("docker-plugin", "install", env=env)
    assert done.returncode == 0, done.stderr
    plugin = tmp_path / "docker-config" / "cli-plugins" / "docker-leakguard"  # $DOCKER_CONFIG
    assert stat.S_IMODE(plugin.stat().st_mode) == 0o755
    assert shlex.quote(sys.executable) in plugin.read_text()
    meta = subprocess.run([plugin, "docker-cli-plugin-metadata"], capture_output=True, text=True)
    assert meta.returncode == 0
    data = json.loads(meta.stdout)
    assert data["SchemaVersion"] == "0.1.0"
    assert data["Vendor"] and data["ShortDescription"]
    assert data["Version"] == leakguard("--version", env=env).stdout.split()[-1]
    # Installing again (an upgrade) replaces its own file without --force.
    again = leakguard("docker-plugin", "install", env=env)
    assert again.returncode == 0 and "replaced" in again.stderr


def test_install_without_docker_config_goes_to_the_home_folder(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    del env["DOCKER_CONFIG"]
    assert leakguard("docker-plugin", "install", env=env).returncode == 0
    assert (tmp_path / "home" / ".docker" / "cli-plugins" / "docker-leakguard").is_file()


def test_a_plugin_leakguard_did_not_write_is_left_alone_without_force(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    folder = tmp_path / "plugins"
    folder.mkdir()
    theirs = folder / "docker-leakguard"
    theirs.write_text("#!/bin/sh\necho someone else's\n")
    for command in ("install", "uninstall"):
        done = leakguard("docker-plugin", command, "--dir", str(folder), env=env)
        assert done.returncode == 4, done.stderr
        assert "was not written by leakguard" in done.stderr.splitlines()[0]
        assert theirs.read_text() == "#!/bin/sh\necho someone else's\n"
    forced = leakguard("docker-plugin", "install", "--dir", str(folder), "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert "-m leakguard.dockerplugin" in theirs.read_text()
    assert leakguard("docker-plugin", "uninstall", "--dir", str(folder), env=env).returncode == 0
    assert not theirs.exists()
    gone = leakguard("docker-plugin", "uninstall", "--dir", str(folder), env=env)
    assert gone.returncode == 0 and "nothing to remove" in gone.stderr


def test_a_link_in_the_way_is_replaced_with_force_and_its_target_kept(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    folder = tmp_path / "plugins"
    folder.mkdir()
    target = tmp_path / "elsewhere"
    target.write_text("kept\n")
    (folder / "docker-leakguard").symlink_to(target)
    assert leakguard("docker-plugin", "install", "--dir", str(folder), env=env).returncode == 4
    done = leakguard("docker-plugin", "install", "--dir", str(folder), "--force", env=env)
    assert done.returncode == 0, done.stderr
    assert not (folder / "docker-leakguard").is_symlink()
    assert target.read_text() == "kept\n"


def test_a_folder_that_cannot_be_written_is_refused_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = leakguard(
        "docker-plugin", "install", "--dir", str(blocker / "plugins"), env=clean_env(tmp_path)
    )
    assert done.returncode == 4
    assert done.stderr.startswith("leakguard: error: cannot write ")
    assert "Traceback" not in done.stderr


# -- the docker options a plugin is given ---------------------------------------------------


def test_docker_help_leakguard_is_leakguards_help() -> None:
    assert split_args(["-c", "x", "help", "leakguard", "image"]) == (
        DockerOptions(context="x"),
        ["image", "--help"],
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["leakguard", "image", "x"], DockerOptions()),
        (["--context", "prod", "leakguard", "-v"], DockerOptions(context="prod")),
        (["-c=prod", "leakguard"], DockerOptions(context="prod")),
        (["-cprod", "leakguard"], DockerOptions(context="prod")),
        (["-H", "tcp://h:1", "-D", "leakguard"], DockerOptions(hosts=("tcp://h:1",))),
        (["--host=tcp://h:1", "leakguard"], DockerOptions(hosts=("tcp://h:1",))),
        (["--tlsverify=false", "--config", "/c", "leakguard"], DockerOptions(config="/c")),
        (["--tls", "-l", "debug", "leakguard"], DockerOptions(tls=True)),
    ],
)
def test_the_docker_options_before_the_plugin_name_are_read(
    argv: list[str], expected: DockerOptions
) -> None:
    options, rest = split_args(argv)
    assert options == expected
    assert rest == argv[argv.index("leakguard") + 1 :]


def test_a_tls_context_gives_the_sdk_its_certificates(tmp_path: Path) -> None:
    """A context made by the real `docker context create` with ca, cert and key."""
    env = clean_env(tmp_path)
    certs = tmp_path / "certs"
    certs.mkdir()
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (certs / name).write_text(_pem(name))
    spec = f"host=tcp://127.0.0.1:2376,ca={certs}/ca.pem,cert={certs}/cert.pem,key={certs}/key.pem"
    docker("context", "create", "lgtls", "--docker", spec, env=env, check=True)
    options, _ = split_args(["--context", "lgtls", "leakguard"])
    endpoint = resolve_endpoint(options, env, tmp_path / "home")
    assert endpoint.host == "tcp://127.0.0.1:2376"
    assert endpoint.tls_verify
    assert endpoint.cert_path is not None
    assert sorted(os.listdir(endpoint.cert_path)) == ["ca.pem", "cert.pem", "key.pem"]
    sdk_env: dict[str, str] = {"DOCKER_TLS_VERIFY": ""}
    endpoint.apply(sdk_env)
    assert sdk_env == {"DOCKER_HOST": "tcp://127.0.0.1:2376", "DOCKER_TLS_VERIFY": "1",
                       "DOCKER_CERT_PATH": endpoint.cert_path}  # fmt: skip


def _pem(name: str) -> str:
    """A self-signed certificate (ca.pem, cert.pem) or its key (key.pem), made now."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = _KEY.setdefault("key", ec.generate_private_key(ec.SECP256R1()))
    if name == "key.pem":
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()  # fmt: skip
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leakguard-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(1).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM).decode()


_KEY: dict[str, Any] = {}


# -- the real Docker CLI ------------------------------------------------------------------


def docker(
    *args: str, env: dict[str, str], check: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, env=env, timeout=300,
                          check=check)  # fmt: skip


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    """A private DOCKER_CONFIG with the plugin installed in it."""
    env = clean_env(tmp_path)
    done = leakguard("docker-plugin", "install", env=env)
    assert done.returncode == 0, done.stderr
    return env


def test_the_docker_cli_lists_the_plugin_and_shows_its_help(plugin_env: dict[str, str]) -> None:
    listed = docker("--help", env=plugin_env).stdout
    assert "  leakguard*  Find credentials leaked into images" in listed  # * marks a plugin
    assert "Invalid Plugins" not in listed
    info = docker("info", "--format", "{{json .ClientInfo.Plugins}}", env=plugin_env)
    plugins = {p["Name"]: p for p in json.loads(info.stdout)}
    assert plugins["leakguard"]["Vendor"] == "leakguard"
    assert "Err" not in plugins["leakguard"]
    shown = docker("leakguard", "--help", env=plugin_env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Usage: docker leakguard ")
    assert "build-check" in shown.stdout and "image" in shown.stdout
    helped = docker("help", "leakguard", "build-check", env=plugin_env)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("Usage: docker leakguard build-check [OPTIONS]")
    uninstalled = leakguard("docker-plugin", "uninstall", env=plugin_env)
    assert uninstalled.returncode == 0
    assert "leakguard" not in docker("--help", env=plugin_env).stdout


@pytest.fixture(scope="module")
def leaky_image(dockerd: Any, busybox_image: str) -> str:  # noqa: F811
    """An image whose config carries a token in ENV."""
    tag = "127.0.0.1:1/leakguard-test/plugin-env:1"  # a registry that never answers
    dockerfile = f"FROM {busybox_image}\nENV GITHUB_TOKEN={GITHUB_PAT}\n"
    dockerd.images.build(
        fileobj=io.BytesIO(build_context({"Dockerfile": dockerfile})), custom_context=True,
        tag=tag, rm=True,
    )  # fmt: skip
    return tag


@pytest.mark.docker
def test_docker_leakguard_image_scans_an_image_of_the_engine(
    plugin_env: dict[str, str], leaky_image: str
) -> None:
    done = docker("leakguard", "image", leaky_image, "--no-cache", "-f", "json", env=plugin_env)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert {f["rule_id"] for f in report["findings"]} == {"github-pat"}
    assert report["findings"][0]["location"]["image"] == leaky_image
    assert GITHUB_PAT not in done.stdout + done.stderr


@pytest.mark.docker
def test_the_cli_context_is_the_engine_scanned(
    tmp_path: Path, plugin_env: dict[str, str], leaky_image: str
) -> None:
    docker("context", "create", "lglocal", "--docker", f"host={DOCKER_SOCKET}", env=plugin_env,
           check=True)  # fmt: skip
    dead = f"unix://{tmp_path}/no-engine.sock"
    docker("context", "create", "lgdead", "--docker", f"host={dead}", env=plugin_env, check=True)
    # The local engine through a context: found.
    live = docker("--context", "lglocal", "leakguard", "image", leaky_image, "--no-cache",
                  env=plugin_env)  # fmt: skip
    assert live.returncode == 1, live.stderr
    assert "github-pat" in live.stdout
    # A context whose engine is gone: exit 3 and an error that names it, for the engine's
    # own transport and for a plain name, selected by --context, DOCKER_CONTEXT, or
    # `docker context use`; and DOCKER_HOST or -H pointing there.
    docker("context", "use", "lgdead", env=plugin_env, check=True)
    runs = [
        docker("--context", "lgdead", "leakguard", "image", leaky_image, env=plugin_env),
        docker("--context", "lgdead", "leakguard", "image", f"docker-daemon:{leaky_image}",
               env=plugin_env),
        docker("leakguard", "image", leaky_image, env=plugin_env),
        docker("leakguard", "image", leaky_image, env={**plugin_env, "DOCKER_CONTEXT": "lgdead"}),
        docker("-H", dead, "leakguard", "image", leaky_image, env=plugin_env),
        docker("leakguard", "image", leaky_image, env={**plugin_env, "DOCKER_HOST": dead}),
    ]  # fmt: skip
    for done in runs:
        assert done.returncode == 3, (done.args, done.stdout, done.stderr)
        first = done.stderr.splitlines()[0]
        assert first.startswith("leakguard: error: ") and f"Docker engine at {dead}" in first
        assert "Traceback" not in done.stderr
    # DOCKER_HOST (and -H) win over the current context, as they do for `docker` itself.
    docker("context", "use", "lgdead", env=plugin_env, check=True)
    chosen = docker("leakguard", "image", leaky_image, "--no-cache",
                    env={**plugin_env, "DOCKER_HOST": DOCKER_SOCKET})  # fmt: skip
    assert chosen.returncode == 1, chosen.stderr


def test_docker_leakguard_build_check_reports_a_leaky_build(
    tmp_path: Path, plugin_env: dict[str, str]
) -> None:
    from tests.test_build_check import leaky_build

    root = leaky_build(tmp_path / "proj")
    done = docker("leakguard", "build-check", str(root), "-f", "json", env=plugin_env)
    assert done.returncode == 1, done.stderr
    surfaces = {f["location"]["surface"] for f in json.loads(done.stdout)["findings"]}
    assert surfaces == {"dockerfile", "compose", "file"}
    assert GITHUB_PAT not in done.stdout + done.stderr
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "Dockerfile").write_text("FROM scratch\nCOPY app /app\n")
    (clean / "app").write_text("nothing here\n")
    ok = docker("--context", "default", "leakguard", "build-check", str(clean), env=plugin_env)
    assert ok.returncode == 0, ok.stderr
