"""`leakguard remediate --from-sweep`: from images in a real registry to their repositories."""

from __future__ import annotations

import hashlib
import io
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from leakguard.remediation.sources import REVISION_LABEL as REVISION
from leakguard.remediation.sources import SOURCE_LABEL as SOURCE
from tests.conftest import GITHUB_PAT
from tests.remediation.conftest import Project, assert_clean, git, make_project, run
from tests.services import build_context, dockerd, registry  # noqa: F401

pytestmark = [pytest.mark.docker, pytest.mark.registry]
AUTHOR = "Sweep Bot <sweep@example.test>"
BRANCH = "leakguard/remediate"


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


def _labelled(client, tag: str, labels: dict[str, str]) -> None:  # noqa: ANN001
    dockerfile = "FROM scratch\nCOPY app.env /app/app.env\n" + "".join(
        f'LABEL {k}="{v}"\n' for k, v in labels.items()
    )
    context = build_context({"Dockerfile": dockerfile, "app.env": f"GITHUB_TOKEN={GITHUB_PAT}\n"})
    client.images.build(fileobj=io.BytesIO(context), custom_context=True, tag=tag, rm=True)
    repository, _, version = tag.rpartition(":")
    for line in client.images.push(repository, version, stream=True, decode=True):
        assert "error" not in line, line


def _sweep(registry: str, glob: str, tmp_path: Path) -> Path:  # noqa: F811
    report = tmp_path / f"sweep-{glob.split('/')[0]}.json"
    proc = run("sweep", "--no-cache", "--repo", glob, registry, "-f", "json", "-o", str(report),
               cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    return report


def test_the_fix_starts_from_the_revision_label_when_it_is_on_the_default_branch(
    project: Project,
    dockerd,  # noqa: F811
    registry,  # noqa: F811
    tmp_path: Path,
):
    built = git(project.repo, "rev-parse", "main~1").strip()  # before the Compose file came
    git(project.repo, "checkout", "-q", "-b", "feature")
    (project.repo / "NOTES.md").write_text("elsewhere\n")
    git(project.repo, "add", "-A")
    git(project.repo, "commit", "-qm", "feature")
    elsewhere = git(project.repo, "rev-parse", "HEAD").strip()
    git(project.repo, "push", "-q", "origin", "feature")
    git(project.repo, "checkout", "-q", "main")
    url = project.remote.as_uri()
    _labelled(dockerd, f"{registry}/rev/app:1", {SOURCE: url, REVISION: built})
    _labelled(dockerd, f"{registry}/rev/app:2", {SOURCE: url, REVISION: elsewhere})
    report = _sweep(registry, "rev/*", tmp_path)
    pushed = run("remediate", "--from-sweep", str(report), "--workdir", str(tmp_path / "work"),
                 "--push", "--author", AUTHOR, cwd=tmp_path)  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    assert git(project.remote, "merge-base", "main", BRANCH).strip() == built
    files = project.remote_files(BRANCH)
    assert "docker-compose.yml" not in files  # the tree the image was built from
    assert "RUN --mount=type=secret,id=npm_token" in files["Dockerfile"].decode()
    body = pushed.stdout
    assert f"> This pull request starts from `{built[:12]}`, the revision " in body
    assert f"`{registry}/rev/app:2` was built from revision `{elsewhere}`, which is not on " in (
        body
    )
    assert f"built from revision {elsewhere}" in pushed.stderr
    assert_clean(pushed.stdout, pushed.stderr)


# -- BuildKit provenance, attached the way BuildKit stores attestations -----------------------

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def _api(host: str, method: str, path: str, data: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[bytes, dict[str, str]]:  # fmt: skip
    request = urllib.request.Request(f"http://{host}/v2/{path}", data=data, method=method,
                                     headers=headers or {})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read(), dict(response.headers.items())
    except urllib.error.HTTPError as e:
        raise AssertionError(f"{method} {path}: {e.code} {e.read()[:300]!r}") from None


def _blob(host: str, repo: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _, headers = _api(host, "POST", f"{repo}/blobs/uploads/", b"")
    location = headers["Location"]
    location += ("&" if "?" in location else "?") + f"digest={digest}"
    path = location.split("/v2/", 1)[1]
    _api(host, "PUT", path, data, {"Content-Type": "application/octet-stream"})
    return digest


def _put_manifest(host: str, repo: str, ref: str, body: dict | bytes, media_type: str) -> str:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    _api(host, "PUT", f"{repo}/manifests/{ref}", data, {"Content-Type": media_type})
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _with_provenance(client, host: str, repo: str, predicate_type: str,  # noqa: ANN001
                     predicate: dict) -> None:  # fmt: skip
    """`repo:1`: an OCI index of an image the engine built (no labels) and, after it, an
    attestation manifest whose one layer is an in-toto statement of `predicate`."""
    staging = f"staging/{repo.replace('/', '-')}"
    _labelled(client, f"{host}/{staging}:1", {})
    raw, _ = _api(host, "GET", f"{staging}/manifests/1", headers={"Accept": DOCKER_MANIFEST})
    image = json.loads(raw)
    for descriptor in [image["config"], *image["layers"]]:  # cross-repository mounts
        _api(host, "POST", f"{repo}/blobs/uploads/?mount={descriptor['digest']}&from={staging}",
             b"")  # fmt: skip
    image_digest = _put_manifest(host, repo, "sha256:" + hashlib.sha256(raw).hexdigest(),
                                 raw, DOCKER_MANIFEST)  # fmt: skip
    config, _ = _api(host, "GET", f"{repo}/blobs/{image['config']['digest']}")
    platform = {k: json.loads(config)[k] for k in ("architecture", "os")}
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": predicate_type,
        "subject": [{"name": f"pkg:docker/{host}/{repo}@1?platform={platform['os']}%2F"
                             f"{platform['architecture']}",
                     "digest": {"sha256": image_digest.removeprefix("sha256:")}}],
        "predicate": predicate,
    }).encode()  # fmt: skip
    attestation_config = b"{}"
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.attestation.config.v1+json",
                   "digest": _blob(host, repo, attestation_config),
                   "size": len(attestation_config)},
        "layers": [{"mediaType": "application/vnd.in-toto+json",
                    "digest": _blob(host, repo, statement), "size": len(statement),
                    "annotations": {"in-toto.io/predicate-type": predicate_type}}],
    }  # fmt: skip
    data = json.dumps(manifest).encode()
    attestation = _put_manifest(host, repo, "sha256:" + hashlib.sha256(data).hexdigest(),
                                manifest, OCI_MANIFEST)  # fmt: skip
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": DOCKER_MANIFEST, "digest": image_digest, "size": len(raw),
             "platform": platform},
            {"mediaType": OCI_MANIFEST, "digest": attestation, "size": len(data),
             "annotations": {"vnd.docker.reference.digest": image_digest,
                             "vnd.docker.reference.type": "attestation-manifest"},
             "platform": {"architecture": "unknown", "os": "unknown"}},
        ],
    }  # fmt: skip
    _put_manifest(host, repo, "1", index, OCI_INDEX)


def test_images_without_labels_map_by_their_buildkit_provenance(
    project: Project,
    dockerd,  # noqa: F811
    registry,  # noqa: F811
    tmp_path: Path,
):
    built = git(project.repo, "rev-parse", "main~1").strip()
    context = f"{project.remote.as_uri()}#refs/heads/main"
    # SLSA v0.2 as BuildKit writes it for a git context: configSource and a git material.
    _with_provenance(dockerd, registry, "prov/app", "https://slsa.dev/provenance/v0.2", {
        "builder": {"id": ""},
        "buildType": "https://mobyproject.org/buildkit@v1",
        "materials": [
            {"uri": "pkg:docker/alpine@3.20?platform=linux%2Famd64",
             "digest": {"sha256": "ab" * 32}},
            {"uri": context, "digest": {"sha1": built}},
        ],
        "invocation": {
            "configSource": {"uri": context, "digest": {"sha1": built},
                             "entryPoint": "Dockerfile"},
            "parameters": {"frontend": "dockerfile.v0", "locals": []},
            "environment": {"platform": "linux/amd64"},
        },
        "metadata": {"buildInvocationID": "r2x0q9b7", "completeness": {
            "parameters": False, "environment": True, "materials": True}, "reproducible": False},
    })  # fmt: skip
    # SLSA v1 for a local context: only the `vcs` hint the build client sent names the source.
    (tmp_path / "other").mkdir()
    other = make_project(tmp_path / "other")
    head = git(other.repo, "rev-parse", "main").strip()
    _with_provenance(dockerd, registry, "prov/other", "https://slsa.dev/provenance/v1", {
        "buildDefinition": {
            "buildType": "https://github.com/moby/buildkit/blob/master/docs/attestations/"
                         "slsa-definitions.md",
            "externalParameters": {"configSource": {"path": "Dockerfile"},
                                   "request": {"frontend": "dockerfile.v0"}},
            "resolvedDependencies": [{"uri": "pkg:docker/alpine@3.20",
                                      "digest": {"sha256": "cd" * 32}}],
        },
        "runDetails": {"builder": {"id": ""}, "metadata": {
            "invocationID": "k2m4v8w1",
            "buildkit_metadata": {"vcs": {"source": other.remote.as_uri(), "revision": head}},
        }},
    })  # fmt: skip
    report = _sweep(registry, "prov/*", tmp_path)
    assert {f["location"]["image"] for f in json.loads(report.read_text())["findings"]} == {
        f"{registry}/prov/app:1", f"{registry}/prov/other:1"}  # fmt: skip
    pushed = run("remediate", "--from-sweep", str(report), "--workdir", str(tmp_path / "work"),
                 "--push", "--author", AUTHOR, cwd=tmp_path)  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    assert "not mapped" not in pushed.stderr
    assert f"{project.remote.as_uri()}: 1 image(s): {registry}/prov/app:1" in pushed.stderr
    assert f"{other.remote.as_uri()}: 1 image(s): {registry}/prov/other:1" in pushed.stderr
    assert git(project.remote, "merge-base", "main", BRANCH).strip() == built
    assert "docker-compose.yml" not in project.remote_files(BRANCH)
    assert git(other.remote, "merge-base", "main", BRANCH) == git(other.remote, "rev-parse", "main")
    assert_clean(pushed.stdout, pushed.stderr)
