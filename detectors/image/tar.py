"""A streaming tar reader: one forward pass, no extraction."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

from leakguard.detectors.image.model import Readable

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
