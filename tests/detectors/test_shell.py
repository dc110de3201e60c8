"""Credentials typed into command lines, found by one analysis wherever a command
line is written: Dockerfiles, Compose files, shell scripts, Makefiles, CI files."""

from __future__ import annotations

import hashlib
import os

import pytest

from leakguard.detectors.files import WalkOptions, scan_paths
from leakguard.detectors.shell import command_credentials, script_kind, shell_commands
from tests.conftest import fake

PASSWORD = fake("Qz", 14, seed=41)
HASH = hashlib.sha256(PASSWORD.encode()).hexdigest()

# Each way of typing a password into a command; `{pw}` is where it goes.
COMMANDS = {
    "curl -u": "curl -fsS -u deploy:{pw} https://repo.example.test/pkg.tgz",
    "curl --user": "curl --user deploy:{pw} https://repo.example.test/pkg.tgz",
    "wget --password=": "wget --user=deploy --password={pw} https://repo.example.test/a",
    "wget --http-password": "wget --http-password {pw} https://repo.example.test/a",
    "sshpass -p": "sshpass -p {pw} ssh deploy@host.example.test uptime",
    "mysql -pPASS": "mysql -uroot -p{pw} appdb",
    "PGPASSWORD= psql": "PGPASSWORD={pw} psql -h db.example.test -U app",
    "docker login -p": "docker login -u deploy -p {pw} registry.example.test",
    "docker login --password": "docker login --username deploy --password {pw} reg.test",
    "redis password-only URL": "redis-cli -u redis://:{pw}@cache.example.test:6379 ping",
    "redis-cli -a": "redis-cli -h cache.example.test -a {pw} --no-auth-warning ping",
    "valkey-cli --pass": "valkey-cli --pass {pw} -h cache.example.test ping",
    "mongosh -p": "mongosh --host db.example.test -u admin -p {pw} --quiet",
    "mongodump --password=": "mongodump --username=app --password={pw} --out=/backup",
    "sqlcmd -P": "sqlcmd -S db.example.test -U sa -P {pw} -d appdb",
}

# Each place a command line is written: (file name, text, line of the command).
SURFACES = {
    "Dockerfile RUN": ("Dockerfile", "FROM alpine:3\nRUN {cmd}\n", 2),
    "Dockerfile CMD": ("Dockerfile", "FROM alpine:3\nCMD {cmd}\n", 2),
    "compose command": (
        "compose.yaml",
        "services:\n  app:\n    image: alpine:3\n    command: '{cmd}'\n",
        4,
    ),
    "compose healthcheck": (
        "docker-compose.yml",
        "services:\n  app:\n    image: alpine:3\n    healthcheck:\n"
        '      test: ["CMD-SHELL", "{cmd}"]\n',
        5,
    ),
    "shell script": ("deploy.sh", "#!/bin/sh\nset -eu\n\n{cmd}\necho done\n", 4),
    "shebang file": ("bin/deploy", "#!/usr/bin/env bash\nset -e\n{cmd}\n", 3),
    "Makefile recipe": (
        "Makefile",
        "IMAGE = app\n\ndeploy: build\n\t@echo deploying\n\t@{cmd}\n",
        5,
    ),
    "GitHub Actions run": (
        ".github/workflows/deploy.yml",
        "on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - name: deploy\n        run: |\n          echo start\n          {cmd}\n",
        10,
    ),
    "GitHub Actions one-line run": (
        ".github/workflows/ci.yaml",
        "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n      - run: '{cmd}'\n",
        6,
    ),
    "GitLab script": (
        ".gitlab-ci.yml",
        "stages: [deploy]\ndeploy:\n  stage: deploy\n  script:\n    - echo start\n    - '{cmd}'\n",
        6,
    ),
    "GitLab before_script": (
        ".gitlab-ci.yml",
        "default:\n  before_script:\n    - >\n      {cmd}\n",
        4,
    ),
}


def _scan(engine, root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    result = scan_paths(engine, [str(root)], WalkOptions())
    return [f for f in result.findings if f.location.path == str(path)]


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("form", COMMANDS)
def test_every_command_form_is_found_in_every_surface(engine, tmp_path, surface, form):
    name, template, line = SURFACES[surface]
    cmd = COMMANDS[form].format(pw=PASSWORD)
    found = _scan(engine, tmp_path, name, template.format(cmd=cmd))
    hits = [f for f in found if f.fingerprint == HASH]
    assert hits, f"{form} not found in {surface}: {[(f.rule_id, f.redacted) for f in found]}"
    assert {f.location.line for f in hits} == {line}
    assert len(hits) == 1  # a check does not repeat what a rule reported on that line
    assert PASSWORD not in hits[0].redacted


REFERENCES = {
    "$VAR": "$DEPLOY_PASSWORD",
    "${VAR}": "${DEPLOY_PASSWORD}",
    "$(cmd)": "$(cat /run/secrets/deploy_password)",
    "backticks": "`cat /run/secrets/deploy_password`",
}


@pytest.mark.parametrize("surface", [s for s in SURFACES if not s.startswith("Dockerfile")])
@pytest.mark.parametrize("ref", REFERENCES)
@pytest.mark.parametrize(
    "form", [f for f in COMMANDS if f not in ("redis password-only URL", "PGPASSWORD= psql")]
)
def test_references_are_not_secrets(engine, tmp_path, surface, ref, form):
    name, template, _ = SURFACES[surface]
    cmd = COMMANDS[form].format(pw=REFERENCES[ref])
    if "'" in template and ref == "backticks":
        pytest.skip("the template quotes the command")
    found = _scan(engine, tmp_path, name, template.format(cmd=cmd))
    assert [(f.rule_id, f.redacted) for f in found] == []


def test_ci_expressions_and_make_variables_are_not_secrets(engine, tmp_path):
    workflow = (
        "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: docker login -u me -p ${{ secrets.REGISTRY_PASSWORD }} reg.test\n"
        '      - run: sshpass -p "$SSH_PASS" ssh host\n'
    )
    assert _scan(engine, tmp_path, ".github/workflows/x.yml", workflow) == []
    makefile = "push:\n\tdocker login -p $(REGISTRY_PASSWORD) reg.test\n\tmysql -p$$DB_PW db\n"
    assert _scan(engine, tmp_path, "Makefile", makefile) == []


def test_a_command_continued_over_lines_points_at_the_password_line(engine, tmp_path):
    script = f"#!/bin/bash\ncurl -fsS \\\n  --user 'deploy:{PASSWORD}' \\\n  https://x.test/\n"
    [finding] = _scan(engine, tmp_path, "fetch.bash", script)
    assert finding.rule_id == "command-credential"
    assert (finding.location.line, finding.location.column) == (3, 18)
    assert finding.fingerprint == HASH


def test_only_makefile_recipes_are_commands(engine, tmp_path):
    # A variable line that looks like a command is Make, not shell: the keyword
    # rule's business, not this analysis.
    found = _scan(engine, tmp_path, "rules.mk", f"CURL = curl -u deploy:{PASSWORD}\n")
    assert all(f.rule_id != "command-credential" for f in found)


def test_script_kind_by_name_and_shebang():
    assert script_kind("a/b/run.sh") == "shell"
    assert script_kind("tools/release", b"#!/usr/bin/env bash\n") == "shell"
    assert script_kind("tools/release", b"#!/bin/sh -e\n") == "shell"
    assert script_kind("tools/release.py", b"#!/bin/sh\n") is None
    assert script_kind("tools/release", b"#!/usr/bin/env python3\n") is None
    assert script_kind("Makefile") == "makefile"
    assert script_kind("build/common.mk") == "makefile"
    assert script_kind(".github/workflows/ci.yml") == "ci"
    assert script_kind(os.path.join("x", ".gitlab-ci.yml")) == "ci"
    assert script_kind("deploy/values.yml") is None


def test_command_credentials_reads_one_simple_command():
    [[*words]] = shell_commands(f"sshpass -p{PASSWORD} scp a host:b")
    assert [leak.secret for leak in command_credentials(words)] == [PASSWORD]
    [[*words]] = shell_commands(f"docker login -p `cat {PASSWORD}` reg.test")
    assert command_credentials(words) == []


@pytest.mark.parametrize(
    "command",
    [
        'curl -fsS -H "Authorization: Bearer {v}" https://api.example.test/',
        "curl --header 'X-Api-Key: {v}' https://api.example.test/",
        'wget --header="Authorization: token {v}" https://api.example.test/',
        "curl --oauth2-bearer {v} https://api.example.test/",
        "npm config set //registry.example.test/:_authToken {v}",
        "htpasswd -bc /etc/nginx/htpasswd admin {v}",
    ],
)
def test_headers_and_tool_configs_in_a_script(engine, tmp_path, command):
    script = "#!/bin/sh\nset -e\n" + command.format(v=PASSWORD) + "\n"
    found = _scan(engine, tmp_path, "call.sh", script)
    assert [(f.location.line, f.fingerprint) for f in found] == [(3, HASH)]
    reference = "#!/bin/sh\nset -e\n" + command.format(v="$API_TOKEN") + "\n"
    assert _scan(engine, tmp_path, "call.sh", reference) == []


def test_a_makefile_recipe_continued_keeps_the_dash_of_its_options(engine, tmp_path):
    # `-` is a recipe prefix only at the start of a command; on a continuation
    # line it is the option's own: `-pPASSWORD` must stay `-pPASSWORD`.
    makefile = f"restore:\n\t-mysql -u root \\\n\t-p{PASSWORD} appdb < dump.sql\n"
    [finding] = _scan(engine, tmp_path, "Makefile", makefile)
    assert finding.rule_id == "command-credential"
    assert finding.location.line == 3
    assert finding.fingerprint == HASH
