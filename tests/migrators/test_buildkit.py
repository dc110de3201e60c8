"""BuildKit: ARG/ENV literals and RUN literals become `RUN --mount=type=secret`."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GITHUB_PAT, STRIPE_KEY, fake
from tests.migrators.conftest import Run, docker
from tests.migrators.projects import tree_hashes

NPM_TOKEN = fake("npm" + "_", 36, seed=7)


def leaky_dockerfile(base: str) -> str:
    return (
        f"FROM {base}\n"
        "# the token for the private registry\n"
        f"ARG NPM_TOKEN={NPM_TOKEN}\n"
        'RUN test -n "$NPM_TOKEN" && echo "$NPM_TOKEN" | sha256sum > /npm.sha256\n'
        f"ENV STRIPE_KEY={STRIPE_KEY} \\\n"
        "    MODE=prod\n"
        'RUN echo "$STRIPE_KEY" | sha256sum > /stripe.sha256\n'
        f"RUN echo 'Authorization: token {GITHUB_PAT}' | sha256sum > /inline.sha256\n"
        'CMD ["sh"]\n'
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "img"
    root.mkdir()
    (root / "Dockerfile").write_text(leaky_dockerfile("leakguard-test/busybox:1"))
    return root


def test_the_plan_rewrites_only_the_secret_spans(
    project: Path, leakguard: Callable[..., Run]
) -> None:
    run = leakguard("migrate", "--apply", str(project))
    assert run.code == 0, run.err
    assert (project / "Dockerfile").read_text() == (
        "FROM leakguard-test/busybox:1\n"
        "# the token for the private registry\n"
        "RUN --mount=type=secret,id=npm_token "
        'export NPM_TOKEN="$(cat /run/secrets/npm_token)" && '
        'test -n "$NPM_TOKEN" && echo "$NPM_TOKEN" | sha256sum > /npm.sha256\n'
        "ENV \\\n"
        "    MODE=prod\n"
        "RUN --mount=type=secret,id=stripe_key "
        'export STRIPE_KEY="$(cat /run/secrets/stripe_key)" && '
        'echo "$STRIPE_KEY" | sha256sum > /stripe.sha256\n'
        "RUN --mount=type=secret,id=github_pat echo 'Authorization: token '"
        '"$(cat /run/secrets/github_pat)" | sha256sum > /inline.sha256\n'
        'CMD ["sh"]\n'
    )
    assert (project / "secrets" / "npm_token").read_text() == NPM_TOKEN
    assert "secrets" in (project / ".dockerignore").read_text().splitlines()
    assert "docker build --secret id=npm_token,src=secrets/npm_token" in run.out.replace(
        "docker buildx build", "docker build"
    )  # which form: see test_the_build_hint_fits_the_docker_cli_found
    flags = leakguard("secrets", "docker-flags", str(project / "Dockerfile"))
    assert flags.out.split() == [
        f"--secret=id={name},src={project / 'secrets' / name}"
        for name in ("github_pat", "npm_token", "stripe_key")
    ]
    again = leakguard("migrate", str(project))
    assert again.code == 0 and "nothing to move" in again.err


def test_the_dockerfile_1_10_form_reads_the_secret_into_the_variable(
    project: Path, leakguard: Callable[..., Run]
) -> None:
    assert leakguard("migrate", "--dockerfile-syntax", "1.10", "--apply", str(project)).code == 0
    text = (project / "Dockerfile").read_text()
    assert text.startswith("# syntax=docker/dockerfile:1.10\nFROM ")
    assert "RUN --mount=type=secret,id=npm_token,env=NPM_TOKEN test -n" in text
    assert "export" not in text


@pytest.mark.parametrize(
    ("dockerfile", "reason"),
    [
        (
            f'FROM x\nARG NPM_TOKEN={NPM_TOKEN}\nRUN ["sh", "-c", "echo $NPM_TOKEN"]\n',
            "exec or heredoc form",
        ),
        (
            f"FROM x\nARG NPM_TOKEN={NPM_TOKEN}\nRUN <<EOF\necho $NPM_TOKEN\nEOF\n",
            "exec or heredoc form",
        ),
        (
            f"FROM x\nARG NPM_TOKEN={NPM_TOKEN}\nLABEL token=$NPM_TOKEN\nRUN echo $NPM_TOKEN\n",
            "LABEL on line 3 uses $NPM_TOKEN",
        ),
        (
            f"ARG NPM_TOKEN={NPM_TOKEN}\nFROM x\nARG NPM_TOKEN\nRUN echo $NPM_TOKEN\n",
            "a global ARG",
        ),
        (
            f'FROM x\nRUN ["curl", "-H", "Authorization: token {GITHUB_PAT}", "h"]\n',
            "exec or heredoc form",
        ),
    ],
    ids=["exec-form", "heredoc", "label", "global-arg", "exec-inline"],
)
def test_uses_it_cannot_rewrite_are_left_whole_and_reported(
    tmp_path: Path, leakguard: Callable[..., Run], dockerfile: str, reason: str
) -> None:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    before = tree_hashes(tmp_path)
    run = leakguard("migrate", "--apply", str(tmp_path))
    assert run.code == 1
    assert reason in run.err and "needs manual change" in run.err
    assert tree_hashes(tmp_path) == before


def image_bytes(dockerd: Any, tag: str) -> bytes:
    """Every byte of the image: config, history and each layer, uncompressed."""
    blob = b"".join(dockerd.images.get(tag).save())
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(blob)) as outer:
        for member in outer.getmembers():
            data = outer.extractfile(member)
            if data is None:
                continue
            raw = data.read()
            out.write(raw)
            if member.name.endswith("layer.tar"):
                with tarfile.open(fileobj=io.BytesIO(raw)) as layer:
                    for inner in layer.getmembers():
                        if not inner.isfile():
                            continue
                        f = layer.extractfile(inner)
                        if f is not None:
                            out.write(f.read())
    return out.getvalue()


@pytest.mark.docker
def test_the_migrated_dockerfile_builds_and_the_image_holds_no_secret(
    project: Path, leakguard: Callable[..., Run], dockerd: Any, busybox_image: str
) -> None:
    tag = f"leakguard-test/migrated:{project.parent.name[-12:].lower().strip('_')}"
    env = {"DOCKER_BUILDKIT": "1"}
    docker("build", "-q", "-t", tag + "-before", str(project), env=env)
    try:
        assert leakguard("image", tag + "-before").code == 1  # the test can fail
    finally:
        dockerd.images.remove(tag + "-before", force=True)

    assert leakguard("migrate", "--apply", str(project)).code == 0
    flags = leakguard("secrets", "docker-flags", str(project / "Dockerfile")).out.split()
    docker("build", "-q", "--no-cache", *flags, "-t", tag, str(project), env=env)
    try:
        out = docker("run", "--rm", tag, "cat", "/npm.sha256", "/stripe.sha256",
                     "/inline.sha256").stdout.split()  # fmt: skip
        digests = [w for w in out if w != "-"]
        expected = [NPM_TOKEN + "\n", STRIPE_KEY + "\n", f"Authorization: token {GITHUB_PAT}\n"]
        assert digests == [hashlib.sha256(v.encode()).hexdigest() for v in expected]
        history = docker("history", "--no-trunc", tag).stdout + docker("inspect", tag).stdout
        everything = image_bytes(dockerd, tag)
        for value in (NPM_TOKEN, STRIPE_KEY, GITHUB_PAT):
            assert value not in history
            assert value.encode() not in everything
        scan = leakguard("image", tag)
        assert scan.code == 0, scan.out
    finally:
        subprocess.run(["/usr/bin/docker", "rmi", "-f", tag], capture_output=True, check=False)


@pytest.mark.docker
def test_a_runtime_env_secret_moves_to_the_service_that_builds_the_image(
    tmp_path: Path, leakguard: Callable[..., Run], dockerd: Any, busybox_image: str
) -> None:
    from tests.migrators.conftest import compose

    root = tmp_path / "svc"
    root.mkdir()
    (root / "Dockerfile").write_text(
        f'FROM {busybox_image}\nENV API_TOKEN={GITHUB_PAT} \\\n    MODE=prod\nCMD ["env"]\n'
    )
    (root / "docker-compose.yml").write_text("services:\n  app:\n    build: .\n")
    run = leakguard("migrate", "--apply", str(root))
    assert run.code == 0, run.err
    assert (root / "Dockerfile").read_text() == (
        f'FROM {busybox_image}\nENV \\\n    MODE=prod\nCMD ["env"]\n'
    )
    assert (root / "docker-compose.yml").read_text() == (
        "services:\n  app:\n    build: .\n    env_file: ./secrets/app.env\n"
    )
    name = f"lgrt{tmp_path.name[-8:].lower()}".replace("_", "")
    try:
        compose(root, name, "build", "-q")
        out = compose(root, name, "run", "--rm", "-T", "app").stdout.splitlines()
        image = dockerd.images.get(f"{name}_app")
        assert f"API_TOKEN={GITHUB_PAT}" in out and "MODE=prod" in out
        assert GITHUB_PAT.encode() not in image_bytes(dockerd, f"{name}_app")
        assert not [e for e in image.attrs["Config"]["Env"] if e.startswith("API_TOKEN=")]
    finally:
        compose(root, name, "down", "--rmi", "local", check=False)


def npmrc_project(root: Path, base: str) -> Path:
    root.mkdir()
    (root / ".npmrc").write_text(f"//registry.npmjs.org/:_authToken={NPM_TOKEN}\n")
    (root / "Dockerfile").write_text(
        f"FROM {base}\n"
        "WORKDIR /app\n"
        "COPY .npmrc /root/.npmrc\n"
        "RUN wc -c < /root/.npmrc > /install.size\n"
        "RUN sha256sum /root/.npmrc > /build.sha256 && rm -f /root/.npmrc\n"
        'CMD ["sh"]\n'
    )
    return root


def test_a_credential_file_copied_and_removed_later_becomes_a_secret_mount(
    tmp_path: Path, leakguard: Callable[..., Run]
) -> None:
    root = npmrc_project(tmp_path / "npm", "leakguard-test/busybox:1")
    run = leakguard("migrate", "--apply", str(root))
    assert run.code == 1, run.err  # the .npmrc itself stays in the folder, for the user
    assert (root / "Dockerfile").read_text() == (
        "FROM leakguard-test/busybox:1\n"
        "WORKDIR /app\n"
        "RUN --mount=type=secret,id=npmrc,target=/root/.npmrc "
        "wc -c < /root/.npmrc > /install.size\n"
        "RUN --mount=type=secret,id=npmrc,target=/root/.npmrc "
        "sha256sum /root/.npmrc > /build.sha256\n"
        'CMD ["sh"]\n'
    )
    assert (root / "secrets" / "npmrc").read_bytes() == (root / ".npmrc").read_bytes()
    assert (root / "secrets" / "npmrc").stat().st_mode & 0o777 == 0o600
    flags = leakguard("secrets", "docker-flags", str(root / "Dockerfile")).out.split()
    assert flags == [f"--secret=id=npmrc,src={root / 'secrets' / 'npmrc'}"]
    again = leakguard("migrate", str(root))
    assert "would move: 0" in again.err or "nothing to move" in again.err


@pytest.mark.parametrize(
    ("dockerfile", "reason"),
    [
        ("FROM x\nCOPY .npmrc npmrc-copy\nRUN npm ci\n", "cannot tell where"),
        ("FROM x\nCOPY .npmrc /root/\nRUN npm ci; cat /root/.npmrc | rm -f /root/.npmrc x\n",
         "cannot rewrite"),
        ("FROM x\nCOPY .npmrc /root/.npmrc\nCMD [\"sh\"]\n", "no RUN uses"),
        # removed in a way it cannot cut out: `rm` of a mounted file would fail
        ("FROM x\nCOPY .npmrc /root/.npmrc\nRUN npm ci && rm -f $HOME/.npmrc\n", "cannot rewrite"),
        ("FROM x\nCOPY .npmrc /root/.npmrc\nRUN cd /root && rm .npmrc\n", "cannot rewrite"),
        ("FROM x\nCOPY .npmrc /root/.npmrc\nRUN echo x >> /root/.npmrc && rm /root/.npmrc\n",
         "cannot rewrite"),
        # a secret mount is root's (mode 0400): another user could no longer read it
        ("FROM x\nCOPY .npmrc /home/n/.npmrc\nUSER n\nRUN npm ci && rm -f /home/n/.npmrc\n",
         "USER n"),
        # a later stage starts from this one and may need the file
        ("FROM x AS b\nCOPY .npmrc /root/.npmrc\nRUN npm ci\nFROM b\nRUN rm /root/.npmrc\n",
         "FROM b on line 4"),
    ],
)  # fmt: skip
def test_copies_it_cannot_rewrite_are_left_whole(
    tmp_path: Path, leakguard: Callable[..., Run], dockerfile: str, reason: str
) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / ".npmrc").write_text(f"//registry.npmjs.org/:_authToken={NPM_TOKEN}\n")
    (root / "Dockerfile").write_text(dockerfile)
    run = leakguard("migrate", "--apply", str(root))
    assert reason in run.err
    assert (root / "Dockerfile").read_text() == dockerfile


@pytest.mark.docker
def test_the_copied_credential_file_is_in_no_layer_after_the_migration(
    tmp_path: Path, leakguard: Callable[..., Run], dockerd: Any, busybox_image: str
) -> None:
    root = npmrc_project(tmp_path / "npmimg", busybox_image)
    size = len((root / ".npmrc").read_bytes())
    tag = f"leakguard-test/npmrc:{tmp_path.name[-12:].lower().strip('_')}"
    env = {"DOCKER_BUILDKIT": "1"}
    docker("build", "-q", "-t", tag + "-before", str(root), env=env)
    try:  # the test can fail: before, the deleted file is still in a layer
        assert NPM_TOKEN.encode() in image_bytes(dockerd, tag + "-before")
        assert leakguard("image", tag + "-before").code == 1
    finally:
        dockerd.images.remove(tag + "-before", force=True)
    assert leakguard("migrate", "--apply", str(root)).code == 1
    flags = leakguard("secrets", "docker-flags", str(root / "Dockerfile")).out.split()
    docker("build", "-q", "--no-cache", *flags, "-t", tag, str(root), env=env)
    try:
        seen = docker("run", "--rm", tag, "cat", "/install.size", "/build.sha256").stdout
        assert seen.split()[0] == str(size)  # the RUN read the mounted file
        assert hashlib.sha256((root / ".npmrc").read_bytes()).hexdigest() in seen
        assert NPM_TOKEN.encode() not in image_bytes(dockerd, tag)
        scan = leakguard("image", tag)
        assert scan.code == 0, scan.out
    finally:
        subprocess.run(["/usr/bin/docker", "rmi", "-f", tag], capture_output=True, check=False)


# What a Docker CLI answers, on PATH in place of the real one: its version line,
# and whether the buildx plugin is there.
FAKE_DOCKER = """#!/bin/sh
case "$1" in
    --version) echo "Docker version {version}, build 0000000" ;;
    buildx) if [ {buildx} = yes ]; then echo "github.com/docker/buildx v0.12.1 0000000"; else
            echo "docker: unknown command: docker buildx" >&2; exit 1; fi ;;
    *) exit 1 ;;
esac
"""


@pytest.mark.parametrize(
    ("version", "buildx", "command", "caveat"),
    [
        ("28.2.2", "no", "docker buildx build --secret", "has no buildx plugin: install it"),
        ("28.2.2", "yes", "docker buildx build --secret", None),
        ("20.10.24+dfsg1", "no", "DOCKER_BUILDKIT=1 docker build --secret", None),
        ("20.10.24+dfsg1", "yes", "docker buildx build --secret", None),
    ],
)
def test_the_build_hint_fits_the_docker_cli_found(
    project: Path,
    leakguard: Callable[..., Run],
    tmp_path: Path,
    version: str,
    buildx: str,
    command: str,
    caveat: str | None,
) -> None:
    import os

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER.format(version=version, buildx=buildx))
    (bin_dir / "docker").chmod(0o755)
    run = leakguard("migrate", str(project), env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    [hint] = [line for line in run.out.splitlines() if line.startswith("build with: ")]
    assert hint.startswith(f"build with: {command} id=")
    assert (caveat in hint) if caveat else "(" not in hint
