"""The values every part of image reading shares: options, layers, images, layer scans."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from leakguard.errors import TargetUnreadable
from leakguard.models import (
    Finding,
    ScanStats,
    Skipped,
)


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class ImageOptions:
    max_file_size: int | None = None  # None: no bound (members are streamed)
    # Decompressed bytes one layer may expand to, and the ratio past which a
    # large expansion is taken for a decompression bomb.
    max_layer_bytes: int = 64 * 1024**3
    bomb_ratio: int = 500
    bomb_min_bytes: int = 256 * 1024 * 1024
    # Archives inside a layer are opened this many levels deep (a jar in a war in
    # a tarball is 3); one deeper is reported as not read.
    nested_depth: int = 4
    # A zip inside a layer is read into memory up to this size, past it into a
    # temporary file (a zip is read from its end).
    nested_max: int = 64 * 1024 * 1024
    platform: str | None = None  # "os/arch[/variant]"; None: every platform
    timeout: float = 30.0  # seconds a registry may leave a request unanswered
    max_connections: int = 8  # connections open to one registry at once
    max_retry_wait: float = 60.0  # seconds one request may wait out 429/5xx before giving up


@dataclass
class LayerScan:
    """What one layer holds, independent of the image it is part of."""

    digest: str
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)
    whiteouts: set[str] = field(default_factory=set)  # paths this layer deletes
    opaque: set[str] = field(default_factory=set)  # folders whose lower content it hides
    entries: set[str] = field(default_factory=set)  # non-folder paths it (re)creates
    cached: bool = False

    @property
    def complete(self) -> bool:
        return not any(s.error for s in self.skipped)

    def hides(self, path: str, ancestors: Sequence[str]) -> bool:
        """Whether this (later) layer deletes or replaces `path` of an earlier layer."""
        if path in self.whiteouts or path in self.entries:
            return True
        for folder in ancestors:
            if folder in self.whiteouts or folder in self.opaque or folder in self.entries:
                return True
        return False


class PlatformMissing(TargetUnreadable):
    """The image has no manifest for the platform asked for."""


class LayerSource(Protocol):
    """Something that opens a layer blob (picklable: it crosses into worker processes)."""

    def open(self) -> contextlib.AbstractContextManager[Readable]: ...


@dataclass(frozen=True)
class Layer:
    digest: str  # the uncompressed digest (diff_id) when known: identical across transports
    source: LayerSource | None
    blob_digest: str | None = None  # verified as the blob streams, when the source does not
    diff_id: str | None = None  # checked against the uncompressed tar when set
    size: int = 0


@dataclass
class Image:
    name: str
    config: dict[str, Any]
    layers: list[Layer]
    attestations: list[tuple[str, bytes]] = field(default_factory=list)  # (digest, in-toto JSON)
    skipped: list[Skipped] = field(default_factory=list)
    # From a registry: the digest of this platform's manifest, and of the index
    # (or the manifest itself) its reference resolved to.
    digest: str | None = None
    top: str | None = None


def _short(digest: str) -> str:
    algo, _, hexa = digest.partition(":")
    return f"{algo}:{hexa[:12]}" if hexa else digest[:19]


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text if len(text) < 200 else text[:197] + "..."


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)[:200]
