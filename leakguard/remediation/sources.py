"""From a registry sweep to source repositories: which repository built each image.

An image is mapped by a `--repo-map` entry (image glob → clone URL) first,
else by its OCI labels `org.opencontainers.image.source` (and `.revision`).
An image that neither maps is listed with the reason, never guessed.
"""

from __future__ import annotations

import fnmatch
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakguard.errors import LeakguardError, TargetUnreadable, UsageError

log = logging.getLogger(__name__)

SOURCE_LABEL = "org.opencontainers.image.source"
REVISION_LABEL = "org.opencontainers.image.revision"


@dataclass
class Source:
    url: str
    revisions: set[str] = field(default_factory=set)
    images: list[str] = field(default_factory=list)


def images_in(report_path: Path) -> list[str]:
    """Every image a sweep (or image) JSON report has findings in, in report order."""
    try:
        report = json.loads(report_path.read_bytes())
    except OSError as e:
        raise TargetUnreadable(f"cannot read {report_path}: {e.strerror}") from e
    except ValueError as e:
        raise UsageError(f"{report_path} is not JSON") from e
    findings = report.get("findings") if isinstance(report, dict) else None
    if not isinstance(findings, list):
        raise UsageError(f"{report_path} is not a leakguard JSON report",
                         hint="give a `leakguard sweep -f json` report")  # fmt: skip
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


def labels_of(image: str, insecure: bool = False) -> dict[str, str]:
    """The image config's labels, read from its registry."""
    from leakguard.registry.client import RegistryClient
    from leakguard.registry.reference import Reference

    ref = Reference.parse(image)
    client = RegistryClient(ref.host, insecure=insecure)
    try:
        manifest = client.manifest(ref.repository, ref.reference).json
        if "manifests" in manifest:  # an index: the first image that is not an attestation
            entries = [m for m in manifest["manifests"]
                       if (m.get("platform") or {}).get("os") not in (None, "unknown")]  # fmt: skip
            if not entries:
                return {}
            manifest = client.manifest(ref.repository, entries[0]["digest"]).json
        config: dict[str, Any] = json.loads(
            client.blob_bytes(ref.repository, manifest["config"]["digest"])
        )
    finally:
        client.close()
    labels = (config.get("config") or {}).get("Labels") or {}
    return {str(k): str(v) for k, v in labels.items()}


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
                labels = labels_of(image, insecure)
            except LeakguardError as e:
                unmapped.append((image, f"cannot read its labels: {e.message}"))
                continue
            url = labels.get(SOURCE_LABEL)
            revision = labels.get(REVISION_LABEL)
            if not url:
                unmapped.append((image, f"no {SOURCE_LABEL} label and no --repo-map entry"))
                continue
        source = sources.setdefault(url, Source(url))
        source.images.append(image)
        if revision:
            source.revisions.add(revision)
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
