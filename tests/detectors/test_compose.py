"""The Compose detector: literals where they land, the files a Compose file loads,
and bad input that becomes one skip line instead of a traceback."""

from __future__ import annotations

import json
import time

import pytest

from leakguard.cli import main
from leakguard.detectors.compose import build_targets, scan
from leakguard.models import Surface
from tests.conftest import GITHUB_PAT, PASSWORD, STRIPE_KEY, fake

OTHER_PAT = fake("gh" + "p_", 36, seed=11)


def run(engine, tmp_path, text, name="compose.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return scan(engine, path.read_bytes(), str(path))


def where(result):
    return sorted((f.rule_id, f.location.path.rsplit("/", 1)[-1], f.location.line)
                  for f in result.findings)  # fmt: skip


def test_environment_in_map_and_list_form_build_args_and_labels(engine, tmp_path):
    result = run(engine, tmp_path, (
        "services:\n"                                    # 1
        "  web:\n"                                       # 2
        "    build:\n"                                   # 3
        "      context: .\n"                             # 4
        "      args:\n"                                  # 5
        f"        GH_TOKEN: {GITHUB_PAT}\n"              # 6
        "    environment:\n"                             # 7
        f"      STRIPE_KEY: {STRIPE_KEY}\n"              # 8
        "    labels:\n"                                  # 9
        f"      - com.example.token={OTHER_PAT}\n"     # 10
        "  db:\n"                                        # 11
        "    environment:\n"                             # 12
        f"      - POSTGRES_PASSWORD={PASSWORD}x\n"       # 13
    ))  # fmt: skip
    assert result.skipped == []
    lines = {f.location.line: f for f in result.findings}
    assert sorted(lines) == [6, 8, 10, 13]
    assert "service web build.args" in lines[6].message
    assert "service web environment" in lines[8].message
    assert "service web labels" in lines[10].message
    assert lines[13].rule_id == "keyword-secret" and "service db environment" in lines[13].message
    assert all(f.location.surface is Surface.COMPOSE for f in result.findings)


def test_anchor_reported_once_at_the_anchor_and_merge_keys_resolve(engine, tmp_path):
    result = run(engine, tmp_path, (
        "x-common-env: &env\n"                           # 1
        f"  GH_TOKEN: {GITHUB_PAT}\n"                    # 2
        "services:\n"                                    # 3
        "  a:\n"                                         # 4
        "    environment:\n"                             # 5
        "      <<: *env\n"                               # 6
        "  b:\n"                                         # 7
        "    environment: *env\n"                        # 8
    ))  # fmt: skip
    (f,) = result.findings
    assert (f.rule_id, f.location.line) == ("github-pat", 2)
    assert "extension block x-common-env" in f.message


def test_inline_secret_content_and_interpolation_defaults(engine, tmp_path):
    result = run(engine, tmp_path, (
        "services:\n"                                              # 1
        "  db:\n"                                                  # 2
        "    image: postgres\n"                                    # 3
        "    environment:\n"                                       # 4
        "      POSTGRES_PASSWORD: ${DB_PASSWORD:-Hx7pQ2vLw9}\n"    # 5
        "      API_URL: ${API_URL:-https://api.example.org}\n"     # 6
        "secrets:\n"                                               # 7
        "  db_password:\n"                                         # 8
        "    content: Zr8kW3nQ5tYv\n"                              # 9
    ))  # fmt: skip
    found = {(f.rule_id, f.location.line) for f in result.findings}
    assert found == {("keyword-secret", 5), ("compose-inline-secret", 9)}
    default = next(f for f in result.findings if f.location.line == 5)
    assert "default of ${DB_PASSWORD}" in default.message
    assert default.location.column == 41


def test_never_reports_secret_files_external_secrets_or_bare_references(engine, tmp_path):
    result = run(engine, tmp_path, (
        "services:\n"
        "  db:\n"
        "    image: postgres\n"
        "    environment:\n"
        "      POSTGRES_PASSWORD_FILE: /run/secrets/db_password\n"
        "      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n"
        "      API_TOKEN: $API_TOKEN\n"
        "      SESSION_SECRET: ${SESSION_SECRET:?must be set}\n"
        "    secrets: [db_password, api_token]\n"
        "secrets:\n"
        "  db_password:\n"
        "    file: ./secrets/db_password.txt\n"
        "  api_token:\n"
        "    external: true\n"
        "  from_env:\n"
        "    environment: API_TOKEN\n"
    ))  # fmt: skip
    assert result.findings == [] and result.skipped == []


def test_env_file_and_dotenv_are_followed_with_their_own_file_and_line(engine, tmp_path):
    (tmp_path / "web.env").write_text(f"# web settings\nSTRIPE_KEY={STRIPE_KEY}\n")
    (tmp_path / ".env").write_text(f"TAG=1\nGH_TOKEN={GITHUB_PAT}\n")
    result = run(
        engine, tmp_path, "services:\n  web:\n    image: web:${TAG}\n    env_file: web.env\n"
    )
    assert where(result) == [("github-pat", ".env", 2), ("stripe-secret-key", "web.env", 2)]
    stripe = next(f for f in result.findings if f.rule_id == "stripe-secret-key")
    assert "env_file of service web" in stripe.message


def test_command_and_healthcheck_credentials(engine, tmp_path):
    result = run(engine, tmp_path, (
        "services:\n"
        "  job:\n"
        "    image: curl\n"
        f"    command: curl -u bot:{PASSWORD}x https://example.org/\n"
        "    healthcheck:\n"
        f"      test: [\"CMD-SHELL\", \"mysql -p{PASSWORD}y -e 'select 1'\"]\n"
    ))  # fmt: skip
    assert [(f.rule_id, f.location.line) for f in result.findings] == [
        ("compose-command-credential", 4), ("compose-command-credential", 6),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("services:\n  web:\n    image: [unclosed\n", "invalid YAML at line"),
        ("services:\n  web: {image: a\n  db: b\n", "invalid YAML at line"),
        ("- just\n- a list\n", "the top level is not a mapping"),
        ("", "empty document"),
    ],
)
def test_invalid_yaml_is_one_skip_line(engine, tmp_path, text, reason):
    result = run(engine, tmp_path, text)
    (skipped,) = result.skipped
    assert reason in skipped.reason and "\n" not in skipped.reason and skipped.error


def test_billion_laughs_is_fast_and_scans_like_its_text(engine, tmp_path):
    lines = ['x-a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for k in range(1, 12):
        prev, name = chr(ord("a") + k - 1), chr(ord("a") + k)
        lines.append(f"x-{name}: &{name} [{', '.join(['*' + prev] * 8)}]")
    lines.append(f"services:\n  web:\n    image: x\n    command: *{name}")
    lines.append(f"x-token: {GITHUB_PAT}")
    started = time.perf_counter()
    result = run(engine, tmp_path, "\n".join(lines) + "\n")
    assert time.perf_counter() - started < 2
    assert [f.rule_id for f in result.findings] == ["github-pat"]


def test_a_file_that_includes_itself_and_an_unreadable_env_file_are_skips(engine, tmp_path):
    (tmp_path / "other.yaml").write_text("include:\n  - compose.yaml\nservices: {}\n")
    (tmp_path / "secrets.env").mkdir()  # a folder where a file should be
    result = run(engine, tmp_path, (
        "include:\n"
        "  - other.yaml\n"
        "services:\n"
        "  web:\n"
        "    image: x\n"
        "    env_file: [secrets.env]\n"
        f"    environment: [GH_TOKEN={GITHUB_PAT}]\n"
    ))  # fmt: skip
    reasons = sorted(s.reason for s in result.skipped)
    assert any("includes itself (compose.yaml -> other.yaml -> compose.yaml)" in r for r in reasons)
    assert any("cannot read env_file of service web" in r and "is a directory" in r
               for r in reasons)  # fmt: skip
    assert [f.rule_id for f in result.findings] == ["github-pat"]  # the rest is still scanned


def test_scan_exits_3_for_bad_compose_files_and_still_reports_the_rest(tmp_path, capsys):
    (tmp_path / "docker-compose.yml").write_text("services:\n  web:\n    image: [\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "compose.override.yaml").write_text(
        f"services:\n  web:\n    environment:\n      GH_TOKEN: {GITHUB_PAT}\n"
    )
    out = tmp_path / "r.json"
    code = main(["scan", str(tmp_path), "-f", "json", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 3
    report = json.loads(out.read_text())
    assert [f["location"]["surface"] for f in report["findings"]] == ["compose"]
    assert "docker-compose.yml: not a valid Compose file (invalid YAML at line" in err
    assert "Traceback" not in err


def test_a_broken_compose_file_is_still_scanned_as_text(engine, tmp_path):
    result = run(engine, tmp_path, (
        "services:\n"
        "  web:\n"
        "    environment:\n"
        f"      GH_TOKEN: {GITHUB_PAT}\n"
        "   image: [oops\n"
    ))  # fmt: skip
    assert [(f.rule_id, f.location.line) for f in result.findings] == [("github-pat", 4)]
    (skipped,) = result.skipped
    assert "scanned as plain text" in skipped.reason and skipped.error


def test_build_targets_name_each_services_context_and_dockerfile(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text(
        "services:\n"
        "  a: {build: ./api}\n"
        "  b: {build: {context: web, dockerfile: web.Dockerfile}}\n"
        "  c: {image: redis}\n"
        "  d: {build: 'https://github.com/o/r.git#main'}\n"
    )
    got = [(t.service, t.context, t.dockerfile) for t in build_targets(str(path))]
    assert got == [
        ("a", str(tmp_path / "api"), str(tmp_path / "api" / "Dockerfile")),
        ("b", str(tmp_path / "web"), str(tmp_path / "web" / "web.Dockerfile")),
    ]
