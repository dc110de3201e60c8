"""The Dockerfile parser and detector, and proof with the real Docker engine that
what they call a leak reaches the image, and that the safe twins leave nothing."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import tarfile
import uuid

import pytest

from leakguard.cli import main
from leakguard.detectors.dockerfile import (
    DockerfileSyntaxError,
    parse_dockerfile,
    scan,
    secret_name_reason,
)
from leakguard.models import Severity, Surface
from tests.conftest import AWS_KEY_ID, GITHUB_PAT, PASSWORD, STRIPE_KEY, fake
from tests.services import DOCKER, build_context, busybox_image, dockerd  # noqa: F401
from tests.test_cli import run

NPM_TOKEN = fake("npm" + "_", 36, seed=7)
URL_PASSWORD = PASSWORD.replace("#", "")  # "#" would start the URL's fragment


@pytest.fixture(autouse=True)
def _empty_context(tmp_path, monkeypatch):
    """Dockerfiles under test sit alone in a folder: their build context is empty."""
    monkeypatch.chdir(tmp_path)


def findings(engine, text, path="Dockerfile"):
    result = scan(engine, text.encode(), path)
    assert result.skipped == []
    return result.findings


def by_rule(found):
    out: dict[str, list] = {}
    for f in found:
        out.setdefault(f.rule_id, []).append(f)
    return out


# -- parser -------------------------------------------------------------------------


def test_parser_keeps_the_physical_line_of_every_piece():
    text = (
        "# syntax=docker/dockerfile:1\n"  # 1
        "ARG BASE=alpine:3\n"  # 2
        "FROM ${BASE} AS build\n"  # 3
        "ENV A=1 \\\n"  # 4
        "    # a comment inside the continuation\n"  # 5
        "\n"  # 6
        '    B="two words" \\\n'  # 7
        "    C=3\n"  # 8
        "ENV LEGACY some value here\n"  # 9
        'RUN ["sh", "-c", "echo hi"]\n'  # 10
        "RUN --mount=type=secret,id=npm,target=/root/.npmrc \\\n"  # 11
        "    npm ci\n"  # 12
        "FROM scratch\n"  # 13
        "COPY --from=build /out /out\n"  # 14
    )
    ins = parse_dockerfile(text)
    assert [i.instruction for i in ins] == ["ARG", "FROM", "ENV", "ENV", "RUN", "RUN", "FROM",
                                            "COPY"]  # fmt: skip
    arg, frm, env, legacy, json_run, mount_run, final, copy = ins
    assert (arg.stage, frm.stage, frm.stage_name, final.stage, final.stage_name) == (
        -1, 0, "build", 1, None,
    )  # fmt: skip
    assert (env.line, env.end_line) == (4, 8)
    assert [(p.key, p.value, p.value_line, p.value_column) for p in env.pairs] == [
        ("A", "1", 4, 7), ("B", "two words", 7, 8), ("C", "3", 8, 7),
    ]  # fmt: skip
    (pair,) = legacy.pairs
    assert (pair.key, pair.value, pair.legacy, pair.value_column) == (
        "LEGACY", "some value here", True, 12,
    )  # fmt: skip
    assert json_run.json_form and [w.value for w in json_run.arguments] == ["sh", "-c", "echo hi"]
    assert mount_run.flag("mount") == "type=secret,id=npm,target=/root/.npmrc"
    assert (mount_run.line, mount_run.end_line, mount_run.command.strip()) == (11, 12, "npm ci")
    assert copy.flag("from") == "build" and copy.stage == 1


def test_escape_directive_and_heredocs():
    text = (
        "# escape=`\n"  # 1
        "FROM alpine\n"  # 2
        "RUN echo a `\n"  # 3
        "    b\n"  # 4
        "RUN <<EOF bash\n"  # 5
        "set -e\n"  # 6
        "echo one\n"  # 7
        "EOF\n"  # 8
        "COPY <<-'A' /a <<B /b\n"  # 9
        "\tliteral $X\n"  # 10
        "\tA\n"  # 11
        "second\n"  # 12
        "B\n"  # 13
        "ENV WIN_PATH=C:\\dir\n"  # 14
    )
    _, run, here, copy, env = parse_dockerfile(text)
    assert run.command == "echo a     b" and (run.line, run.end_line) == (3, 4)
    (doc,) = here.heredocs
    assert (doc.name, doc.content, doc.first_line, doc.end_line) == ("EOF", "set -e\necho one\n",
                                                                      6, 8)  # fmt: skip
    assert (here.line, here.end_line) == (5, 8)
    a, b = copy.heredocs
    assert (a.name, a.content, a.strip_tabs, a.expand) == ("A", "literal $X\n", True, False)
    assert (b.name, b.content, b.expand, copy.end_line) == ("B", "second\n", True, 13)
    assert env.pairs[0].value == "C:\\dir"  # a backslash is not the escape character here


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM alpine\nFROOM x\n", "line 2: unknown instruction: 'FROOM'"),
        ("FROM alpine\nRUN <<EOF\necho\n", "line 2: heredoc <<EOF is never closed"),
        ("RUN echo\n", "line 1: RUN before the first FROM"),
        ("# only a comment\n", "no FROM instruction"),
        ("FROM alpine\nENV\n", "line 2: ENV requires at least one argument"),
        ("FROM alpine\nENV A=1 B\n", "line 2: ENV: 'B' is not of the form name=value"),
        ("# escape=x\nFROM alpine\n", "invalid escape character"),
    ],
)
def test_malformed_dockerfiles_raise_one_line_errors(text, message):
    with pytest.raises(DockerfileSyntaxError) as info:
        parse_dockerfile(text)
    assert message in info.value.message
    assert "\n" not in info.value.message


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("NPM_TOKEN", True), ("DB_PASSWORD", True), ("API_KEY", True), ("githubToken", True),
        ("AWS_SECRET_ACCESS_KEY", True), ("SSH_PRIVATE_KEY", True), ("NPM_AUTH", True),
        ("PUBLIC_KEY_URL", False), ("GPG_KEY", False), ("TOKEN_FILE", False),
        ("PASSWORD_FILE", False), ("KEY", False), ("SSH_KEY_PATH", False),
        ("AWS_ACCESS_KEY_ID", False), ("DB_USER", False), ("STRIPE_PUBLISHABLE_KEY", False),
        ("TOKENIZER_VERSION", False), ("NODE_VERSION", False),
    ],
)  # fmt: skip
def test_secret_names_are_told_from_names_about_secrets(name, secret):
    assert (secret_name_reason(name) is not None) is secret


# -- detector ------------------------------------------------------------------------


def test_literals_in_env_arg_and_label_point_at_the_value(engine):
    text = (
        "FROM alpine\n"
        f"ENV AWS_ACCESS_KEY_ID={AWS_KEY_ID} \\\n"
        f"    GH_TOKEN={GITHUB_PAT}\n"
        f"ENV DB_PASSWORD {PASSWORD[:6]}Zq\n"
        f'LABEL stripe="{STRIPE_KEY}"\n'
        f"ARG NPM_TOKEN={NPM_TOKEN}\n"
        "RUN npm ci\n"
    )
    found = findings(engine, text)
    where = {(f.rule_id, f.location.line, f.location.column) for f in found}
    assert ("aws-access-key-id", 2, 23) in where
    assert ("github-pat", 3, 14) in where
    assert ("keyword-secret", 4, 17) in where  # the legacy `ENV KEY value` form
    assert ("stripe-secret-key", 5, 15) in where
    assert ("npm-access-token", 6, 15) in where
    assert all(f.location.surface is Surface.DOCKERFILE for f in found)
    env = next(f for f in found if f.rule_id == "github-pat")
    assert "image config" in env.message
    arg = next(f for f in found if f.rule_id == "npm-access-token")
    assert "image history" in arg.message


def test_secret_named_build_arg_in_scope_of_run_is_medium_with_its_reason(engine):
    text = (
        "FROM alpine\n"
        "ARG NPM_TOKEN\n"
        "ARG GPG_KEY\n"
        "ARG PUBLIC_KEY_URL\n"
        'RUN echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc && npm ci && rm .npmrc\n'
    )
    (f,) = findings(engine, text)
    assert (f.rule_id, f.severity, f.location.line, f.redacted) == (
        "dockerfile-secret-arg", Severity.MEDIUM, 2, "NPM_TOKEN",
    )  # fmt: skip
    assert "TOKEN" in f.message and "docker history" in f.message


def test_build_arg_copied_into_env_is_reported(engine):
    text = "FROM alpine\nARG API_TOKEN\nENV API_TOKEN=$API_TOKEN\n"
    (f,) = findings(engine, text)
    assert (f.rule_id, f.severity, f.location.line) == (
        "dockerfile-secret-arg-in-env", Severity.HIGH, 3,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        (f"curl -u deploy:{PASSWORD} https://example.org/f", "dockerfile-run-credential"),
        # the keyword rule reads `--password=VALUE` whole, so the check does not repeat it
        (f"wget --password={PASSWORD} https://example.org/f", "keyword-secret"),
        (f"git clone https://bot:{GITHUB_PAT}@github.com/o/r.git", "github-pat"),
        (f"echo '//registry.npmjs.org/:_authToken={NPM_TOKEN}' > ~/.npmrc", "npm-access-token"),
        ('echo "//registry.npmjs.org/:_authToken=$TOK" > ~/.npmrc',
         "dockerfile-run-credential-file"),
        (f"npm config set //registry.npmjs.org/:_authToken {PASSWORD}",
         "dockerfile-run-credential"),
        (f"pip install --index-url https://u:{URL_PASSWORD}@pypi.example.org/simple x",
         "url-credentials"),
        (f"docker login -p {PASSWORD} -u bot registry.example.org", "dockerfile-run-credential"),
        (f"mysql -p{PASSWORD} -e 'select 1'", "dockerfile-run-credential"),
        (f"export DEPLOY_TOKEN={PASSWORD} && ./deploy", "keyword-secret"),
    ],
)  # fmt: skip
def test_credentials_inline_in_run_are_reported(engine, command, rule):
    found = findings(engine, f"FROM alpine\nRUN {command}\n")
    assert rule in by_rule(found), [f.rule_id for f in found]
    assert all(f.location.line == 2 for f in found)
    assert len({f.fingerprint for f in found}) == len(found)  # each secret once


def test_already_safe_patterns_are_never_reported(engine):
    text = (
        "FROM alpine AS build\n"
        "ARG VERSION=1.2.3\n"
        "ARG NPM_TOKEN\n"  # no default, and no RUN in its scope
        "FROM alpine\n"
        "ENV DB_PASSWORD_FILE=/run/secrets/db_password \\\n"
        "    DB_PASSWORD=${DB_PASSWORD}\n"
        "RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci\n"
        "RUN --mount=type=secret,id=tok TOKEN=$(cat /run/secrets/tok) ./fetch.sh\n"
        'CMD ["gunicorn", "app"]\n'
    )
    assert findings(engine, text) == []


def test_copy_of_credential_files_is_reported(engine):
    text = "FROM alpine\nWORKDIR /app\nCOPY .npmrc id_rsa ./\nCOPY src/ ./src/\n"
    found = findings(engine, text)
    assert sorted((f.rule_id, f.redacted, f.location.column) for f in found) == [
        ("dockerfile-copy-credential-file", ".npmrc", 6),
        ("dockerfile-copy-credential-file", "id_rsa", 13),
    ]


def test_builder_only_secret_is_lower_and_names_the_stage(engine):
    text = (
        "FROM alpine AS builder\n"
        f"RUN echo '{GITHUB_PAT}' > /tmp/token\n"
        "RUN echo built > /out/app\n"
        "FROM alpine\n"
        "COPY --from=builder /out/app /app\n"
    )
    (f,) = findings(engine, text)
    assert f.rule_id == "github-pat" and f.severity is Severity.HIGH  # critical, lowered
    assert "build stage 'builder'" in f.message


def test_builder_secret_copied_into_final_stage_is_traced_at_full_severity(engine):
    text = (
        "FROM alpine AS builder\n"
        "WORKDIR /src\n"
        f"RUN echo '{GITHUB_PAT}' > config/token\n"
        "FROM alpine\n"
        "COPY --from=builder /src/config /etc/app\n"
    )
    (f,) = findings(engine, text)
    assert f.severity is Severity.CRITICAL
    assert "COPY --from at line 5" in f.message


@pytest.mark.parametrize(
    "text",
    [
        f"FROM alpine\nRUN curl \\\n  -H x\n--token={GITHUB_PAT} https://x\n",
        f"FROM alpine\nENV A=1 {GITHUB_PAT}\n",
        f"# escape={GITHUB_PAT}\nFROM alpine\n",
        f"{GITHUB_PAT}\nFROM alpine\n",
    ],
)
def test_a_broken_dockerfile_is_scanned_as_text_and_its_error_never_shows_the_secret(engine, text):
    result = scan(engine, text.encode(), "Dockerfile")
    assert [f.rule_id for f in result.findings] == ["github-pat"]
    (skipped,) = result.skipped
    assert "scanned as plain text" in skipped.reason
    assert GITHUB_PAT not in skipped.reason and GITHUB_PAT[:8] not in skipped.reason


def test_scan_routes_dockerfiles_and_reports_bad_ones_with_exit_3(tmp_path, capsys):
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "Dockerfile").write_text(f"FROM alpine\nENV GH_TOKEN={GITHUB_PAT}\n")
    (tmp_path / "api.Dockerfile").write_text("FROM alpine\nRUN <<EOF\necho never closed\n")
    out = tmp_path / "report.json"
    code = main(["scan", str(tmp_path), "-f", "json", "-o", str(out)])
    report = json.loads(out.read_text())
    err = capsys.readouterr().err
    assert code == 3
    assert [f["location"]["surface"] for f in report["findings"]] == ["dockerfile"]
    assert "api.Dockerfile: not a valid Dockerfile (line 2: heredoc <<EOF is never closed" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("instruction", ["CMD", "ENTRYPOINT", "HEALTHCHECK CMD", "RUN"])
def test_an_exec_form_nested_without_end_is_read_as_a_shell_form(tmp_path, capsys, instruction):
    deep = "[" * 200_000 + "]" * 200_000
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM alpine\n{instruction} {deep}\nENV GH_TOKEN={GITHUB_PAT}\n")
    out = tmp_path / "report.json"
    code = main(["scan", str(dockerfile), "-f", "json", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "internal error" not in err
    [finding] = json.loads(out.read_text())["findings"]
    assert finding["location"]["line"] == 3


def test_sample_dockerfile_is_read_as_a_dockerfile(engine):
    root = os.path.join(os.path.dirname(__file__), "..", "..", "samples")
    with open(os.path.join(root, "Dockerfile"), "rb") as fh:
        result = scan(engine, fh.read(), os.path.join(root, "Dockerfile"))
    rules = by_rule(result.findings)
    assert {"aws-access-key-id", "npm-access-token", "dockerfile-run-credential-file",
            "dockerfile-context-credential-file"} <= set(rules)  # fmt: skip
    assert rules["dockerfile-context-credential-file"][0].redacted == ".env"


# -- proof with the real engine ---------------------------------------------------------------


def _build(client, files, *, buildargs=None, target=None):
    tag = f"leakguard-test/proof:{uuid.uuid4().hex[:12]}"
    client.images.build(fileobj=io.BytesIO(build_context(files)), custom_context=True, tag=tag,
                        rm=True, buildargs=buildargs or {}, target=target)  # fmt: skip
    return tag


def _image_text(client, tag):
    """Everything an image holder can read: config, history and every layer's files."""
    image = client.images.get(tag)
    parts = [json.dumps(image.attrs["Config"]),
             json.dumps([h.get("CreatedBy", "") for h in image.history()])]  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(b"".join(image.save()))) as saved:
        for member in saved.getmembers():
            if member.isfile() and member.name.endswith(".tar"):
                layer_bytes = saved.extractfile(member).read()  # type: ignore[union-attr]
                with tarfile.open(fileobj=io.BytesIO(layer_bytes)) as layer:
                    parts.extend(
                        layer.extractfile(e).read().decode(errors="replace")  # type: ignore[union-attr]
                        for e in layer.getmembers()
                        if e.isfile()
                    )
    return "\n".join(parts)


@pytest.mark.docker
def test_env_and_arg_default_reach_the_image(dockerd, busybox_image, engine):  # noqa: F811
    """...and the safe twin (ARG without default) leaves nothing."""
    leaky = (
        f"FROM {busybox_image}\n"
        f"ENV GH_TOKEN={GITHUB_PAT}\n"
        f"ARG NPM_TOKEN={NPM_TOKEN}\n"
        "RUN echo built > /built\n"
    )
    safe = f"FROM {busybox_image}\nARG NPM_TOKEN\nRUN echo built > /built\n"
    leaky_rules = set(by_rule(findings(engine, leaky)))
    assert {"github-pat", "npm-access-token"} <= leaky_rules
    assert findings(engine, safe) == []
    tags = []
    try:
        tags.append(_build(dockerd, {"Dockerfile": leaky}))
        text = _image_text(dockerd, tags[-1])
        assert GITHUB_PAT in json.dumps(dockerd.images.get(tags[-1]).attrs["Config"]["Env"])
        assert NPM_TOKEN in text  # the ARG default, in the RUN's history entry
        tags.append(_build(dockerd, {"Dockerfile": safe}))
        text = _image_text(dockerd, tags[-1])
        assert NPM_TOKEN not in text and GITHUB_PAT not in text
    finally:
        for tag in tags:
            dockerd.images.remove(tag, force=True)


def cli_build(folder, *args, buildkit=False):
    """`docker build` by the real CLI, which applies .dockerignore (the API does not)."""
    tag = f"leakguard-test/proof:{uuid.uuid4().hex[:12]}"
    env = dict(os.environ, DOCKER_BUILDKIT="1" if buildkit else "0",
               DOCKER_HOST="unix:///var/run/docker.sock")  # fmt: skip
    proc = subprocess.run([DOCKER, "build", *args, "-t", tag, str(folder)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return tag


@pytest.mark.docker
def test_copy_dot_takes_dotenv_unless_dockerignored(dockerd, busybox_image, tmp_path, engine):  # noqa: F811
    (tmp_path / "Dockerfile").write_text(f"FROM {busybox_image}\nWORKDIR /app\nCOPY . .\n")
    (tmp_path / ".env").write_text(f"STRIPE_KEY={STRIPE_KEY}\n")
    dockerfile = str(tmp_path / "Dockerfile")
    found = scan(engine, (tmp_path / "Dockerfile").read_bytes(), dockerfile).findings
    assert [(f.rule_id, f.redacted) for f in found] == [("dockerfile-context-credential-file",
                                                         ".env")]  # fmt: skip
    tags = []
    try:
        tags.append(cli_build(tmp_path))
        assert STRIPE_KEY in _image_text(dockerd, tags[-1])
        (tmp_path / ".dockerignore").write_text(".env\n")
        assert scan(engine, (tmp_path / "Dockerfile").read_bytes(), dockerfile).findings == []
        tags.append(cli_build(tmp_path))
        assert STRIPE_KEY not in _image_text(dockerd, tags[-1])
    finally:
        for tag in tags:
            dockerd.images.remove(tag, force=True)


@pytest.mark.docker
def test_builder_stage_secret_stays_in_builder(dockerd, busybox_image, engine):  # noqa: F811
    """In the intermediate image, not the final one, unless COPY --from takes it."""
    text = (
        f"FROM {busybox_image} AS builder\n"
        f"RUN echo '{GITHUB_PAT}' > /token && echo app > /app\n"
        f"FROM {busybox_image}\n"
        "COPY --from=builder /app /app\n"
    )
    (f,) = findings(engine, text)
    assert "build stage 'builder'" in f.message and f.severity is Severity.HIGH
    traced = text.replace("COPY --from=builder /app /app", "COPY --from=builder /token /token")
    (g,) = findings(engine, traced)
    assert g.severity is Severity.CRITICAL and "COPY --from" in g.message
    tags = []
    try:
        tags.append(_build(dockerd, {"Dockerfile": text}))
        assert GITHUB_PAT not in _image_text(dockerd, tags[-1])
        # The same build's builder stage, from the build cache: what a pushed
        # intermediate image (or `--target builder`) holds.
        tags.append(_build(dockerd, {"Dockerfile": text}, target="builder"))
        assert GITHUB_PAT in _image_text(dockerd, tags[-1])
        tags.append(_build(dockerd, {"Dockerfile": traced}))
        assert GITHUB_PAT in _image_text(dockerd, tags[-1])
    finally:
        for tag in tags:
            dockerd.images.remove(tag, force=True)


@pytest.mark.docker
def test_secret_mount_leaves_nothing_in_the_image(dockerd, busybox_image, tmp_path, engine):  # noqa: F811
    dockerfile = (
        "# syntax=docker/dockerfile:1\n"
        f"FROM {busybox_image}\n"
        "RUN --mount=type=secret,id=tok wc -c /run/secrets/tok > /length\n"
    )
    assert findings(engine, dockerfile) == []
    (tmp_path / "Dockerfile").write_text(dockerfile.replace("# syntax=docker/dockerfile:1\n", ""))
    secret = tmp_path / "tok"
    secret.write_text(GITHUB_PAT)
    tag = cli_build(tmp_path, "--secret", f"id=tok,src={secret}", buildkit=True)
    try:
        text = _image_text(dockerd, tag)
        assert GITHUB_PAT not in text
        assert f"{len(GITHUB_PAT)} /run/secrets/tok" in text  # the step did see the secret
    finally:
        dockerd.images.remove(tag, force=True)


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        (f'CMD ["curl", "-u", "bot:{URL_PASSWORD}", "https://example.org"]',
         "dockerfile-cmd-credential"),
        (f"ENTRYPOINT mysql -p{PASSWORD} app", "dockerfile-cmd-credential"),
        (f"HEALTHCHECK --interval=5s CMD curl -fu bot:{URL_PASSWORD} http://localhost/",
         "dockerfile-cmd-credential"),
        (f"ADD https://bot:{URL_PASSWORD}@files.example.org/app.tgz /app/", "url-credentials"),
    ],
)  # fmt: skip
def test_credentials_in_the_image_config_commands_and_add_urls(engine, line, rule):
    found = findings(engine, f"FROM alpine\n{line}\n")
    assert [(f.rule_id, f.location.line) for f in found] == [(rule, 2)]


_PIECES = [
    "FROM alpine AS b", "FROM b", "RUN echo \\", "RUN <<EOF", "EOF", "RUN <<-'X' cat", "\tX",
    "ENV A=1 B", "ENV A", 'ENV A="unclosed', "ARG T=${X:-y}", "COPY --from=b /a /b",
    "COPY <<F /root/.npmrc", "F", "# escape=`", "RUN a `", "  # comment", "", "\\",
    'CMD ["a", "b"', 'CMD ["sh", "-c", "curl -u a:b"]', "HEALTHCHECK NONE", "LABEL 'a b'=c",
    "RUN curl -u", "RUN mysql -p", "RUN echo x >", "ONBUILD RUN x", "FROM", "WORKDIR ~",
]  # fmt: skip


def test_any_text_parses_or_raises_a_syntax_error(engine):
    rng = random.Random(4)
    for _ in range(1000):
        lines = [rng.choice(_PIECES) for _ in range(rng.randrange(12))]
        text = rng.choice(["\n", "\r\n"]).join(lines)
        try:
            parse_dockerfile(text)
        except DockerfileSyntaxError as e:
            assert "\n" not in e.message
        result = scan(engine, text.encode(), "Dockerfile")
        assert len(result.skipped) <= 1


def test_secret_default_in_a_variable_reference_and_a_global_arg(engine):
    text = (
        f"ARG NPM_TOKEN={NPM_TOKEN}\n"
        "FROM alpine AS build\n"
        "FROM alpine\n"
        "ARG NPM_TOKEN\n"
        "ENV DB_PASSWORD=${DB_PASSWORD:-Hx7pQ2vLw9}\n"
    )
    found = {f.rule_id: f for f in findings(engine, text)}
    assert found["npm-access-token"].severity is Severity.CRITICAL  # not lowered: global
    default = found["keyword-secret"]
    assert (default.location.line, default.location.column) == (5, 32)
    assert "default of ${DB_PASSWORD}" in default.message


def test_bytes_that_are_not_utf8_in_a_dockerfile_and_its_context(tmp_path, capsys):
    (tmp_path / "Dockerfile").write_bytes(
        b"FROM alpine\nENV DB_PASSWORD=ab\xffcdXq9zT4\nARG GITHUB_TOKEN=tok\xfeen123456\n"
        b"RUN echo $GITHUB_TOKEN\nCOPY cred\xff.pem /x\n"
    )
    with open(os.path.join(os.fsencode(tmp_path), b"cred\xff.pem"), "w") as fh:
        fh.write("x\n")
    for command in (["scan"], ["context"], ["migrate"]):
        code = main([*command, str(tmp_path)])
        out, err = capsys.readouterr()
        assert code == 1, err
        assert "internal error" not in err
    out = tmp_path / "r.json"
    assert main(["scan", "-f", "json", "-o", str(out), str(tmp_path)]) == 1
    report = json.loads(out.read_text())
    found = {(f["rule_id"], f["location"]["line"]) for f in report["findings"]}
    assert {("keyword-secret", 2), ("keyword-secret", 3)} <= found
    copies = {("dockerfile-context-credential-file", 5), ("dockerfile-copy-credential-file", 5)}
    assert copies <= found


def test_a_file_only_named_like_a_dockerfile_is_plain_text_without_an_error(tmp_path):
    # A man page (`Dockerfile.5`) is not a broken Dockerfile: no exit 3 for it,
    # and what it holds is still scanned.
    page = f'.TH DOCKERFILE 5\n.SH NAME\nDockerfile \\- build steps\nGH_TOKEN="{GITHUB_PAT}"\n'
    (tmp_path / "Dockerfile.5").write_text(page)
    code, out, _ = run("scan", "-f", "json", str(tmp_path))
    report = json.loads(out)
    assert code == 1 and report["skipped"] == []
    [finding] = report["findings"]
    assert (finding["rule_id"], finding["location"]["surface"]) == ("github-pat", "file")
    # One that starts like a Dockerfile and breaks later is still reported.
    (tmp_path / "Dockerfile.5").write_text("FROM alpine\nRUNN echo\n")
    code, out, _ = run("scan", "-f", "json", str(tmp_path))
    assert code == 3 and "not a valid Dockerfile" in json.loads(out)["skipped"][0]["reason"]
