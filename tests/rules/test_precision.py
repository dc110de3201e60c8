"""False-positive control: placeholders, references, names and documented examples
are not reported (or only as low-confidence notes); real-looking values still are.

Values are assembled at run time; the repository itself holds none a scanner reports.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from leakguard.cli import main
from leakguard.engine import Engine
from leakguard.models import Confidence, Location
from leakguard.rules import Context, builtin_rules
from leakguard.rules.checks import crc32_base62
from leakguard.rules.values import is_known_example, is_sample_path
from tests.conftest import AWS_KEY_ID, GITHUB_PAT, PASSWORD, fake

_BODY = fake("", 30, seed=31)
VALID_PAT = "gh" + "p_" + _BODY + crc32_base62(_BODY.encode()).decode()

ENGINE = Engine(builtin_rules())


def found(
    text: str, path: str = "app/settings.py", kind: str | None = None
) -> list[tuple[str, str]]:
    context = Context(path=path, kind=kind) if kind else None
    findings = ENGINE.scan_bytes(text.encode(), Location(path=path), context)
    return [(f.rule_id, f.confidence.value) for f in findings]


def reported(text: str, path: str = "app/settings.py", kind: str | None = None) -> list[str]:
    """Rule ids reported above the low-confidence note level."""
    return [rule for rule, confidence in found(text, path, kind) if confidence != "low"]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('DB_PASSWORD = "${DB_PASSWORD}"\n', "app/settings.py"),
        ("DB_PASSWORD=${DB_PASSWORD:-}\n", ".env"),
        ('token = "$(cat /run/secrets/token)"\n', "deploy.yaml"),
        ("password: {{ .Values.db.password }}\n", "chart/templates/secret.yaml"),
        ('password = "%(password)s"\n', "app/settings.py"),
        ("password = os.environ['DB_PASSWORD']\n", "settings.cfg"),
        ("DB_PASSWORD_FILE=/run/secrets/db_password\n", ".env"),
        ("api_key: /var/run/secrets/api-key\n", "config.yaml"),
        (
            "RUN printf '//registry.npmjs.org/:_authToken=%s\\n' \"$NPM_TOKEN\" > ~/.npmrc\n",
            "build.sh",
        ),
        ('auth_token = "{}:{}".format(user, key)\n', "app/client.py"),
        ('"output_token": "NextToken",\n', "paginators-1.json"),
        (
            '"NextToken": "' + "eyJOZXh0VG9rZW4iOiBudWxs" + "LCAiYm90b190cnVuY2F0ZSJ9" + '",\n',
            "data/list.json",
        ),
        ('"AWS::IAM::AccessKey": "' + "72c2d9dd" + "90025459" + '",\n', "providers.json"),
        ('ACCESS_KEY = "aws_access_key_id"\n', "botocore/credentials.py"),
        ('NOPASSWORD = "no-password-required"\n', "app/utils.py"),
        ('Token.Name.Builtin: "bold #038B8B",\n', "styles/lily.py"),
        ('Token: "#ddd0c0",\n', "styles/coffee.py"),
        ("token: 3.0-\n", "VERSIONS"),
        ('"PasswordLastUsed": "2016-09-24T16:18:07Z",\n', "iam.json"),
        ('if token == "async":\n', "lexer.py"),
        (
            '"pattern": "^arn:aws:secretsmanager:[a-z0-9-]{1,20}:secret:'
            '[a-zA-Z0-9/_+=.@-]{1,512}$"\n',
            "schema.json",
        ),
        ('publicKeyToken="6595b64144ccf1df"\n', "manifest.xml"),
        ('"GrantToken": "The grant token."\n', "kms.json"),
        ('password = "changeme"\n', "app/settings.py"),
        ("    permissions:\n      id-token: write\n", ".github/workflows/ci.yml"),
        (': "${DB_PASSWORD:?DB_PASSWORD must be set}"\n', "deploy.sh"),
        ('#define SN_dhSinglePass_stdDH_sha1kdf "dhSinglePass-stdDH-sha1kdf"\n', "obj_mac.h"),
        ("#password_encryption = scram-sha-256\n", "postgresql.conf"),
        ("//registry.npmjs.org/:_authToken=MYTOKEN\n", "docs/npmrc.txt"),
        ("def login(self, user='', passwd='', acct=''):\n", "ftplib.py"),
        ("const u = new URL('https://abc:xyz123@example.com');\n", "/usr/share/doc/node/url.md"),
        ('#define TLS_MD_MASTER_SECRET_CONST "\\x6d\\x61\\x73\\x74\\x65\\x72"\n', "tls1.h"),
        ("private_key = $dir/private/cakey.pem # the CA key\n", "openssl.cnf"),
        ("$pass = '-anonymous@'\n", "Net/FTP.pm"),
        ('api_key = "<your-api-key>"\n', "app/settings.py"),
        ('secret = "xxxxxxxxxxxxxxxx"\n', "app/settings.py"),
        ('token = f.encrypt(b"A really secret message.")\n', "README"),
        ('"content": "' + "7cc1186384beb7dd8eedea376413fd65" * 2 + '"\n', "sbom.cdx.json"),
    ],
)
def test_placeholders_references_and_names_are_not_reported(text: str, path: str) -> None:
    assert reported(text, path) == [], text


@pytest.mark.parametrize(
    "text",
    [
        f'DB_PASSWORD = "{PASSWORD}"\n',
        f'"password": "{PASSWORD}",\n',
        f'client_secret: "{PASSWORD}"\n',
        f'if password == "{PASSWORD}":\n',
        f'SECRET_KEY_BASE = "{PASSWORD}{PASSWORD}"\n',
        f"<password>{PASSWORD}</password>\n",
    ],
)
def test_hard_coded_values_are_still_reported(text: str) -> None:
    assert reported(text) != [], text
    if not text.startswith(("if", "<")):
        assert reported(text.replace('"', ""), ".env") != [], text


def test_dictionary_words_are_a_low_note_at_most() -> None:
    assert found('password = "Sunshine"\n') in ([("keyword-secret", "low")], [])
    assert found('password = "wile_coyote"\n') in ([("keyword-secret", "low")], [])


def test_documented_example_keys_are_not_reported() -> None:
    example_id = "AKIAIOSF" + "ODNN7EXAMPLE"
    assert is_known_example(example_id.encode())
    assert found(f"aws_access_key_id = {example_id}\n") == []
    assert found(f"aws_access_key_id = {AWS_KEY_ID}\n") == [("aws-access-key-id", "high")]
    marked = "-----BEGIN RSA PRIVATE KEY-----\n" + "EXAMPLE" + _BODY * 3
    assert found(marked + "\n-----END RSA PRIVATE KEY-----\n") == []


# moto answers SES's VerifyDomainIdentity with this fixed token (moto/ses/models.py).
MOTO_SES_VALUE = "ILQMESfEW0p6i6gIJcEWvO65" + "TP5hg6B99hGFZ2lxrIs="


def test_known_example_values_are_dropped_and_counted(tmp_path: Path) -> None:
    """An SDK's or mock's published fake is counted, not reported; any other value is."""
    assert is_known_example(MOTO_SES_VALUE.encode())
    app, out = tmp_path / "models.py", tmp_path / "report.json"

    def scan(value: str) -> tuple[int, list[object], int]:
        app.write_text(f'TOKEN = "{value}"\n')
        args = ["scan", str(app), "-f", "json", "-o", str(out), "--no-baseline"]
        code = main(args)  # the real entry point, exit code included
        report = json.loads(out.read_text())
        return code, report["findings"], report["stats"]["suppressed_examples"]

    assert scan(MOTO_SES_VALUE) == (0, [], 1)
    code, findings, counted = scan(MOTO_SES_VALUE[::-1])
    assert (code, len(findings), counted) == (1, 1, 0)


def hs256(payload: dict[str, str], key: bytes) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = part(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{part(mac)}"


def test_pyjwts_documented_token_in_its_installed_metadata_is_not_reported(
    tmp_path: Path,
) -> None:
    """Every image with PyJWT installed holds its README's example token."""
    metadata = tmp_path / "site-packages" / "pyjwt-2.15.1.dist-info" / "METADATA"
    metadata.parent.mkdir(parents=True)
    out = tmp_path / "report.json"

    def scan(token: str) -> tuple[int, list[str], int]:
        metadata.write_text(
            f">>> encoded = jwt.encode(payload, key)\n>>> print(encoded)\n{token}\n"
        )
        code = main(["scan", str(metadata), "-f", "json", "-o", str(out), "--no-baseline"])
        report = json.loads(out.read_text())
        rules = [f["rule_id"] for f in report["findings"]]
        return code, rules, report["stats"]["suppressed_examples"]

    assert scan(hs256({"some": "payload"}, b"sec" + b"ret")) == (0, [], 1)
    assert scan(hs256({"some": "payload"}, PASSWORD.encode())) == (1, ["jwt"], 0)


NESTED_JSON = '"SecretString": "{\\"username\\":\\"admin\\"}"\n'  # leakguard:allow


@pytest.mark.parametrize(
    ("text", "path", "expected"),
    [
        # A URL's query string: the value stops at the next `&name=`.
        (
            "grant_type=password&username=u&password=Xa9kq2Lm&service=hub\n",
            "app/login.txt",
            [("keyword-secret", b"Xa9kq2Lm")],
        ),
        ("DB_PASSWORD=Xa9k&q2Lm\n", "deploy/db.env", [("keyword-secret", b"Xa9k&q2Lm")]),
        # A colon-separated field list (passwd(5)) names fields, it holds no value.
        (".RS\nlogin_name:passwd:UID:GID:user_name:directory:shell\n", "man/passwd.5", []),
        # A JSON string inside a JSON string: the "value" ends at an escaped quote.
        (NESTED_JSON, "out.json", []),
        ('check(password = ", ",)\n', "app/conf.ini", []),
    ],
)
def test_keyword_values_are_read_where_they_end(
    text: str, path: str, expected: list[tuple[str, bytes]]
) -> None:
    findings = ENGINE.scan_bytes(text.encode(), Location(path=path))
    assert [(f.rule_id, f.secret.raw if f.secret else b"") for f in findings] == expected


def test_camel_case_identifiers_are_not_random() -> None:
    name = "AmazonRedshift" + "QueryEditorV2TagOnlyUserIdPermissions"
    assert found(f'policies = ["{name}"]\n') == []
    assert found(f'x = ["{fake("", 40, seed=5)}"]\n') == [("high-entropy-base64", "low")]


def test_snake_case_names_are_not_random_even_when_they_say_secret() -> None:
    # PyNaCl's export list: constant and function names; "secret" inside the value
    # names nothing (a secret-like word elsewhere on the line still does).
    for name in ("crypto_secretstream_xchacha20poly1305_" + "MESSAGEBYTES_MAX",
                 "crypto_aead_aegis128l_" + "NSECBYTES"):  # fmt: skip
        assert found(f'    "{name}",\n', "nacl/bindings/__init__.py") == []
    value = fake("", 40, seed=5)
    assert found(f'    "{value}",\n') == [("high-entropy-base64", "low")]
    assert found(f'    "{value}",  # secret\n') == [("high-entropy-base64", "medium")]


def test_sample_paths_lower_generic_hits_but_not_provider_tokens() -> None:
    text = f'DB_PASSWORD = "{PASSWORD}"\ntoken = "{VALID_PAT}"\n'
    assert found(text, "pkg/site-packages/lib/tests/test_db.py") == [
        ("keyword-secret", "low"),
        ("github-pat", "high"),
    ]
    assert found(text, "app/db.py") == [("keyword-secret", "high"), ("github-pat", "high")]


@pytest.mark.parametrize(
    ("path", "sample"),
    [
        ("/usr/lib/python3/site-packages/foo/tests/data.py", True),
        ("/usr/share/doc/foo/README", True),
        ("node_modules/foo/test/fixture.js", True),
        ("botocore/data/s3/2006-03-01/examples-1.json", True),
        ("src/app/test_settings.py", True),
        ("samples/.env", False),
        ("/tmp/pytest-of-root/pytest-1/test_x0/app.py", False),
        ("src/app/settings.py", False),
        (None, False),
    ],
)
def test_sample_paths(path: str | None, sample: bool) -> None:
    assert is_sample_path(path) is sample


def test_truncated_or_example_private_keys_are_low() -> None:
    body = "MIIEowIBAAKCAQEAqKpRgnn6yq26U3yt5YFZquyukfRjbMXDcNOK4rMCxDR"
    head, tail = "-----BEGIN RSA PRIVATE" + " KEY-----", "-----END RSA PRIVATE" + " KEY-----"
    assert found(f"{head}\n{body}...Xz9\n{tail}\n") == [("private-key", "low")]
    assert found(f"{head}\n{body}{body}\n{tail}\n") == [("private-key", "high")]
    assert found(f"{head}\n{body}{body}\n{tail}\n", "test/certdata/key.pem") == [
        ("private-key", "low")
    ]


def test_confidence_filter_reaches_checksum_failures() -> None:
    broken = GITHUB_PAT[:-1] + ("A" if GITHUB_PAT[-1] != "A" else "B")
    assert found(f"GITHUB_TOKEN={broken}\n") == [("github-pat", Confidence.LOW.value)]


def test_hashes_in_lockfiles_and_minified_code_are_not_reported() -> None:
    blob = fake("", 44, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/", seed=40)
    line = f'  "x": "{blob}",\n'
    assert found(line, "web/src/data.js") == [("high-entropy-base64", "low")]
    assert found(line, "web/package-lock.json") == []
    assert found(line, "web/dist/app.min.js") == []
    minified = "var a=1;" * 600 + f'b="{blob}";' + "c=2;" * 600 + "\n"
    assert found(minified, "web/src/bundle.js") == []
    # A secret-like name still counts, even in a lockfile.
    assert found(f'  "api_secret": "{blob}",\n', "web/package-lock.json") != []


def test_url_passwords_that_start_with_percent_are_still_passwords() -> None:
    assert found('DATABASE_URL = "mysql://svc:%2nvu' + 'yHfu_Dyl.pEq@db:3306/shop"\n') == [
        ("url-credentials", "high")
    ]
    assert found('url = "mysql://svc:%s@db/shop" % password\n') == []


def test_a_quoted_reference_is_a_reference() -> None:
    line = "RUN echo 'Authorization: token '\"$(cat /run/secrets/gh)\"'' | sh\n"
    assert found(line, "Dockerfile", "dockerfile") == []
    assert found('export API_TOKEN="$NPM_TOKEN"\n', "deploy.sh") == []


def test_a_hash_inside_an_unquoted_value_is_part_of_it() -> None:
    # `#` starts a comment only after whitespace (.env, shell, YAML, INI)
    findings = ENGINE.scan_bytes(f"DB_PASSWORD={PASSWORD}\n".encode(), Location(path=".env"))
    assert [f.secret.reveal() for f in findings] == [PASSWORD]
    assert found("DB_PASSWORD= # set at deploy time\n", ".env") == []


def test_a_dotted_dotenv_value_is_a_password_not_an_attribute() -> None:
    findings = ENGINE.scan_bytes(b"ADMIN_PASS=harbor.castle.lantern\n", Location(path=".env"))
    assert [f.secret.reveal() for f in findings] == ["harbor.castle.lantern"]
    # in code the same shape is attribute access
    assert found("admin_pass = harbor.castle.lantern\n", "settings.py") == []
    assert found("DB_PASSWORD=${DB_PASSWORD}\n", ".env") == []


def test_an_artifactory_shape_inside_a_url_safe_hash_is_not_a_password() -> None:
    record = "pkg/examples/delete-token.rst,sha256=xfPfs_W_mOa-APDk3jd9sKd8Jd7sdQ2e,1234\n"
    assert found(record, "pkg-1.0.dist-info/RECORD") == []


def test_names_and_paths_of_words_are_not_secrets() -> None:
    assert found('arn("service-role/AWSLambdaDynamoDBExecutionRole")\n', "pull.py") == []
    assert found('    token_placement="header",\n', "client.pyi") == []
    # a value with digits in the same place is still a candidate
    assert found(f'key = "{fake("", 32, seed=5)}/{fake("", 12, seed=6)}"\n', "app.py") != []


def test_alphabets_are_not_secrets() -> None:
    upper = "".join(chr(c) for c in range(ord("A"), ord("Z") + 1))
    assert found(f'_BASE32 = frozenset(b"{upper}234567")\n', "checks.py") == []
    assert found(f'ALPHABET = "{upper.lower()[::-1]}0123456789"\n', "checks.py") == []
    assert reported(f'api_secret = "{fake("", 32, seed=5)}"\n') == ["keyword-secret"]


def test_low_confidence_findings_are_low_severity_notes(tmp_path: Path) -> None:
    """A test fixture's key is a note (severity low); the same key in app code is critical."""
    key = "-----BEGIN RSA PRIVATE KEY-----\n" + _BODY * 3 + "\n-----END RSA PRIVATE KEY-----\n"
    out = tmp_path / "report.json"
    severities = {}
    for where in ("tests/fixtures/server.pem", "app/server.pem"):
        target = tmp_path / "tree" / where
        target.parent.mkdir(parents=True)
        target.write_text(key)
        assert main(["scan", str(target), "-f", "json", "-o", str(out), "--no-baseline"]) == 1
        [finding] = json.loads(out.read_text())["findings"]
        severities[where] = (finding["confidence"], finding["severity"])
    assert severities == {
        "tests/fixtures/server.pem": ("low", "low"),
        "app/server.pem": ("high", "critical"),
    }
