"""Where images come from: a `docker save` tarball, an OCI layout, a registry, the engine."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leakguard import safejson
from leakguard.detectors.image.config_scan import _as_list, _size
from leakguard.detectors.image.model import (
    Image,
    ImageOptions,
    Layer,
    LayerSource,
    PlatformMissing,
    Readable,
    _one_line,
    _short,
)
from leakguard.detectors.image.streams import _Limited
from leakguard.errors import TargetUnreadable, UsageError
from leakguard.fsutil import NotRegularFile, open_regular
from leakguard.models import (
    Skipped,
)

if TYPE_CHECKING:
    from leakguard.registry import RegistryClient

MAX_JSON = 16 * 1024 * 1024  # manifests, configs, attestations
_HEX = re.compile(r"^[0-9a-f]{64}$")
ATTESTATION_TYPE = "attestation-manifest"


@dataclass(frozen=True)
class FileSlice:
    """A blob stored inside a tar file (docker-archive) or as a file (OCI layout)."""

    path: str
    offset: int = 0
    size: int = -1

    @contextlib.contextmanager
    def open(self) -> Iterator[Readable]:
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            yield _Limited(fh, self.size) if self.size >= 0 else fh


@dataclass(frozen=True)
class RegistryBlob:
    client: RegistryClient
    repository: str
    digest: str

    @contextlib.contextmanager
    def open(self) -> Iterator[Readable]:
        blob = self.client.blob(self.repository, self.digest)
        try:
            yield blob
        finally:
            blob.close()


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = safejson.loads(data)
    except ValueError as e:
        raise TargetUnreadable(f"{what} is not JSON: {_one_line(e)}") from e
    if not isinstance(value, dict):
        raise TargetUnreadable(f"{what} is not a JSON object")
    return value


def _config_object(data: bytes, what: str, skipped: list[Skipped]) -> dict[str, Any]:
    """An image config; one that is not a JSON object (malformed, nested without end)
    is reported as not read, and taken as empty so that the layers are still scanned."""
    try:
        return _json_object(data, what)
    except TargetUnreadable as e:
        skipped.append(Skipped(what, e.message.removeprefix(f"{what} is ") or e.message))
        return {}


def _diff_ids(config: dict[str, Any]) -> list[str]:
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    return [str(x) for x in ids] if isinstance(ids, list) else []


def _platform_of(entry: dict[str, Any]) -> str:
    p = entry.get("platform") or {}
    text = f"{p.get('os', '?')}/{p.get('architecture', '?')}"
    return text + (f"/{p['variant']}" if p.get("variant") else "")


def _platform_matches(entry: dict[str, Any], wanted: str | None) -> bool:
    if wanted is None:
        return True
    have = _platform_of(entry)
    return have == wanted or have.startswith(wanted + "/")


def _is_attestation(entry: dict[str, Any]) -> bool:
    notes = entry.get("annotations") or {}
    return notes.get("vnd.docker.reference.type") == ATTESTATION_TYPE


# docker-archive ------------------------------------------------------------------


def docker_archive(path: str, name: str | None = None) -> list[Image]:
    """The images in a `docker save` tarball (legacy layout or the OCI one Docker 25 writes)."""
    try:
        fh = open_regular(path)  # a FIFO or device would never end
    except FileNotFoundError:
        raise TargetUnreadable(f"{path}: no such file") from None
    except NotRegularFile:
        raise TargetUnreadable(f"{path}: not a regular file") from None
    except OSError as e:
        raise TargetUnreadable(
            f"{path}: not a docker-archive tarball: {_one_line(e)}",
            hint="create one with `docker save -o FILE IMAGE`",
        ) from e
    with fh:
        try:
            tar = tarfile.open(fileobj=fh, mode="r:")
        except (tarfile.TarError, OSError) as e:
            raise TargetUnreadable(
                f"{path}: not a docker-archive tarball: {_one_line(e)}",
                hint="create one with `docker save -o FILE IMAGE`",
            ) from e
        try:
            with tar:
                return _archive_images(tar, path, name)
        except (tarfile.TarError, EOFError, OSError) as e:
            raise TargetUnreadable(
                f"{path}: truncated or corrupt docker-archive: {_one_line(e)}",
                hint="save it again with `docker save -o FILE IMAGE`",
            ) from e


def _archive_images(tar: tarfile.TarFile, path: str, name: str | None) -> list[Image]:
    members = {m.name.lstrip("./"): m for m in tar.getmembers()}

    def read(member_name: str, limit: int = MAX_JSON) -> bytes:
        m = members.get(member_name.lstrip("./"))
        if m is None or not m.isfile():
            raise TargetUnreadable(f"{path}: {member_name!r} is missing from the archive")
        if m.size > limit:
            raise TargetUnreadable(f"{path}: {member_name!r} is too large")
        fh = tar.extractfile(m)
        assert fh is not None
        return fh.read()

    def blob(member_name: str) -> FileSlice | None:
        m = members.get(member_name.lstrip("./"))
        if m is None or not m.isfile():
            return None
        return FileSlice(os.path.abspath(path), m.offset_data, m.size)

    try:
        manifest = safejson.loads(read("manifest.json"))
    except ValueError as e:
        raise TargetUnreadable(f"{path}: manifest.json is not JSON: {_one_line(e)}") from e
    if not isinstance(manifest, list) or not manifest:
        raise TargetUnreadable(f"{path}: manifest.json lists no image")
    images = []
    for index, entry in enumerate(manifest):
        if not isinstance(entry, dict):
            raise TargetUnreadable(f"{path}: manifest.json entry {index} is not a JSON object")
        tags = [str(t) for t in entry.get("RepoTags") or []]
        if name and name not in tags and name != f"@{index}":
            continue
        shown = tags[0] if tags else f"{os.path.basename(path)}@{index}"
        config_name = str(entry.get("Config", ""))
        skipped: list[Skipped] = []
        config = _config_object(read(config_name), f"{shown} config", skipped)
        diff_ids = _diff_ids(config)
        layers = []
        layer_names = [str(x) for x in entry.get("Layers") or []]
        for i, layer_name in enumerate(layer_names):
            diff_id = diff_ids[i] if i < len(diff_ids) else None
            source = blob(layer_name)
            digest = diff_id or f"{os.path.basename(path)}:{layer_name}"
            if source is None:
                skipped.append(
                    Skipped(
                        f"{shown} layer {_short(digest)}",
                        f"{layer_name!r} is missing from the archive",
                    )
                )
                layers.append(Layer(digest, None, None, diff_id))
                continue
            blob_digest = None
            match = re.match(r"^blobs/(sha256)/([0-9a-f]{64})$", layer_name)
            if match:
                blob_digest = f"{match.group(1)}:{match.group(2)}"
            layers.append(Layer(digest, source, blob_digest, diff_id, source.size))
        images.append(Image(shown, config, layers, skipped=skipped))
    if name and not images:
        raise TargetUnreadable(f"{path}: no image tagged {name!r} in the archive")
    return images


# oci layout ------------------------------------------------------------------------


def oci_layout(folder: str, tag: str | None, options: ImageOptions) -> list[Image]:
    root = Path(folder)
    if not (root / "index.json").is_file():
        raise TargetUnreadable(
            f"{folder}: not an OCI image layout (no index.json)",
            hint="create one with `skopeo copy ... oci:DIR:TAG`",
        )

    def blob_path(digest: str) -> Path:
        algo, _, hexa = digest.partition(":")
        if algo != "sha256" or not _HEX.match(hexa):
            raise TargetUnreadable(f"{folder}: bad digest {digest[:80]!r}")
        path = root / "blobs" / algo / hexa
        try:
            st = path.lstat()
        except FileNotFoundError:
            raise TargetUnreadable(f"{folder}: blob {_short(digest)} is missing") from None
        import stat as stat_module

        if not stat_module.S_ISREG(st.st_mode):
            raise TargetUnreadable(f"{folder}: blob {_short(digest)} is not a regular file")
        return path

    def fetch(digest: str) -> bytes:
        path = blob_path(digest)
        if path.stat().st_size > MAX_JSON:
            raise TargetUnreadable(f"{folder}: blob {_short(digest)} is too large for JSON")
        data = path.read_bytes()
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise TargetUnreadable(
                f"{folder}: blob {_short(digest)} does not match its digest",
                hint="the layout was altered; do not trust this image",
            )
        return data

    index = _json_object((root / "index.json").read_bytes()[:MAX_JSON], f"{folder}/index.json")
    entries = [e for e in index.get("manifests") or [] if isinstance(e, dict)]
    if tag is not None:
        entries = [
            e
            for e in entries
            if (e.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag
        ]
        if not entries:
            raise TargetUnreadable(f"{folder}: no image tagged {tag!r} in the layout")
    base = f"oci:{folder}" + (f":{tag}" if tag else "")

    def layer_source(digest: str) -> LayerSource:
        return FileSlice(str(blob_path(digest)))

    return _from_manifests(base, entries, fetch, layer_source, options)


def _from_manifests(
    name: str,
    entries: list[dict[str, Any]],
    fetch: Callable[[str], bytes],
    layer_source: Callable[[str], LayerSource],
    options: ImageOptions,
    fetch_blob: Callable[[str], bytes] | None = None,
) -> list[Image]:
    """Images from manifest descriptors, following indexes down to each platform."""
    images: list[Image] = []
    attestations: list[tuple[str, bytes]] = []
    blob = fetch_blob or fetch
    multi = len(entries) > 1

    def visit(entry: dict[str, Any], shown: str, depth: int) -> None:
        digest = str(entry.get("digest", ""))
        manifest = _json_object(fetch(digest), f"{shown} manifest {_short(digest)}")
        media = str(manifest.get("mediaType") or entry.get("mediaType") or "")
        if "manifests" in manifest or "index" in media or "list" in media:
            if depth > 4:
                raise TargetUnreadable(f"{shown}: indexes nested too deep")
            children = [m for m in manifest.get("manifests") or [] if isinstance(m, dict)]
            platforms = [c for c in children if not _is_attestation(c)]
            if not any(_platform_matches(c, options.platform) for c in platforms):
                have = ", ".join(sorted({_platform_of(c) for c in platforms})) or "none"
                raise PlatformMissing(f"{shown}: no {options.platform} image (it has: {have})")
            for child in children:
                if _is_attestation(child):
                    attestations.extend(_attestation_layers(child, fetch, blob))
                    continue
                if not _platform_matches(child, options.platform):
                    continue
                label = f"{shown} ({_platform_of(child)})" if len(platforms) > 1 else shown
                visit(child, label, depth + 1)
            return
        config_ref = manifest.get("config")
        config_digest = str(config_ref.get("digest", "")) if isinstance(config_ref, dict) else ""
        problems: list[Skipped] = []
        config = _config_object(blob(config_digest), f"{shown} config", problems)
        if depth == 0 and options.platform and config.get("os") and config.get("architecture"):
            single = {"platform": config}  # a lone image: its config says its platform
            if not _platform_matches(single, options.platform):
                have = _platform_of(single)
                raise PlatformMissing(f"{shown}: a {have} image, not {options.platform}")
        diff_ids = _diff_ids(config)
        layers = []
        descs = manifest.get("layers")
        for i, desc in enumerate(d for d in _as_list(descs) if isinstance(d, dict)):
            blob_digest = str(desc.get("digest", ""))
            diff_id = diff_ids[i] if i < len(diff_ids) else None
            source: LayerSource | None = None
            try:
                source = layer_source(blob_digest)
            except TargetUnreadable as e:  # this layer is lost; the others are still read
                problems.append(Skipped(f"layer {diff_id or blob_digest}", e.message))
            layers.append(
                Layer(diff_id or blob_digest, source, blob_digest, diff_id, _size(desc.get("size")))
            )
        images.append(Image(shown, config, layers, skipped=problems, digest=digest or None))

    for entry in entries:
        ref = (entry.get("annotations") or {}).get("org.opencontainers.image.ref.name")
        shown = f"{name}:{ref}" if multi and ref and not name.endswith(f":{ref}") else name
        visit(entry, shown, 0)
    if attestations and images:
        images[0].attestations.extend(attestations)
    return images


def _attestation_layers(
    entry: dict[str, Any], fetch: Callable[[str], bytes], blob: Callable[[str], bytes]
) -> Iterator[tuple[str, bytes]]:
    manifest = _json_object(fetch(str(entry.get("digest", ""))), "attestation manifest")
    for desc in manifest.get("layers") or []:
        digest = str(desc.get("digest", ""))
        if int(desc.get("size") or 0) <= MAX_JSON:
            yield digest, blob(digest)


# registry ---------------------------------------------------------------------------


def registry_images(
    ref: str, options: ImageOptions, *, insecure: bool = False, client: RegistryClient | None = None
) -> list[Image]:
    from leakguard.registry import Reference, RegistryClient

    parsed = Reference.parse(ref)
    client = client or RegistryClient(
        parsed.host,
        insecure=insecure,
        timeout=options.timeout,
        max_connections=options.max_connections,
        max_wait=options.max_retry_wait,
    )
    repo = parsed.repository

    def fetch(digest: str) -> bytes:
        if digest == top.digest:
            return top.data
        return client.manifest(repo, digest).data

    def fetch_blob(digest: str) -> bytes:
        return client.blob_bytes(repo, digest, MAX_JSON)

    top = client.manifest(repo, parsed.reference)

    def layer_source(digest: str) -> LayerSource:
        return RegistryBlob(client, repo, digest)

    entry = {"digest": top.digest, "mediaType": top.media_type}
    images = _from_manifests(str(parsed), [entry], fetch, layer_source, options, fetch_blob)
    for image in images:
        image.top = top.digest
    return images


# docker daemon ----------------------------------------------------------------------


def daemon_images(name: str, options: ImageOptions, workdir: str) -> list[Image]:
    """An image of the local engine, through its `docker save` stream.

    The stream is spooled, unmodified, to a private temporary file so that
    layers can be read in parallel; no layer is ever extracted.
    """
    import docker

    with contextlib.closing(_docker_client()) as client:
        try:
            image = client.images.get(name)
        except docker.errors.ImageNotFound:
            raise TargetUnreadable(
                f"docker-daemon:{name}: no such image in the local engine",
                hint="`docker images` lists what the engine has",
            ) from None
        except docker.errors.APIError as e:
            raise TargetUnreadable(f"docker-daemon:{name}: {_one_line(e)}") from e
        import tempfile

        fd, spool = tempfile.mkstemp(prefix="saved-", suffix=".tar", dir=workdir)  # 0600
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in image.save(named=True):
                    out.write(chunk)
        except (docker.errors.APIError, OSError) as e:
            raise TargetUnreadable(f"docker-daemon:{name}: save failed: {_one_line(e)}") from e
    images = docker_archive(spool)
    for img in images:
        img.name = name
    return images


def engine_host() -> str:
    """The engine the SDK talks to: DOCKER_HOST, else the local socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def engine_socket_answers() -> bool:
    """Whether the engine's local socket takes connections (True when not a socket).

    Asked before the SDK is: the SDK leaks its socket when a connection fails.
    """
    host = engine_host()
    if not host.startswith("unix://"):
        return True
    import socket

    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(host.removeprefix("unix://"))
        return True
    except OSError:
        return False


def _docker_client() -> Any:
    import docker

    if not engine_socket_answers():
        raise TargetUnreadable(
            f"cannot reach the Docker engine at {engine_host()}: its socket does not answer",
            hint=ENGINE_HINT,
        )

    client = None
    try:
        client = docker.from_env(timeout=300)
        client.ping()
        return client
    except docker.errors.DockerException as e:
        if client is not None:
            client.close()
        raise TargetUnreadable(
            f"cannot reach the Docker engine at {engine_host()}: {_one_line(e)}",
            hint=ENGINE_HINT,
        ) from e


ENGINE_HINT = "is dockerd running, and is DOCKER_HOST (or the docker context) right?"


def daemon_has(name: str) -> bool | None:
    """Whether the local engine has the image; None when no engine answers."""
    try:
        client = _docker_client()
    except TargetUnreadable:
        return None
    import docker

    with contextlib.closing(client):
        try:
            client.images.get(name)
            return True
        except docker.errors.DockerException:
            return False


# references -------------------------------------------------------------------------


def resolve(
    ref: str, options: ImageOptions, workdir: str, *, insecure: bool = False
) -> list[Image]:
    """The images a REF names (one, or one per platform)."""
    transport, sep, rest = ref.partition(":")
    if sep and transport == "docker-daemon":
        return daemon_images(rest, options, workdir)
    if sep and transport == "docker-archive":
        path, _, name = rest.partition(":") if not os.path.exists(rest) else (rest, "", "")
        return docker_archive(path, name or None)
    if sep and transport == "oci":
        folder, tag = rest, None
        if not os.path.isdir(rest) and ":" in rest:
            folder, tag = rest.rsplit(":", 1)
        return oci_layout(folder, tag, options)
    if ref.startswith(("docker://", "registry://")):
        return registry_images(ref, options, insecure=insecure)
    if sep and transport in ("docker", "containers-storage", "dir", "oci-archive"):
        raise UsageError(
            f"{ref}: the {transport!r} transport is not supported",
            hint="use docker-daemon:, docker-archive:, oci: or docker://",
        )
    local = daemon_has(ref)
    if local:
        return daemon_images(ref, options, workdir)
    try:
        return registry_images(ref, options, insecure=insecure)
    except TargetUnreadable as e:
        if local is not None:
            raise
        # Neither source answered: the engine is the one a plain NAME usually means.
        raise TargetUnreadable(
            f"{ref}: cannot reach the Docker engine at {engine_host()}, nor the registry "
            f"({e.message})",
            hint=f"{ENGINE_HINT} (write docker://REF for a registry only)",
        ) from e
