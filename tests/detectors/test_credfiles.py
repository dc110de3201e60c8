"""Credential files: recognised by path, read by the engine's rules in their own syntax.

Every credential below is assembled at run time (see tests/conftest.py).
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from leakguard.detectors import credfiles
from leakguard.detectors.credfiles import credential_file_kind
from leakguard.detectors.files import WalkOptions, scan_paths
from leakguard.engine import Engine, kind_of_path
from leakguard.models import Confidence, Location
from leakguard.rules import builtin_rules
from tests.conftest import GITHUB_PAT, PASSWORD, fake


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/root/.docker/config.json", "docker-config"),
        ("home/u/.dockercfg", "docker-config"),
        ("/app/.npmrc", "npmrc"),
        ("/root/.pypirc", "pypirc"),
        ("/root/.netrc", "netrc"),
        ("/root/.git-credentials", "git-credentials"),
        ("/root/.aws/credentials", "aws-credentials"),
        ("/root/.kube/config", "kubeconfig"),
        ("/root/.pgpass", "pgpass"),
        ("/root/.my.cnf", "mycnf"),
        ("/root/.m2/settings.xml", "maven-settings"),
        ("/root/.composer/auth.json", "composer-auth"),
        ("/root/.config/composer/auth.json", "composer-auth"),
        ("/app/.env", "dotenv"),
        ("/app/.env.production", "dotenv"),
        ("/root/.ssh/id_ed25519", "private-key"),
        ("C:\\Users\\u\\.ssh\\id_rsa", "private-key"),
        ("/etc/ssl/private/server.key", "private-key"),
        ("/srv/tls.pem", "private-key"),
        ("/srv/keystore.p12", "keystore"),
        ("/srv/cert.pfx", "keystore"),
        ("/opt/app/truststore.jks", "keystore"),
        ("/etc/nginx/.htpasswd", "htpasswd"),
        ("/root/.config/gcloud/credentials.db", "gcloud-credentials"),
        ("/root/.config/gcloud/application_default_credentials.json", "gcloud-credentials"),
        ("/root/.azure/accessTokens.json", "azure-tokens"),
    ],
)
def test_credential_files_are_named_by_path(path: str, kind: str) -> None:
    assert credential_file_kind(path) == kind
    assert kind_of_path(path) == kind


@pytest.mark.parametrize(
    "path",
    ["/app/config.json", "/app/.env.example", "/etc/ssl/certs/ca-cert.pem", "/app/settings.xml",
     "/srv/fullchain.pem", "/root/.ssh/id_rsa.pub", "/app/credentials.py", "/app/auth.json", ""],
)  # fmt: skip
def test_ordinary_files_are_not_credential_files(path: str) -> None:
    assert credential_file_kind(path) is None


def _scan(tmp_path: Path, relative: str, content: str | bytes) -> list[tuple[str, str]]:
    target = tmp_path / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        target.write_text(content)
    else:
        target.write_bytes(content)
    result = scan_paths(Engine(builtin_rules()), [str(tmp_path)], WalkOptions())
    return [(f.rule_id, f.secret.reveal()) for f in result.findings]


def test_docker_config_auth_is_found_as_user_and_password(tmp_path: Path) -> None:
    auth = base64.b64encode(f"builder:{PASSWORD}".encode()).decode()
    token = fake("", 40, seed=7)
    auths = {"registry.example.org": {"auth": auth}, "quay.io": {"identitytoken": token}}
    config = {"auths": auths}
    found = _scan(tmp_path, "root/.docker/config.json", json.dumps(config, indent=2))
    assert ("docker-config-auth", auth) in found
    assert ("docker-config-identity-token", token) in found


def test_docker_config_with_empty_or_placeholder_auth_is_clean(tmp_path: Path) -> None:
    placeholder = base64.b64encode(b"user:changeme").decode()
    config = {"auths": {"a.io": {"auth": placeholder}, "b.io": {}}, "credsStore": "desktop"}
    assert _scan(tmp_path, ".docker/config.json", json.dumps(config)) == []


def test_npmrc_tokens_are_found_and_references_are_not(tmp_path: Path) -> None:
    token = fake("", 32, seed=8)
    password = base64.b64encode(PASSWORD.encode()).decode()
    npmrc = (
        f"//npm.internal.example/:_authToken={token}\n"
        f"//npm.other.example/:_password={password}\n"
        "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"
    )
    found = _scan(tmp_path, "app/.npmrc", npmrc)
    assert sorted(found) == sorted([("npmrc-auth", token), ("npmrc-auth", password)])


def test_netrc_and_pgpass_passwords(tmp_path: Path) -> None:
    netrc = f"machine git.example.org\n  login ci\n  password {PASSWORD}\n"
    assert _scan(tmp_path / "a", "root/.netrc", netrc) == [("netrc-password", PASSWORD)]
    pgpass = f"# host:port:db:user:password\ndb.internal:5432:app:app:{PASSWORD}\n"
    assert _scan(tmp_path / "b", "root/.pgpass", pgpass) == [("pgpass-password", PASSWORD)]
    # The same shapes in an ordinary file are prose and timestamps, not credentials.
    prose = "Enter your password below.\nstarted 10:12:01:33:05 ok\n"
    assert _scan(tmp_path / "c", "notes.txt", prose) == []


def test_netrc_written_by_a_dockerfile_is_found(tmp_path: Path) -> None:
    line = (
        f'FROM scratch\nRUN echo "machine github.com login ci password {PASSWORD}" > /root/.netrc\n'
    )
    assert ("netrc-password", PASSWORD) in _scan(tmp_path, "Dockerfile", line)


def test_kubeconfig_client_key_and_token(tmp_path: Path) -> None:
    key_pem = (
        "-----BEGIN EC PRIVATE KEY-----\n"
        + fake("", 64, seed=9)
        + "\n-----END EC "
        + ("PRIVATE KEY-----\n")
    )
    key_data = base64.b64encode(key_pem.encode()).decode()
    token = fake("", 48, seed=10)
    kubeconfig = (
        "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n"
        f"    client-key-data: {key_data}\n- name: ci\n  user:\n    token: {token}\n"
    )
    found = _scan(tmp_path, "root/.kube/config", kubeconfig)
    assert sorted(found) == sorted([("kubeconfig-client-key", key_data),
                                    ("kubeconfig-token", token)])  # fmt: skip


def test_maven_settings_password_but_not_a_property_reference(tmp_path: Path) -> None:
    xml = (
        "<settings><servers>\n<server><id>a</id><username>ci</username>"
        f"<password>{PASSWORD}</password></server>\n"
        "<server><id>b</id><password>${env.MAVEN_PASSWORD}</password></server>\n"
        "</servers></settings>\n"
    )
    assert _scan(tmp_path, "root/.m2/settings.xml", xml) == [("xml-password", PASSWORD)]


def test_composer_auth_json(tmp_path: Path) -> None:
    token = fake("", 40, seed=11)
    auth = {"bearer": {"repo.packagist.example": token}, "github-oauth": {"github.com": GITHUB_PAT}}
    text = json.dumps(auth, indent=1)
    found = _scan(tmp_path, "root/.composer/auth.json", text)
    assert sorted(found) == sorted([("composer-auth-token", token), ("github-pat", GITHUB_PAT)])
    engine = Engine(builtin_rules())

    def confidence(path: str) -> Confidence:
        [f] = [f for f in engine.scan_text(text, Location(path=path)) if f.rule_id != "github-pat"]
        return f.confidence

    # The same section in a file of another name is less certain.
    assert confidence("/root/.composer/auth.json") is Confidence.HIGH
    assert confidence("/app/config/build.json") is Confidence.MEDIUM


def test_htpasswd_hash(tmp_path: Path) -> None:
    salt_hash = "$apr1$" + fake("", 8, seed=12) + "$" + fake("", 22, seed=13)
    found = _scan(tmp_path, "etc/nginx/.htpasswd", f"admin:{salt_hash}\n")
    assert found == [("password-hash", salt_hash)]


def _pkcs12(tmp_path: Path) -> bytes:
    tmp_path.mkdir()
    key, cert, out = tmp_path / "k.pem", tmp_path / "c.pem", tmp_path / "out.p12"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=test", "-days", "1"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "pkcs12", "-export", "-inkey", key, "-in", cert, "-out", out,
         "-passout", "pass:" + PASSWORD],
        check=True, capture_output=True,
    )  # fmt: skip
    return out.read_bytes()


def test_a_binary_keystore_is_a_credential_by_presence(tmp_path: Path) -> None:
    data = _pkcs12(tmp_path / "gen")
    engine = Engine(builtin_rules())
    [finding] = credfiles.presence(engine, data, "/srv/app/keystore.p12")
    assert finding.rule_id == "credential-file"
    assert finding.confidence is Confidence.HIGH
    assert "keystore" in finding.redacted and PASSWORD not in finding.redacted
    assert finding.location == Location(path="/srv/app/keystore.p12")
    # A binary file with an ordinary name, or the rule turned off: nothing.
    assert credfiles.presence(engine, data, "/srv/app/blob.bin") == []
    quiet = Engine(builtin_rules().select(disable=["credential-file"]))
    assert credfiles.presence(quiet, data, "/srv/app/keystore.p12") == []
    # The structured entry point hands binaries to the presence check, text to the rules.
    assert [f.rule_id for f in credfiles.scan(engine, data, "x.pfx").findings] == [
        "credential-file"
    ]
    netrc = f"machine h login u password {PASSWORD}\n".encode()
    assert [f.rule_id for f in credfiles.scan(engine, netrc, "layer/root/.netrc").findings] == [
        "netrc-password"
    ]
