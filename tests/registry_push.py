"""Images pushed through a registry's HTTP API (blob uploads and manifest PUTs).

No engine and no skopeo: an image is a few gzip layers, a config with the
`created` time asked for and a manifest; a multi-arch tag is an index of
such manifests. The tests and `bench/sweep_fleet.py` use it to make many
images quickly on the loopback registry of `tests/services.py`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Blob:
    data: bytes  # as stored (gzip for a layer)
    diff_id: str  # digest of the uncompressed tar (a config: its own digest)

    @property
    def digest(self) -> str:
        return sha256(self.data)


def layer(files: Mapping[str, bytes | str]) -> Blob:
    """A gzip layer holding `files` (path → content), reproducible byte for byte."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return Blob(gzip.compress(tar_bytes, 6, mtime=0), sha256(tar_bytes))


class Pusher:
    """One registry host, one keep-alive session; every blob is uploaded once per
    repository (mounted from the first repository that got it)."""

    def __init__(self, host: str, home: dict[str, str] | None = None):
        self.base = f"http://{host}/v2"
        self.session = requests.Session()
        # blob digest → a repository that has it (a dict several pushers may share)
        self._home: dict[str, str] = {} if home is None else home
        self.requests = 0

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, url: str, **kwargs: object) -> requests.Response:
        self.requests += 1
        response = self.session.request(method, url, timeout=60, **kwargs)  # type: ignore[arg-type]
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {url}: HTTP {response.status_code} {response.text[:300]}")
        return response

    def blob(self, repo: str, blob: Blob) -> None:
        digest = blob.digest
        home = self._home.get(digest)
        if home == repo:
            return
        if home is not None:  # cross-repository mount: no bytes sent
            answer = self._call(
                "POST", f"{self.base}/{repo}/blobs/uploads/", params={"mount": digest, "from": home}
            )
            if answer.status_code == 201:
                return
            location = answer.headers["Location"]
        else:
            location = self._call("POST", f"{self.base}/{repo}/blobs/uploads/").headers["Location"]
        if location.startswith("/"):
            location = self.base.removesuffix("/v2") + location
        self._call(
            "PUT",
            location,
            params={"digest": digest},
            data=blob.data,
            headers={"Content-Type": "application/octet-stream"},
        )
        self._home.setdefault(digest, repo)

    def manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        self._call(
            "PUT",
            f"{self.base}/{repo}/manifests/{reference}",
            data=body,
            headers={"Content-Type": media_type},
        )
        return sha256(body)

    def image(
        self,
        repo: str,
        tag: str | None,
        layers: Sequence[Blob],
        created: str,
        *,
        env: Sequence[str] = (),
        platform: tuple[str, str] = ("linux", "amd64"),
    ) -> tuple[str, int]:
        """Push one image; (manifest digest, manifest size). `tag` None: by digest only."""
        config = json.dumps(
            {
                "architecture": platform[1],
                "os": platform[0],
                "created": created,
                "config": {"Env": list(env)},
                "rootfs": {"type": "layers", "diff_ids": [b.diff_id for b in layers]},
                "history": [
                    {"created": created, "created_by": f"/bin/sh -c #(nop) COPY layer{i} /"}
                    for i in range(len(layers))
                ],
            },
            sort_keys=True,
        ).encode()
        config_blob = Blob(config, sha256(config))
        for b in (*layers, config_blob):
            self.blob(repo, b)
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": OCI_CONFIG,
                    "digest": config_blob.digest,
                    "size": len(config),
                },
                "layers": [
                    {"mediaType": OCI_LAYER, "digest": b.digest, "size": len(b.data)}
                    for b in layers
                ],
            }  # fmt: skip
        ).encode()
        digest = self.manifest(repo, tag or sha256(body), body, OCI_MANIFEST)
        return digest, len(body)

    def index(
        self, repo: str, tag: str, manifests: Sequence[tuple[str, int, tuple[str, str]]]
    ) -> str:
        """A multi-arch tag over manifests already pushed: (digest, size, (os, arch))."""
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": d,
                        "size": n,
                        "platform": {"os": os_, "architecture": arch},
                    }
                    for d, n, (os_, arch) in manifests
                ],
            }  # fmt: skip
        ).encode()
        return self.manifest(repo, tag, body, OCI_INDEX)

    def delete_tag(self, repo: str, tag: str) -> None:
        """Delete the manifest a tag points at (and so the tag)."""
        answer = self._call(
            "HEAD",
            f"{self.base}/{repo}/manifests/{tag}",
            headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"},
        )
        self._call(
            "DELETE", f"{self.base}/{repo}/manifests/{answer.headers['Docker-Content-Digest']}"
        )
