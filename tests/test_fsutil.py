from __future__ import annotations

import errno
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from leakguard.fsutil import NotRegularFile, atomic_write, private_mode, read_regular


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


# -- writes: regular files atomically, everything else in place or refused --------


def _char_device(path: Path) -> None:
    """A copy of /dev/null's node (character device 1,3): never the real one."""
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device needs root")


@needs_root
def test_atomic_write_to_a_character_device_writes_through_it(tmp_path: Path) -> None:
    device = tmp_path / "null"
    _char_device(device)
    before = os.lstat(device)
    atomic_write(device, b"report\n", mode=0o600)
    st = os.lstat(device)
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert st.st_ino == before.st_ino  # the same node, not a file renamed over it
    assert st.st_mode == before.st_mode  # a device's permissions are not ours to change
    assert os.listdir(tmp_path) == ["null"]  # no temp file left beside it


def test_atomic_write_to_a_fifo_writes_to_its_reader_and_keeps_the_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    deadline = time.monotonic() + 10
    while True:  # the reader's open() has to come first
        try:
            atomic_write(fifo, b"x" * 200_000)  # more than a pipe's buffer
            break
        except OSError as e:
            if e.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    reader.join(10)
    assert got == [b"x" * 200_000]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_atomic_write_to_a_fifo_nobody_reads_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(OSError, match="no process is reading"):
        atomic_write(fifo, b"report\n")
    assert time.monotonic() - started < 5
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_atomic_write_through_a_symlink_replaces_its_target_and_keeps_the_link(
    tmp_path: Path,
) -> None:
    (tmp_path / "reports").mkdir()
    target = tmp_path / "reports" / "scan.json"
    target.write_bytes(b"old\n")
    link = tmp_path / "latest.json"
    link.symlink_to("reports/scan.json")
    atomic_write(link, b"new\n")
    assert link.is_symlink() and os.readlink(link) == "reports/scan.json"
    assert target.read_bytes() == b"new\n"
    assert sorted(os.listdir(tmp_path / "reports")) == ["scan.json"]
    dangling = tmp_path / "next.json"
    dangling.symlink_to("reports/next.json")  # the link names a file yet to be made
    atomic_write(dangling, b"first\n")
    assert dangling.is_symlink() and (tmp_path / "reports" / "next.json").read_bytes() == b"first\n"


def test_atomic_write_refuses_a_link_loop_and_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError) as loop:
        atomic_write(tmp_path / "a", b"x")
    assert loop.value.errno == errno.ELOOP
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError):
        atomic_write(tmp_path / "dir", b"x")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "dir").is_dir()


def test_private_mode_is_0600_unless_the_umask_is_stricter(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        assert private_mode() == 0o600
        os.umask(0o277)
        assert private_mode() == 0o400
        atomic_write(tmp_path / "r.json", b"{}", mode=private_mode())
        assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o400
    finally:
        os.umask(old)


def test_atomic_write_can_refuse_to_follow_a_link(tmp_path: Path) -> None:
    link = tmp_path / "secret"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError, match="a symbolic link, not followed"):
        atomic_write(link, b"value", mode=0o600, follow_links=False)
    assert link.is_symlink() and not (tmp_path / "elsewhere").exists()
