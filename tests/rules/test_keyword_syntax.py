"""Secret-named assignments in every syntax a project's files use, read back with
the exact value (its sha256 is the finding's fingerprint), and the look-alikes
that hold no value (a comparison with null, a call, a reference, an encrypted or
filler value) left alone.

Values are assembled at run time; the repository itself holds none a scanner reports.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from leakguard.cli import main
from leakguard.engine import Engine
from leakguard.models import Location
from leakguard.rules import builtin_rules
from leakguard.rules.checks import crc32_base62
from tests.conftest import fake

ENGINE = Engine(builtin_rules())


def values(text: str, path: str) -> list[bytes]:
    """The secret of each finding, after checking its fingerprint is that secret's sha256."""
    out = []
    for f in ENGINE.scan_bytes(text.encode(), Location(path=path)):
        assert f.secret is not None
        assert f.fingerprint == hashlib.sha256(f.secret.raw).hexdigest()
        out.append(f.secret.raw)
    return out


def confidences(text: str, path: str) -> list[str]:
    return [f.confidence.value for f in ENGINE.scan_bytes(text.encode(), Location(path=path))]


# A value of mixed case and digits, one with dots, one with punctuation.
V = fake("", 16, seed=101)
DOTTED = fake("", 5, seed=102) + "." + fake("", 9, seed=103)
PUNCT = fake("", 4, seed=104) + "!#%" + fake("", 5, seed=105) + "*?"
# Braces that hold no well-formed placeholder, commas inside the value.
SYMBOLIC = "q{{z}k)w${r]" + fake("", 6, seed=106) + "(x[>-_$#" + fake("", 4, seed=107) + "}}"
COMMAS = fake("", 3, seed=108) + ",.:-@*?!" + fake("", 3, seed=109)

# (name, path, text with {v} for the value, the value)
POSITIVES = [
    # no operator: HCL / nginx / Terraform block style and config DSLs
    ("nginx block", "etc/nginx/site.conf", '    password "{v}";\n', V),
    ("hcl block", "deploy/vault.hcl", '  token "{v}"\n', V),
    ("terraform block", "infra/main.tf", 'provider "x" {{\n  api_key "{v}"\n}}\n', V),
    ("ruby dsl", "config/deploy.rb", "  password '{v}'\n", V),
    # array and index forms
    ("php array append", "src/config.php", '$secret[] = "{v}";\n', V),
    ("python index", "app/settings.py", 'cfg["api_token"] = "{v}"\n', V),
    ("js index", "web/src/config.js", "config['apiKey'] = '{v}';\n", V),
    ("ruby hash index", "app/boot.rb", 'ENV["DB_PASSWORD"] = "{v}"\n', V),
    # comparisons, either side
    ("comparison value first", "web/src/auth.js", 'if ("{v}" == admin_password) {{\n', V),
    ("comparison strict", "web/src/auth.ts", 'if (password !== "{v}") return;\n', V),
    ("comparison java", "src/Auth.java", 'if (password != "{v}") {{\n', V),
    ("comparison python", "app/auth.py", 'if "{v}" == token:\n', V),
    # fat arrows and other operators
    ("ruby fat arrow", "config/app.rb", '  :password => "{v}",\n', V),
    ("php fat arrow", "config/db.php", "    'password' => '{v}',\n", V),
    ("perl fat arrow", "lib/App.pm", "    api_key => '{v}',\n", V),
    ("make ::=", "Makefile", "TOKEN ::= {v}\n", V),
    ("make :=", "Makefile", "API_TOKEN := {v}\n", V),
    ("make ?=", "build.mk", "REGISTRY_PASSWORD ?= {v}\n", V),
    ("go :=", "cmd/main.go", 'token := "{v}"\n', V),
    ("kotlin typed val", "src/Main.kt", 'val apiKey: String = "{v}"\n', V),
    ("typescript typed const", "web/src/api.ts", 'const apiKey: string = "{v}";\n', V),
    ("js let", "web/src/app.js", 'let token = "{v}";\n', V),
    ("swift let", "Sources/App.swift", 'let apiSecret = "{v}"\n', V),
    ("csharp const", "src/Client.cs", 'private const string ApiKey = "{v}";\n', V),
    ("csharp var", "src/Client.cs", 'var password = "{v}";\n', V),
    # calls
    ("java setProperty", "src/Boot.java", 'System.setProperty("SERVICE_TOKEN", "{v}");\n', V),
    ("go Setenv", "cmd/env.go", 'os.Setenv("X_SECRET", "{v}")\n', V),
    ("c setenv", "src/env.c", 'setenv("API_KEY", "{v}", 1);\n', V),
    ("python environ setdefault", "app/env.py", 'os.environ.setdefault("API_TOKEN", "{v}")\n', V),
    # markup
    ("xml element", "conf/app.xml", "<serviceToken>{v}</serviceToken>\n", V),
    (
        "xml element, value on the next line",
        "conf/app.xml",
        "<config>\n  <serviceToken>\n    {v}\n  </serviceToken>\n</config>\n",
        V,
    ),
    ("xml element with attributes", "conf/app.xml", '<password encrypted="no">{v}</password>\n', V),
    ("android string", "res/values/strings.xml", '<string name="api_key">{v}</string>\n', V),
    ("java properties xml", "conf/app.xml", '<entry key="db.password">{v}</entry>\n', V),
    ("dotnet appSettings", "web.config", '  <add key="ApiKey" value="{v}"/>\n', V),
    ("xml attribute", "conf/ds.xml", '<datasource user="app" password="{v}"/>\n', V),
    # logs
    ("log line", "logs/app.log", "[DEBUG] Using API_KEY={v}\n", V),
    ("log line, inside", "logs/app.log", "2024-01-02 10:00:01 INFO client apiSecret={v} ok\n", V),
    (
        "log line, in brackets",
        "logs/app.log",
        "WARN request(apiSecret={v}) failed [token={v}]\n",
        V,
    ),
    # a JSON string that holds a dotenv
    (
        "json embedded dotenv",
        "fixtures/files.json",
        '{{"config.ini": "FOO_TOKEN={v}\\nOTHER=1"}}\n',
        V,
    ),
    # JSON and attributes inside a string: escaped quotes around the value
    ("escaped json", "fixtures/body.txt", '"{{\\"api_token\\": \\"{v}\\"}}"\n', V),
    (
        "escaped attribute",
        "src/Kafka.java",
        'cfg.put("sasl", "Module required username=\\"app\\" password=\\"{v}\\";");\n',
        V,
    ),
    # dotted and punctuated values in config files
    ("yaml dotted", "deploy/values.yaml", "DB_PASSWORD: {v}\n", DOTTED),
    ("properties dotted", "src/main/resources/app.properties", "password={v}\n", DOTTED),
    ("ini dotted", "conf/app.ini", "[db]\npassword = {v}\n", DOTTED),
    ("dotenv dotted", ".env", "DB_PASSWORD={v}\n", DOTTED),
    ("shell dotted", "deploy.sh", "export DB_PASSWORD={v}\n", DOTTED),
    ("dockerfile dotted", "Dockerfile", "ENV DB_PASSWORD={v}\n", DOTTED),
    ("log dotted", "logs/app.log", "INFO login password={v} ok\n", DOTTED),
    ("yaml punctuated", "deploy/values.yaml", "admin_password: {v}\n", PUNCT),
    ("dotenv punctuated", ".env", "ADMIN_PASSWORD={v}\n", PUNCT),
    # a broken `${` is no reference
    ("broken placeholder", "deploy/values.yaml", 'password: "{v}"\n', V[:5] + "${e]" + V[5:]),
    (
        "broken placeholder first",
        "app/settings.py",
        'password = "{v}"\n',
        "${" + V[:4] + "]" + V[4:],
    ),
    ("go typed var", "cmd/main.go", 'var dbPassword string = "{v}"\n', V),
    ("r assignment", "analysis/run.R", 'api_key <- "{v}"\n', V),
    ("java equals", "src/Auth.java", 'if (password.equals("{v}")) {{\n', V),
    ("java equals, value first", "src/Auth.java", 'if ("{v}".equals(token)) {{\n', V),
    ("powershell", "deploy.ps1", '$env:API_TOKEN = "{v}"\n', V),
    ("rust typed const", "src/main.rs", 'const API_KEY: &str = "{v}";\n', V),
    ("php define", "wp-config.php", "define( 'DB_PASSWORD', '{v}' );\n", V),
    ("objective-c", "Classes/Api.m", 'NSString *password = @"{v}";\n', V),
    ("c# verbatim", "src/Client.cs", 'var apiKey = @"{v}";\n', V),
    ("c++ wide string", "src/auth.cpp", 'apikey = L"{v}";\n', V),
    ("symbols, unquoted", "conf/app.ini", "password = {v}\n", SYMBOLIC),
    ("symbols, quoted", "app/settings.py", "password = '{v}'\n", SYMBOLIC),
    ("commas, unquoted", "conf/app.ini", "apikey = {v}\n", COMMAS),
    ("connection string", "appsettings.txt", "Server=db;Database=shop;Password={v};\n", V),
    ("yaml flow mapping", "deploy/values.yaml", "db: {{password: {v}, user: app}}\n", V),
    ("c array with a size", "src/auth.c", 'char secrets[25] = "{v}";\n', V),
    ("c++ constructor", "src/auth.cpp", 'std::string secret("{v}");\n', V),
    ("java builder", "src/Client.java", '    .password("{v}")\n', V),
    ("java setter", "src/Client.java", 'cfg.setApiKey("{v}");\n', V),
    ("go, pasted unquoted", "cmd/main.go", "db_pass := {v}\n", SYMBOLIC),
    ("python backticks", "app/settings.py", "api_key: `{v}`\n", V),
    ("creds", "app/settings.py", 'creds = "{v}"\n', V),
    ("php concatenation", "src/config.php", '$apiToken .= "{v}";\n', V),
    ("php null coalescing", "src/config.php", '$apiToken ??= "{v}";\n', V),
    ("env fallback", "app/env.py", 'API_TOKEN = os.getenv("API_TOKEN", "{v}")\n', V),
    ("python typed", "app/settings.py", 'API_KEY: str = "{v}"\n', V),
    ("yaml typed-looking", "deploy/values.yaml", "api_token: '{v}'\n", V),
    ("perl", "lib/App.pm", "my $api_token = '{v}';\n", V),
    ("go raw string", "cmd/main.go", "var apiToken = `{v}`\n", V),
    ("js template literal", "web/src/app.js", "const apiToken = `{v}`;\n", V),
    # the usual forms, in every kind of file
    ("shell export", "deploy.sh", "export API_TOKEN={v}\n", V),
    ("dockerfile env", "Dockerfile", "ENV API_TOKEN={v}\n", V),
    ("json", "config.json", '{{"api_token": "{v}"}}\n', V),
    ("toml", "config.toml", 'api_token = "{v}"\n', V),
    ("hcl assignment", "infra/main.tf", 'password = "{v}"\n', V),
    ("python", "app/settings.py", 'SECRET_KEY = "{v}"\n', V),
    ("ruby", "config/app.rb", "API_TOKEN = '{v}'\n", V),
    ("php", "config/db.php", "$db_password = '{v}';\n", V),
]


@pytest.mark.parametrize(
    ("name", "path", "template", "value"), POSITIVES, ids=[p[0] for p in POSITIVES]
)
def test_secret_named_assignment_is_found_with_its_exact_value(
    name: str, path: str, template: str, value: str
) -> None:
    assert value.encode() in values(template.format(v=value), path), name


_BODY = fake("", 30, seed=130)
VALID_PAT = "gh" + "p_" + _BODY + crc32_base62(_BODY.encode()).decode()
SOPS = (
    "ENC[AES256_GCM,data:"
    + fake("", 24, seed=120)
    + ",iv:"
    + fake("", 22, seed=121)
    + "=,type:str]"
)

NEGATIVES = [
    ("null comparison", "web/src/auth.js", "if (password == null) return;\n"),
    ("undefined comparison", "web/src/auth.ts", "if (password !== undefined) {\n"),
    ("empty comparison", "app/auth.py", 'if password == "":\n'),
    ("go call", "cmd/main.go", "token := getToken()\n"),
    ("kotlin call", "src/Main.kt", "val apiKey: String = loadKey()\n"),
    ("block reference", "etc/app.conf", 'password "${VAR}";\n'),
    ("empty element", "conf/app.xml", "<password></password>\n"),
    ("element reference", "conf/app.xml", "<password>${env.DB_PASSWORD}</password>\n"),
    ("setenv of a variable", "src/env.c", 'setenv("API_KEY", getenv("X_KEY"), 1);\n'),
    ("setProperty of a variable", "src/Boot.java", 'System.setProperty("SERVICE_TOKEN", token);\n'),
    ("fat arrow reference", "config/app.rb", "  :password => ENV['DB_PASSWORD'],\n"),
    ("appSettings reference", "web.config", '<add key="ApiKey" value="#{ApiKey}#"/>\n'),
    ("appSettings name", "web.config", '<add key="ApiKey" value="ApiKey"/>\n'),
    ("yaml reference", "deploy/values.yaml", "DB_PASSWORD: ${DB_PASSWORD}\n"),
    ("make reference", "Makefile", "TOKEN := $(shell cat .token)\n"),
    ("make variable", "Makefile", "API_TOKEN ?= $(CI_TOKEN)\n"),
    ("sops yaml", "secrets.enc.yaml", "db_password: " + SOPS + "\n"),
    ("sops json", "secrets.enc.json", '{"api_token": "' + SOPS + '"}\n'),
    ("sops dotenv", ".env", "API_TOKEN=" + SOPS + "\n"),
    ("backticks", "deploy.sh", "API_TOKEN=`cat /run/secrets/api_token`\n"),
    ("backticks one word", "deploy.sh", "PASSWORD=`pwgen`\n"),
    ("command substitution", "deploy.sh", 'DB_PASSWORD="$(vault read -field=pw db)"\n'),
    ("counting run", "app/settings.py", 'API_KEY = "1234567890abcdef1234567890abcdef"\n'),
    ("one character", "app/settings.py", 'SECRET_KEY = "aaaaaaaaaaaaaaaaaaaa"\n'),
    ("keyboard rows", "config/app.yaml", "  smtp_password: qwertyuiopasdfghjkl\n"),
    ("keyboard rows reversed", "app.ini", "service_api_key = poiuytrewqlkjhgfdsa\n"),
    ("keyboard bottom row", "deploy.sh", 'export API_TOKEN="zxcvbnmmnbvcxz"\n'),
    ("shifted keyboard row", "App.java", 'static final String API_TOKEN = "!@#$%^&*()_+";\n'),
    ("keyboard columns", "config.ts", 'export const smtpPassword = "1qaz2wsx3edc4rfv";\n'),
    (
        "keyboard rows in an element",
        "config/app.xml",
        "  <apiToken>qwertyuiopasdfghjkl</apiToken>\n",
    ),
    (
        "keyboard row on the next line",
        "conf/app.xml",
        "<password>\n  asdfghjklqwertyuiop\n</password>\n",
    ),
    ("x filler", ".env", "API_TOKEN=xxxxxxxxxxxxxxxxxxxx\n"),
    ("prose", "README.txt", 'Enter the password "here" when asked\n'),
    ("log redacted", "logs/app.log", "[DEBUG] Using API_KEY=<redacted>\n"),
    ("comparison of names", "app/auth.py", "if password == confirm_password:\n"),
    ("json dotenv reference", "fixtures/files.json", '{"config.ini": "FOO_TOKEN=${FOO}\\nX=1"}\n'),
    ("terraform reference", "infra/main.tf", "password = var.db_password\n"),
    ("hcl block name", "infra/main.tf", 'variable "db_password" {\n'),
    ("call of names", "src/Boot.java", 'props.put("password", "username");\n'),
    ("c character constant", "src/auth.c", "api_key = '" + V + "';\n"),
    ("getter call", "src/Client.java", 'String pw = cfg.getPassword("db.main");\n'),
    ("hashing call", "src/Auth.java", 'hashPassword("' + V + '");\n'),
    ("terraform unquoted", "infra/main.tf", "password = " + SYMBOLIC + "\n"),
    ("go unquoted expression", "cmd/main.go", "password := cfg.DB.Password\n"),
    ("symbols only", "conf/app.ini", "password = ,.:-\u00a8@*\u00bf?!\n"),
    ("snake case name", "cmd/main.go", 'password: "real_key",\n'),
    ("ruby backticks", "deploy.rb", "api_token = `vault read -field=token " + V + "`\n"),
    ("token prefix argument", "gen.py", 'add(prefixed("x-token", "' + V[:8] + '_"))\n'),
    ("tuple of names", "gen.py", '    ("gitlab-agent-token", "' + V[:9] + '", 20, False),\n'),
    ("list of words", "completions/mvn", '    local tokens="whitespace standard extended"\n'),
    ("a title", "app/ui.py", 'password = "Enter Password Here"\n'),
    ("android app name", "res/values/strings.xml", '<string name="app_name">' + V + "</string>\n"),
    ("key element", "conf/app.xml", '<entry key="primary_key">' + V + "</entry>\n"),
    ("yaml flow list", "docker-compose.yml", "    secrets: [db_password, api_token]\n"),
    ("call of module names", "six.py", 'MovedAttribute("HTTPPasswordMgr", "urllib2", "x"),\n'),
    ("list of words", "lexers/perl.py", "    'succeed','token','try','unit',\n"),
    (
        "pagination element",
        "api/list.xml",
        "<NextToken>" + fake("", 24, seed=131) + "</NextToken>\n",
    ),
    ("perl match", "lib/App.pm", "if ($password =~ /^" + fake("", 10, seed=132) + "/) {\n"),
]


@pytest.mark.parametrize(("name", "path", "text"), NEGATIVES, ids=[n[0] for n in NEGATIVES])
def test_look_alikes_without_a_value_are_not_reported(name: str, path: str, text: str) -> None:
    assert values(text, path) == [], name


def test_a_quoted_passphrase_of_words_is_a_note() -> None:
    phrase = "copper lantern drifts slowly"
    assert confidences(f'password = "{phrase}"\n', "conf/app.conf") == ["low"]
    assert values(f"api_key: '{phrase}'\n", "conf/app.conf") == [phrase.encode()]


def test_code_quoted_in_a_comment_is_not_a_passphrase() -> None:
    # `pass` and a quoted phrase, but the phrase is code (a one-letter word).
    assert values("for f in x:  # one pass: `f not in list` for each\n", "tool/walk.py") == []


def test_an_embedded_dotenv_value_ends_at_the_escaped_line_end() -> None:
    text = '{"files": {".env": "A=1\\nAPI_TOKEN=' + V + '\\r\\nB=2"}}\n'
    assert values(text, "fixtures/project.json") == [V.encode()]


MADE_UP_NAMES = ("nonMatchingToken", "invalidToken", "fakeSecretForTest", "wrongStart",
                 "badKey", "dummyPassword", "invalid_secret")  # fmt: skip


def _scan_json(root: Path) -> tuple[int, dict[str, Any]]:
    out = root.parent / "report.json"
    code = main(["scan", str(root), "-f", "json", "-o", str(out), "--no-baseline"])
    return code, json.loads(out.read_text())


def test_made_up_test_values_are_not_reported_but_counted(tmp_path: Path) -> None:
    """In a test file, a value under a name for wrong or fake input is never reported
    (whatever the rule), and counted with documented examples; a value under an
    ordinary name in the same file is reported as before."""
    root = tmp_path / "repo"
    tests = root / "pkg" / "tests"
    tests.mkdir(parents=True)
    # A random value where the name names a secret; else a token a provider rule finds.
    made_up = []
    for i, name in enumerate(MADE_UP_NAMES):
        value = VALID_PAT if name in ("wrongStart", "badKey") else fake("", 36, seed=150 + i)
        made_up.append(f'{name} = "{value}"')
    made_up.append(f'nonMatchingToken = "{VALID_PAT}"')
    (tests / "test_tokens.py").write_text("\n".join(made_up) + "\n")
    code, report = _scan_json(root)
    assert (code, report["findings"]) == (0, [])
    assert report["stats"]["suppressed_examples"] == len(made_up)

    ordinary = f'service_token = "{fake("", 36, seed=160)}"\ntoken = "{VALID_PAT}"\n'
    (tests / "test_tokens.py").write_text(ordinary + "\n".join(made_up) + "\n")
    code, report = _scan_json(root)
    found = sorted(
        (f["rule_id"], f["confidence"], f["location"]["line"]) for f in report["findings"]
    )
    assert code == 1
    assert found == [("github-pat", "high", 2), ("keyword-secret", "low", 1)]
    assert report["stats"]["suppressed_examples"] == len(made_up)


def test_made_up_names_outside_test_paths_are_reported() -> None:
    for name in MADE_UP_NAMES:
        assert confidences(f'{name} = "{VALID_PAT}"\n', "pkg/app/tokens.py") == ["high"], name


def test_a_random_value_holding_a_short_keyboard_run_is_still_reported() -> None:
    # Four keys in a row inside a random value: a secret, not a keyboard run.
    value = fake("", 8, seed=141) + "qwer" + fake("", 8, seed=142)
    assert values(f"smtp_password: {value}\n", "config/app.yaml") == [value.encode()]
    assert values(f"<apiToken>{value}</apiToken>\n", "config/app.xml") == [value.encode()]
    assert values(f'API_TOKEN = "{value}"\n', "app/settings.py") == [value.encode()]
