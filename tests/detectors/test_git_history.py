"""History scanning on real repositories built with git in each test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from leakguard.detectors.git_history import HistoryOptions, scan_history
from leakguard.errors import TargetUnreadable, UsageError
from leakguard.models import Surface
from tests.conftest import AWS_KEY_ID, GITHUB_PAT, STRIPE_KEY, fake

ENV = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.test",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.test",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


class Repo:
    """A throwaway repository; commits get increasing dates so order is stable."""

    def __init__(self, path: Path, *args: str):
        self.path = path
        self.tick = 0
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main", *args)

    def git(self, *args: str, input: bytes | None = None) -> str:
        env = dict(os.environ, **ENV)
        stamp = f"2024-01-01T00:{self.tick // 60:02d}:{self.tick % 60:02d}Z"
        env.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        proc = subprocess.run(
            ["git", "-C", str(self.path), *args], env=env, input=input, capture_output=True
        )
        assert proc.returncode == 0, proc.stderr.decode()
        return proc.stdout.decode().strip()

    def write(self, name: str, text: str | bytes) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode() if isinstance(text, str) else text)

    def commit(self, message: str, **files: str | bytes | None) -> str:
        for name, text in files.items():
            name = name.replace("__", "/")
            if text is None:
                self.git("rm", "-q", name)
            else:
                self.write(name, text)
                self.git("add", name)
        self.tick += 1
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


def findings(engine, repo: Path | str, **options):
    return scan_history(engine, str(repo), HistoryOptions(**options)).result.findings


def by_rule(found, rule):
    return [f for f in found if f.rule_id == rule]


def test_secret_added_then_removed_is_found_in_the_commit_that_added_it(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    repo.commit("base", **{"app.py": "x = 1\n"})
    leak = repo.commit("add token", **{"app.py": f"x = 1\n\ntoken = '{GITHUB_PAT}'\n"})
    repo.commit("remove token", **{"app.py": "x = 1\n"})
    [f] = findings(engine, repo.path)
    assert f.rule_id == "github-pat"
    loc = f.location
    assert (loc.surface, loc.path, loc.line, loc.commit) == (Surface.GIT, "app.py", 3, leak)
    assert loc.author == "Ada <ada@example.test>"
    assert loc.date and loc.date.startswith("2024-01-01T00:00:02")
    assert loc.deleted and loc.present_in_head is False  # gone from HEAD
    assert GITHUB_PAT not in repr(f)


def test_secret_still_at_head_is_not_deleted_and_counted_once_per_commit(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    first = repo.commit("one", **{"a.py": f"t = '{GITHUB_PAT}'\n"})
    repo.commit("two", **{"a.py": f"t = '{GITHUB_PAT}'\nu = 2\n"})
    # the same line added again after a removal: still one finding, oldest commit
    repo.commit("three", **{"a.py": "u = 2\n"})
    repo.commit("four", **{"a.py": f"u = 2\nt = '{GITHUB_PAT}'\n"})
    scanned = scan_history(engine, str(repo.path))
    [f] = scanned.result.findings
    assert f.location.commit == first
    assert not f.location.deleted and f.location.present_in_head
    assert list(scanned.occurrences.values()) == [2] == [f.location.occurrences]


def test_side_branch_and_tag_only_commits_are_scanned(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    repo.commit("base", **{"README": "hi\n"})
    repo.git("checkout", "-q", "-b", "feature")
    side = repo.commit("side", **{"side.env": f"STRIPE_KEY={STRIPE_KEY}\n"})
    repo.git("checkout", "-q", "main")
    repo.git("checkout", "-q", "--detach")
    tagged = repo.commit("tagged", **{"tag.py": f"key = '{AWS_KEY_ID}'\n"})
    repo.git("tag", "-a", "v1", "-m", "release")
    repo.git("checkout", "-q", "main")
    found = findings(engine, repo.path)
    commits = {f.location.path: f.location.commit for f in found}
    assert commits["side.env"] == side
    assert commits["tag.py"] == tagged
    # narrowed to main: neither
    assert findings(engine, repo.path, revs=("main",)) == []
    assert {f.location.path for f in findings(engine, repo.path, revs=("v1",))} == {"tag.py"}


def test_merge_resolution_is_scanned_but_not_both_parents_again(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    repo.commit("base", **{"conf.py": "a = 1\n"})
    repo.git("checkout", "-q", "-b", "other")
    side = repo.commit("other", **{"conf.py": "a = 2\n", "o.py": f"k = '{STRIPE_KEY}'\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("mine", **{"conf.py": "a = 3\n"})
    proc = subprocess.run(["git", "-C", str(repo.path), "merge", "-q", "other"],
                          capture_output=True, env=dict(os.environ, **ENV))  # fmt: skip
    assert proc.returncode != 0  # a conflict
    repo.write("conf.py", f"a = 4\ntoken = '{GITHUB_PAT}'\n")
    repo.git("add", "conf.py")
    repo.tick += 1
    repo.git("commit", "-q", "--no-edit")
    merge = repo.git("rev-parse", "HEAD")
    scanned = scan_history(engine, str(repo.path))
    by_path = {f.location.path: f for f in scanned.result.findings}
    assert by_path["conf.py"].location.commit == merge
    assert by_path["conf.py"].location.line == 2
    assert by_path["o.py"].location.commit == side
    assert set(scanned.occurrences.values()) == {1}  # the merge did not re-add o.py


def test_renamed_file_is_not_new_content_but_edits_in_it_are(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    body = "".join(f"line {i}\n" for i in range(30))
    first = repo.commit("add", **{"old.py": body + f"t = '{GITHUB_PAT}'\n"})
    repo.git("mv", "old.py", "new.py")
    repo.commit("rename")
    edit = repo.commit("edit", **{"new.py": body + f"t = '{GITHUB_PAT}'\ns = '{STRIPE_KEY}'\n"})
    found = findings(engine, repo.path)
    where = {f.rule_id: (f.location.path, f.location.commit, f.location.line) for f in found}
    assert where["github-pat"] == ("old.py", first, 31)
    assert where["stripe-secret-key"] == ("new.py", edit, 32)


def test_commit_message_is_scanned(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    sha = repo.commit(f"deploy\n\nused token {GITHUB_PAT} for now\n")
    [f] = findings(engine, repo.path)
    assert (f.location.commit, f.location.path, f.location.line) == (sha, None, 3)
    assert findings(engine, repo.path, scan_messages=False) == []


def test_binary_blobs_are_skipped_except_credential_files(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    repo.commit(
        "blobs",
        **{
            "logo.png": b"\x89PNG\0\0" + GITHUB_PAT.encode(),
            "certs/client.p12": b"\x30\x82\0\x01" + os.urandom(64),
        },
    )
    scanned = scan_history(engine, str(repo.path))
    assert [(f.rule_id, f.location.path) for f in scanned.result.findings] == [
        ("credential-file", "certs/client.p12")
    ]
    assert scanned.result.stats.skipped_binary == 1


def test_a_credential_file_over_the_size_bound_is_reported_as_not_read(tmp_path, engine):
    from leakguard.errors import ExitCode
    from leakguard.policy import exit_code_for

    repo = Repo(tmp_path / "r")
    repo.commit("blobs", **{"certs/client.p12": b"\x30\x82\0\x01" + os.urandom(64)})
    scanned = scan_history(engine, str(repo.path), HistoryOptions(max_blob_size=16))
    assert not scanned.result.findings
    [skipped] = scanned.result.skipped
    assert skipped.error and skipped.target.startswith("certs/client.p12 @ ")
    assert exit_code_for(scanned.result) == ExitCode.UNREADABLE
    # no bound by default
    assert [f.rule_id for f in findings(engine, repo.path)] == ["credential-file"]


def test_huge_blob_streams_in_bounded_chunks(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    filler = ("x = 'just some text here'\n" * 1_000_000).encode()  # 26 MB
    repo.commit("huge", **{"big.py": filler + f"t = '{GITHUB_PAT}'\n".encode()})
    [f] = findings(engine, repo.path)
    assert f.location.line == 1_000_001


def test_dockerfile_in_history_gets_container_aware_findings(tmp_path, engine):
    from leakguard.detectors import structured_scanner

    v1 = f"FROM scratch\nARG GITHUB_TOKEN={GITHUB_PAT}\nARG DB_PASSWORD\n"
    v2 = v1 + "COPY .env /app/\nRUN make\n"
    repo = Repo(tmp_path / "r")
    first = repo.commit("image", **{"Dockerfile": v1})
    second = repo.commit("copy", **{"Dockerfile": v2})
    found = {(f.rule_id, f.location.line, f.location.commit) for f in findings(engine, repo.path)}
    assert ("github-pat", 2, first) in found
    assert ("dockerfile-copy-credential-file", 4, second) in found
    # each commit is charged with what the Dockerfile detector reports for its
    # version and did not report for the parent's
    scan = structured_scanner("dockerfile")
    assert scan is not None
    old = {(f.rule_id, f.fingerprint) for f in scan(engine, v1.encode(), "Dockerfile").findings}
    expected = {
        (f.rule_id, f.location.line, second)
        for f in scan(engine, v2.encode(), "Dockerfile").findings
        if (f.rule_id, f.fingerprint) not in old
    }
    assert {x for x in found if x[2] == second} == expected


def test_shallow_clone_and_bare_repo(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    repo.commit("one", **{"a.py": f"t = '{GITHUB_PAT}'\n"})
    repo.commit("two", **{"b.py": f"k = '{STRIPE_KEY}'\n"})
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(bare)], check=True)
    assert {f.location.path for f in findings(engine, bare)} == {"a.py", "b.py"}
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(shallow)], check=True
    )
    # the boundary commit holds the whole tree as it was
    assert {f.location.path for f in findings(engine, shallow)} == {"a.py", "b.py"}


def test_rev_range_since_and_max_commits_narrow_the_scan(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    a = repo.commit("a", **{"a.py": f"t = '{GITHUB_PAT}'\n"})
    repo.commit("b", **{"b.py": f"k = '{STRIPE_KEY}'\n"})
    assert {f.location.path for f in findings(engine, repo.path, revs=(f"{a}..main",))} == {"b.py"}
    assert {f.location.path for f in findings(engine, repo.path, max_commits=1)} == {"b.py"}
    assert findings(engine, repo.path, since="2030-01-01") == []


def test_path_with_spaces_and_unicode(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    repo.commit("odd", **{'dir with space/ünï "q".py': f"t = '{GITHUB_PAT}'\n"})
    [f] = findings(engine, repo.path)
    assert f.location.path == 'dir with space/ünï "q".py'


def test_a_path_that_is_not_utf8_keeps_its_bytes_and_reads_as_backslash_x(tmp_path, engine):
    import json

    repo = Repo(tmp_path / "r")
    (repo.path / os.fsdecode(b"cred\xff.env")).write_text(f"GH={GITHUB_PAT}\n")
    repo.git("add", "-A")
    repo.commit("odd name")
    for fmt in ("text", "json", "sarif"):
        proc = subprocess.run(
            [sys.executable, "-m", "leakguard", "git", str(repo.path), "-f", fmt],
            capture_output=True, env=dict(os.environ, **ENV),
        )  # fmt: skip
        assert proc.returncode == 1, proc.stderr
        out = proc.stdout.decode("utf-8")  # strict: valid UTF-8 in every format
        assert "\ufffd" not in out
        if fmt == "text":
            assert "cred\\xff.env" in out and "(deleted)" not in out
        elif fmt == "json":
            [f] = json.loads(out)["findings"]
            # still in HEAD: the path names the file there, byte for byte
            assert f["location"]["path"] == "cred\\xff.env" and f["location"]["deleted"] is False
        else:
            assert '"uri": "cred%FF.env"' in out


def test_not_a_repository_and_unknown_revision(tmp_path, engine):
    with pytest.raises(TargetUnreadable, match="not a readable git repository"):
        scan_history(engine, str(tmp_path))
    repo = Repo(tmp_path / "r")
    repo.commit("one", **{"a.py": "x = 1\n"})
    with pytest.raises(UsageError, match="unknown revision 'nope'"):
        scan_history(engine, str(repo.path), HistoryOptions(revs=("nope",)))


def test_corrupt_object_is_reported_unreadable(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    repo.commit("one", **{"a.py": "x = 1\n"})
    repo.commit("two", **{"b.py": f"t = '{GITHUB_PAT}'\n"})
    blob = repo.git("rev-parse", "HEAD:b.py")
    obj = repo.path / ".git" / "objects" / blob[:2] / blob[2:]
    obj.chmod(0o644)
    obj.write_bytes(b"garbage")
    result = scan_history(engine, str(repo.path)).result
    assert any(s.error for s in result.skipped)
    proc = run_cli("git", str(repo.path))
    assert proc.returncode == 3
    assert "git fsck" in proc.stdout and "Traceback" not in proc.stderr


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leakguard", *args],
        capture_output=True, text=True, cwd=cwd, env=dict(os.environ, **ENV),
    )  # fmt: skip


def test_cli_exit_codes_and_json(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit("one", **{"a.py": f"t = '{GITHUB_PAT}'\n"})
    repo.commit("two", **{"a.py": "t = None\n"})
    proc = run_cli("git", str(repo.path), "-f", "json")
    assert proc.returncode == 1, proc.stderr
    assert GITHUB_PAT not in proc.stdout + proc.stderr
    import json

    [f] = json.loads(proc.stdout)["findings"]
    assert f["location"]["surface"] == "git" and f["location"]["deleted"] is True

    proc = run_cli("git", str(tmp_path / "nowhere"))
    assert proc.returncode == 3
    assert proc.stderr.startswith("leakguard: error:") and "Traceback" not in proc.stderr
    proc = run_cli("git", str(repo.path), "--branch", "no-such-branch")
    assert proc.returncode == 2 and "unknown revision" in proc.stderr
    proc = run_cli("git", str(repo.path), "--rev-range", "HEAD~1..HEAD")
    assert proc.returncode == 0, proc.stdout


def test_cli_baseline_covers_history(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit("one", **{"a.py": f"t = '{GITHUB_PAT}'\n"})
    baseline = tmp_path / "b.json"
    made = run_cli("baseline", "create", str(repo.path), "-o", str(baseline))
    assert made.returncode == 0, made.stderr
    proc = run_cli("git", str(repo.path), "--baseline", str(baseline))
    assert proc.returncode == 0, proc.stdout
    other = fake("gh" + "p_", 36, seed=99)
    repo.commit("two", **{"b.py": f"t = '{other}'\n"})
    proc = run_cli("git", str(repo.path), "--baseline", str(baseline))
    assert proc.returncode == 1 and "b.py" in proc.stdout and "a.py" not in proc.stdout


def test_parallel_partitions_report_what_one_reader_reports(tmp_path, engine, monkeypatch):
    repo = Repo(tmp_path / "r")
    oldest = repo.commit("a", **{"a.py": f"t = '{GITHUB_PAT}'\n"})
    for i in range(7):
        repo.commit(f"filler {i}", **{f"f{i}.py": f"x = {i}\n"})
    repo.commit("b", **{"b.py": f"k = '{STRIPE_KEY}'\n", "a.py": "t = None\n"})
    repo.commit("again", **{"a.py": f"t = '{GITHUB_PAT}'\n"})
    one = scan_history(engine, str(repo.path), jobs=1)
    monkeypatch.setattr("leakguard.detectors.git_history.PARALLEL_MIN_COMMITS", 2)
    three = scan_history(engine, str(repo.path), jobs=3)
    assert three.commits == one.commits == 10
    assert sorted(three.result.findings, key=str) == sorted(one.result.findings, key=str)
    assert three.occurrences == one.occurrences
    [pat] = by_rule(three.result.findings, "github-pat")
    assert pat.location.commit == oldest and not pat.location.deleted


def test_what_a_detector_cannot_read_in_history_is_reported_once_per_file(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    looped = "include:\n  - compose.yaml\nservices:\n  web:\n    image: nginx\n"
    first_loop = repo.commit("loop", **{"compose.yaml": looped})
    first_broken = repo.commit("broken", **{"docker-compose.yml": "services:\n  web: [\n"})
    for i in range(30):
        repo.commit(f"edit {i}", **{
            "compose.yaml": looped + f"# {i}\n",
            "docker-compose.yml": "services:\n  web: [\n" + f"# {i}\n" * (i + 1),
        })  # fmt: skip
    skipped = scan_history(engine, str(repo.path)).result.skipped
    by_target = {s.target: s for s in skipped}
    assert len(skipped) == 2, skipped
    loop = by_target[f"compose.yaml @ {first_loop[:12]}"]
    assert loop.error and "includes itself" in loop.reason
    # parsed as plain text: every byte was read, so a note, not an error
    broken = by_target[f"docker-compose.yml @ {first_broken[:12]}"]
    assert not broken.error and "scanned as plain text" in broken.reason
    proc = run_cli("git", str(repo.path), "-f", "json")
    assert proc.returncode == 3, proc.stderr
    import json

    report = json.loads(proc.stdout)
    assert [s["error"] for s in report["skipped"]].count(True) == 1
    proc = run_cli("git", str(repo.path), "-f", "sarif")
    assert proc.returncode == 3 and "includes itself" in proc.stdout


def test_command_lines_in_history_are_read_like_a_scan_of_files(tmp_path, engine):
    password = "Lq9" + "vX2mHunter"
    other = "W7q" + "Lz2Pp9xk"
    repo = Repo(tmp_path / "r")
    added = repo.commit("deploy", **{
        "deploy.sh": f"#!/bin/sh\nset -e\nsshpass -p {password} ssh deploy@host true\n",
        "bin__release": f"#!/bin/bash\necho start\nsshpass -p {other} ssh h\n",
        "notes.txt": f"sshpass -p {other}x ssh h\n",
    })  # fmt: skip
    repo.commit("more", **{"deploy.sh": f"#!/bin/sh\nset -e\nsshpass -p {password} ssh "
                                        "deploy@host true\necho done\n"})  # fmt: skip
    repo.commit("clean", **{"deploy.sh": "#!/bin/sh\nset -e\n"})
    found = [f for f in findings(engine, repo.path) if f.rule_id == "command-credential"]
    assert sorted((f.location.path, f.location.line, f.location.commit) for f in found) == [
        ("bin/release", 3, added), ("deploy.sh", 3, added),
    ]  # fmt: skip
    by_path = {f.location.path: f for f in found}
    assert by_path["deploy.sh"].location.deleted and not by_path["bin/release"].location.deleted
    proc = run_cli("git", str(repo.path), "-f", "json")
    assert password not in proc.stdout + proc.stderr


def test_a_credential_added_on_a_continuation_line_is_charged_to_that_commit(tmp_path, engine):
    password = "Lq9" + "vX2mHunter"
    repo = Repo(tmp_path / "r")
    repo.commit("old", **{"deploy.sh": "#!/bin/sh\nsshpass \\\n  ssh host true\n"})
    added = repo.commit("new", **{
        "deploy.sh": f"#!/bin/sh\nsshpass \\\n  -p {password} \\\n  ssh host true\n",
    })  # fmt: skip
    repo.commit("unrelated", **{"deploy.sh": f"#!/bin/sh\nsshpass \\\n  -p {password} \\\n"
                                             "  ssh host true\necho done\n"})  # fmt: skip
    [found] = findings(engine, repo.path)
    assert (found.rule_id, found.location.line, found.location.commit) == (
        "command-credential", 3, added,
    )  # fmt: skip
    assert found.location.occurrences == 1


def test_a_command_credential_that_is_also_a_token_is_reported_once(tmp_path, engine):
    repo = Repo(tmp_path / "r")
    repo.commit("ci", **{"deploy.sh": f"#!/bin/sh\ncurl -u ci:{GITHUB_PAT} https://x\n"})
    found = findings(engine, repo.path)
    assert [f.location.line for f in found] == [2], found
