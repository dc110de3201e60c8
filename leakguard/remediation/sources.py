"""From a registry sweep to source repositories: which repository built each image.

An image is mapped by a `--repo-map` entry (image glob → clone URL) first,
else by its OCI labels `org.opencontainers.image.source` (and `.revision`),
else by the source BuildKit recorded in its SLSA provenance attestation (an
attestation manifest in the image index, `vnd.docker.reference.type:
attestation-manifest`, whose in-toto statement has predicate type
`https://slsa.dev/provenance/v0.2` or `/v1`): the git context's URL and commit
from `configSource`, else a git material, else the `vcs` source and revision
the build client passed. An image that maps by none of them is listed with the
reason, never guessed.
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakguard import safejson
from leakguard.errors import LeakguardError, TargetUnreadable, UsageError

log = logging.getLogger(__name__)

SOURCE_LABEL = "org.opencontainers.image.source"
REVISION_LABEL = "org.opencontainers.image.revision"
ATTESTATION_TYPE = "attestation-manifest"  # vnd.docker.reference.type of an attestation manifest
IN_TOTO = "application/vnd.in-toto+json"
PROVENANCE_TYPES = ("https://slsa.dev/provenance/v0.2", "https://slsa.dev/provenance/v1")
BUILDKIT_METADATA_V02 = "https://mobyproject.org/buildkit@v1#metadata"
MAX_STATEMENT = 32 * 1024 * 1024  # a mode=max provenance carries the whole build graph


@dataclass
class Source:
    url: str
    revisions: dict[str, list[str]] = field(default_factory=dict)  # revision -> images
    images: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Origin:
    """Where an image says it was built from: a clone URL and a revision, if known."""

    url: str | None
    revision: str | None
    via: str  # "label" or "provenance"


def images_in(report_path: Path) -> list[str]:
    """Every image a sweep (or image) JSON report has findings in, in report order."""
    from leakguard.remediation.guide import sweep_findings

    findings = sweep_findings(report_path)
    seen: dict[str, None] = {}
    for f in findings:
        image = (f.get("location") or {}).get("image") if isinstance(f, dict) else None
        if isinstance(image, str) and image:
            seen.setdefault(image, None)
    return list(seen)


def load_repo_map(path: Path) -> list[tuple[str, str]]:
    """`IMAGE-GLOB CLONE-URL` per line; `#` starts a comment."""
    try:
        text = path.read_text()
    except OSError as e:
        raise TargetUnreadable(f"cannot read {path}: {e.strerror}") from e
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise UsageError(f"{path}:{n}: expected `IMAGE-GLOB CLONE-URL`")
        out.append((parts[0], parts[1]))
    return out


def image_origin(image: str, insecure: bool = False) -> Origin | None:
    """The image's source from its OCI labels, else from its BuildKit provenance."""
    from leakguard.registry.client import RegistryClient
    from leakguard.registry.reference import Reference

    ref = Reference.parse(image)
    client = RegistryClient(ref.host, insecure=insecure)
    try:
        top = client.manifest(ref.repository, ref.reference)
        manifest, digest, index = top.json, top.digest, None
        if "manifests" in manifest:  # an index: the first image that is not an attestation
            index = manifest
            entries = [m for m in manifest["manifests"]
                       if (m.get("platform") or {}).get("os") not in (None, "unknown")]  # fmt: skip
            if entries:
                digest = str(entries[0]["digest"])
                manifest = client.manifest(ref.repository, digest).json
            else:
                manifest = {}
        labels: dict[str, Any] = {}
        if "config" in manifest:
            labels = config_labels(client.blob_bytes(ref.repository, manifest["config"]["digest"]))
        from_provenance = None
        if index is not None:
            from_provenance = _provenance_origin(client, ref.repository, index, digest)
    finally:
        client.close()
    url, revision = labels.get(SOURCE_LABEL), labels.get(REVISION_LABEL)
    if url:
        if not revision and from_provenance and _same_repo(from_provenance.url, str(url)):
            revision = from_provenance.revision
        return Origin(str(url), str(revision) if revision else None, "label")
    return from_provenance


def config_labels(raw: bytes) -> dict[str, Any]:
    """The labels of an image config; TargetUnreadable when it is not JSON (a
    registry that serves something else is reported, not an internal error)."""
    try:
        config = safejson.loads(raw)
    except ValueError as e:
        raise TargetUnreadable(f"its config is not JSON ({e})") from None
    inner = config.get("config") if isinstance(config, dict) else None
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    return labels if isinstance(labels, dict) else {}


def _same_repo(a: str | None, b: str) -> bool:
    def norm(u: str) -> str:
        return u.split("#", 1)[0].rstrip("/").removesuffix(".git").lower()

    return a is not None and norm(a) == norm(b)


def _provenance_origin(
    client: Any, repository: str, index: dict[str, Any], image_digest: str
) -> Origin | None:
    """The source in the provenance attestation of `image_digest` (else of any image)."""
    attestations = [
        m for m in index.get("manifests") or []
        if (m.get("annotations") or {}).get("vnd.docker.reference.type") == ATTESTATION_TYPE
    ]  # fmt: skip
    attestations.sort(
        key=lambda m: (
            (m.get("annotations") or {}).get("vnd.docker.reference.digest") != image_digest
        )
    )
    for entry in attestations:
        manifest = client.manifest(repository, str(entry["digest"])).json
        for layer in manifest.get("layers") or []:
            kind = (layer.get("annotations") or {}).get("in-toto.io/predicate-type")
            if layer.get("mediaType") != IN_TOTO or (kind and kind not in PROVENANCE_TYPES):
                continue
            data = client.blob_bytes(repository, str(layer["digest"]), limit=MAX_STATEMENT)
            try:
                statement = safejson.loads(data)
            except ValueError:
                continue
            origin = provenance_source(statement) if isinstance(statement, dict) else None
            if origin is not None:
                return origin
    return None


def provenance_source(statement: dict[str, Any]) -> Origin | None:
    """The git source an in-toto SLSA provenance statement names, as BuildKit writes it.

    In order: `configSource` (the git context BuildKit fetched and checked),
    a material (v0.2) / resolved dependency (v1) that is a git commit, then the
    unverified `vcs` hint the client sent for a local context.
    """
    kind = statement.get("predicateType")
    predicate = statement.get("predicate")
    if kind not in PROVENANCE_TYPES or not isinstance(predicate, dict):
        return None
    if kind == PROVENANCE_TYPES[0]:
        config = _dict(_dict(predicate.get("invocation")).get("configSource"))
        materials = predicate.get("materials")
        vcs = _dict(_dict(_dict(predicate.get("metadata")).get(BUILDKIT_METADATA_V02)).get("vcs"))
    else:
        definition = _dict(predicate.get("buildDefinition"))
        config = _dict(_dict(definition.get("externalParameters")).get("configSource"))
        materials = definition.get("resolvedDependencies")
        metadata = _dict(_dict(predicate.get("runDetails")).get("metadata"))
        vcs = _dict(_dict(metadata.get("buildkit_metadata")).get("vcs"))
    for item in [config, *(m for m in materials or [] if isinstance(m, dict))]:
        uri, commit = item.get("uri"), _dict(item.get("digest")).get("sha1")
        if isinstance(uri, str) and isinstance(commit, str) and not uri.startswith("pkg:"):
            return Origin(uri.split("#", 1)[0], commit, "provenance")
    source, revision = vcs.get("source"), vcs.get("revision")
    if isinstance(source, str) and source:
        return Origin(source, revision if isinstance(revision, str) else None, "provenance")
    return None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def map_images(
    images: list[str], repo_map: list[tuple[str, str]], insecure: bool = False
) -> tuple[dict[str, Source], list[tuple[str, str]]]:
    """(clone URL -> Source, [(image, why it could not be mapped)])."""
    sources: dict[str, Source] = {}
    unmapped: list[tuple[str, str]] = []
    for image in images:
        url = next((u for glob, u in repo_map if fnmatch.fnmatchcase(image, glob)), None)
        revision = None
        if url is None:
            if image.startswith(("oci:", "docker-archive:", "docker-daemon:")):
                unmapped.append((image, "a local image: add a --repo-map entry"))
                continue
            try:
                origin = image_origin(image, insecure)
            except LeakguardError as e:
                unmapped.append((image, f"cannot read its labels: {e.message}"))
                continue
            if origin is None or not origin.url:
                unmapped.append((image, f"no {SOURCE_LABEL} label, no source in a provenance "
                                        "attestation and no --repo-map entry"))  # fmt: skip
                continue
            url, revision = origin.url, origin.revision
            if origin.via == "provenance":
                log.info("%s: source from its provenance attestation: %s", image, url)
        elif not image.startswith(("oci:", "docker-archive:", "docker-daemon:")):
            try:  # the revision, when the image records one for the mapped repository
                origin = image_origin(image, insecure)
            except LeakguardError:
                origin = None
            if origin is not None and origin.revision and _same_repo(origin.url, url):
                revision = origin.revision
        source = sources.setdefault(url, Source(url))
        source.images.append(image)
        if revision:
            source.revisions.setdefault(revision, []).append(image)
    return sources, unmapped


def clone_dir(workdir: Path, url: str) -> Path:
    """A folder name for `url` under `workdir`, stable across runs."""
    import hashlib
    import re

    tail = url.rstrip("/").removesuffix(".git").rsplit("/", 2)[-2:]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(tail)).strip("-.") or "repo"
    return workdir / f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def clone_once(workdir: Path, url: str) -> Path:
    """Clone `url` into `workdir` (GitPython), or fetch a clone made before."""
    import git

    from leakguard.remediation.gitops import has_credential

    if has_credential(url):
        raise UsageError("a source URL holds a credential; refusing it",
                         hint="map the image to a URL without one (--repo-map)")  # fmt: skip
    dest = clone_dir(workdir, url)
    try:
        if (dest / ".git").exists():
            repo = git.Repo(dest)
            repo.remotes.origin.fetch()
            return dest
        workdir.mkdir(parents=True, exist_ok=True)
        git.Repo.clone_from(url, dest, env={"GIT_TERMINAL_PROMPT": "0"})
    except git.GitCommandError as e:
        reason = str(e.stderr or "").strip().splitlines()
        detail = reason[-1].strip().strip("'") if reason else "git failed"
        raise TargetUnreadable(f"cannot clone the source repository: {detail[:160]}") from None
    return dest


def starting_point(
    root: Path, remote: str, base: str, revisions: dict[str, list[str]]
) -> tuple[str | None, tuple[str, ...]]:
    """The commit the fix starts from, and notes for the pull request about it.

    The newest revision the images were built from that is on `base`'s
    history; None (start from `base`) when there is none. A revision that is
    not on that history is named in a note, with the images built from it.
    """
    from leakguard.remediation.gitops import base_commit, git

    tip = base_commit(root, remote, base)
    on_base: list[tuple[int, str, str, list[str]]] = []
    notes: list[str] = []
    for revision, images in revisions.items():
        shown = ", ".join(f"`{i}`" for i in images)
        sha = ""
        if not revision.startswith("-"):
            proc = git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
            sha = proc.stdout.strip() if proc.returncode == 0 else ""
        if sha and git(root, "merge-base", "--is-ancestor", sha, tip).returncode == 0:
            count = git(root, "rev-list", "--count", sha).stdout.strip()
            on_base.append((int(count or 0), sha, revision, images))
            continue
        where = "which is not in the repository" if not sha else f"which is not on `{base}`"
        notes.append(
            f"{shown} {'was' if len(images) == 1 else 'were'} built from revision "
            f"`{revision[:40]}`, {where}: this pull request starts from `{base}` instead; "
            "check the branch that revision is on as well."
        )
    if not on_base:
        return None, tuple(notes)
    _, sha, revision, images = max(on_base)
    if sha != tip:
        behind = git(root, "rev-list", "--count", f"{sha}..{tip}").stdout.strip()
        built = ", ".join(f"`{i}`" for i in images)
        verb = "was" if len(images) == 1 else "were"
        notes.insert(0, f"This pull request starts from `{sha[:12]}`, the revision {built} "
                        f"{verb} built from ({behind} commit(s) behind `{base}`): the fix is for "
                        "the files as they were built.")  # fmt: skip
    return sha, tuple(notes)
