"""One layer: every member of its tar stream through the engine, nested archives opened."""

from __future__ import annotations

import posixpath
import tarfile
import time
import zlib
from dataclasses import replace

from leakguard.detectors import STRUCTURED, StructuredScanner, scanner_for
from leakguard.detectors.image.model import (
    ImageOptions,
    LayerScan,
    Readable,
    _one_line,
    _printable,
    _short,
)
from leakguard.detectors.image.streams import (
    _Bound,
    _codec_error,
    _Counting,
    _Hashing,
    _Peeked,
    _Reader,
    _Unsupported,
    decompressed,
)
from leakguard.detectors.image.tar import TarEntry, TarStream, _member_path
from leakguard.engine import CHUNK_SIZE, Engine, kind_of_path
from leakguard.errors import TargetUnreadable
from leakguard.models import (
    Location,
    Origin,
    Skipped,
    Surface,
)
from leakguard.rules import Context
from leakguard.rules.filekinds import is_archive_name
from leakguard.tree import NO_FILES

BINARY_SNIFF = 8192
PURE_STRUCTURED = frozenset({"dockerfile"})


def layer_scanner(path: str, head: bytes, kind: str | None) -> StructuredScanner | None:
    """The detector `leakguard scan` sends this file to (`scanner_for`: a Dockerfile,
    a shell script, a Makefile, a CI file), when it needs nothing but the bytes
    given: a Compose file's env_files are not in the layer. The files a detector
    names are never looked up (an empty tree): a build context is not in the image.
    `kind` is `kind_of_path(path)`."""
    if kind in STRUCTURED and kind not in PURE_STRUCTURED:
        return None
    return scanner_for(path, head)


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


def scan_archive(
    engine: Engine, fh: Readable, path: str, size: int, options: ImageOptions
) -> LayerScan:
    """An archive file on disk (`leakguard scan`, a build context): its members
    through the same walker as a layer's nested archives, named `path!member`,
    reported as files. `ADD archive.tar.gz /` unpacks such a file into the image."""
    out = LayerScan(path)
    source = _Counting(fh)
    walker = _LayerWalker(engine, out, options, source, on_disk=True)
    walker.nested(source, size, path, 0)
    out.skipped.extend(Skipped(path, why) for why in engine.take_gave_up())
    return out


class _LayerWalker:
    def __init__(
        self,
        engine: Engine,
        out: LayerScan,
        options: ImageOptions,
        source: _Counting | None = None,
        *,
        on_disk: bool = False,
    ):
        self.engine = engine
        self.out = out
        self.options = options
        self.source = source  # the layer's compressed bytes, as they are read
        self.expanded = 0  # bytes that archives inside the layer expanded to
        # an archive file on disk, not a layer: members are files, named `archive!member`
        self.on_disk = on_disk

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
                    prefix + _printable(member.name)
                    if self.on_disk
                    else f"layer {self.out.digest} {_printable(member.name)}",
                    f"member name leaves the {'archive' if self.on_disk else 'image'} root: "
                    "read under its normalized name, "
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
        return shown if self.on_disk else f"{shown} (layer {_short(self.out.digest)})"

    def content(self, reader: Readable, size: int, shown: str, depth: int) -> None:
        from leakguard.detectors.credfiles import presence
        from leakguard.rules.filekinds import credential_file_kind

        out = self.out
        location = (
            Location(surface=Surface.FILE, path=shown)
            if self.on_disk
            else Location(
                surface=Surface.IMAGE, path=shown, layer=out.digest, origin=Origin.LAYER_FILE
            )
        )
        if is_archive_name(shown):
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
