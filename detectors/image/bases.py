"""Base-image inheritance: which known image an image starts with."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace

from leakguard.detectors.image.model import Image
from leakguard.detectors.image.sources import engine_socket_answers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnownImage:
    """An image whose layers may start another one (its base)."""

    name: str
    diff_ids: tuple[str, ...]
    history: int | None = None  # entries in its history, when known
    local_id: str | None = None  # an image id of the local engine


def known_local_images() -> list[KnownImage]:
    """Tagged images of the local engine (none when no engine answers)."""
    if not engine_socket_answers():
        return []
    try:
        import docker

        with contextlib.closing(docker.from_env(timeout=5)) as client:
            images = client.images.list()
    except Exception as e:  # no engine, no permission: nothing is known
        log.debug("no local images to find bases among: %s", e)
        return []
    out: list[KnownImage] = []
    for img in images:
        layers = ((img.attrs or {}).get("RootFS") or {}).get("Layers") or []
        if img.tags and layers:
            out.append(KnownImage(img.tags[0], tuple(layers), None, img.id))
    return out


def _with_history(base: KnownImage) -> KnownImage:
    """The base with its history length, asked of the local engine when needed."""
    if base.history is not None or base.local_id is None:
        return base
    try:
        import docker

        with contextlib.closing(docker.from_env(timeout=5)) as client:
            entries = client.api.history(base.local_id)
        return replace(base, history=len(entries))
    except Exception as e:
        log.debug("no history for %s: %s", base.name, e)
        return base


def base_of(image: Image, known: Iterable[KnownImage]) -> KnownImage | None:
    """The known image with the most layers that all start `image` (strictly fewer)."""
    ids = tuple(layer.digest for layer in image.layers)
    best: KnownImage | None = None
    for candidate in known:
        n = len(candidate.diff_ids)
        if 0 < n < len(ids) and ids[:n] == candidate.diff_ids:
            if best is None or n > len(best.diff_ids):
                best = candidate
    return best
