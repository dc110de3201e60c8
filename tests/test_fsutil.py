from __future__ import annotations

import os
from pathlib import Path

import pytest

from leakguard.fsutil import NotRegularFile, read_regular


def test_read_regular_gives_whole_small_files_and_none_past_the_limit(tmp_path: Path) -> None:
    small, empty = tmp_path / "small.txt", tmp_path / "empty.txt"
    small.write_bytes(b"x" * 100)
    empty.write_bytes(b"")
    assert read_regular(small, 100) == b"x" * 100
    assert read_regular(small, 99) is None
    assert read_regular(empty, 10) == b""


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_read_regular_refuses_what_is_not_a_regular_file_without_blocking(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / kind
    if kind == "fifo":
        os.mkfifo(path)  # nobody writes to it: reading would block for ever
    else:
        path.mkdir()
    with pytest.raises(NotRegularFile):
        read_regular(path, 1024)
