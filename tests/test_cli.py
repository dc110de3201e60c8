from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from leakguard.cli import cli, main
from leakguard.errors import ExitCode
from tests.conftest import GITHUB_PAT, PASSWORD, STRIPE_KEY, fake


def run(*args: str, cwd: Path | None = None, stdin: str | None = None) -> tuple[int, str, str]:
    """Run the real entry point (the exit-code translation included), capturing output."""
    runner = CliRunner()
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        with runner.isolation(input=stdin) as (out, err, *_):
            code = main(list(args))
            return code, out.getvalue().decode(), err.getvalue().decode()
    finally:
        os.chdir(old)


def test_version_and_help_on_every_command():
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("leakguard, version ")
    for command in ([], ["scan"], ["baseline"], ["baseline", "create"], ["baseline", "update"],
                    ["baseline", "import"], ["rules"]):  # fmt: skip
        code, out, _ = run(*command, "--help")
        assert code == 0 and "Usage:" in out


def test_exit_codes_clean_findings_usage_unreadable(tmp_path, leaky_tree):
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "a.txt").write_text("nothing\n")
    assert run("scan", str(tmp_path / "clean"))[0] == ExitCode.CLEAN
    assert run("scan", str(leaky_tree))[0] == ExitCode.FINDINGS
    assert run("scan", "--format", "yaml", str(leaky_tree))[0] == ExitCode.USAGE
    code, out, err = run("scan", str(leaky_tree), str(tmp_path / "missing"))
    assert code == ExitCode.UNREADABLE
    assert "github-pat" in out and "missing" in out  # both: the leak and what was not read


def test_text_report_is_redacted_unless_asked(leaky_tree):
    code, out, _ = run("scan", str(leaky_tree))
    assert code == 1
    for secret in (GITHUB_PAT, STRIPE_KEY, PASSWORD):
        assert secret not in out
    assert "settings.py" in out and ".env" in out
    code, out, _ = run("scan", "--show-secrets", str(leaky_tree))
    assert GITHUB_PAT in out


def test_json_report_to_file(tmp_path, leaky_tree):
    report = tmp_path / "r.json"
    code, out, err = run("scan", "-f", "json", "-o", str(report), str(leaky_tree))
    assert code == 1 and out == ""
    doc = json.loads(report.read_text())
    assert doc["tool"] == "leakguard"
    rules = sorted(f["rule_id"] for f in doc["findings"])
    assert rules == ["github-pat", "keyword-secret", "stripe-secret-key"]
    assert doc["stats"]["files"] == 3
    assert "3 findings" in err


def test_show_secrets_report_file_is_private(tmp_path, leaky_tree):
    report = tmp_path / "r.json"
    run("scan", "-f", "json", "--show-secrets", "-o", str(report), str(leaky_tree))
    assert report.stat().st_mode & 0o777 == 0o600
    assert GITHUB_PAT in report.read_text()


def test_stdin(leaky_tree):
    code, out, _ = run("scan", "-f", "json", "-", stdin=f"export TOKEN={GITHUB_PAT}\n")
    assert code == 1
    [finding] = json.loads(out)["findings"]
    assert finding["location"]["path"] == "-" and finding["location"]["line"] == 1


def test_baseline_create_then_scan_is_clean_and_new_leaks_still_fail(tmp_path, leaky_tree):
    assert run("baseline", "create", ".", cwd=leaky_tree)[0] == 0
    baseline = (leaky_tree / ".leakguard-baseline.json").read_text()
    assert GITHUB_PAT not in baseline and PASSWORD not in baseline
    assert run("scan", ".", cwd=leaky_tree)[0] == 0
    # lines moving does not un-baseline a secret
    settings = leaky_tree / "app" / "settings.py"
    settings.write_text("# moved down\n\n" + settings.read_text())
    assert run("scan", ".", cwd=leaky_tree)[0] == 0
    (leaky_tree / "new.py").write_text(f"password = '{PASSWORD}x'\n")
    code, out, _ = run("scan", ".", cwd=leaky_tree)
    assert code == 1 and "new.py" in out and "settings.py" not in out
    # the baseline works from another working directory too
    assert run("scan", "--baseline", str(leaky_tree / ".leakguard-baseline.json"),
               str(leaky_tree / "app"))[0] == 0  # fmt: skip
    assert run("scan", "--no-baseline", ".", cwd=leaky_tree)[0] == 1


def test_baseline_update_adds_and_drops(leaky_tree):
    run("baseline", "create", ".", cwd=leaky_tree)
    (leaky_tree / ".env").write_text("NOTHING=here\n")
    (leaky_tree / "new.py").write_text(f"password = '{PASSWORD}x'\n")
    code, _, err = run("baseline", "update", ".", cwd=leaky_tree)
    assert code == 0 and "1 new" in err
    entries = json.loads((leaky_tree / ".leakguard-baseline.json").read_text())["entries"]
    assert sorted(e["path"] for e in entries) == ["app/settings.py", "new.py"]


def test_baseline_update_keeps_the_entries_of_files_it_could_not_read(leaky_tree):
    run("baseline", "create", ".", cwd=leaky_tree)
    before = json.loads((leaky_tree / ".leakguard-baseline.json").read_text())["entries"]
    settings = leaky_tree / "app" / "settings.py"
    os.chmod(settings, 0)
    command = [sys.executable, "-m", "leakguard", "baseline", "update", "."]
    if os.geteuid() == 0:  # root reads mode-0 files unless CAP_DAC_* are dropped
        caps = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", *command]
    proc = subprocess.run(command, cwd=leaky_tree, capture_output=True, text=True)
    assert proc.returncode == ExitCode.UNREADABLE, proc.stderr
    assert "kept for files that could not be read" in proc.stderr
    after = json.loads((leaky_tree / ".leakguard-baseline.json").read_text())["entries"]
    kept = sorted(e["path"] for e in after)
    assert kept == sorted(e["path"] for e in before) and "app/settings.py" in kept


def test_baseline_create_refuses_to_overwrite(leaky_tree):
    run("baseline", "create", ".", cwd=leaky_tree)
    code, _, err = run("baseline", "create", ".", cwd=leaky_tree)
    assert code == ExitCode.USAGE and "already exists" in err and "hint:" in err


@pytest.mark.skipif(shutil.which("detect-secrets") is None, reason="detect-secrets CLI missing")
def test_import_a_real_detect_secrets_baseline(leaky_tree):
    ds = subprocess.run(
        ["detect-secrets", "scan", "--all-files", "."], cwd=leaky_tree, capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    (leaky_tree / ".secrets.baseline").write_text(ds.stdout)
    code, out, _ = run("scan", "--baseline", ".secrets.baseline", ".", cwd=leaky_tree)
    assert code == ExitCode.USAGE and "baseline import" in _
    assert run("baseline", "import", ".secrets.baseline", cwd=leaky_tree)[0] == 0
    # what detect-secrets found is not reported again; what it missed still is
    ds_found = {
        (name, item["hashed_secret"]) for name, items in json.loads(ds.stdout)["results"].items()
        for item in items
    }  # fmt: skip
    assert ds_found, "detect-secrets found nothing: the test would prove nothing"

    def reported(*args: str) -> dict[tuple[str, str], set[str]]:
        """(path, rule) -> sha1s under which detect-secrets may know the secret."""
        _, out, _ = run("scan", ".", "--exclude", ".secrets.baseline", "-f", "json",
                        "--show-secrets", *args, cwd=leaky_tree)  # fmt: skip
        found = {}
        for f in json.loads(out)["findings"]:
            secret = f["secret"]
            # detect-secrets hashes only the "ghp" prefix of a GitHub token
            forms = {secret, secret.split("_")[0]} if f["rule_id"] == "github-pat" else {secret}
            found[f["location"]["path"], f["rule_id"]] = {
                hashlib.sha1(x.encode()).hexdigest() for x in forms
            }
        return found

    everything = reported("--no-baseline")
    known = {key for key, hashes in everything.items() if {(key[0], h) for h in hashes} & ds_found}
    assert ("app/settings.py", "github-pat") in known
    assert known != everything.keys(), "leakguard should find more than detect-secrets here"
    assert reported().keys() == everything.keys() - known


def test_config_excludes_disables_and_custom_rules(leaky_tree):
    acme = "ac" + "me_" + "k3y9" * 5
    (leaky_tree / "vendor").mkdir()
    (leaky_tree / "vendor" / "lib.py").write_text(f"t = '{GITHUB_PAT}'\n")
    (leaky_tree / "custom.txt").write_text(f"ACME={acme}\n")
    (leaky_tree / ".leakguard.toml").write_text(
        'exclude = ["vendor/"]\n'
        'disable = ["keyword-secret"]\n'
        "[[rules]]\n"
        'id = "acme-token"\n'
        'pattern = "acme_[a-z0-9]{20}"\n'
        'keywords = ["acme_"]\n'
        'severity = "critical"\n'
    )
    code, out, _ = run("scan", "-f", "json", ".", cwd=leaky_tree)
    found = {(f["rule_id"], f["location"]["path"]) for f in json.loads(out)["findings"]}
    assert found == {
        ("github-pat", "app/settings.py"),
        ("stripe-secret-key", ".env"),
        ("acme-token", "custom.txt"),
    }


@pytest.mark.parametrize(
    "content, message",
    [
        ("exclude = [", "not valid TOML"),
        ('disable = ["no-such-rule"]', "unknown rule id"),
        ("colour = true", "unknown setting"),
        ('[[rules]]\nid = "x1"\npattern = "("', "not a valid regex"),
        ('[[rules]]\nid = "x1"\npattern = "a*"', "empty string"),
        ('[[rules]]\nid = "x1"\npattern = "abc"\nseverity = "huge"', "severity must be"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path, content, message):
    (tmp_path / ".leakguard.toml").write_text(content)
    code, out, err = run("scan", ".", cwd=tmp_path)
    assert code == ExitCode.USAGE
    assert message in err and "Traceback" not in err
    assert err.count("\n") <= 2


def test_rules_lists_every_rule(tmp_path):
    code, out, _ = run("rules", "-f", "json", cwd=tmp_path)
    rows = json.loads(out)
    ids = [r["id"] for r in rows]
    assert code == 0 and len(ids) == len(set(ids)) and "github-pat" in ids
    assert {r["id"]: r["enabled"] for r in rows}["public-ipv4"] is False


def test_internal_errors_are_exit_70_without_traceback_or_message(monkeypatch, leaky_tree):
    import leakguard.detectors.files as files

    def boom(*a, **k):
        held = STRIPE_KEY  # a local variable: never printed, not even with --verbose
        raise RuntimeError(f"cannot parse line: token = {GITHUB_PAT} ({len(held)})")

    monkeypatch.setattr(files, "scan_paths", boom)
    code, out, err = run("scan", str(leaky_tree))
    assert code == ExitCode.INTERNAL and "Traceback" not in err
    # the type and where, never the message (it quotes the input)
    assert re.search(r"internal error: RuntimeError at leakguard[\w.]*:\d+\n", err), err
    assert GITHUB_PAT[4:16] not in out + err and "cannot parse" not in err
    code, out, err = run("-v", "scan", str(leaky_tree))
    assert code == ExitCode.INTERNAL and "Traceback" in err and "boom" in err
    assert STRIPE_KEY[8:20] not in out + err


def test_installed_command_runs(leaky_tree):
    exe = Path(sys.executable).parent / "leakguard"
    proc = subprocess.run([str(exe), "scan", str(leaky_tree)], capture_output=True, text=True)
    assert proc.returncode == 1 and "github-pat" in proc.stdout


def test_cli_object_is_a_click_group():
    assert CliRunner().invoke(cli, ["--help"]).exit_code == 0


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_no_output_or_debug_log_holds_a_secret(leaky_tree, fmt):
    (leaky_tree / "latin1.ini").write_bytes(b"caf\xe9=1\ntoken = '" + GITHUB_PAT.encode() + b"x'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "leakguard", "-v", "scan", "-f", fmt, "."],
        cwd=leaky_tree, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == ExitCode.FINDINGS, proc.stderr
    assert "DEBUG" in proc.stderr  # the debug log was on
    for secret in (GITHUB_PAT, STRIPE_KEY, PASSWORD):
        assert secret not in proc.stdout + proc.stderr
    assert "latin1.ini" in proc.stdout  # a file that is not UTF-8 is still scanned


def test_container_checks_are_listed_and_can_be_disabled(tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM scratch\nARG NPM_TOKEN\nRUN echo $NPM_TOKEN > /dev/null\n"
    )
    code, out, _ = run("scan", "-f", "json", ".", cwd=tmp_path)
    assert code == ExitCode.FINDINGS
    assert [f["rule_id"] for f in json.loads(out)["findings"]] == ["dockerfile-secret-arg"]
    assert run("scan", "--disable", "dockerfile-secret-arg", ".", cwd=tmp_path)[0] == 0
    code, out, _ = run("rules", "-f", "json")
    [row] = [r for r in json.loads(out) if r["id"] == "dockerfile-secret-arg"]
    assert (row["kind"], row["enabled"]) == ("check", True)


def test_a_secret_seen_by_two_surfaces_is_reported_once(tmp_path):
    # the Compose detector follows env_file into .env; the walk reads .env too
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    env_file: .env\n")
    (tmp_path / ".env").write_text(f"STRIPE_KEY={STRIPE_KEY}\n")
    code, out, _ = run("scan", "-f", "json", ".", cwd=tmp_path)
    [finding] = json.loads(out)["findings"]
    assert finding["location"]["surface"] == "compose"  # the surface that knows more
    assert "env_file" in finding["message"]


def test_a_baseline_holds_for_dockerfile_findings_from_any_folder(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    (project / "Dockerfile").write_text(f"FROM scratch\nENV GITHUB_TOKEN={GITHUB_PAT}\n")
    (tmp_path / "ci").mkdir()
    assert run("baseline", "create", "-o", "ci/b.json", "p", cwd=tmp_path)[0] == 0
    assert run("scan", "--baseline", "../ci/b.json", ".", cwd=project)[0] == ExitCode.CLEAN
    assert run("scan", "--baseline", "ci/b.json", "p", cwd=tmp_path)[0] == ExitCode.CLEAN


def test_fix_is_migrate_by_another_name(tmp_path):
    (tmp_path / "Dockerfile").write_text(
        f'FROM scratch\nARG GH_TOKEN={GITHUB_PAT}\nRUN gh auth login --with-token "$GH_TOKEN"\n'
    )
    plans = [run(verb, str(tmp_path))[1] for verb in ("migrate", "fix")]
    assert plans[0] == plans[1] and "--mount=type=secret" in plans[0]
    assert GITHUB_PAT not in plans[0]


@pytest.mark.parametrize(
    "args",
    [
        ("scan", "--max-file-size", "-5", "."),
        ("scan", "--max-file-size", "0", "."),
        ("git", "--since", "notadate", "."),
        ("image", "--platform", "bogus", "oci:samples/image"),
    ],
)
def test_options_that_would_scan_nothing_are_usage_errors(args):
    code, _, err = run(*args)
    assert code == ExitCode.USAGE and "Invalid value" in err


def test_since_takes_dates_git_reads_exactly(tmp_path):
    from leakguard.commands.git import parse_since

    assert parse_since("@1577836800") == "@1577836800"
    assert parse_since("2020-01-01T00:00:00+00:00") == "@1577836800"
    ago = int(parse_since("2 weeks ago")[1:])
    import time

    assert abs(time.time() - 14 * 86400 - ago) < 5
    # before 1973 git does not read @EPOCH: such a date means the whole history
    for whole in ("1970-01-01", "@0", "60 years ago", "0001-01-01"):
        assert parse_since(whole) is None, whole


# -- where reports and baselines go ------------------------------------------------


def test_reports_and_baselines_are_private_whatever_the_format(tmp_path, leaky_tree):
    old = os.umask(0o022)
    try:
        for fmt in ("text", "json", "sarif"):
            report = tmp_path / f"r.{fmt}"
            assert run("scan", "-f", fmt, "-o", str(report), str(leaky_tree))[0] == 1
            assert report.stat().st_mode & 0o777 == 0o600, fmt
        baseline = tmp_path / "baseline.json"
        assert run("baseline", "create", "-o", str(baseline), str(leaky_tree))[0] == 0
        assert baseline.stat().st_mode & 0o777 == 0o600
        baseline.chmod(0o644)
        assert run("baseline", "update", "-b", str(baseline), str(leaky_tree))[0] == 0
        assert baseline.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device needs root")
def test_output_to_a_device_node_writes_through_it_and_keeps_the_node(tmp_path, leaky_tree):
    import stat

    null = tmp_path / "null"  # a copy of /dev/null's node: the real one is never touched
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    before = os.lstat(null)
    code, out, err = run("scan", "-f", "json", "-o", str(null), str(leaky_tree))
    assert code == 1 and out == "" and "3 findings" in err
    after = os.lstat(null)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == os.makedev(1, 3)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert sorted(os.listdir(tmp_path)) == ["null", "proj"]


def test_output_to_a_fifo_without_a_reader_is_a_one_line_error_not_a_hang(tmp_path, leaky_tree):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "leakguard", "scan", "-o", str(fifo), str(leaky_tree)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == ExitCode.USAGE
    message = f"leakguard: error: cannot write {fifo}: a FIFO that no process is reading"
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert os.path.exists(fifo) and not os.path.isfile(fifo)


def test_output_through_a_symlink_writes_its_target(tmp_path, leaky_tree):
    (tmp_path / "reports").mkdir()
    link = tmp_path / "latest.json"
    link.symlink_to("reports/scan.json")
    assert run("scan", "-f", "json", "-o", str(link), str(leaky_tree))[0] == 1
    assert link.is_symlink()
    assert json.loads((tmp_path / "reports" / "scan.json").read_text())["tool"] == "leakguard"


# -- hostile input: a one-line message and exit 3, the rest of the report intact --------


def test_a_symlink_loop_as_a_path_is_reported_not_an_internal_error(tmp_path, leaky_tree):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    (leaky_tree / "app" / "loop").symlink_to("loop")  # and one inside the tree
    for fmt in ("text", "json"):
        code, out, err = run("scan", "-f", fmt, str(tmp_path / "a"), str(leaky_tree))
        assert code == ExitCode.UNREADABLE, err
        assert "internal error" not in err
        assert "github-pat" in out and "stripe-secret-key" in out  # the rest of the report
    doc = json.loads(out)
    [skipped] = [s for s in doc["skipped"] if s["error"]]
    assert skipped["target"] == str(tmp_path / "a")
    assert skipped["reason"] == "too many levels of symbolic links"


def test_toml_nested_without_end_is_bad_input_not_an_internal_error(tmp_path, leaky_tree):
    deep = "a = " + "[" * 100_000 + "]" * 100_000 + "\n"
    (leaky_tree / "leakguard-secrets.toml").write_text(deep)  # a manifest lists nothing
    code, out, err = run("scan", "--no-baseline", str(leaky_tree))
    assert code == ExitCode.FINDINGS, err
    assert "github-pat" in out
    (leaky_tree / ".leakguard.toml").write_text(deep)
    code, out, err = run("scan", "--no-baseline", str(leaky_tree))
    assert code == ExitCode.USAGE
    config = leaky_tree / ".leakguard.toml"
    assert err == f"leakguard: error: {config}: not valid TOML: nested too deep\n"


def test_a_token_whose_json_is_nested_without_end_does_not_stop_the_scan(leaky_tree):
    import base64

    header = base64.urlsafe_b64encode(b'{"alg":' + b"[" * 1200 + b"]" * 1200 + b"}").rstrip(b"=")
    body = base64.urlsafe_b64encode(b'{"sub":"1234567890"}').rstrip(b"=")
    sig = "c2lnbmF0dXJl" * 2
    (leaky_tree / "token.txt").write_text(f"t = {header.decode()}.{body.decode()}.{sig}\n")
    code, out, err = run("scan", "--no-baseline", str(leaky_tree))
    assert code == ExitCode.FINDINGS, err
    assert "github-pat" in out and "stripe-secret-key" in out


def test_a_fifo_named_like_the_secrets_manifest_hangs_nothing(tmp_path, leaky_tree):
    os.mkfifo(leaky_tree / "leakguard-secrets.toml")  # no process ever writes to it
    for args in (["scan", "--no-baseline"], ["migrate"]):
        done = subprocess.run(
            [sys.executable, "-m", "leakguard", *args, str(leaky_tree)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == ExitCode.FINDINGS, done.stderr
        assert "internal error" not in done.stderr


def test_a_folder_name_that_is_not_utf8_survives_migrate_and_its_manifest(tmp_path):
    root = tmp_path / "proj"
    app = os.path.join(os.fsencode(root), b"app\xff")
    os.makedirs(app)
    token = fake("npm" + "_", 36, seed=21)
    with open(os.path.join(app, b"Dockerfile"), "w") as fh:
        fh.write(f"FROM alpine\nARG NPM_TOKEN={token}\nRUN echo $NPM_TOKEN > /x\n")
    assert run("migrate", "--apply", str(root))[0] == ExitCode.CLEAN
    code, out, err = run("secrets", "docker-flags", cwd=root)
    assert code == ExitCode.CLEAN, err
    assert out.split() == [f"--secret=id=npm_token,src={root / 'secrets' / 'npm_token'}"]
    code, out, err = run("scan", "--no-baseline", "-f", "json", str(root))
    assert code == ExitCode.CLEAN, out
    assert token not in out + err


def test_output_to_dev_fd_1_writes_where_the_shell_pointed_stdout(tmp_path, leaky_tree):
    log = tmp_path / "log.txt"
    log.write_text("before\n")
    before = log.stat()
    with open(log, "a") as out:  # `leakguard scan -o /dev/fd/1 >> log.txt`
        done = subprocess.run(
            [sys.executable, "-m", "leakguard", "scan", "-f", "json", "-o", "/dev/fd/1",
             str(leaky_tree)],
            stdout=out, stderr=subprocess.PIPE, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    text = log.read_text()
    assert text.startswith("before\n{") and json.loads(text.removeprefix("before\n"))
    after = log.stat()
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert sorted(os.listdir(tmp_path)) == ["log.txt", "proj"]


def test_a_fifo_named_gitignore_or_hook_hangs_nothing(tmp_path, leaky_tree):
    os.mkfifo(leaky_tree / ".gitignore")  # no process ever writes to it
    done = subprocess.run(
        [sys.executable, "-m", "leakguard", "scan", "--respect-gitignore", str(leaky_tree)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == ExitCode.FINDINGS, done.stderr
    assert "github-pat" in done.stdout
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    os.mkfifo(repo / ".git" / "hooks" / "pre-commit")
    done = subprocess.run(
        [sys.executable, "-m", "leakguard", "hook", "install", "--pre-commit", str(repo)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == ExitCode.REFUSED  # it will not chain to what is not a file
    assert "is not a regular file; leakguard will not chain to it" in done.stderr


def test_names_on_stderr_cannot_drive_the_terminal(tmp_path):
    # A file name may hold ESC sequences (retitle the window, clear the screen):
    # stderr shows them escaped, in skipped entries and in errors alike.
    import gzip

    name = "cut\x1b]0;owned\x07\x1b[2J.tar.gz"
    whole = gzip.compress(b"x" * 512 + b"\0" * 100_000)  # a tar header's worth, then cut
    (tmp_path / name).write_bytes(whole[: len(whole) // 2])
    code, out, err = run("scan", "-f", "json", str(tmp_path))
    assert code == 3 and json.loads(out)["skipped"]
    assert "\x1b" not in err and "\x07" not in err
    assert "cut\\x1b]0;owned\\x07\\x1b[2J.tar.gz" in err
    code, _, err = run("scan", "-f", "json", str(tmp_path / "gone\x1b[2J"))
    assert code != 0 and "\x1b" not in err and "gone\\x1b[2J" in err
