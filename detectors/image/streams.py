"""Stream decoding: counting, hashing and bounded readers; gzip and zstd layer blobs."""

from __future__ import annotations

import hashlib
import zlib
from typing import IO, Any

from leakguard.detectors.image.model import ImageOptions, Readable, _one_line

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


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


class _Unsupported(Exception):
    pass


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
