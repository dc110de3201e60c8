from __future__ import annotations

import hashlib
import io
import time

import pytest

from leakguard.engine import Engine
from leakguard.models import Location, RuleId, Severity
from leakguard.rules import Rule, RuleSet, builtin_rules
from leakguard.rules.generic import KEYWORD_SECRET
from tests.conftest import GITHUB_PAT, PASSWORD, fake

ACME = Rule(
    id=RuleId("acme-token"),
    description="ACME token",
    severity=Severity.HIGH,
    pattern=r"(?P<secret>acme_[a-z0-9]{20})",
    keywords=("acme_",),
)


def test_finding_carries_line_column_fingerprint_and_redaction(scan_text):
    text = f'x = 1\n\n    token = "{GITHUB_PAT}"\n'
    [finding] = scan_text(text)
    assert finding.rule_id == "github-pat"
    assert (finding.location.line, finding.location.column) == (3, 14)
    assert finding.fingerprint == hashlib.sha256(GITHUB_PAT.encode()).hexdigest()
    assert finding.secret.reveal() == GITHUB_PAT
    assert GITHUB_PAT not in finding.redacted and finding.redacted.endswith("…")
    assert GITHUB_PAT not in repr(finding)


def test_lines_are_counted_across_many_hits(scan_text):
    lines = [f"line {i}" for i in range(200)]
    for n in (5, 77, 150):
        lines[n] = f'key_{n} = "{fake("acme_", 20, "abcdefghij0123456789", seed=n)}"'
    found = scan_text("\n".join(lines), rules=RuleSet([ACME]))
    assert [f.location.line for f in found] == [6, 78, 151]


def test_inline_markers_suppress(scan_text):
    text = (
        f'a = "{GITHUB_PAT}"  # leakguard:allow\n'
        f'b = "{GITHUB_PAT}"  # pragma: allowlist secret\n'
        f'c = "{GITHUB_PAT}"\n'
    )
    assert [f.location.line for f in scan_text(text)] == [3]


def test_specific_rule_wins_over_generic_on_the_same_bytes(scan_text):
    token = fake("acme_", 20, "abcdefghij0123456789")
    found = scan_text(f'password = "{token}"\n', rules=RuleSet([ACME, KEYWORD_SECRET]))
    assert [f.rule_id for f in found] == ["acme-token"]


def test_generic_keyword_rule_still_reports_other_values(scan_text):
    found = scan_text(f'db_password = "{PASSWORD}"\n')
    assert [(f.rule_id, f.secret.reveal()) for f in found] == [("keyword-secret", PASSWORD)]


def test_keyword_rule_finds_every_assignment_on_a_line_however_far_its_value(scan_text):
    """The keyword rule's regex runs from near each `=`, not over the whole line: two
    assignments on one line, and a name padded far from its `=`, are still found."""
    other = PASSWORD[::-1]
    padded = "smtp_password" + " " * 150
    text = f'db_password = "{PASSWORD}"; api_token = "{other}"\n{padded}= "{other}"\n'
    found = scan_text(text, path="app.ini", rules=RuleSet([KEYWORD_SECRET]))
    assert [(f.location.line, f.secret.reveal()) for f in found] == [
        (1, PASSWORD), (1, other), (2, other),
    ]  # fmt: skip


def test_secret_names_in_utf8_or_with_digits_are_read_word_by_word(scan_text):
    names = ["contraseña", "contrasena", "password2", "DbPassword2", "TOKEN_1", "oauth2token"]
    text = "".join(f'{name} = "{PASSWORD[k:]}{PASSWORD[:k]}"\n' for k, name in enumerate(names))
    found = scan_text(text, path="app.ini", rules=RuleSet([KEYWORD_SECRET]))
    assert [f.location.line for f in found] == list(range(1, len(names) + 1))


def test_a_long_run_before_many_assignments_is_scanned_in_linear_time():
    """The name before each value is looked for near it, not from the line's start."""
    engine = Engine(RuleSet([KEYWORD_SECRET]))
    line = "aZ9" * 1300 + "".join(f' token{i}="{PASSWORD}{i:03d}"' for i in range(30))
    started = time.perf_counter()
    found = engine.scan_bytes(line.encode() + b"\n", Location(path="app.ini"))
    assert time.perf_counter() - started < 0.2  # a search from the line's start: ~0.5 s
    assert len(found) == 30


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        # A hit with no value of its own (`#unset`) must not take a later assignment
        # cut short at the end of its search window.
        ("docker run -e DB_PASSWORD=#unset "
         + " ".join(f"-v /srv/data{i}:/data{i}" for i in range(44))
         + f" -e API_TOKEN={PASSWORD * 5}", PASSWORD * 5),
        # A name padded far from its `=`; a value that holds an assignment of its own.
        ("smtp_password" + " " * 1100 + f'= "{PASSWORD}"', PASSWORD),
        ("db_password" + " " * 100 + f'= "user=admin;password={PASSWORD}"',
         f"user=admin;password={PASSWORD}"),
        # The longest names the rule reads (a keyword and 40 characters after it).
        (f'private_key_for_signing_the_release_artifacts = "{PASSWORD}"', PASSWORD),
        # Values that are not ASCII, or end in an escaped backslash.
        ('password = "секретныйпароль"', "секретныйпароль"),  # leakguard:allow
        (f'{{"password": "{PASSWORD}\\\\"}}', f"{PASSWORD}\\\\"),
    ],
    ids=["later-assignment", "far-padded", "assignment-in-value", "long-name", "cyrillic",
         "escaped-backslash"],
)  # fmt: skip
def test_keyword_values_are_read_whole(scan_text, line: str, secret: str) -> None:
    found = scan_text(line + "\n", path="run.ini", rules=RuleSet([KEYWORD_SECRET]))
    assert [f.secret.reveal() for f in found] == [secret]


def test_placeholders_and_references_are_not_secrets(scan_text):
    text = "\n".join(
        [
            'password = "changeme"',
            'password = "${DB_PASSWORD}"',
            'password = "<your-password>"',
            "password = os.environ['DB_PASSWORD']",
            'api_key = "xxxxxxxxxxxxxxxx"',
            "password = get_password()",
            'password_file = "/run/secrets/db"',
        ]
    )
    assert scan_text(text) == []
    assert (
        scan_text("DB_PASSWORD=${DB_PASSWORD}\nPASSWORD_FILE=/run/secrets/db\n", path=".env") == []
    )


def test_unquoted_values_count_in_config_not_in_code(scan_text):
    assert [f.rule_id for f in scan_text(f"DB_PASSWORD={PASSWORD}\n", path=".env")] == [
        "keyword-secret"
    ]
    assert scan_text(f"db_password = {PASSWORD}\n", path="app.py") == []


def test_non_utf8_bytes_scan_like_any_other(scan_text):
    data = b"caf\xe9 = 1\n\xff\xfe token = '" + GITHUB_PAT.encode() + b"'\n"
    [finding] = scan_text(data)
    assert finding.location.line == 2


def test_long_lines_are_windowed_but_still_found(scan_text):
    filler = "a" * 300_000
    text = f'var x="{filler}";var t="{GITHUB_PAT}";var y="{filler}"'
    [finding] = scan_text(text, path="bundle.min.js")
    assert finding.secret.reveal() == GITHUB_PAT
    assert finding.location.line == 1


def test_stream_matches_whole_buffer_scan():
    engine = Engine(builtin_rules())
    lines = [f"filler line {i} with some words" for i in range(5000)]
    for n in range(0, 5000, 613):
        lines[n] = f'token_{n} = "{fake("gh" + "p_", 36, seed=n)}"'
    data = ("\n".join(lines) + "\n").encode()
    whole = engine.scan_bytes(data, Location(path="big.txt"))
    streamed = list(engine.scan_stream(io.BytesIO(data), Location(path="big.txt"), chunk_size=4096))
    key = [(f.location.line, f.location.column, f.fingerprint) for f in whole]
    assert key == [(f.location.line, f.location.column, f.fingerprint) for f in streamed]
    assert len(whole) == len(range(0, 5000, 613))


def test_an_endless_line_is_scanned_in_overlapping_windows_with_true_columns():
    """Secrets in a 200 KB line without line ends, some across the window cuts."""
    engine = Engine(builtin_rules())
    filler = b"word " * 40_000
    tokens = {}
    for n, at in enumerate((100, 16_370, 20_470, 65_530, 131_050, 163_820, 199_940)):
        token = fake("gh" + "p_", 36, seed=100 + n).encode()
        tokens[at] = token
    data = bytearray(filler)
    for at, token in tokens.items():
        data[at : at + len(token) + 2] = b" " + token + b" "
    data = bytes(data) + b"\nnext line\n"
    whole = engine.scan_bytes(data, Location(path="long.txt"))
    assert len(whole) == len(tokens)
    for chunk in (4096, 5000, 8192):
        streamed = list(
            engine.scan_stream(io.BytesIO(data), Location(path="long.txt"), chunk_size=chunk)
        )
        key = [(f.location.line, f.location.column, f.fingerprint) for f in whole]
        assert key == [(f.location.line, f.location.column, f.fingerprint) for f in streamed]


def test_private_key_block_is_one_finding_on_its_first_line(scan_text):
    body = "\n".join(fake("", 64, seed=i) for i in range(10))
    text = f"x\n-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
    [finding] = scan_text(text, path="id_rsa")
    assert finding.rule_id == "private-key" and finding.location.line == 2
    assert "-----BEGIN RSA PRIVATE KEY-----" in finding.secret.reveal()
    # A header in documentation, with no key material, is not a key.
    assert scan_text("the file starts with -----BEGIN RSA PRIVATE KEY----- and ...\n") == []


def test_compiled_rules_are_cached_and_a_broken_cache_is_recompiled(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKGUARD_CACHE_DIR", str(tmp_path))
    data = f"token = '{GITHUB_PAT}'\n".encode()
    fresh = Engine(builtin_rules()).scan_bytes(data, Location(path="a.py"))
    [cached] = list(tmp_path.glob("hs-*.db"))
    assert Engine(builtin_rules()).scan_bytes(data, Location(path="a.py")) == fresh
    cached.write_bytes(cached.read_bytes()[:100])  # truncated by a crash or a full disk
    assert Engine(builtin_rules()).scan_bytes(data, Location(path="a.py")) == fresh
    assert [f.rule_id for f in fresh] == ["github-pat"]


def test_file_kinds_by_name():
    from leakguard.engine import kind_of_path

    assert kind_of_path("build/Dockerfile.prod") == "dockerfile"
    assert kind_of_path("Containerfile") == "dockerfile"
    assert kind_of_path("api.Dockerfile") == "dockerfile"
    assert kind_of_path("detectors/dockerfile.py") == "code"  # a Python module, not a Dockerfile
    assert kind_of_path("docs/Dockerfile.md") is None
    assert kind_of_path("Dockerfile.dockerignore") is None  # its ignore file, not a Dockerfile
    assert kind_of_path("compose.override.yaml") == "compose"
    assert kind_of_path("deploy/.npmrc") == "npmrc"


def test_a_backtracking_custom_rule_gives_up_after_its_time_limit():
    import time

    evil = Rule(id=RuleId("evil"), description="d", severity=Severity.HIGH,
                pattern=r"(a|aa)+$", keywords=("aaaa",), time_limit=0.3)  # fmt: skip
    fine = Rule(id=RuleId("fine"), description="d", severity=Severity.HIGH,
                pattern=r"tok_[0-9]{6}", keywords=("tok_",), time_limit=0.3)  # fmt: skip
    engine = Engine(RuleSet([evil, fine]))
    started = time.monotonic()
    found = engine.scan_bytes(b"a" * 5000 + b"! tok_123456\n", Location(path="x.txt"))
    assert time.monotonic() - started < 5
    assert [f.rule_id for f in found] == ["fine"]  # the other rules still report
    [why] = engine.take_gave_up()  # a surface reports it as not read in full (exit 3)
    assert "rule evil gave up" in why and engine.take_gave_up() == []


def test_a_scan_that_a_custom_rule_gave_up_on_exits_3(tmp_path):
    import subprocess
    import sys

    (tmp_path / ".leakguard.toml").write_text(
        '[[rules]]\nid = "evil"\npattern = "(a|aa)+$"\nkeywords = ["aaaa"]\n'
    )
    (tmp_path / "x.txt").write_text("a" * 5000 + "!\n")
    proc = subprocess.run([sys.executable, "-m", "leakguard", "scan", "."], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "rule evil gave up" in proc.stdout


@pytest.mark.parametrize(
    "shebang", ["#!/usr/bin/perl", "#!/usr/bin/env python3", "#! /usr/bin/env -S node"]
)
def test_a_script_named_without_an_extension_reads_as_code_by_its_interpreter(scan_text, shebang):
    # `$pwd = getcwd()` in openssl's c_rehash is a call, as it would be in a .pl
    # file; a literal stays a finding.
    calls = f"{shebang}\n$pwd=Cwd::getcwd();\npassword = os.environ['DB_PASSWORD_VALUE']\n"
    assert scan_text(calls, path="usr/bin/c_rehash") == []
    literal = f'{shebang}\npassword = "{PASSWORD}"\n'
    assert [f.rule_id for f in scan_text(literal, path="usr/bin/tool")] == ["keyword-secret"]
