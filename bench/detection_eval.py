#!/usr/bin/env python3
"""Recall and false alarms on a labelled set generated from templates.

    python3 bench/detection_eval.py [--seed 14] [--per-template 20] [--keep DIR] [--json FILE]

Every case is one small file in a temporary tree, written the way a person
writes that kind of file, holding either one secret (a positive, with the
exact value expected) or none (a negative of a known false-alarm class):

* positives: secret-named assignments in many syntaxes (`=`/`:`, no operator,
  index, comparisons, `=>`, `:=`, `::=`, typed `val`, `let`, setenv-style calls,
  XML elements and `<add key= value=/>`, log lines, a dotenv inside a JSON
  string, values with dots and symbols), credentials typed into command lines
  (`curl -u`, `docker login -p`, `sshpass -p`, ...) in scripts, Dockerfiles,
  Makefiles, CI files and Compose files, and provider tokens: random values of
  each provider rule's own shape (sampled from the rule's pattern at run time,
  under a neutral name), and of the documented shapes in `LISTED` below;
* negatives: random base64 holding bare provider prefixes, provider-prefixed
  placeholders (`glc_xxxx...`, counting runs), counting runs under a secret
  name, SOPS-encrypted values, backtick and `$()` substitutions, `${NAME}` and
  other references, documented example values, and test-data names in test
  paths.

A positive counts as found only when a finding in its file has the sha256 of
the expected value as its fingerprint (for detect-secrets, the peer, the sha1
of the value as its `hashed_secret`); a finding in the file with any other
value is counted as "cut wrong". A negative counts as a false alarm when any
finding lands in its file. Both tools run as their command-line programs on
the same tree: `leakguard scan --no-baseline -f json` and, when installed,
`detect-secrets scan --all-files`. Nothing here is a real credential: every
value is drawn at random when the script runs (documented example values are
assembled from pieces), and the tree is deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = string.ascii_letters + string.digits + "+/"
URLSAFE = ALNUM + "-_"


@dataclass(frozen=True)
class Case:
    label: str  # class of the case
    kind: str  # kind of file
    path: str  # relative path in the tree
    text: str
    expected: str | None  # the secret value, None for a negative


# -- values -----------------------------------------------------------------------------


def _is_placeholder(value: str) -> bool:
    from leakguard.rules.values import is_placeholder, not_a_secret

    raw = value.encode()
    return bool(is_placeholder(raw) or not_a_secret(raw))


def rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def password(rng: random.Random) -> str:
    """A typed password or API secret: mixed case and digits, 14 to 22 characters."""
    while True:
        n = rng.randint(14, 22)
        value = rng.choice(string.ascii_letters) + rand(rng, ALNUM, n - 1)
        if (
            any(c.isupper() for c in value)
            and any(c.islower() for c in value)
            and any(c.isdigit() for c in value)
            and not _is_placeholder(value)
        ):
            return value


_SYMBOLS = ".!@%^*-_~+?"


def punctuated(rng: random.Random) -> str:
    """A password with dots and symbols, as people type them into config files."""
    while True:
        if rng.random() < 0.3:  # mostly symbols
            value = rng.choice(ALNUM) + rand(rng, _SYMBOLS + "0123456789", rng.randint(9, 14))
        else:
            parts = [rand(rng, ALNUM, rng.randint(3, 6)) for _ in range(rng.randint(2, 4))]
            value = "".join(p + rng.choice(_SYMBOLS) for p in parts[:-1]) + parts[-1]
        if not _is_placeholder(value):
            return value


# -- where a secret-named value goes, by kind of file -------------------------------------

# {NAME} upper snake, {name} snake, {camel} camelCase, {Camel} PascalCase, {dotted} a.b
HOSTS: dict[str, tuple[str, str]] = {
    "shell": ("deploy.sh", '#!/bin/sh\nset -e\nexport {NAME}="{v}"\n./run\n'),
    "dockerfile": ("Dockerfile", 'FROM alpine:3\nENV {NAME}={v}\nCMD ["./run"]\n'),
    "yaml": ("config/app.yaml", "app:\n  name: shop\n  {name}: {v}\n"),
    "json": ("config/app.json", '{{\n  "name": "shop",\n  "{camel}": "{v}"\n}}\n'),
    "xml": (
        "config/app.xml",
        "<config>\n  <name>shop</name>\n  <{camel}>{v}</{camel}>\n</config>\n",
    ),
    "properties": ("app.properties", "app.name=shop\n{dotted}={v}\n"),
    "ini": ("app.ini", "[main]\nname = shop\n{name} = {v}\n"),
    "toml": ("app.toml", '[main]\nname = "shop"\n{name} = "{v}"\n'),
    "hcl": ("main.tf", 'resource "x_db" "main" {{\n  name = "shop"\n  {name} = "{v}"\n}}\n'),
    "go": ("cfg.go", 'package cfg\n\nconst {Camel} = "{v}"\n'),
    "java": ("App.java", 'class App {{\n    static final String {NAME} = "{v}";\n}}\n'),
    "kotlin": ("App.kt", 'object App {{\n    const val {NAME} = "{v}"\n}}\n'),
    "csharp": ("Program.cs", 'class Program {{\n    const string {Camel} = "{v}";\n}}\n'),
    "js": ("config.js", 'module.exports = {{\n  {camel}: "{v}",\n}};\n'),
    "ts": ("config.ts", 'export const {camel} = "{v}";\n'),
    "python": ("settings.py", 'DEBUG = False\n{NAME} = "{v}"\n'),
    "ruby": ("config.rb", "{NAME} = '{v}'\n"),
    "php": ("config.php", "<?php\n${camel} = '{v}';\n"),
    "makefile": ("Makefile", "{NAME} = {v}\n\nall:\n\t./build\n"),
    "ci-github": (
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    env:\n      {NAME}: {v}\n"
        "    steps:\n      - run: make\n",
    ),
    "ci-gitlab": (".gitlab-ci.yml", "variables:\n  {NAME}: {v}\nbuild:\n  script:\n    - make\n"),
    "log": (
        "logs/app.log",
        "2024-05-01 12:00:01 INFO starting shop\n2024-05-01 12:00:02 DEBUG config {name}={v}\n",
    ),
    "compose": (
        "compose.yaml",
        "services:\n  app:\n    image: shop:1\n    environment:\n      {NAME}: {v}\n",
    ),
    "dotenv": (".env", "APP_NAME=shop\n{NAME}={v}\n"),
}

SECRET_NAMES = (
    ("db", "password"), ("api", "token"), ("client", "secret"), ("service", "api", "key"),
    ("auth", "token"), ("smtp", "password"),
)  # fmt: skip
NEUTRAL_NAME = ("primary", "setting")


def fill(template: str, words: tuple[str, ...], value: str) -> str:
    return template.format(
        NAME="_".join(words).upper(),
        name="_".join(words),
        camel=words[0] + "".join(w.title() for w in words[1:]),
        Camel="".join(w.title() for w in words),
        dotted=".".join(words),
        v=value,
    )


# -- the special syntaxes: (kind, file name, template with {v}) -----------------------------

SYNTAXES: dict[str, list[tuple[str, str, str]]] = {
    "no-operator": [
        ("hcl", "main.tf", 'provider "db" {{\n  password "{v}"\n}}\n'),
        ("conf", "app.conf", "upstream backend {{\n  password \"{v}\";\n}}\n"),
        ("ruby", "config.rb", 'Config.setup do\n  api_token "{v}"\nend\n'),
    ],
    "index": [
        ("python", "settings.py", 'cfg = {{}}\ncfg["api_token"] = "{v}"\n'),
        ("php", "config.php", '<?php\n$secret[] = "{v}";\n'),
        ("js", "config.js", 'const config = {{}};\nconfig["apiToken"] = "{v}";\n'),
        ("ruby", "config.rb", 'ENV["API_TOKEN"] = "{v}"\n'),
        ("go", "cfg.go", 'package cfg\n\nfunc init() {{\n\tsettings["db_password"] = "{v}"\n}}\n'),
    ],
    "comparison": [
        ("js", "auth.js", 'if ("{v}" == admin_password) {{\n  grant();\n}}\n'),
        ("ts", "auth.ts", 'if (password !== "{v}") {{\n  deny();\n}}\n'),
        ("python", "auth.py", 'if token == "{v}":\n    grant()\n'),
        ("php", "auth.php", "<?php\nif ($password === '{v}') {{ grant(); }}\n"),
        ("csharp", "Auth.cs", 'if (clientSecret == "{v}") {{ Grant(); }}\n'),
    ],
    "fat-arrow": [
        ("ruby", "config.rb", 'CONFIG = {{ :password => "{v}" }}\n'),
        ("php", "config.php", "<?php\nreturn ['db_password' => '{v}'];\n"),
        ("perl", "Config.pm", 'my %cfg = (api_token => "{v}");\n'),
    ],
    "walrus-make": [
        ("go", "main.go", 'package main\n\nfunc main() {{\n\ttoken := "{v}"\n\tuse(token)\n}}\n'),
        ("makefile", "Makefile", "API_TOKEN ::= {v}\n"),
        ("makefile", "Makefile", "DB_PASSWORD := {v}\n"),
    ],
    "typed-let": [
        ("kotlin", "App.kt", 'val apiKey: String = "{v}"\n'),
        ("ts", "config.ts", 'const apiToken: string = "{v}";\n'),
        ("swift", "Config.swift", 'let password: String = "{v}"\n'),
        ("js", "app.js", 'let token = "{v}";\n'),
        ("rust", "main.rs", 'fn main() {{\n    let api_secret = "{v}";\n}}\n'),
    ],
    "call": [
        ("java", "App.java", 'System.setProperty("SERVICE_TOKEN", "{v}");\n'),
        ("go", "env.go", 'package main\n\nfunc init() {{\n\tos.Setenv("X_SECRET", "{v}")\n}}\n'),
        ("c", "env.c", 'setenv("API_KEY", "{v}", 1);\n'),
        ("python", "env.py", 'os.environ.setdefault("DB_PASSWORD", "{v}")\n'),
        ("js", "env.js", 'process.env.API_TOKEN = "{v}";\n'),
    ],
    "xml": [
        ("xml", "service.xml", "<service>\n  <serviceToken>{v}</serviceToken>\n</service>\n"),
        ("xml", "service.xml", "<service>\n  <password>\n    {v}\n  </password>\n</service>\n"),
        ("xml", "web.config",
         '<configuration>\n  <appSettings>\n    <add key="ApiKey" value="{v}"/>\n'
         "  </appSettings>\n</configuration>\n"),
        ("xml", "beans.xml", '<bean>\n  <property name="db.password" value="{v}"/>\n</bean>\n'),
    ],
    "log-line": [
        ("log", "app.log", "2024-05-01 12:00:00 [DEBUG] Using API_KEY={v}\n"),
        ("log", "app.log",
         'ts=2024-05-01T12:00:00Z level=info msg="client ready" apiSecret={v} region=eu\n'),
        ("log", "worker.log", "[INFO] 12:00:00 auth token: {v}\n"),
    ],
    "json-dotenv": [
        ("json", "bundle.json", '{{"config.ini": "FOO_TOKEN={v}\\nOTHER=1"}}\n'),
        ("json", "files.json", '{{"files": {{".env": "DB_PASSWORD={v}\\nDEBUG=0\\n"}}}}\n'),
    ],
}  # fmt: skip

PUNCTUATED: list[tuple[str, str, str]] = [
    ("yaml", "config.yaml", "db:\n  DB_PASSWORD: {v}\n"),
    ("properties", "app.properties", "db.url=jdbc:h2:mem\npassword={v}\n"),
    ("ini", "app.ini", "[db]\npassword = {v}\n"),
    ("dotenv", ".env", "DB_PASSWORD={v}\n"),
    ("toml", "app.toml", '[db]\npassword = "{v}"\n'),
    ("compose", "compose.yaml",
     "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: {v}\n"),
]  # fmt: skip

# Credentials typed into command lines, and the places command lines are written.
COMMANDS = [
    "curl -fsS -u deploy:{v} https://repo.example.test/pkg.tgz",
    "curl --user deploy:{v} https://repo.example.test/pkg.tgz",
    "wget --user=deploy --password={v} https://repo.example.test/a",
    "wget --http-password {v} https://repo.example.test/a",
    "sshpass -p {v} ssh deploy@host.example.test uptime",
    "mysql -uroot -p{v} appdb",
    "PGPASSWORD={v} psql -h db.example.test -U app",
    "docker login -u deploy -p {v} registry.example.test",
    "docker login --username deploy --password {v} registry.example.test",
    "redis-cli -u redis://:{v}@cache.example.test:6379 ping",
]
COMMAND_PLACES: list[tuple[str, str, str]] = [
    ("shell", "deploy.sh", "#!/bin/sh\nset -eu\n{c}\necho done\n"),
    ("dockerfile", "Dockerfile", "FROM alpine:3\nRUN {c}\n"),
    ("makefile", "Makefile", "deploy: build\n\t@echo deploying\n\t@{c}\n"),
    ("ci-github", ".github/workflows/deploy.yml",
     "on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n"
     "      - run: |\n          echo start\n          {c}\n"),
    ("ci-gitlab", ".gitlab-ci.yml", "deploy:\n  script:\n    - echo start\n    - '{c}'\n"),
    ("compose", "compose.yaml", "services:\n  app:\n    image: alpine:3\n    command: '{c}'\n"),
]  # fmt: skip

# Documented shapes of providers whose rules are being written: name -> parts, each a
# literal or (alphabet, length).
Shape = list[str | tuple[str, int]]
LISTED: dict[str, Shape] = {
    "asana-pat": ["2/", ("0123456789", 16), "/", ("0123456789", 16), ":", (HEX, 32)],
    "discord-bot-token": ["M", (URLSAFE, 23), ".", (URLSAFE, 6), ".", (URLSAFE, 27)],
    "harness-pat": ["pat.", (URLSAFE, 22), ".", (HEX, 24), ".", (ALNUM, 20)],
    "harness-sat": ["sat.", (URLSAFE, 22), ".", (HEX, 24), ".", (ALNUM, 20)],
    "mapbox-secret": ["sk.eyJ1Ijoi", (URLSAFE, 60), ".", (URLSAFE, 22)],
    "nuget-api-key": ["oy2", (string.ascii_lowercase + string.digits, 43)],
    "perplexity": ["pplx-", (ALNUM, 48)],
    "sonar-user-token": ["squ_", (HEX, 40)],
    "sonar-project-token": ["sqp_", (HEX, 40)],
    "sourcegraph": ["sgp_", (HEX, 16), "_", (HEX, 40)],
    "gitlab-runner-token": ["glrt-", (URLSAFE, 20)],
    "gitlab-routable-pat": ["glpat-", (URLSAFE, 36), ".01.", (string.ascii_lowercase, 9)],
    "alibaba-access-key": ["LTAI", (ALNUM, 20)],
    "atlassian-api-token": ["ATATT3xFfGF0", (URLSAFE, 170), "=", (HEX.upper(), 8)],
    "github-installation": ["ghs_", (ALNUM, 36)],
    "github-refresh": ["ghr_", (ALNUM, 76)],
    "github-oauth": ["gho_", (ALNUM, 36)],
    "vault-service-token": ["hvs.", (URLSAFE, 24)],
    "vault-batch-token": ["hvb.", (URLSAFE, 138)],
    "terraform-cloud": [(ALNUM, 14), ".atlasv1.", (ALNUM, 67)],
    "maxmind-license": [(ALNUM, 6), "_", (ALNUM, 29), "_mmk"],
    "newrelic-user-key": ["NRAK-", (string.ascii_uppercase + string.digits, 27)],
    "newrelic-insert-key": ["NRII-", (URLSAFE, 32)],
    "spectralops": ["spu-", (HEX, 32)],
}


def from_shape(rng: random.Random, shape: Shape) -> str:
    return "".join(p if isinstance(p, str) else rand(rng, p[0], p[1]) for p in shape)


# -- tokens sampled from the provider rules' own patterns -----------------------------------


def _sre() -> tuple[Any, Any]:
    try:
        import re._constants as c
        import re._parser as p
    except ImportError:  # Python < 3.11
        import sre_constants as c  # type: ignore[no-redef]
        import sre_parse as p  # type: ignore[no-redef]
    return p, c


_CATEGORIES = {
    "CATEGORY_DIGIT": string.digits,
    "CATEGORY_WORD": ALNUM + "_",
    "CATEGORY_SPACE": " ",
}


def _sample(rng: random.Random, items: Any, c: Any) -> str:
    out: list[str] = []
    for op, av in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(av))
        elif name == "NOT_LITERAL":
            out.append(rng.choice([ch for ch in ALNUM if ord(ch) != av]))
        elif name == "ANY":
            out.append(rng.choice(ALNUM))
        elif name == "IN":
            out.append(_pick(rng, av))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = av
            high = low + 12 if high == c.MAXREPEAT or high > low + 12 else high
            out.extend(_sample(rng, sub, c) for _ in range(rng.randint(low, max(low, high))))
        elif name in ("SUBPATTERN",):
            out.append(_sample(rng, av[-1], c))
        elif name == "ATOMIC_GROUP":
            out.append(_sample(rng, av, c))
        elif name == "BRANCH":
            out.append(_sample(rng, rng.choice(av[1]), c))
        elif name == "CATEGORY":
            out.append(rng.choice(_CATEGORIES.get(str(av), ALNUM)))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            raise ValueError(f"cannot sample {name}")
    return "".join(out)


def _pick(rng: random.Random, items: Any) -> str:
    chars: list[str] = []
    negate = False
    for op, av in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            chars.append(chr(av))
        elif name == "RANGE":
            chars.extend(chr(k) for k in range(av[0], av[1] + 1))
        elif name == "CATEGORY":
            chars.extend(_CATEGORIES.get(str(av), ALNUM))
    if negate:
        chars = [ch for ch in ALNUM if ch not in chars]
    return rng.choice([ch for ch in chars if ch.isprintable() and ord(ch) < 128] or ["x"])


def _secret_items(parsed: Any, group: int) -> Any:
    for op, av in parsed:
        name = str(op)
        if name == "SUBPATTERN" and av[0] == group:
            return av[-1]
        subs: list[Any] = []
        if name == "SUBPATTERN":
            subs = [av[-1]]
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            subs = [av[2]]
        elif name == "BRANCH":
            subs = list(av[1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            subs = [av[1]]
        for sub in subs:
            found = _secret_items(sub, group)
            if found is not None:
                return found
    return None


@dataclass(frozen=True)
class Sampled:
    rule_id: str
    prefix: str  # the literal the token starts with ("" if none)
    sample: Callable[[random.Random], str]


def provider_samplers() -> list[Sampled]:
    """One sampler per provider rule whose token is recognisable by shape alone:
    the value must match the rule's own pattern under a neutral name."""
    from leakguard.rules import builtin_rules

    p, c = _sre()
    out: list[Sampled] = []
    check_rng = random.Random(0)
    for rule in builtin_rules():
        if "provider" not in rule.tags or rule.multiline:
            continue
        compiled = re.compile(rule.pattern)
        group = compiled.groupindex.get("secret")
        if group is None:
            continue
        try:
            items = _secret_items(p.parse(rule.pattern), group)
        except Exception:  # noqa: BLE001 - an unusual pattern: leave the rule out
            continue
        if items is None:
            continue
        prefix = ""
        for op, av in items:
            if str(op) != "LITERAL":
                break
            prefix += chr(av)

        def sample(rng: random.Random, items: Any = items) -> str:
            return _sample(rng, items, c)

        good = 0
        for _ in range(6):
            try:
                value = sample(check_rng)
            except (ValueError, IndexError):
                break
            m = compiled.search(f'primary_setting = "{value}"\n')
            good += bool(m and m.group("secret") == value and len(value) >= 8)
        if good == 6:
            out.append(Sampled(rule.id, prefix, sample))
    return out


def _retry(rng: random.Random, sampler: Sampled) -> str:
    for _ in range(20):
        value = sampler.sample(rng)
        if not _is_placeholder(value):
            return value
    return value


# -- the cases ------------------------------------------------------------------------------


def _case(label: str, kind: str, n: int, name: str, text: str, expected: str | None) -> Case:
    return Case(label, kind, f"cases/{label}/{n:04d}/{name}", text, expected)


def positives(rng: random.Random, per_template: int, samplers: list[Sampled]) -> Iterator[Case]:
    n = 0
    kinds = list(HOSTS)
    for kind, (name, template) in HOSTS.items():
        for words in SECRET_NAMES:
            for _ in range(2):
                value = password(rng)
                n += 1
                yield _case("assignment", kind, n, name, fill(template, words, value), value)
    for label, entries in SYNTAXES.items():
        for kind, name, template in entries:
            for _ in range(per_template):
                value = password(rng)
                n += 1
                yield _case(label, kind, n, name, template.format(v=value), value)
    for kind, name, template in PUNCTUATED:
        for _ in range(per_template):
            value = punctuated(rng)
            n += 1
            yield _case("punctuated-value", kind, n, name, template.format(v=value), value)
    for command in COMMANDS:
        for kind, name, place in COMMAND_PLACES:
            for _ in range(max(2, per_template // 4)):
                value = password(rng)
                n += 1
                text = place.format(c=command.format(v=value))
                yield _case("command", kind, n, name, text, value)
    for k, sampler in enumerate(samplers):
        for j in range(3):
            kind = kinds[(3 * k + j) % len(kinds)]
            name, template = HOSTS[kind]
            value = _retry(rng, sampler)
            n += 1
            yield _case("provider-rules", kind, n, name, fill(template, NEUTRAL_NAME, value), value)
    for k, shape in enumerate(LISTED.values()):
        for j in range(8):
            kind = kinds[(5 * k + j) % len(kinds)]
            name, template = HOSTS[kind]
            value = from_shape(rng, shape)
            n += 1
            yield _case(
                "provider-listed", kind, n, name, fill(template, NEUTRAL_NAME, value), value
            )


def _b64_lines(rng: random.Random, count: int) -> list[str]:
    return [rand(rng, B64, 76) for _ in range(count)]


def _example_values() -> list[str]:
    """Values printed in vendors' documentation (assembled, so this file holds none)."""
    return [
        "AK" + "IAIOSFODNN7" + "EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCY" + "EXAMPLEKEY",
        "MWYyZDFl" + "MmU2N2Rm",  # Kubernetes docs: a Secret's base64 password
        "1f2d1e" + "2e67df",
        "sk_" + "test_" + "4eC39HqLyjWDarjtT1zdp7dc",
        _jwt_io_example(),
    ]


def _jwt_io_example() -> str:
    """jwt.io's sample token (its header, payload and signature as published)."""

    def part(claims: str) -> str:
        return base64.urlsafe_b64encode(claims.encode()).decode().rstrip("=")

    header = part('{"alg":"HS256","typ":"JWT"}')
    payload = part('{"sub":"1234567890","name":"John Doe","iat":1516239022}')
    return f"{header}.{payload}." + "SflKxwRJSMeKKF2QT4" + "fwpMeJf36POk6y" + "JV_adQssw5c"


_COUNTING = (
    "1234567890abcdef1234567890abcdef", "0123456789abcdef0123456789abcdef",
    "abcdefghijklmnopqrstuvwxyz", "12345678901234567890", "aaaaaaaaaaaaaaaaaaaa",
    "0000000000000000", "abcdef0123456789", "qwertyuiopasdfghjkl",
)  # fmt: skip

REFERENCES = [  # written as they are (no format fields)
    ("yaml", "config.yaml", "db:\n  password: ${DB_PASSWORD}\n"),
    ("dotenv", ".env", "API_TOKEN=${VAULT_API_TOKEN}\n"),
    ("compose", "compose.yaml",
     "services:\n  app:\n    image: a:1\n    environment:\n      DB_PASSWORD: ${DB_PASSWORD:?}\n"),
    ("shell", "run.sh", '#!/bin/sh\nexport API_TOKEN="$API_TOKEN_FROM_CI"\n'),
    ("ci-github", ".github/workflows/ci.yml",
     "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    env:\n"
     "      NPM_TOKEN: ${{ secrets.NPM_TOKEN }}\n    steps:\n      - run: make\n"),
    ("yaml", "templates/secret.yaml", "stringData:\n  password: {{ .Values.db.password }}\n"),
    ("js", "config.js", "const apiToken = process.env.API_TOKEN;\n"),
    ("python", "settings.py", 'DB_PASSWORD = os.environ["DB_PASSWORD"]\n'),
    ("java", "App.java", 'String token = System.getenv("API_TOKEN");\n'),
    ("python", "db.py", 'DSN = "postgres://app:%(db_password)s@db/app"\n'),
    ("makefile", "Makefile", "push:\n\tdocker login -p $(REGISTRY_PASSWORD) reg.test\n"),
    ("properties", "app.properties", "db.password=${DB_PASSWORD}\n"),
]  # fmt: skip

SUBSTITUTIONS = [
    ("shell", "run.sh", "#!/bin/sh\nPASSWORD=`cat /run/secrets/db_{w}`\nexport PASSWORD\n"),
    ("shell", "run.sh", "#!/bin/sh\nexport API_TOKEN=$(vault kv get -field={w} secret/app)\n"),
    ("dockerfile", "Dockerfile",
     "FROM alpine:3\nRUN --mount=type=secret,id=npm NPM_TOKEN=$(cat /run/secrets/npm) npm ci\n"),
    ("shell", "login.sh", "#!/bin/sh\ndocker login -u ci -p `pass show registry/{w}` reg.test\n"),
    ("shell", "fetch.sh", "#!/bin/sh\ncurl -u deploy:$(cat ~/.{w}) https://x.example.test/\n"),
    ("makefile", "Makefile", "deploy:\n\tsshpass -p `cat .{w}` ssh host\n"),
    ("ci-gitlab", ".gitlab-ci.yml",
     "deploy:\n  script:\n    - mysql -uroot -p$(cat /run/secrets/{w}) db\n"),
]  # fmt: skip


SOPS = [
    ("yaml", "secrets.enc.yaml", "db:\n  password: {e}\nsops:\n  version: 3.8.1\n"),
    ("json", "secrets.enc.json",
     '{{"api_token": "{e}", "sops": {{"version": "3.8.1"}}}}\n'),
    ("dotenv", "secrets.enc.env", "DB_PASSWORD={e}\nsops_version=3.8.1\n"),
    ("ini", "secrets.enc.ini", "[db]\npassword = {e}\n[sops]\nversion = 3.8.1\n"),
]  # fmt: skip

# Names test suites give values that must not match, in test paths.
TEST_DATA = [
    ("python", "tests/test_tokens.py",
     'nonMatchingToken = "{v}"\nassert not match(nonMatchingToken)\n'),
    ("go", "pkg/detector_test.go", 'package pkg\n\nvar wrongStart = "x{v}"\n'),
    ("js", "test/rules.test.js",
     'const invalidToken = "{v}";\nexpect(scan(invalidToken)).toEqual([]);\n'),
    ("java", "src/test/java/RuleTest.java", 'String fakeSecretForTest = "{v}";\n'),
]  # fmt: skip


def negatives(rng: random.Random, per_template: int, samplers: list[Sampled]) -> Iterator[Case]:
    n = 10_000
    prefixed = [s for s in samplers if len(s.prefix) >= 3]
    kinds = list(HOSTS)
    # Random base64 with a provider's bare prefix somewhere in a line (prefixes that
    # base64 can spell: letters and digits).
    spellable = [s for s in prefixed if s.prefix.isalnum()]
    for k, sampler in enumerate(spellable * max(1, 120 // max(1, len(spellable)))):
        lines = _b64_lines(rng, 24)
        at = rng.randrange(len(lines))
        # At the start of a line, or after a `/` or `+`: where a token could start.
        cut = 0 if k % 2 else rng.randint(5, 40)
        head = lines[at][:cut] if cut == 0 else lines[at][: cut - 1] + rng.choice("/+")
        lines[at] = head + sampler.prefix + lines[at][cut + len(sampler.prefix) :]
        body = "\n".join(lines)
        shape = k % 3
        if shape == 0:
            name, text = "layer/data.b64", body + "\n"
        elif shape == 1:
            name, text = "blob.json", json.dumps({"data": body.replace("\n", "")}) + "\n"
        else:
            name, text = "cert.txt", body + "\n"
        n += 1
        yield _case("neg-base64-prefix", "data", n, name, text, None)
    # Provider-prefixed placeholders: a run of one character, or a counting run.
    for k, sampler in enumerate(prefixed):
        length = len(sampler.sample(rng)) - len(sampler.prefix)
        for filler in ("x" * length, ("1234567890" * 30)[:length]):
            kind = kinds[(2 * k + len(filler) % 2) % len(kinds)]
            name, template = HOSTS[kind]
            n += 1
            value = sampler.prefix + filler
            text = fill(template, SECRET_NAMES[k % len(SECRET_NAMES)], value)
            yield _case("neg-prefixed-placeholder", kind, n, name, text, None)
    for k, kind in enumerate(kinds):
        name, template = HOSTS[kind]
        for j, run in enumerate(_COUNTING[:4] if k % 2 else _COUNTING[4:]):
            n += 1
            words = SECRET_NAMES[(k + j) % len(SECRET_NAMES)]
            yield _case("neg-counting-run", kind, n, name, fill(template, words, run), None)
    # SOPS-encrypted values.
    for j in range(per_template * 2):
        data = base64.b64encode(rng.randbytes(rng.randint(12, 40))).decode()
        iv = base64.b64encode(rng.randbytes(32)).decode()
        tag = base64.b64encode(rng.randbytes(16)).decode()
        enc = f"ENC[AES256_GCM,data:{data},iv:{iv},tag:{tag},type:str]"
        kind, name, template = SOPS[j % len(SOPS)]
        n += 1
        yield _case("neg-sops", kind, n, name, template.format(e=enc), None)
    # Command substitutions and references.
    for kind, name, template in SUBSTITUTIONS:
        for _ in range(per_template):
            n += 1
            word = rand(rng, string.ascii_lowercase, 8)
            yield _case("neg-substitution", kind, n, name, template.format(w=word), None)
    for command in COMMANDS[:-1]:
        for kind, name, place in COMMAND_PLACES:
            n += 1
            ref = rng.choice(["$DEPLOY_PASSWORD", "${DEPLOY_PASSWORD}", "$(cat /run/secrets/pw)"])
            yield _case("neg-substitution", kind, n, name,
                        place.format(c=command.format(v=ref)), None)  # fmt: skip
    for kind, name, template in REFERENCES:
        for _ in range(per_template // 2):
            n += 1
            yield _case("neg-reference", kind, n, name, template, None)
    # Documented example values, in secret-named assignments.
    for k, value in enumerate(_example_values()):
        for j in range(per_template):
            kind = kinds[(k * 5 + j) % len(kinds)]
            name, template = HOSTS[kind]
            n += 1
            words = SECRET_NAMES[j % len(SECRET_NAMES)]
            yield _case("neg-documented-example", kind, n, name, fill(template, words, value), None)
    # Test data in test paths.
    for j in range(per_template * 3):
        value = rand(rng, ALNUM, 36)
        kind, name, template = TEST_DATA[j % len(TEST_DATA)]
        n += 1
        yield _case("neg-test-data", kind, n, name, template.format(v=value), None)


# -- running the tools ------------------------------------------------------------------


def run_leakguard(root: Path, notes: dict[str, list[str]]) -> dict[str, list[str]]:
    """rel path -> fingerprints found there; `notes` gets "rule-id redacted" per finding."""
    cmd = [sys.executable, "-m", "leakguard", "scan", "--no-baseline", "-f", "json", str(root)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        sys.exit(f"leakguard failed ({proc.returncode}): {proc.stderr[-500:]}")
    out: dict[str, list[str]] = defaultdict(list)
    for f in json.loads(proc.stdout)["findings"]:
        rel = str(Path(f["location"]["path"]).relative_to(root))
        out[rel].append(f["fingerprint"])
        notes[rel].append(f"{f['rule_id']} {f['redacted']} ({f['confidence']})")
    return out


def detect_secrets_binary() -> str | None:
    local = Path(sys.executable).parent / "detect-secrets"
    return str(local) if local.exists() else shutil.which("detect-secrets")


def run_detect_secrets(root: Path, binary: str) -> dict[str, list[str]]:
    """rel path -> sha1 of each value detect-secrets reports there."""
    proc = subprocess.run([binary, "scan", "--all-files", "."], cwd=root, capture_output=True,
                          text=True)  # fmt: skip
    if proc.returncode != 0:
        sys.exit(f"detect-secrets failed ({proc.returncode}): {proc.stderr[-500:]}")
    out: dict[str, list[str]] = defaultdict(list)
    for path, items in json.loads(proc.stdout)["results"].items():
        out[path].extend(item["hashed_secret"] for item in items)
    return out


@dataclass
class Tally:
    positives: int = 0
    found: int = 0
    cut_wrong: int = 0
    negatives: int = 0
    alarms: int = 0

    def row(self) -> str:
        recall = f"{100 * self.found / self.positives:5.1f}%" if self.positives else "    - "
        wrong = f"{self.cut_wrong:4d}" if self.positives else "   -"
        rate = f"{100 * self.alarms / self.negatives:5.1f}%" if self.negatives else "    - "
        return f"{self.positives:5d} {recall} {wrong}  {self.negatives:5d} {rate}"


def score(
    cases: list[Case], found: dict[str, list[str]], digest: Callable[[bytes], str]
) -> dict[str, dict[str, Tally]]:
    tallies: dict[str, dict[str, Tally]] = {"class": {}, "kind": {}, "all": {}}
    for case in cases:
        hits = found.get(case.path, [])
        for axis, key in (("class", case.label), ("kind", case.kind), ("all", "overall")):
            t = tallies[axis].setdefault(key, Tally())
            if case.expected is None:
                t.negatives += 1
                t.alarms += bool(hits)
            else:
                t.positives += 1
                ok = digest(case.expected.encode()) in hits
                t.found += ok
                t.cut_wrong += bool(hits) and not ok
    return tallies


def report(name: str, tallies: dict[str, dict[str, Tally]]) -> None:
    head = f"{'':26s} {'pos':>5s} {'recall':>6s} {'cut':>4s}  {'neg':>5s} {'alarms':>6s}"
    for axis in ("class", "kind"):
        print(f"\n{name}, by {axis}:\n{head}")
        for key in sorted(tallies[axis]):
            print(f"{key:26s} {tallies[axis][key].row()}")
    print(f"{'OVERALL ' + name:26s} {tallies['all']['overall'].row()}")


def explain(
    cases: list[Case], label: str, found: dict[str, list[str]], notes: dict[str, list[str]]
) -> None:
    """Each case of the class that leakguard gets wrong: the line that holds the value
    (the longest line, for a negative) and what was reported there (redacted)."""
    print(f"\nleakguard's misses and alarms in {label}:")
    for case in cases:
        if case.label != label:
            continue
        if case.expected is not None:
            wrong = hashlib.sha256(case.expected.encode()).hexdigest() not in found.get(
                case.path, []
            )
        else:
            wrong = bool(found.get(case.path))
        if wrong:
            lines = case.text.strip().splitlines()
            if case.expected is not None:
                shown = next((x for x in lines if case.expected in x), lines[-1])
                shown = shown.replace(case.expected, case.expected[:3] + "…")
            else:
                shown = max(lines, key=len)
            print(f"  {case.path}: {shown[:90]!r} -> {notes.get(case.path) or 'nothing'}")


def _as_json(tallies: dict[str, dict[str, Tally]]) -> dict[str, Any]:
    return {axis: {k: vars(t) for k, t in rows.items()} for axis, rows in tallies.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--per-template", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="write the tree here and keep it")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--no-peer", action="store_true", help="skip detect-secrets")
    parser.add_argument(
        "--explain", action="append", default=[], metavar="CLASS",
        help="list leakguard's misses (positives) or alarms (negatives) of a class",
    )  # fmt: skip
    args = parser.parse_args()

    rng = random.Random(args.seed)
    samplers = provider_samplers()
    cases = [*positives(rng, args.per_template, samplers),
             *negatives(rng, args.per_template, samplers)]  # fmt: skip
    pos = sum(c.expected is not None for c in cases)
    kinds = len({c.kind for c in cases})
    print(f"{len(cases)} cases: {pos} positives, {len(cases) - pos} negatives, "
          f"{kinds} kinds of file, {len(samplers)} provider rules sampled")  # fmt: skip

    root = args.keep or Path(tempfile.mkdtemp(prefix="lg-eval-"))
    try:
        for case in cases:
            path = root / case.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(case.text)
            if case.kind == "shell" and case.path.endswith(".sh"):
                path.chmod(0o755)
        start = time.perf_counter()
        notes: dict[str, list[str]] = defaultdict(list)
        found = run_leakguard(root, notes)
        lg = score(cases, found, lambda b: hashlib.sha256(b).hexdigest())
        print(f"leakguard: {time.perf_counter() - start:.1f}s")
        report("leakguard", lg)
        for label in args.explain:
            explain(cases, label, found, notes)
        figures: dict[str, Any] = {"cases": len(cases), "positives": pos, "leakguard": _as_json(lg)}
        binary = None if args.no_peer else detect_secrets_binary()
        if binary is not None:
            start = time.perf_counter()
            ds = score(
                cases, run_detect_secrets(root, binary), lambda b: hashlib.sha1(b).hexdigest()
            )
            print(f"\ndetect-secrets: {time.perf_counter() - start:.1f}s")
            report("detect-secrets", ds)
            figures["detect_secrets"] = _as_json(ds)
        elif not args.no_peer:
            print("\ndetect-secrets is not installed: no peer figures")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
