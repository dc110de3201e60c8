"""Detectors: one module per surface where leaks live.

Most files are plain text for the engine. Some have a structure that
changes what a leak is (a Dockerfile's ARG default ends up in the image
history; a Compose file's `environment:` ends up in the container): those
go to the detector for that structure, found here by file name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leakguard.engine import Engine
    from leakguard.models import ScanResult
    from leakguard.tree import SourceTree

# (engine, whole file content, path as given, where the files it names are read)
# -> findings and skips. The tree is the disk for a scan of files, the same commit
# (or the index) for git: a referenced file is never read from anywhere else.
StructuredScanner = Callable[["Engine", bytes, str, "SourceTree"], "ScanResult"]

# How a detector's skipped entry ends when it could not parse its file and scanned
# the file as plain text instead: every byte was still read.
AS_PLAIN_TEXT = "scanned as plain text"

# kind of file (leakguard.engine.kind_of_path) -> "module:function"
STRUCTURED: dict[str, str] = {
    "dockerfile": "leakguard.detectors.dockerfile:scan",
    "compose": "leakguard.detectors.compose:scan",
}


def scanner_for(path: str, head: bytes = b"") -> StructuredScanner | None:
    """The detector for this file: by its kind, or for a file of command lines
    (a shell script by name or `#!` line, a Makefile, a CI pipeline file) the
    command-line surface. `head` is the file's first bytes."""
    from leakguard.engine import kind_of_path

    scanner = structured_scanner(kind_of_path(path))
    if scanner is None:
        from leakguard.detectors import shell

        if shell.script_kind(path, head) is not None:
            return shell.scan
    return scanner


def structured_scanner(kind: str | None) -> StructuredScanner | None:
    """The detector that understands files of this kind, if there is one."""
    target = STRUCTURED.get(kind or "")
    if target is None:
        return None
    module, _, function = target.partition(":")
    scanner: StructuredScanner = getattr(importlib.import_module(module), function)
    return scanner


def can_fork() -> bool:
    """Whether worker processes can be forked here (they inherit the engine built
    in this process; a spawned worker would have to build it again)."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()
