"""`leakguard remediate --from-sweep`: from images in a real registry to their repositories."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.conftest import GITHUB_PAT
from tests.remediation.conftest import Project, assert_clean, git, run
from tests.services import build_context, dockerd, registry  # noqa: F401

pytestmark = [pytest.mark.docker, pytest.mark.registry]
AUTHOR = "Sweep Bot <sweep@example.test>"


def _build_and_push(client, tag: str, label: str | None) -> None:  # noqa: ANN001
    dockerfile = "FROM scratch\nCOPY app.env /app/app.env\n"
    if label:
        dockerfile += f'LABEL org.opencontainers.image.source="{label}"\n'
    context = build_context({"Dockerfile": dockerfile, "app.env": f"GITHUB_TOKEN={GITHUB_PAT}\n"})
    client.images.build(fileobj=io.BytesIO(context), custom_context=True, tag=tag, rm=True)
    repository, _, version = tag.rpartition(":")
    for line in client.images.push(repository, version, stream=True, decode=True):
        assert "error" not in line, line


@pytest.fixture
def swept(project: Project, dockerd, registry, tmp_path: Path) -> Path:  # noqa: F811
    """A sweep report of two images: one labelled with the project's remote, one not."""
    _build_and_push(dockerd, f"{registry}/team/app:1", project.remote.as_uri())
    _build_and_push(dockerd, f"{registry}/team/orphan:1", None)
    report = tmp_path / "sweep.json"
    proc = run("sweep", "--no-cache", "--repo", "team/*", registry, "-f", "json", "-o",
               str(report), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    return report


def test_from_sweep_maps_images_by_label_and_lists_the_rest(
    project: Project,
    swept: Path,
    registry,  # noqa: F811
    tmp_path: Path,
):
    workdir = tmp_path / "work"
    plan = run("remediate", "--from-sweep", str(swept), "--workdir", str(workdir), cwd=tmp_path)
    assert plan.returncode == 1, plan.stderr
    assert f"not mapped: {registry}/team/orphan:1: no org.opencontainers.image.source" in (
        plan.stderr
    )
    token = plan.stdout.split(". GitHub personal access token", 1)[1].split("\n### ", 1)[0]
    assert f"`{registry}/team/app:1` layer `sha256:" in token and "`/app/app.env`" in token
    assert len(list(workdir.iterdir())) == 1  # cloned once
    pushed = run("remediate", "--from-sweep", str(swept), "--workdir", str(workdir), "--push",
                 "--author", AUTHOR, cwd=tmp_path)  # fmt: skip
    assert pushed.returncode == 1, pushed.stderr  # an image is still unmapped
    assert "pushed" in pushed.stderr
    assert "leakguard/remediate" in git(project.remote, "branch", "--list")
    repo_map = tmp_path / "repos.txt"
    repo_map.write_text(f"# image glob, clone URL\n{registry}/team/* {project.remote.as_uri()}\n")
    mapped = run("remediate", "--from-sweep", str(swept), "--workdir", str(workdir), "--push",
                 "--author", AUTHOR, "--repo-map", str(repo_map), cwd=tmp_path)  # fmt: skip
    assert mapped.returncode == 0, mapped.stderr
    assert "2 image(s)" in mapped.stderr and "already has this fix" in mapped.stderr
    assert len(list(workdir.iterdir())) == 1
    assert_clean(plan.stdout, plan.stderr, pushed.stdout, pushed.stderr, mapped.stderr)
