"""The image surface: every layer, the config (env, labels, command) and the history.

An image is read from one of four places, named as skopeo names them:

    docker-daemon:NAME[:TAG]       the local Docker engine (its `docker save` stream)
    docker-archive:PATH            a `docker save` tarball
    oci:DIR[:TAG]                  an OCI image layout
    docker://HOST[:PORT]/REPO[:TAG|@DIGEST]   a registry (leakguard.registry)

Each layer is a tar stream (uncompressed, gzip or zstd) that is read once,
in order, and never extracted: regular files go through the engine, links,
devices and hostile names are never followed. What a layer deletes (`.wh.`
whiteouts, opaque directories) or overwrites is recorded, so a finding in an
earlier layer's file that a later layer removed is still reported, marked
`deleted`. Layers are scanned independently (in parallel, cached by their
uncompressed digest); putting an image together from its layers is cheap.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import posixpath
import re
import sqlite3
import stat
import tarfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from leakguard import safejson
from leakguard.detectors import STRUCTURED, StructuredScanner, scanner_for
from leakguard.engine import CHUNK_SIZE, Engine, kind_of_path
from leakguard.errors import TargetUnreadable, UsageError
from leakguard.fsutil import NotRegularFile, open_regular
from leakguard.models import (
    Confidence,
    Finding,
    Location,
    Origin,
    RuleId,
    ScanResult,
    ScanStats,
    SecretValue,
    Severity,
    Skipped,
    Surface,
)
from leakguard.rules import Context
from leakguard.tree import NO_FILES

if TYPE_CHECKING:
    from leakguard.registry import RegistryClient

log = logging.getLogger(__name__)

BINARY_SNIFF = 8192
# Below this much (compressed) layer data, starting worker processes costs more than it saves.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
MAX_JSON = 16 * 1024 * 1024  # manifests, configs, attestations
_HEX = re.compile(r"^[0-9a-f]{64}$")
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
PURE_STRUCTURED = frozenset({"dockerfile"})
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip", ".jar", ".war", ".ear", ".whl")
ATTESTATION_TYPE = "attestation-manifest"


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


# -- one layer --------------------------------------------------------------------


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


class _Bound(Exception):
    pass


class _Reader:
    """read() plus readinto(), which the C decompressors ask their source for."""

    def read(self, n: int = -1, /) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


class _Counting(_Reader):
    """Counts what passes through; stops a decompression bomb."""

    def __init__(
        self,
        inner: Readable,
        limit: int = 0,
        source: _Counting | None = None,
        options: ImageOptions | None = None,
    ):
        self.inner = inner
        self.count = 0
        self.limit = limit
        self.source = source
        self.options = options

    def read(self, n: int = -1, /) -> bytes:
        data = self.inner.read(n)
        self.count += len(data)
        if self.limit and self.count > self.limit:
            raise _Bound(f"decompressed past the {self.limit // 1024**2} MiB bound")
        opts = self.options
        if opts is not None and self.source is not None and self.count > opts.bomb_min_bytes:
            if self.count > opts.bomb_ratio * max(self.source.count, 1):
                raise _Bound(
                    f"expands more than {opts.bomb_ratio}:1 "
                    f"({self.count // 1024**2} MiB so far): a decompression bomb"
                )
        return data


class _Hashing(_Reader):
    def __init__(self, inner: Readable, algorithm: str = "sha256"):
        self.inner = inner
        self.hash = hashlib.new(algorithm)
        self.count = 0

    def read(self, n: int = -1, /) -> bytes:
        data = self.inner.read(n)
        self.hash.update(data)
        self.count += len(data)
        return data

    def finish(self) -> bytes:
        """Read what the tar reader left (padding, trailing blocks) so the hash is whole."""
        while self.read(1024 * 1024):
            pass
        return self.hash.digest()


class _Peeked(_Reader):
    def __init__(self, head: bytes, inner: Readable):
        self.head = head
        self.inner = inner

    def read(self, n: int = -1, /) -> bytes:
        if self.head:
            if n is None or n < 0:
                data, self.head = self.head + self.inner.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            return data
        return self.inner.read(n)


def decompressed(raw: Readable) -> tuple[Readable, str]:
    """The tar stream inside a layer blob, whatever its compression."""
    head = b""
    while len(head) < 4:
        more = raw.read(4 - len(head))
        if not more:
            break
        head += more
    stream = _Peeked(head, raw)
    if head.startswith(_GZIP):
        return _Gunzip(stream), "gzip"
    if head.startswith(_ZSTD):
        try:
            import zstandard
        except ImportError:
            raise _Unsupported("a zstd layer, and the zstandard module is missing") from None
        return zstandard.ZstdDecompressor().stream_reader(stream), "zstd"  # type: ignore[arg-type]
    return stream, "tar"


class _Gunzip(_Reader):
    """A gzip stream, decompressed as it is read.

    Unlike a GzipFile, every byte decompressed before the stream turns out to
    be truncated or corrupt is handed out first; the error comes with the next
    read. A member read in full before the cut is then scanned, and the cut is
    still reported.
    """

    INPUT = 64 * 1024

    def __init__(self, raw: Readable):
        self.raw = raw
        self.inflate = _inflater()
        self.pending = b""  # compressed input not given to the inflater yet
        self.error: BaseException | None = None
        self.done = False

    def read(self, n: int = -1, /) -> bytes:
        if n is None or n < 0:
            parts = []
            while part := self.read(1024 * 1024):
                parts.append(part)
            return b"".join(parts)
        while not self.done and self.error is None:
            try:
                data = self._step(n)
            except Exception as e:
                if not (isinstance(e, zlib.error) or _codec_error(e)):
                    raise
                self.error = ValueError(f"corrupt gzip data: {_one_line(e)}")
                break
            if data:
                return data
        if self.error is not None:
            raise self.error
        return b""

    def _step(self, n: int) -> bytes:
        """Some output (possibly none); sets `done` or `error` at the end of the input."""
        inflate = self.inflate
        if inflate.eof:
            rest = inflate.unused_data + self.pending
            self.pending = b""
            if not rest:
                rest = self.raw.read(self.INPUT)
            if not rest:
                self.done = True
                return b""
            if not rest.startswith(_GZIP[: len(rest)]):
                self.error = ValueError("data after the end of the gzip stream")
                return b""
            self.inflate = inflate = _inflater()  # another gzip member follows
            self.pending = rest
        if inflate.unconsumed_tail:
            source = inflate.unconsumed_tail
        else:
            source = self.pending or self.raw.read(self.INPUT)
            self.pending = b""
            if not source:
                out = inflate.flush()
                if not inflate.eof:
                    self.error = EOFError(
                        "compressed data ends before the end of the gzip stream (truncated)"
                    )
                return bytes(out)
        return bytes(inflate.decompress(source, n))


def _inflater() -> Any:
    try:
        from isal import isal_zlib

        return isal_zlib.decompressobj(wbits=31)
    except ImportError:  # pragma: no cover - isal is a dependency
        return zlib.decompressobj(wbits=31)


def _codec_error(e: BaseException) -> bool:
    """A decompressor's own error type (isal's IsalError, zstandard's ZstdError)."""
    module = type(e).__module__.split(".")[0]
    return module in ("zstandard", "isal", "igzip_lib", "isal_zlib") or isinstance(e, zlib.error)


class PlatformMissing(TargetUnreadable):
    """The image has no manifest for the platform asked for."""


class _Unsupported(Exception):
    pass


# -- a streaming tar reader ------------------------------------------------------------
#
# tarfile's stream mode costs tens of microseconds per member and copies its
# whole buffer on every small read; a layer has tens of thousands of members.
# This reader parses the same formats (v7, ustar, GNU long names, PAX) from one
# forward-only buffer, hands out each member's content as a bounded stream,
# and skips what the caller did not read.

BLOCK = 512


class TarFormatError(ValueError):
    """The stream is not a tar archive, or it ends in the middle of one."""


@dataclass(slots=True)
class TarEntry:
    name: str
    kind: bytes  # the typeflag: b"0" file, b"1" hard link, b"2" symlink, b"5" folder, ...
    size: int
    linkname: str = ""

    def isfile(self) -> bool:
        return self.kind in (b"0", b"\0", b"7")

    def isdir(self) -> bool:
        return self.kind == b"5" or (self.kind in (b"0", b"\0") and self.name.endswith("/"))

    def isdev(self) -> bool:
        return self.kind in (b"3", b"4", b"6")


def _number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # base-256, for sizes past 8 GiB
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text or b"0", 8)
    except ValueError:
        raise TarFormatError(f"bad number {text[:20]!r} in a tar header") from None


def _text(field: bytes) -> str:
    # a byte that is not UTF-8 is kept (surrogate escape): reports show it as \xNN
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


class TarStream:
    """Members of a tar stream, in order, each with a reader for its content."""

    def __init__(self, raw: Readable, buffer: int = 1024 * 1024):
        self.raw = raw
        self.chunk = buffer
        self.buf = b""
        self.pos = 0
        self.offset = 0  # of self.buf[0] in the stream
        self.left = 0  # unread bytes of the current member's content
        self.pad = 0

    def _fill(self, need: int) -> bool:
        while len(self.buf) - self.pos < need:
            more = self.raw.read(max(self.chunk, need))
            if not more:
                return False
            self.offset += self.pos
            self.buf = self.buf[self.pos :] + more
            self.pos = 0
        return True

    def _take(self, n: int) -> bytes:
        if not self._fill(n):
            raise TarFormatError(f"unexpected end of data at offset {self.offset + self.pos}")
        data = self.buf[self.pos : self.pos + n]
        self.pos += n
        return data

    def _skip(self, n: int) -> None:
        have = len(self.buf) - self.pos
        if n <= have:
            self.pos += n
            return
        n -= have
        self.offset += len(self.buf)
        self.buf, self.pos = b"", 0
        while n > 0:
            more = self.raw.read(min(n, 4 * self.chunk))
            if not more:
                raise TarFormatError("unexpected end of data inside a member")
            n -= len(more)
            self.offset += len(more)

    def read(self, n: int = -1, /) -> bytes:
        """Content of the current member (at most what is left of it)."""
        if self.left <= 0:
            return b""
        n = self.left if n is None or n < 0 else min(n, self.left)
        have = len(self.buf) - self.pos
        if have:
            n = min(n, have)
            data = self.buf[self.pos : self.pos + n]
            self.pos += n
        else:
            data = self.raw.read(n)
            if not data:
                raise TarFormatError("unexpected end of data inside a member")
            self.offset += len(data)
        self.left -= len(data)
        return data

    def __iter__(self) -> Iterator[TarEntry]:
        long_name: str | None = None
        long_link: str | None = None
        pax: dict[str, str] = {}
        while True:
            if self.left or self.pad:
                self._skip(self.left + self.pad)
                self.left = self.pad = 0
            if not self._fill(BLOCK):
                if len(self.buf) - self.pos:
                    raise TarFormatError("unexpected end of data in a tar header")
                return  # no end-of-archive blocks: tolerated, as tar does
            header = self._take(BLOCK)
            if header.count(0) == BLOCK:
                return
            stored = _number(header[148:156])
            blanked = header[:148] + b" " * 8 + header[156:]
            if stored != sum(blanked) and stored != sum(b - 256 if b > 127 else b for b in blanked):
                raise TarFormatError(
                    f"bad tar header checksum at offset {self.offset + self.pos - BLOCK}"
                )
            kind = header[156:157]
            size = _number(header[124:136])
            if size < 0:
                raise TarFormatError("negative member size in a tar header")
            self.left, self.pad = size, -size % BLOCK
            if kind in (b"L", b"K", b"x", b"g"):
                if size > 1024 * 1024:
                    raise TarFormatError("tar extended header larger than 1 MiB")
                data = self._take(size)
                self.left = 0
                if kind == b"L":
                    long_name = _text(data)
                elif kind == b"K":
                    long_link = _text(data)
                elif kind == b"x":
                    pax.update(_pax(data))
                continue
            name = _text(header[0:100])
            if header[257:262] == b"ustar" and header[345:346] != b"\0":
                prefix = _text(header[345:500])
                if prefix:
                    name = prefix + "/" + name
            linkname = _text(header[157:257])
            name = pax.get("path", long_name or name)
            linkname = pax.get("linkpath", long_link or linkname)
            if "size" in pax:
                try:
                    size = int(pax["size"])
                except ValueError:
                    raise TarFormatError("bad size in a PAX header") from None
                self.left, self.pad = size, -size % BLOCK
            if kind in (b"1", b"2", b"3", b"4", b"5", b"6"):
                self._skip(self.left + self.pad)  # no content, whatever the header says
                self.left = self.pad = 0
            long_name = long_link = None
            pax = {}
            yield TarEntry(name, kind, size if kind in (b"0", b"\0", b"7") else 0, linkname)


def _pax(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            raise TarFormatError("bad PAX record") from None
        if length <= 0:
            break
        record = data[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def _member_path(name: str) -> tuple[str, bool]:
    """The member's path inside the image ("/etc/passwd"), and whether its name was hostile."""
    hostile = name.startswith("/") or ".." in name.split("/") or "\0" in name
    norm = posixpath.normpath("/" + name.lstrip("/"))
    return norm, hostile


def _ancestors(path: str) -> list[str]:
    out = []
    parent = posixpath.dirname(path)
    while parent and parent != "/":
        out.append(parent)
        parent = posixpath.dirname(parent)
    return out


def scan_layer(
    engine: Engine,
    blob: Readable,
    digest: str,
    options: ImageOptions,
    *,
    expect: str | None = None,
    expect_uncompressed: str | None = None,
) -> LayerScan:
    """Scan one layer blob. `expect` is the blob's digest, `expect_uncompressed` its diff_id:
    both are checked when given (a mismatch is reported, findings are kept)."""
    out = LayerScan(digest)
    started = time.perf_counter()
    target = f"layer {digest}"
    counted_in = _Counting(blob)
    hashed_in = _Hashing(counted_in) if expect else None
    hashed_tar: _Hashing | None = None
    try:
        tar_stream, _kind = decompressed(hashed_in or counted_in)
        if expect_uncompressed:
            hashed_tar = _Hashing(tar_stream)
            tar_stream = hashed_tar
        bounded = _Counting(tar_stream, options.max_layer_bytes, counted_in, options)
        _LayerWalker(engine, out, options, counted_in).walk(bounded, depth=0, prefix="")
        # Read what the tar reader left (end blocks, padding) so every digest covers it all.
        while bounded.read(1024 * 1024):
            pass
        if hashed_tar is not None:
            got = "sha256:" + hashed_tar.hash.hexdigest()
            if got != expect_uncompressed:
                out.skipped.append(
                    Skipped(
                        target,
                        f"content does not match its diff_id {_short(expect_uncompressed or '')}",
                    )
                )
        source: Readable = hashed_in or counted_in
        while source.read(1024 * 1024):
            pass
        if hashed_in is not None:
            got = "sha256:" + hashed_in.hash.hexdigest()
            if got != expect:
                out.skipped.append(
                    Skipped(target, f"blob does not match its digest {_short(expect or '')}")
                )
    except _Bound as e:
        out.skipped.append(Skipped(target, f"{e}; the rest of this layer was not read"))
    except _Unsupported as e:
        out.skipped.append(Skipped(target, str(e)))
    except TargetUnreadable as e:
        out.skipped.append(Skipped(target, e.message))
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as e:
        out.skipped.append(Skipped(target, f"corrupt or truncated layer: {_one_line(e)}"))
    except Exception as e:
        if not _codec_error(e):
            raise
        out.skipped.append(Skipped(target, f"corrupt layer: {_one_line(e)}"))
    out.skipped.extend(Skipped(target, why) for why in engine.take_gave_up())
    out.stats.duration_s = time.perf_counter() - started
    return out


class _LayerWalker:
    def __init__(
        self,
        engine: Engine,
        out: LayerScan,
        options: ImageOptions,
        source: _Counting | None = None,
    ):
        self.engine = engine
        self.out = out
        self.options = options
        self.source = source  # the layer's compressed bytes, as they are read
        self.expanded = 0  # bytes that archives inside the layer expanded to

    def walk(self, stream: Readable, depth: int, prefix: str) -> None:
        """Every member of a tar stream, in order; `prefix` names an enclosing archive."""
        tar = TarStream(stream)
        for member in tar:
            self.member(tar, member, depth, prefix)

    def member(self, tar: TarStream, member: TarEntry, depth: int, prefix: str) -> None:
        out = self.out
        path, hostile = _member_path(member.name)
        shown = prefix + path if prefix else path
        if hostile:
            out.skipped.append(
                Skipped(
                    f"layer {self.out.digest} {_printable(member.name)}",
                    "member name leaves the image root: read under its normalized name, "
                    "not followed",
                    error=False,
                )
            )
        base = posixpath.basename(path)
        if not prefix:
            if base == ".wh..wh..opq":
                out.opaque.add(posixpath.dirname(path))
                return
            if base.startswith(".wh."):
                out.whiteouts.add(posixpath.join(posixpath.dirname(path), base[4:]))
                return
        if member.isdir():
            return
        if not prefix:
            out.entries.add(path)
        if member.isdev():
            out.skipped.append(
                Skipped(f"layer {out.digest} {shown}", "device or FIFO: not read", error=False)
            )
            return
        if not member.isfile():
            return  # symlinks and hard links: never followed; the target is scanned where it is
        if self.too_large(member.size, shown):
            return
        self.content(tar, member.size, shown, depth)

    def too_large(self, size: int, shown: str) -> bool:
        """Whether a file is over --max-file-size (reported: it is not read)."""
        from leakguard.detectors.files import over_size_bound

        bound = self.options.max_file_size
        if bound is None or size <= bound:
            return False
        self.out.skipped.append(Skipped(self.target(shown), over_size_bound(size, bound)))
        self.out.stats.bytes_skipped += size
        return True

    def target(self, shown: str) -> str:
        return f"{shown} (layer {_short(self.out.digest)})"

    def content(self, reader: Readable, size: int, shown: str, depth: int) -> None:
        from leakguard.detectors.credfiles import presence
        from leakguard.rules.filekinds import credential_file_kind

        out = self.out
        location = Location(
            surface=Surface.IMAGE, path=shown, layer=out.digest, origin=Origin.LAYER_FILE
        )
        if shown.lower().endswith(ARCHIVE_SUFFIXES):
            if depth < self.options.nested_depth:
                self.nested(reader, size, shown, depth)
                return
            out.skipped.append(
                Skipped(
                    self.target(shown),
                    f"an archive inside {depth} other archives: not opened (archives in a "
                    f"layer are opened {self.options.nested_depth} levels deep); its bytes "
                    "are scanned as they are",
                )
            )
        head = _read_up_to(reader, min(size, BINARY_SNIFF))
        out.stats.files += 1
        if b"\0" in head:
            out.stats.skipped_binary += 1
            cred_kind = credential_file_kind(shown)
            if cred_kind is not None and size <= CHUNK_SIZE:
                head += _read_up_to(reader, size - len(head))
                out.findings.extend(presence(self.engine, head, shown, location))
            out.stats.bytes_skipped += size
            return
        if len(head) < size:
            head += _read_up_to(reader, min(size, CHUNK_SIZE) - len(head))
        kind = credential_file_kind(shown)
        context = Context(path=shown, kind=kind)
        if len(head) == size:
            out.stats.bytes += size
            file_kind = kind_of_path(shown) if kind is None else None
            structured = layer_scanner(shown, head, file_kind) if kind is None else None
            if structured is not None:
                found = structured(self.engine, head, shown, NO_FILES)
                out.findings.extend(
                    replace(
                        f,
                        location=replace(location, line=f.location.line, column=f.location.column),
                    )
                    for f in found.findings
                )
                out.skipped.extend(found.skipped)
            else:
                out.findings.extend(self.engine.scan_bytes(head, location, context))
            return
        stats = out.stats

        def counted(n: int) -> None:
            stats.bytes += n

        stream = _Peeked(head, reader)
        out.findings.extend(self.engine.scan_stream(stream, location, context, on_bytes=counted))

    def expand(self, n: int, what: str = "a decompression bomb") -> None:
        """Count `n` bytes that an archive inside the layer expands to; stop a bomb."""
        self.expanded += n
        opts = self.options
        compressed = self.source.count if self.source is not None else 0
        allowed = min(opts.max_layer_bytes, max(opts.bomb_min_bytes, opts.bomb_ratio * compressed))
        if self.expanded > allowed:
            raise _Bound(
                f"archives inside the layer expand past {allowed // 1024**2} MiB "
                f"(more than {opts.bomb_ratio}:1 of the layer): {what}"
            )

    def nested(self, reader: Readable, size: int, shown: str, depth: int) -> None:
        """An archive inside the layer, streamed: its members, named `outer!inner`.

        An archive that cannot be read in full is reported (exit 3); what was
        read of it before the error is kept.
        """
        prefix = shown + "!"
        try:
            head = _read_up_to(reader, min(size, 4))
            if head in (b"PK\x03\x04", b"PK\x05\x06"):
                self.zip(head, reader, size, prefix, depth + 1)
                return
            stream, _ = decompressed(_Peeked(head, reader))
            self.walk(_Expanding(stream, self), depth + 1, prefix)
        except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError, _Bound) as e:
            self.out.skipped.append(
                Skipped(self.target(shown), f"archive not read in full: {_one_line(e)}")
            )
        except _Unsupported as e:
            self.out.skipped.append(Skipped(self.target(shown), str(e)))
        except Exception as e:
            if not _codec_error(e):
                raise
            self.out.skipped.append(
                Skipped(self.target(shown), f"archive not read in full: {_one_line(e)}")
            )

    def zip(self, head: bytes, reader: Readable, size: int, prefix: str, depth: int) -> None:
        import shutil
        import tempfile
        import zipfile

        # A zip is read from its end: held in memory, or in a temporary file when large.
        with tempfile.SpooledTemporaryFile(max_size=self.options.nested_max) as spool:
            spool.write(head)
            shutil.copyfileobj(reader, spool, 1024 * 1024)
            spool.seek(0)
            try:
                archive = zipfile.ZipFile(spool)
            except zipfile.BadZipFile as e:
                raise ValueError(str(e)) from e
            with archive:
                entries = [i for i in archive.infolist() if not i.is_dir()]
                # Every entry together, before any is read: no zip bomb.
                self.expand(sum(i.file_size for i in entries), "a zip bomb")
                for info in entries:
                    path, _ = _member_path(info.filename)
                    if self.too_large(info.file_size, prefix + path):
                        continue
                    try:
                        with archive.open(info) as member:
                            self.content(member, info.file_size, prefix + path, depth)
                    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, zlib.error) as e:
                        raise ValueError(f"{info.filename}: {e}") from e


class _Expanding(_Reader):
    """What an archive inside a layer expands to, counted against the layer's bomb bound."""

    def __init__(self, inner: Readable, walker: _LayerWalker):
        self.inner = inner
        self.walker = walker

    def read(self, n: int = -1, /) -> bytes:
        data = self.inner.read(n)
        self.walker.expand(len(data))
        return data


def layer_scanner(path: str, head: bytes, kind: str | None) -> StructuredScanner | None:
    """The detector `leakguard scan` sends this file to (`scanner_for`: a Dockerfile,
    a shell script, a Makefile, a CI file), when it needs nothing but the bytes
    given: a Compose file's env_files are not in the layer. The files a detector
    names are never looked up (an empty tree): a build context is not in the image.
    `kind` is `kind_of_path(path)`."""
    if kind in STRUCTURED and kind not in PURE_STRUCTURED:
        return None
    return scanner_for(path, head)


def _read_up_to(reader: Readable, n: int) -> bytes:
    """`n` bytes, or fewer only at the end of `reader` (whose reads may come up short)."""
    parts = []
    while n > 0:
        data = reader.read(n)
        if not data:
            break
        parts.append(data)
        n -= len(data)
    return b"".join(parts)


# -- images -------------------------------------------------------------------------


class LayerSource(Protocol):
    """Something that opens a layer blob (picklable: it crosses into worker processes)."""

    def open(self) -> contextlib.AbstractContextManager[Readable]: ...


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


class _Limited(_Reader):
    def __init__(self, inner: IO[bytes], size: int):
        self.inner = inner
        self.left = size

    def read(self, n: int = -1, /) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.inner.read(n)
        self.left -= len(data)
        return data


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


def _short(digest: str) -> str:
    algo, _, hexa = digest.partition(":")
    return f"{algo}:{hexa[:12]}" if hexa else digest[:19]


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text if len(text) < 200 else text[:197] + "..."


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)[:200]


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
        images.append(Image(shown, config, layers, skipped=problems))

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
    client = client or RegistryClient(parsed.host, insecure=insecure, timeout=options.timeout)
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
    return _from_manifests(str(parsed), [entry], fetch, layer_source, options, fetch_blob)


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


def engine_socket_answers() -> bool:
    """Whether the engine's local socket takes connections (True when not a socket).

    Asked before the SDK is: the SDK leaks its socket when a connection fails.
    """
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
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
            "cannot reach the Docker engine: its socket does not answer",
            hint="is dockerd running, and is DOCKER_HOST right?",
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
            f"cannot reach the Docker engine: {_one_line(e)}",
            hint="is dockerd running, and is DOCKER_HOST right?",
        ) from e


def daemon_has(name: str) -> bool:
    try:
        client = _docker_client()
    except TargetUnreadable:
        return False
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
    if daemon_has(ref):
        return daemon_images(ref, options, workdir)
    return registry_images(ref, options, insecure=insecure)


# putting it together ---------------------------------------------------------------


def image_level(engine: Engine, image: Image) -> list[Finding]:
    """Findings in the config: Env, Labels, Cmd/Entrypoint/Healthcheck, history, attestations."""
    found: list[Finding] = []
    name = image.name
    cfg = image.config.get("config") or image.config.get("container_config") or {}
    if not isinstance(cfg, dict):
        cfg = {}

    def scan(text: str, path: str, origin: Origin, kind: str) -> None:
        location = Location(surface=Surface.IMAGE, image=name, path=path, origin=origin)
        found.extend(engine.scan_text(text, location, Context(path=path, kind=kind)))

    # A hand-made config may hold anything where Docker writes a list or a
    # mapping: what has another shape is read as text, never trusted.
    for item in _as_list(cfg.get("Env")):
        key = str(item).partition("=")[0]
        scan(str(item), f"ENV {key}", Origin.ENV, "config")
    labels = cfg.get("Labels")
    for key, value in labels.items() if isinstance(labels, dict) else []:
        scan(f"{key}={value}", f"LABEL {key}", Origin.LABEL, "config")
    for field_name in ("Cmd", "Entrypoint"):
        value = cfg.get(field_name)
        if value:
            text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
            scan(text, field_name.upper(), Origin.HISTORY, "shell")
    health = cfg.get("Healthcheck") or {}
    if isinstance(health, dict) and health.get("Test"):
        scan(" ".join(map(str, _as_list(health["Test"]))), "HEALTHCHECK", Origin.HISTORY, "shell")
    for i, entry in enumerate(_as_list(image.config.get("history"))):
        created_by = str(entry.get("created_by") or "") if isinstance(entry, dict) else ""
        if created_by:
            scan(
                created_by, f"history[{i}] {_instruction_word(created_by)}", Origin.HISTORY, "shell"
            )
    for digest, data in image.attestations:
        location = Location(
            surface=Surface.IMAGE,
            image=name,
            path="attestation",
            layer=digest,
            origin=Origin.ATTESTATION,
        )
        found.extend(
            engine.scan_bytes(data, location, Context(path="attestation.json", kind="config"))
        )
    return found


def _size(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _as_list(value: object) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None or value == "" else [value]


def _instruction_word(created_by: str) -> str:
    text = created_by.strip()
    if "#(nop)" in text:
        word = text.split("#(nop)", 1)[1].strip().split(" ", 1)[0]
        return word.upper() or "NOP"
    if text.startswith("/bin/sh -c") or text.startswith("|"):
        return "RUN"
    word = text.split(" ", 1)[0]
    return word.upper() if word.isalpha() else "RUN"


def layer_instructions(config: dict[str, Any], count: int) -> list[str | None]:
    """For each layer, the instruction that made it (history entries minus empty layers)."""
    history = [h for h in config.get("history") or [] if isinstance(h, dict)]
    made = [str(h.get("created_by") or "") for h in history if not h.get("empty_layer")]
    if len(made) != count:
        return [None] * count
    return [m or None for m in made]


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


def assemble(
    engine: Engine,
    image: Image,
    scans: Sequence[LayerScan | None],
    base: KnownImage | None = None,
    skip_inherited: bool = False,
) -> ScanResult:
    """An image's findings from its layers' scans: deletions applied, provenance named.

    With a `base`, findings in its layers (and its history entries) are marked
    inherited, or left out with `skip_inherited`.
    """
    result = ScanResult()
    inherited_layers = len(base.diff_ids) if base is not None else 0
    inherited_history = (base.history or 0) if base is not None else 0
    history_findings = []
    for finding in image_level(engine, image):
        match = re.match(r"history\[(\d+)\]", finding.location.path or "")
        if match and int(match.group(1)) < inherited_history and base is not None:
            if skip_inherited:
                continue
            finding = replace(
                finding,
                message=f"{finding.message} [inherited from {base.name}]",
                location=replace(finding.location, inherited=base.name),
            )
        history_findings.append(finding)
    secrets = [f.secret.raw for f in history_findings]
    instructions = layer_instructions(image.config, len(image.layers))
    for index, scan in enumerate(scans):
        if scan is None or (skip_inherited and index < inherited_layers):
            continue
        later = [s for s in scans[index + 1 :] if s is not None]
        made_by = instructions[index]
        for finding in scan.findings:
            path = (finding.location.path or "").split("!", 1)[0]
            deleted = any(s.hides(path, _ancestors(path)) for s in later) if later else False
            message = finding.message
            if made_by:
                message += f" [layer {index + 1} of {len(scans)}: {_shown(made_by, secrets)}]"
            inherited = None
            if index < inherited_layers and base is not None:
                message += f" [inherited from {base.name}]"
                inherited = base.name
            location = replace(
                finding.location, image=image.name, deleted=deleted, inherited=inherited
            )
            result.findings.append(replace(finding, location=location, message=message))
        result.skipped.extend(replace(s, target=f"{image.name}: {s.target}") for s in scan.skipped)
        result.stats.add(scan.stats)
    if skip_inherited and base is not None:
        result.skipped.append(
            Skipped(
                image.name,
                f"{inherited_layers} layer(s) inherited from {base.name} not scanned "
                "(--skip-inherited)",
                error=False,
            )
        )
    result.findings.extend(history_findings)
    result.skipped.extend(image.skipped)
    return result


def _shown(created_by: str, secrets: Iterable[bytes]) -> str:
    """An instruction for a message: shortened, with any secret found in history and
    every value-like argument masked (a value that detection missed is not quoted)."""
    from leakguard.detectors.shell import masked_command

    text = created_by.replace("/bin/sh -c #(nop) ", "").replace("/bin/sh -c ", "RUN ").strip()
    text = masked_command(text, (raw.decode("utf-8", "replace") for raw in secrets))
    return text if len(text) <= 100 else text[:97] + "..."


# -- the cache --------------------------------------------------------------------


_RESULT_MODULES = (
    "leakguard.engine",
    "leakguard.detectors.image",
    "leakguard.detectors.credfiles",
    "leakguard.detectors.dockerfile",
    "leakguard.detectors.shell",
)


def ruleset_version(engine: Engine, options: ImageOptions) -> str:
    """Changes whenever a rule, leakguard itself or a bound that changes results changes."""
    from leakguard import __version__

    parts: list[str] = [
        __version__,
        repr((options.max_file_size, options.nested_depth, options.nested_max)),
    ]
    # The code that turns bytes into findings: a changed check function or
    # detector must not be answered from results its old version produced.
    import importlib

    import leakguard.rules

    sources = sorted(Path(leakguard.rules.__file__ or ".").parent.glob("*.py"))
    for name in _RESULT_MODULES:
        try:
            sources.append(Path(importlib.import_module(name).__file__ or ""))
        except ImportError as e:
            parts.append(f"{name}: {e}")
    for source in sources:
        try:
            parts.append(source.read_text("utf-8", "replace"))
        except OSError as e:
            parts.append(f"{source}: {e}")
    for rule in engine.rules:
        check = getattr(rule.check, "__qualname__", "") if rule.check else ""
        parts.append(
            repr(
                (
                    rule.id,
                    rule.pattern,
                    rule.keywords,
                    rule.prefilter,
                    rule.severity,
                    rule.confidence,
                    rule.multiline,
                    check,
                )
            )
        )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def default_cache_path() -> Path | None:
    explicit = os.environ.get("LEAKGUARD_CACHE_DIR")
    if explicit is not None:
        return Path(explicit) / "layers.sqlite" if explicit else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "leakguard" / "layers.sqlite"


class LayerCache:
    """Layer scans by (uncompressed digest, ruleset version), in a private SQLite file.

    The file holds where secrets were found, their redacted forms and
    fingerprints, never a value: a cached finding's `secret` is empty, so a run
    that needs the values (`--show-secrets`, a baseline matched by value
    hashes) passes `read=False` and reads the layers again (still storing what
    it finds). It is created 0600 in a 0700 folder. Layers that could not be
    read completely are never stored.
    """

    # 1: entries hold no secret values (before: base64 of each value).
    FORMAT = 1

    def __init__(self, path: Path, version: str, *, read: bool = True):
        self.path = path
        self.version = version
        self.read = read
        try:
            # SQLite would put its journal beside a device or FIFO, and the chmod
            # below would change a device's permissions: a cache is a file.
            if not stat.S_ISREG(os.stat(path).st_mode):
                raise TargetUnreadable(
                    f"layer cache {path}: not a regular file",
                    hint="give the path of a file, or pass --no-cache",
                )
        except FileNotFoundError:
            pass
        except OSError as e:
            raise TargetUnreadable(f"layer cache {path}: {e.strerror}") from e
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS layers ("
                "digest TEXT, version TEXT, data BLOB, PRIMARY KEY (digest, version))"
            )
            if self.db.execute("PRAGMA user_version").fetchone()[0] < self.FORMAT:
                # Entries of an older leakguard hold secret values: drop them, and
                # VACUUM so that no free page of the file keeps their bytes.
                self.db.execute("DELETE FROM layers")
                self.db.execute("VACUUM")
                self.db.execute(f"PRAGMA user_version = {self.FORMAT}")
        except sqlite3.Error as e:
            raise TargetUnreadable(
                f"layer cache {path}: {e}", hint="remove it, or pass --no-cache"
            ) from e
        # What the layers hold is private whatever the umask: the database and the
        # journal files SQLite made next to it.
        for private in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            with contextlib.suppress(OSError):
                if private.stat().st_uid == os.getuid():
                    os.chmod(private, 0o600)
        if path == default_cache_path():  # never a folder the user named (/tmp ...)
            with contextlib.suppress(OSError):
                os.chmod(path.parent, 0o700)

    def get(self, digest: str) -> LayerScan | None:
        if not self.read:
            return None
        try:
            row = self.db.execute(
                "SELECT data FROM layers WHERE digest=? AND version=?", (digest, self.version)
            ).fetchone()
        except sqlite3.Error as e:
            log.debug("cache read failed: %s", e)
            return None
        if row is None:
            return None
        try:
            scan = _decode(digest, zlib.decompress(row[0]))
        except (ValueError, KeyError, TypeError, zlib.error) as e:
            log.debug("ignoring cache entry for %s: %s", digest, e)
            return None
        scan.cached = True
        return scan

    def put(self, scan: LayerScan) -> None:
        if not scan.complete or scan.cached:
            return
        data = zlib.compress(_encode(scan), 6)
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO layers VALUES (?, ?, ?)", (scan.digest, self.version, data)
            )
        except sqlite3.Error as e:
            log.debug("cache write failed: %s", e)

    def close(self) -> None:
        self.db.close()


def _encode(scan: LayerScan) -> bytes:
    findings = [
        {
            "rule": f.rule_id,
            "severity": f.severity.value,
            "confidence": f.confidence.value,
            "path": f.location.path,
            "line": f.location.line,
            "column": f.location.column,
            "origin": f.location.origin.value if f.location.origin else None,
            "fingerprint": f.fingerprint,
            "redacted": f.redacted,
            "message": f.message,
            "remediation": f.remediation,
        }
        for f in scan.findings
    ]
    body = {
        "findings": findings,
        "skipped": [[s.target, s.reason] for s in scan.skipped],
        "stats": [
            scan.stats.files,
            scan.stats.bytes,
            scan.stats.skipped_binary,
            scan.stats.bytes_skipped,
        ],
        "whiteouts": sorted(scan.whiteouts),
        "opaque": sorted(scan.opaque),
        "entries": sorted(scan.entries),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _decode(digest: str, data: bytes) -> LayerScan:
    body = json.loads(data)
    scan = LayerScan(digest)
    for f in body["findings"]:
        location = Location(
            surface=Surface.IMAGE,
            path=f["path"],
            line=f["line"],
            column=f["column"],
            layer=digest,
            origin=Origin(f["origin"]) if f["origin"] else None,
        )
        scan.findings.append(
            Finding(
                rule_id=RuleId(f["rule"]),
                severity=Severity(f["severity"]),
                confidence=Confidence(f["confidence"]),
                location=location,
                fingerprint=f["fingerprint"],
                redacted=f["redacted"],
                message=f["message"],
                remediation=f["remediation"],
                secret=SecretValue(b""),  # never stored: see LayerCache
            )
        )
    scan.skipped = [Skipped(t, r, error=False) for t, r in body["skipped"]]
    scan.stats.files, scan.stats.bytes, scan.stats.skipped_binary, scan.stats.bytes_skipped = body[
        "stats"
    ]
    scan.whiteouts = set(body["whiteouts"])
    scan.opaque = set(body["opaque"])
    scan.entries = set(body["entries"])
    return scan


# -- running ------------------------------------------------------------------------

_WORKER_ENGINE: Engine | None = None


def _init_worker(engine: Engine) -> None:
    global _WORKER_ENGINE
    _WORKER_ENGINE = engine


def scan_one(engine: Engine, layer: Layer, options: ImageOptions) -> LayerScan:
    if layer.source is None:
        # Reported once, with its reason, in the image's own skipped list.
        return LayerScan(layer.digest, skipped=[])
    try:
        with layer.source.open() as blob:
            return scan_layer(
                engine,
                blob,
                layer.digest,
                options,
                expect=layer.blob_digest if not isinstance(layer.source, RegistryBlob) else None,
                expect_uncompressed=layer.diff_id,
            )
    except TargetUnreadable as e:
        return LayerScan(layer.digest, skipped=[Skipped(f"layer {layer.digest}", e.message)])
    except OSError as e:
        return LayerScan(layer.digest, skipped=[Skipped(f"layer {layer.digest}", _one_line(e))])


def _scan_in_worker(layer: Layer, options: ImageOptions) -> LayerScan:
    assert _WORKER_ENGINE is not None
    return scan_one(_WORKER_ENGINE, layer, options)


ProgressCallback = Callable[[LayerScan], None]


def scan_layers(
    engine: Engine,
    layers: Sequence[Layer],
    options: ImageOptions,
    *,
    jobs: int = 0,
    cache: LayerCache | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, LayerScan]:
    """Each distinct layer scanned once (from the cache when it can), in parallel."""
    done: dict[str, LayerScan] = {}
    todo: list[Layer] = []
    for layer in layers:
        if layer.source is None:  # unreadable: reported by the image, never cached as clean
            continue
        if layer.digest in done or any(t.digest == layer.digest for t in todo):
            continue
        hit = cache.get(layer.digest) if cache is not None else None
        if hit is not None:
            done[layer.digest] = hit
            if progress is not None:
                progress(hit)
        else:
            todo.append(layer)
    jobs = jobs or os.cpu_count() or 1
    todo.sort(key=lambda layer: -layer.size)

    def finished(scan: LayerScan) -> None:
        done[scan.digest] = scan
        if cache is not None:
            cache.put(scan)
        if progress is not None:
            progress(scan)

    big_enough = sum(layer.size for layer in todo) >= PARALLEL_MIN_BYTES
    if jobs > 1 and len(todo) > 1 and big_enough and _can_fork():
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            min(jobs, len(todo)), mp_context=context, initializer=_init_worker, initargs=(engine,)
        ) as pool:
            futures = {pool.submit(_scan_in_worker, layer, options): layer for layer in todo}
            for future in as_completed(futures):
                layer = futures[future]
                try:
                    finished(future.result())
                except Exception as e:  # a worker died: report the layer, keep the rest
                    finished(
                        LayerScan(
                            layer.digest,
                            skipped=[
                                Skipped(f"layer {layer.digest}", f"worker failed: {_one_line(e)}")
                            ],
                        )
                    )
    else:
        for layer in todo:
            finished(scan_one(engine, layer, options))
    return done


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def scan_images(
    engine: Engine,
    refs: Sequence[str],
    options: ImageOptions,
    *,
    jobs: int = 0,
    cache: LayerCache | None = None,
    insecure: bool = False,
    strict_single: bool = True,
    skip_inherited: bool = False,
    find_bases: bool = True,
) -> ScanResult:
    """Scan every image REF names. An unreadable REF is Skipped (raised when it is the only one).

    A layer shared with a base image (another REF given, or a tagged image of
    the local engine) is marked inherited; `skip_inherited` leaves such layers out.
    """
    import tempfile

    started = time.perf_counter()
    result = ScanResult()
    with tempfile.TemporaryDirectory(prefix="leakguard-image-") as workdir:
        resolved: list[Image] = []
        for ref in refs:
            try:
                resolved.extend(resolve(ref, options, workdir, insecure=insecure))
            except TargetUnreadable as e:
                if strict_single and len(refs) == 1:
                    raise
                result.skipped.append(Skipped(ref, e.message))
        known: list[KnownImage] = []
        if find_bases and resolved:
            known = [
                KnownImage(
                    i.name,
                    tuple(layer.digest for layer in i.layers),
                    len(i.config.get("history") or []) or None,
                )
                for i in resolved
            ]
            known += known_local_images()
        for image in resolved:
            base = base_of(image, known)
            if base is not None:
                base = _with_history(base)
            layers = image.layers
            if skip_inherited and base is not None:
                layers = layers[len(base.diff_ids) :]
            scans = scan_layers(engine, layers, options, jobs=jobs, cache=cache)
            ordered = [scans.get(layer.digest) for layer in image.layers]
            result.extend(assemble(engine, image, ordered, base, skip_inherited))
    result.stats.duration_s = time.perf_counter() - started
    result.sort()
    return result
