"""Kubernetes `Secret` manifests: the values under `data:` are base64, so no token
rule can read them as written. `secret_data` finds each one and decodes it; the
engine scans the decoded text as a `name: value` line of its own and reports what
it finds at the line of the entry. Values under `stringData:` are plain text
and are scanned as they are, like any other line.

Manifests are read line by line, not by a YAML parser: what matters is the
`kind: Secret` of a document and the entries of its top-level `data:` mapping
(YAML), or of its `"data": {...}` object (JSON, as `kubectl get -o json` writes).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass

# The cheap test a file must pass before anything else is done with it.
_KIND = re.compile(rb"""^[ \t]*["']?kind["']?[ \t]*:[ \t]*["']?Secret["']?[ \t]*,?[ \t]*$""", re.M)
_DOCUMENT_SEPARATOR = re.compile(rb"^---", re.M)
_YAML_DATA = re.compile(rb"^(?P<indent>[ \t]*)data:[ \t]*(?:#.*)?$", re.M)
_YAML_ENTRY = re.compile(
    rb"""^(?P<indent>[ \t]+)["']?(?P<name>[\w.-]+)["']?[ \t]*:[ \t]*"""
    rb"""(?P<q>["']?)(?P<value>[A-Za-z0-9+/=_-]+)(?P=q)[ \t]*(?:#.*)?$"""
)
_JSON_DATA = re.compile(rb'"data"[ \t]*:[ \t]*\{(?P<body>[^{}]*)\}')
_JSON_ENTRY = re.compile(rb'"(?P<name>[\w.-]+)"[ \t]*:[ \t]*"(?P<value>[A-Za-z0-9+/=_-]*)"')


@dataclass(frozen=True, slots=True)
class Entry:
    """One decoded `data:` value: where its encoded form starts, and what it says."""

    offset: int  # of the encoded value in the manifest
    name: bytes
    value: bytes  # decoded


def is_secret_manifest(data: bytes) -> bool:
    return b"Secret" in data and _KIND.search(data) is not None


def secret_data(data: bytes) -> Iterator[Entry]:
    """Every decodable `data:` entry of every `kind: Secret` document in `data`."""
    if not is_secret_manifest(data):
        return
    starts = [0] + [m.start() for m in _DOCUMENT_SEPARATOR.finditer(data)] + [len(data)]
    for lo, hi in zip(starts, starts[1:], strict=False):
        if _KIND.search(data, lo, hi) is None:
            continue
        yield from _yaml_entries(data, lo, hi)
        yield from _json_entries(data, lo, hi)


def _yaml_entries(data: bytes, lo: int, hi: int) -> Iterator[Entry]:
    for block in _YAML_DATA.finditer(data, lo, hi):
        outer = len(block.group("indent"))
        pos = block.end() + 1
        indent: int | None = None
        while pos < hi:
            end = data.find(b"\n", pos, hi)
            end = hi if end < 0 else end
            line = data[pos:end].rstrip(b"\r")
            if line.strip() and not line.lstrip().startswith(b"#"):
                entry = _YAML_ENTRY.match(line)
                depth = len(line) - len(line.lstrip())
                if depth <= outer or (indent is not None and depth != indent):
                    break
                indent = depth
                if entry is not None:
                    decoded = _decoded(entry.group("value"))
                    if decoded is not None:
                        yield Entry(pos + entry.start("value"), entry.group("name"), decoded)
            pos = end + 1


def _json_entries(data: bytes, lo: int, hi: int) -> Iterator[Entry]:
    for block in _JSON_DATA.finditer(data, lo, hi):
        for entry in _JSON_ENTRY.finditer(block.group("body")):
            decoded = _decoded(entry.group("value"))
            if decoded is not None:
                offset = block.start("body") + entry.start("value")
                yield Entry(offset, entry.group("name"), decoded)


def _decoded(value: bytes) -> bytes | None:
    """The text a base64 value holds; None for what is not base64, empty, or binary."""
    if len(value) < 4:
        return None
    try:
        if b"-" in value or b"_" in value:
            raw = base64.urlsafe_b64decode(value + b"=" * (-len(value) % 4))
        else:
            raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw or b"\0" in raw:
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return raw
