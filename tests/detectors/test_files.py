from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from leakguard.detectors import files
from leakguard.detectors.files import WalkOptions, scan_paths, walk
from tests.conftest import AWS_KEY_ID, GITHUB_PAT, fake
from tests.test_cli import run


def _paths(result):
    return sorted({f.location.path for f in result.findings})


def test_walk_skips_git_dir_and_binary_files(tmp_path, engine):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text(f"token = '{GITHUB_PAT}'\n")
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2" + GITHUB_PAT.encode())
    (tmp_path / "a.py").write_text(f"t = '{GITHUB_PAT}'\n")
    result = scan_paths(engine, [str(tmp_path)], WalkOptions())
    assert _paths(result) == [str(tmp_path / "a.py")]
    assert result.stats.skipped_binary == 1
    assert result.skipped == []


def test_symlink_loop_and_fifo_in_tree_do_not_hang(tmp_path, engine):
    (tmp_path / "sub").mkdir()
    os.symlink("..", tmp_path / "sub" / "loop")
    os.symlink(tmp_path / "sub", tmp_path / "again")
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "sub" / "x.env").write_text(f"GITHUB_TOKEN={GITHUB_PAT}\n")
    result = scan_paths(engine, [str(tmp_path)], WalkOptions())
    assert _paths(result) == [str(tmp_path / "sub" / "x.env")]


def test_a_fifo_named_on_the_command_line_is_a_skip_note(tmp_path, engine):
    os.mkfifo(tmp_path / "pipe")
    result = scan_paths(engine, [str(tmp_path / "pipe")], WalkOptions())
    [skipped] = result.skipped
    assert "FIFO" in skipped.reason and skipped.error


def test_missing_path_is_reported_not_raised(tmp_path, engine):
    result = scan_paths(engine, [str(tmp_path / "nope")], WalkOptions())
    assert [s.reason for s in result.skipped] == ["no such file or directory"]


def test_a_file_over_max_file_size_is_reported_as_not_read_in_every_format(tmp_path):
    (tmp_path / "big.log").write_text("filler line\n" * 400 + f"aws_key = {AWS_KEY_ID}\n")
    (tmp_path / "app.env").write_text(f"GITHUB_TOKEN={GITHUB_PAT}\n")
    bound = ("--max-file-size", "2K")
    code, out, err = run("scan", "--no-baseline", *bound, str(tmp_path))
    assert code == 3, out + err
    assert "Could not read:" in out and "big.log" in out and "--max-file-size" in out
    assert "app.env" in out  # the rest is still reported
    code, out, _ = run("scan", "--no-baseline", "-f", "json", *bound, str(tmp_path))
    report = json.loads(out)
    assert code == 3 and [s["error"] for s in report["skipped"]] == [True]
    assert report["stats"]["bytes_skipped"] == (tmp_path / "big.log").stat().st_size
    code, out, _ = run("scan", "--no-baseline", "-f", "sarif", *bound, str(tmp_path))
    invocation = json.loads(out)["runs"][0]["invocations"][0]
    assert code == 3 and invocation["executionSuccessful"] is False
    assert [n["level"] for n in invocation["toolExecutionNotifications"]] == ["error"]
    # the same bound from the config file
    (tmp_path / ".leakguard.toml").write_text("max_file_size = 2048\n")
    code, out, _ = run("scan", "--no-baseline", str(tmp_path))
    assert code == 3 and "big.log" in out and "--max-file-size" in out
    # without a bound, the file is read and its key found
    (tmp_path / ".leakguard.toml").unlink()
    code, out, _ = run("scan", "--no-baseline", "-f", "json", str(tmp_path))
    report = json.loads(out)
    assert code == 1 and not report["skipped"]
    assert {f["location"]["path"].rsplit("/", 1)[-1] for f in report["findings"]} == {
        "big.log",
        "app.env",
    }


def test_files_larger_than_256_mib_are_read_by_default(tmp_path):
    # Sparse: a text head, a 300 MiB hole, the key at the very end. Cheap to make,
    # and read in 8 MiB chunks like any large file.
    path = tmp_path / "huge.log"
    with open(path, "wb") as fh:
        fh.write(b"log line\n" * 1000)
        fh.truncate(300 * 1024 * 1024)
        fh.seek(0, os.SEEK_END)
        fh.write(f"\naws_access_key_id = {AWS_KEY_ID}\n".encode())
    code, out, err = run("scan", "--no-baseline", "-f", "json", str(path))
    report = json.loads(out)
    assert code == 1, err
    assert [f["rule_id"] for f in report["findings"]] == ["aws-access-key-id"]
    assert report["stats"]["bytes"] == path.stat().st_size and not report["skipped"]


def test_the_summary_counts_bytes_passed_over_apart_from_bytes_read(tmp_path):
    (tmp_path / "blob.bin").write_bytes(b"\0" * 3_000_000)
    (tmp_path / "big.log").write_text("x = 1\n" * 500_000)  # 3 MB
    (tmp_path / "a.txt").write_text("hello\n")
    code, out, _ = run("scan", "--no-baseline", "--max-file-size", "1M", str(tmp_path))
    assert code == 3
    summary = out.strip().splitlines()[-1]
    assert "0.0 MB read" in summary and "6.0 MB passed over" in summary, summary


def test_respect_gitignore_is_opt_in(tmp_path, engine):
    (tmp_path / ".gitignore").write_text(".env\nbuild/\n")
    (tmp_path / ".env").write_text(f"GITHUB_TOKEN={GITHUB_PAT}\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.txt").write_text(f"token: {GITHUB_PAT}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("*.cfg\n")
    (tmp_path / "sub" / "a.cfg").write_text(f"token = {GITHUB_PAT}\n")
    (tmp_path / "kept.txt").write_text(f"token: {GITHUB_PAT}\n")
    everything = scan_paths(engine, [str(tmp_path)], WalkOptions())
    assert len(_paths(everything)) == 4
    respected = scan_paths(engine, [str(tmp_path)], WalkOptions(respect_gitignore=True))
    assert _paths(respected) == [str(tmp_path / "kept.txt")]


def test_excludes_are_gitignore_patterns_relative_to_their_root(tmp_path, engine):
    for name in ("a/fixtures/x.txt", "a/real.txt", "b.min.js"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"token: {GITHUB_PAT}\n")
    opts = WalkOptions(excludes=((str(tmp_path), ("fixtures/", "*.min.js")),))
    assert _paths(scan_paths(engine, [str(tmp_path)], opts)) == [str(tmp_path / "a" / "real.txt")]
    assert len(walk([str(tmp_path)], opts).files) == 1


def test_parallel_scan_finds_exactly_what_a_serial_scan_finds(tmp_path, engine, monkeypatch):
    for i in range(40):
        body = "\n".join(f"line {j}" for j in range(500))
        if i % 3 == 0:
            body += f"\ntoken = '{GITHUB_PAT}'\n"
        (tmp_path / f"f{i:02}.txt").write_text(body)
    monkeypatch.setattr(files, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(files, "TASK_BYTES", 10_000)
    found = walk([str(tmp_path)], WalkOptions()).files
    serial = files.scan_files(engine, found, jobs=1)
    parallel = files.scan_files(engine, found, jobs=2)
    key = lambda r: sorted((f.location.path, f.location.line, f.fingerprint) for f in r.findings)  # noqa: E731
    assert key(serial) == key(parallel) and len(serial.findings) == 14
    assert serial.stats.files == parallel.stats.files == 40


@pytest.mark.slow
def test_a_200mb_file_is_scanned_in_bounded_memory(tmp_path):
    big = tmp_path / "huge.log"
    line = b"2026-01-01T00:00:00Z INFO request served in 12ms path=/api/v1/items?page=3\n"
    with big.open("wb") as fh:
        block = line * (1024 * 1024 // len(line))
        for _ in range(200):
            fh.write(block)
        fh.write(f"late token = '{GITHUB_PAT}'\n".encode())
    # VmHWM is this process's own peak; ru_maxrss would also count the peak of
    # the pytest process it was started from (Linux keeps it across exec).
    code = (
        "import re, sys\n"
        "from leakguard.cli import main\n"
        "rc = main(['scan', '--format', 'json', '-o', sys.argv[2], sys.argv[1]])\n"
        "status = open('/proc/self/status').read()\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)) // 1024)\n"
        "sys.exit(rc)\n"
    )
    report = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(big), str(report)], capture_output=True, text=True
    )
    assert proc.returncode == 1, proc.stderr
    peak_mb = int(proc.stdout.strip().splitlines()[-1])
    assert peak_mb < 150, f"peak RSS {peak_mb} MB for a 200 MB file"
    import json

    [finding] = json.loads(report.read_text())["findings"]
    assert finding["location"]["line"] == 200 * (1024 * 1024 // len(line)) + 1


def test_unreadable_file_is_reported_and_the_rest_scanned(tmp_path):
    (tmp_path / "secret.txt").write_text(f"token = '{GITHUB_PAT}'\n")
    (tmp_path / "locked.txt").write_text("x\n")
    os.chmod(tmp_path / "locked.txt", 0)
    command = [sys.executable, "-m", "leakguard", "scan", str(tmp_path)]
    if os.geteuid() == 0:
        # root reads mode-0 files through CAP_DAC_OVERRIDE: drop it (and its
        # read-only sibling) so the permission check applies as for any user.
        caps = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", *command]
    proc = subprocess.run(command, capture_output=True, text=True)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "permission denied" in proc.stdout
    assert "github-pat" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_a_binary_keystore_is_reported_by_its_presence_other_binaries_are_not(tmp_path, engine):
    (tmp_path / "release.jks").write_bytes(b"\xfe\xed\xfe\xed\x00\x00\x00\x02" + os.urandom(900))
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + os.urandom(900))
    result = scan_paths(engine, [str(tmp_path)], WalkOptions())
    [finding] = result.findings
    assert (finding.rule_id, finding.location.path) == (
        "credential-file",
        str(tmp_path / "release.jks"),
    )
    assert finding.location.line is None
    assert result.stats.skipped_binary == 1


def test_fifos_where_files_are_expected_never_hang(tmp_path):
    """A FIFO as Dockerfile, .dockerignore, env_file, docker-archive, config or baseline."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: x\n    env_file: .env\n")
    for name in (".dockerignore", ".env", "image.tar", "base.json"):
        os.mkfifo(tmp_path / name)
    for args in (
        ["scan", "."],
        ["context", "."],
        ["image", "docker-archive:image.tar"],
        ["scan", "--baseline", "base.json", "Dockerfile"],
    ):
        proc = subprocess.run([sys.executable, "-m", "leakguard", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode in (2, 3), (args, proc.stderr)
        assert "not a regular file" in proc.stdout + proc.stderr, args
        assert "Traceback" not in proc.stderr


def test_a_key_across_byte_8192_of_a_large_file_is_found(tmp_path, engine):
    """Files of 8 MiB and more are streamed in chunks; the first is a whole chunk too."""
    body = "\n".join(fake("MII", 61, seed=k) for k in range(20))  # 1.3 kB
    key = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
    big = tmp_path / "server.log"
    with big.open("w") as fh:
        fh.write("log line\n" * 800)  # 7200 bytes: the key runs from here past 8192
        fh.write(key)
        fh.write(("x" * 99 + "\n") * (90 * 1024))  # 9 MiB more
    result = scan_paths(engine, [str(big)], WalkOptions())
    assert [(f.rule_id, f.location.line) for f in result.findings] == [("private-key", 801)]
