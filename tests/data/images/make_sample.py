#!/usr/bin/env python3
"""Write samples/image/: an OCI image layout of the sample app, byte for byte reproducible.

    python3 tests/data/images/make_sample.py [OUT]      # default: samples/image

What `docker build samples/` would make (without the python:3.12-slim base,
which cannot be fetched offline: a one-file stand-in takes its place), plus a
last `RUN rm ~/.npmrc` layer, so the sample shows a file deleted in a later
layer that is still in the image. Every credential is the sample's own fake.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shutil
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples"
MTIME = 1_700_000_000


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), MTIME, 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main(out: Path) -> None:
    dockerfile = (SAMPLES / "Dockerfile").read_text()
    env = re.findall(r"(\w+)=(\S+)", dockerfile.split("ENV", 1)[1].split("\n\n", 1)[0])
    npm_token = re.search(r"ARG NPM_TOKEN=(\S+)", dockerfile).group(1)  # type: ignore[union-attr]
    app = {
        f"app/{p.relative_to(SAMPLES)}": p.read_bytes()
        for p in sorted(SAMPLES.rglob("*"))
        if p.is_file() and "image" not in p.relative_to(SAMPLES).parts
    }
    npmrc = f"//registry.npmjs.org/:_authToken={npm_token}\n".encode()
    layers = [
        _tar({"etc/os-release": b'PRETTY_NAME="stand-in for python:3.12-slim"\n'}),
        _tar({"root/.npmrc": npmrc}),
        _tar(app),
        _tar({"root/.wh..npmrc": b""}),
    ]
    run = "printf '//registry.npmjs.org/:_authToken=%s\\n' \"$NPM_TOKEN\" > ~/.npmrc"
    history = [
        ("/bin/sh -c #(nop) ADD file:stand-in in /", False),
        ("/bin/sh -c #(nop)  ENV " + " ".join(f"{k}={v}" for k, v in env), True),
        (f"/bin/sh -c #(nop)  ARG NPM_TOKEN={npm_token}", True),
        (f"|1 NPM_TOKEN={npm_token} /bin/sh -c {run}", False),
        ("/bin/sh -c #(nop) WORKDIR /app", True),
        ("/bin/sh -c #(nop) COPY dir:samples in /app", False),
        ("/bin/sh -c #(nop)  ENV DJANGO_SETTINGS_MODULE=app.settings", True),
        ('/bin/sh -c #(nop)  CMD ["gunicorn" "--bind" "0.0.0.0:8000" "app.wsgi"]', True),
        ("/bin/sh -c rm ~/.npmrc", False),
    ]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {
            "Env": [f"{k}={v}" for k, v in env] + ["DJANGO_SETTINGS_MODULE=app.settings"],
            "Cmd": ["gunicorn", "--bind", "0.0.0.0:8000", "app.wsgi"],
            "WorkingDir": "/app",
        },
        "rootfs": {"type": "layers", "diff_ids": [_digest(t) for t in layers]},
        "history": [
            {
                "created": "2023-11-14T22:13:20Z",
                "created_by": c,
                **({"empty_layer": True} if e else {}),
            }
            for c, e in history
        ],
    }
    if out.exists():
        shutil.rmtree(out)
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict[str, object]:
        (blobs / _digest(data).split(":")[1]).write_bytes(data)
        return {"digest": _digest(data), "size": len(data)}

    config_bytes = json.dumps(config, indent=1).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config_bytes)},
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                **put(gzip.compress(t, compresslevel=9, mtime=0)),
            }
            for t in layers
        ],
    }
    manifest_bytes = json.dumps(manifest, indent=1).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **put(manifest_bytes),
                "annotations": {"org.opencontainers.image.ref.name": "1"},
            }
        ],
    }
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    (out / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}\n')


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES / "image")
