#!/usr/bin/env python3
"""Build the benchmark corpus: a few hundred megabytes of source and config text
with fake credentials planted at recorded places.

    python3 bench/make_corpus.py [--out bench/out] [--size-mb 220] [--secrets 300] [--seed 7]

Filler comes from two places:

* text files already installed on this machine (C headers from /usr/include,
  the Python standard library and dist-packages, Perl modules, JavaScript from
  node modules, Markdown/reStructuredText/plain-text documentation, shell
  scripts), picked in a seeded order from a sorted list, so the same machine
  always gives the same corpus. Real files are what makes the false-positive
  count mean something: they hold hashes, base64 blobs, test vectors and
  password-named variables, just like a real repository.
* generated configuration (YAML for Kubernetes, Compose and CI, .env, INI,
  TOML, Java properties, package-lock.json) and deploy scripts, which the
  machine has too little of. They reference secrets the way clean projects do
  (`${DB_PASSWORD}`, `{{ vault_db_password }}`, `secrets.NPM_TOKEN`).

If a pool of installed files is smaller than its share, its files are used
again under another folder, so the corpus always reaches its size.

Then `--secrets` fake credentials of the types leakguard has rules for are
inserted into small files (a dozen of them Latin-1 encoded), each a
random value of the right format built now (GitHub tokens with a valid
checksum, AWS key pairs, Stripe and Slack tokens, private keys, JWTs, URLs
with passwords, passwords assigned in .py/.h/.pm files, ...).

Written to OUT:
  corpus/        the tree to scan
  slice/         hard links to about 30 MB of it, holding every planted file
  planted.json   for each fake: path, line, expected rule, sha256 of the value
                 (never the value), plus the corpus' size and file count
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import shutil
import stat
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leakguard.rules.checks import crc32_base62

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
MB = 1024 * 1024

# kind -> (roots to take files from, file-name suffixes, share of the corpus)
POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...], float]] = {
    "c": (("/usr/include",), (".h", ".hpp", ".c"), 0.30),
    "python": (
        (
            "/usr/lib/python3/dist-packages",
            "/usr/lib/python3.11",
            *sorted(str(p) for p in Path("/root/.pyenv/versions").glob("3.1[023]*/lib/python3.*")),
        ),
        (".py",),
        0.22,
    ),
    "perl": (
        (
            "/usr/share/perl",
            "/usr/share/perl5",
            "/usr/lib/x86_64-linux-gnu/perl",
            "/usr/lib/x86_64-linux-gnu/perl5",
            "/usr/lib/x86_64-linux-gnu/perl-base",
        ),
        (".pm", ".pl", ".t"),
        0.10,
    ),
    "js": (
        ("/usr/lib/node_modules", "/usr/share/javascript", "/usr/share/nodejs"),
        (".js", ".mjs", ".cjs", ".ts"),
        0.05,
    ),
    "docs": (
        (
            "/usr/share/doc",
            "/usr/lib/node_modules",
            "/usr/lib/python3/dist-packages",
            "/usr/share",
            "/usr/lib/python3.11",
        ),
        (".md", ".rst", ".txt", ".markdown"),
        0.10,
    ),
    "etc": (
        ("/etc", "/usr/share/bash-completion"),
        (".conf", ".cnf", ".ini", ".yaml", ".yml", ".toml", ".json", ".sh", ".bash", ""),
        0.03,
    ),
}
PLANT_MAX_FILE = 64 * 1024
LATIN1_FILES = 12
SLICE_BYTES = 30 * MB


# -- fake credentials -------------------------------------------------------------


def _rand(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _github(rng: random.Random, prefix: str) -> str:
    body = _rand(rng, 30)
    return prefix + body + crc32_base62(body.encode()).decode()


def _password(rng: random.Random) -> str:
    # Mixed classes, no quote, backslash, '@', ':', '/', '#' or blank (URL- and shell-safe).
    symbols = "!%^*-_+=.~"
    n = rng.randint(12, 20)
    chars = [
        rng.choice(string.ascii_lowercase),
        rng.choice(string.ascii_uppercase),
        rng.choice(string.digits),
        rng.choice(symbols),
    ]
    chars += [rng.choice(ALNUM + symbols) for _ in range(n - 4)]
    rng.shuffle(chars)
    return "".join(chars)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(rng: random.Random) -> str:
    header = _b64url(json.dumps({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    claims = {
        "sub": str(rng.randint(10**6, 10**9)),
        "name": rng.choice(NAMES),
        "iat": rng.randint(1_600_000_000, 1_800_000_000),
        "scope": rng.choice(["read", "admin", "ci"]),
    }
    return f"{header}.{_b64url(json.dumps(claims).encode())}.{_rand(rng, 43, URLSAFE)}"


def _private_key(rng: random.Random) -> list[str]:
    """A real EC or Ed25519 key in PEM, derived from `rng` (so the corpus stays
    reproducible); random base64 under a PEM header if `cryptography` is missing."""
    try:
        from cryptography.hazmat.primitives import serialization as ser
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    except ImportError:
        body = base64.b64encode(rng.randbytes(rng.choice([121, 138, 185]))).decode()
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return ["-----BEGIN EC PRIVATE KEY-----", *lines, "-----END EC PRIVATE KEY-----"]
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    form = ser.PrivateFormat.PKCS8
    if rng.random() < 0.3:
        key = ed25519.Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
    else:
        curve = rng.choice([ec.SECP256R1(), ec.SECP384R1()])
        key = ec.derive_private_key(rng.randrange(1, 2**255), curve)
        form = rng.choice([ser.PrivateFormat.PKCS8, ser.PrivateFormat.TraditionalOpenSSL])
    pem = key.private_bytes(ser.Encoding.PEM, form, ser.NoEncryption()).decode()
    return pem.strip().splitlines()


@dataclass(frozen=True)
class Kind:
    """A secret type: the rule that should report it, a variable name, a value maker."""

    rule: str
    names: tuple[str, ...]
    make: Callable[[random.Random], str]
    weight: int


KINDS: list[Kind] = [
    Kind(
        "github-pat", ("GITHUB_TOKEN", "gh_token", "GH_PAT"), lambda r: _github(r, "gh" + "p_"), 30
    ),
    Kind("github-oauth", ("GITHUB_OAUTH_TOKEN",), lambda r: _github(r, "gh" + "o_"), 4),
    Kind(
        "github-fine-grained-pat",
        ("GITHUB_PAT",),
        lambda r: "github_" + "pat_" + _rand(r, 22) + "_" + _rand(r, 59),
        6,
    ),
    Kind(
        "gitlab-pat",
        ("GITLAB_TOKEN", "CI_API_TOKEN"),
        lambda r: "gl" + "pat-" + _rand(r, 20, URLSAFE),
        10,
    ),
    Kind(
        "aws-access-key-id",
        ("AWS_ACCESS_KEY_ID",),
        lambda r: "AK" + "IA" + _rand(r, 16, string.ascii_uppercase + "234567"),
        12,
    ),
    Kind(
        "stripe-secret-key",
        ("STRIPE_SECRET_KEY", "stripe_api_key"),
        lambda r: "sk_" + "live_" + _rand(r, r.choice([24, 99])),
        16,
    ),
    Kind(
        "slack-bot-token",
        ("SLACK_BOT_TOKEN",),
        lambda r: (
            "xo" + f"xb-{r.randint(10**10, 10**13)}-{r.randint(10**11, 10**12)}-" + _rand(r, 24)
        ),
        12,
    ),
    Kind(
        "slack-webhook-url",
        ("SLACK_WEBHOOK_URL", "alert_webhook"),
        lambda r: (
            "https://hooks.slack"
            + f".com/services/T{_rand(r, 9, string.ascii_uppercase + string.digits)}"
            f"/B{_rand(r, 9, string.ascii_uppercase + string.digits)}/{_rand(r, 24)}"
        ),
        8,
    ),
    Kind(
        "google-api-key",
        ("GOOGLE_MAPS_API_KEY", "firebase_api_key"),
        lambda r: "AI" + "za" + _rand(r, 35, URLSAFE),
        10,
    ),
    Kind(
        "sendgrid-api-key",
        ("SENDGRID_API_KEY",),
        lambda r: "SG." + _rand(r, 22, URLSAFE) + "." + _rand(r, 43, URLSAFE),
        8,
    ),
    Kind("npm-access-token", ("NPM_TOKEN",), lambda r: _github(r, "np" + "m_"), 10),
    Kind(
        "dockerhub-pat", ("DOCKERHUB_TOKEN",), lambda r: "dckr" + "_pat_" + _rand(r, 27, URLSAFE), 6
    ),
    Kind(
        "digitalocean-pat", ("DIGITALOCEAN_TOKEN",), lambda r: "dop" + "_v1_" + _rand(r, 64, HEX), 5
    ),
    Kind(
        "huggingface-token",
        ("HF_TOKEN",),
        lambda r: "h" + "f_" + _rand(r, 34, string.ascii_letters),
        6,
    ),
    Kind(
        "openai-api-key",
        ("OPENAI_API_KEY",),
        lambda r: "sk-proj-" + _rand(r, 40, URLSAFE) + "T3Blbk" + "FJ" + _rand(r, 40, URLSAFE),
        6,
    ),
    Kind(
        "anthropic-api-key",
        ("ANTHROPIC_API_KEY",),
        lambda r: "sk-ant-" + "api03-" + _rand(r, 93, URLSAFE) + "AA",
        4,
    ),
    Kind(
        "pypi-upload-token",
        ("PYPI_TOKEN", "TWINE_PASSWORD"),
        lambda r: "pypi-" + "AgEIcHlwaS5vcmc" + _rand(r, 150, URLSAFE),
        4,
    ),
    Kind("vault-service-token", ("VAULT_TOKEN",), lambda r: "hv" + "s." + _rand(r, 24, URLSAFE), 5),
    Kind(
        "mailchimp-api-key",
        ("MAILCHIMP_API_KEY",),
        lambda r: _rand(r, 32, HEX) + "-us" + str(r.randint(1, 21)),
        4,
    ),
    Kind("twilio-api-key", ("TWILIO_API_KEY",), lambda r: "S" + "K" + _rand(r, 32, HEX), 4),
    Kind(
        "telegram-bot-token",
        ("TELEGRAM_BOT_TOKEN",),
        lambda r: f"{r.randint(10**8, 10**9)}:" + "AA" + _rand(r, 33, URLSAFE),
        4,
    ),
    Kind("jwt", ("AUTH_TOKEN", "session_jwt", "ServiceJwt"), _jwt, 12),
    Kind("url-credentials", ("DATABASE_URL", "broker_url", "REDIS_URL"), lambda r: "", 20),
    Kind(
        "keyword-secret",
        (
            "DB_PASSWORD",
            "db_password",
            "smtp_password",
            "ADMIN_PASS",
            "api_secret",
            "SECRET_KEY",
            "ldap_bind_password",
        ),
        _password,
        40,
    ),
    Kind("private-key", ("PRIVATE_KEY", "ssh_key"), lambda r: "", 12),
]
KIND_BY_RULE = {k.rule: k for k in KINDS}
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]


@dataclass
class Plant:
    path: str
    line: int  # 1-based, in the final file
    rule: str
    sha256: str
    file_kind: str
    encoding: str = "utf-8"


@dataclass
class Block:
    """Lines to insert, and (offset in block, rule, secret) of each fake in them."""

    lines: list[str]
    secrets: list[tuple[int, str, str]] = field(default_factory=list)


def _assign(lang: str, name: str, value: str) -> str:
    """`name = value` the way `lang` writes it."""
    lower = name.lower()
    if lang == "python":
        return f'{name} = "{value}"'
    if lang == "c":
        return f'#define {name.upper()} "{value}"'
    if lang == "perl":
        return f"my ${lower} = '{value}';"
    if lang == "js":
        camel = lower.split("_")[0] + "".join(w.title() for w in lower.split("_")[1:])
        return f'const {camel} = "{value}";'
    if lang in ("env",):
        return f"{name.upper()}={value}"
    if lang == "ini":
        return f"{lower} = {value}"
    if lang == "yaml":
        return f"{lower}: {value}"
    if lang in ("sh", "docs"):
        return f'export {name.upper()}="{value}"'
    raise ValueError(lang)


def make_block(rng: random.Random, lang: str, kind: Kind) -> Block:
    name = rng.choice(kind.names)
    if kind.rule == "aws-access-key-id":
        key_id = kind.make(rng)
        secret = _rand(rng, 40, B64)
        lines = [
            _assign(lang, "AWS_ACCESS_KEY_ID", key_id),
            _assign(lang, "AWS_SECRET_ACCESS_KEY", secret),
        ]
        block = Block(
            lines, [(0, "aws-access-key-id", key_id), (1, "aws-secret-access-key", secret)]
        )
    elif kind.rule == "url-credentials":
        password = _password(rng)
        scheme, host = rng.choice(
            [
                ("postgresql", "db.internal:5432/app"),
                ("mysql", "mysql-primary:3306/shop"),
                ("amqp", "rabbitmq:5672/%2f"),
                ("redis", "cache:6379/0"),
                ("https", "artifacts.corp.example.net/repository/pypi"),
            ]
        )
        url = f"{scheme}://{rng.choice(NAMES)}_svc:{password}@{host}"
        block = Block([_assign(lang, name, url)], [(0, kind.rule, password)])
    elif kind.rule == "private-key":
        pem = _private_key(rng)
        if lang == "python":
            lines = [f'{name.upper()} = """{pem[0]}', *pem[1:], '"""']
        elif lang == "c":
            lines = [f"static const char {name.lower()}[] =", *(f'    "{p}\\n"' for p in pem), ";"]
        elif lang == "perl":
            lines = [f"my ${name.lower()} = <<'END_KEY';", *pem, "END_KEY"]
        elif lang == "js":
            lines = [f"const {name.lower()} = `{pem[0]}", *pem[1:-1], f"{pem[-1]}`;"]
        elif lang == "yaml":
            lines = [f"{name.lower()}: |", *(f"  {p}" for p in pem)]
        elif lang in ("sh", "env"):
            lines = [f"cat > ~/.ssh/id_{rng.choice(['rsa', 'deploy'])} <<'EOF'", *pem, "EOF"]
        else:  # ini, docs
            lines = (
                ["```", *pem, "```"]
                if lang == "docs"
                else [f"{name.lower()} = {pem[0]}", *(f"  {p}" for p in pem[1:])]
            )
        # Reported at the BEGIN line; the value is the key as it stands in the file.
        first = next(i for i, text in enumerate(lines) if "-----BEGIN" in text)
        value = "\n".join(lines[first:])
        block = Block(lines, [(first, kind.rule, value)])
    else:
        value = kind.make(rng)
        if kind.rule == "jwt" and lang in ("python", "docs", "sh") and rng.random() < 0.5:
            header = f"Authorization: Bearer {value}"
            line = (
                f'HEADERS = {{"Authorization": "Bearer {value}"}}'
                if lang == "python"
                else f"curl -H '{header}' https://api.internal/v1/me"
            )
        elif kind.rule == "npm-access-token" and lang in ("env", "ini", "sh", "docs"):
            line = f"//registry.npmjs.org/:_authToken={value}"
            line = f"echo '{line}' > ~/.npmrc" if lang in ("sh", "docs") else line
        elif kind.rule == "keyword-secret" and lang == "perl" and rng.random() < 0.5:
            line = f"    password => '{value}',"
        else:
            line = _assign(lang, name, value)
        block = Block([line], [(0, kind.rule, value)])
    if lang == "docs":
        fence = "```sh" if block.lines[0] != "```" else None
        if fence:
            block = Block(
                [fence, *block.lines, "```"], [(o + 1, r, s) for o, r, s in block.secrets]
            )
    return block


LANG_OF_EXT = {
    ".h": "c",
    ".hpp": "c",
    ".c": "c",
    ".py": "python",
    ".pm": "perl",
    ".pl": "perl",
    ".t": "perl",
    ".js": "js",
    ".mjs": "js",
    ".cjs": "js",
    ".ts": "js",
    ".md": "docs",
    ".rst": "docs",
    ".txt": "docs",
    ".markdown": "docs",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".ini": "ini",
    ".cfg": "ini",
    ".conf": "ini",
    ".properties": "ini",
    ".toml": "ini",
    ".sh": "sh",
    ".bash": "sh",
    ".env": "env",
}


def lang_of(path: str) -> str | None:
    name = os.path.basename(path)
    if name.startswith(".env"):
        return "env"
    return LANG_OF_EXT.get(os.path.splitext(name)[1])


# -- generated configuration ---------------------------------------------------------

SERVICES = [
    "billing",
    "checkout",
    "inventory",
    "search",
    "notifier",
    "gateway",
    "auth",
    "reports",
    "ledger",
    "catalog",
    "media",
    "scheduler",
    "ingest",
    "profile",
]
PACKAGES = [
    "express",
    "lodash",
    "react",
    "axios",
    "webpack",
    "babel-core",
    "typescript",
    "jest",
    "eslint",
    "moment",
    "uuid",
    "debug",
    "chalk",
    "commander",
    "yargs",
    "dotenv",
    "pg",
    "redis",
    "mongoose",
    "ws",
    "semver",
    "glob",
    "rimraf",
    "minimist",
]


def _k8s(rng: random.Random, svc: str) -> str:
    out = []
    for n in range(rng.randint(2, 6)):
        env = "\n".join(
            f"            - name: {var}\n              valueFrom:\n                secretKeyRef:\n"
            f"                  name: {svc}-secrets\n                  key: {var.lower()}"
            for var in rng.sample(
                [
                    "DB_PASSWORD",
                    "API_TOKEN",
                    "JWT_SECRET",
                    "SMTP_PASSWORD",
                    "STRIPE_KEY",
                    "REDIS_PASSWORD",
                ],
                2,
            )
        )
        out.append(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {svc}-{n}
  labels:
    app.kubernetes.io/name: {svc}
    app.kubernetes.io/version: "{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
spec:
  replicas: {rng.randint(1, 6)}
  selector:
    matchLabels:
      app: {svc}
  template:
    metadata:
      annotations:
        checksum/config: {_rand(rng, 64, HEX)}
      labels:
        app: {svc}
    spec:
      serviceAccountName: {svc}
      containers:
        - name: {svc}
          image: registry.internal/{svc}@sha256:{_rand(rng, 64, HEX)}
          ports:
            - containerPort: {rng.choice([8080, 8000, 3000, 9090])}
          env:
            - name: LOG_LEVEL
              value: {rng.choice(["info", "debug", "warn"])}
            - name: DB_HOST
              value: postgres.{svc}.svc.cluster.local
{env}
          resources:
            limits:
              cpu: "{rng.choice(["250m", "500m", "1"])}"
              memory: {rng.choice(["256Mi", "512Mi", "1Gi"])}
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
""")
    return "---\n".join(out)


def _compose(rng: random.Random, svc: str) -> str:
    parts = ["services:"]
    parts.extend(
        f"""  {name}:
    image: ghcr.io/acme/{name}:{rng.randint(1, 5)}.{rng.randint(0, 20)}
    restart: unless-stopped
    environment:
      DATABASE_URL: postgres://{name}:${{POSTGRES_PASSWORD}}@db:5432/{name}
      REDIS_URL: redis://cache:6379/{rng.randint(0, 15)}
      SECRET_KEY: ${{{name.upper()}_SECRET_KEY:?set it in .env}}
      LOG_FORMAT: json
    depends_on: [db, cache]
    secrets:
      - {name}_api_token"""
        for name in rng.sample(SERVICES, 4)
    )
    parts.append("""  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
secrets:
  db_password:
    file: ./secrets/db_password.txt""")
    return "\n".join(parts) + "\n"


def _workflow(rng: random.Random, svc: str) -> str:
    steps = "\n".join(
        f"""      - name: {step}
        run: {cmd}
        env:
          NODE_AUTH_TOKEN: ${{{{ secrets.NPM_TOKEN }}}}
          AWS_SECRET_ACCESS_KEY: ${{{{ secrets.AWS_SECRET_ACCESS_KEY }}}}"""
        for step, cmd in rng.sample(
            [
                ("Test", "npm test"),
                ("Lint", "npm run lint"),
                ("Build", "make build"),
                ("Publish", "npm publish"),
                ("Deploy", f"./scripts/deploy.sh {svc}"),
            ],
            3,
        )
    )
    perm = "\n      id-token: write" if rng.random() < 0.3 else ""
    return f"""name: ci
on:
  push:
    branches: [main]
  pull_request:
jobs:
  build:
    runs-on: ubuntu-latest
    permissions:
      contents: read{perm}
    steps:
      - uses: actions/checkout@{_rand(rng, 40, HEX)}
      - uses: actions/setup-node@v4
        with:
          node-version: {rng.choice([18, 20, 22])}
          registry-url: https://registry.npmjs.org
{steps}
"""


def _ansible(rng: random.Random, svc: str) -> str:
    lines = [f"# group_vars for {svc}", f"{svc}_port: {rng.randint(2000, 9000)}"]
    lines.extend(
        f'{svc}_{var}: "{{{{ vault_{svc}_{var} }}}}"'
        for var in ["db_password", "api_token", "smtp_password", "admin_secret"]
    )
    lines += [f"{svc}_users:"] + [
        f"  - name: {n}\n    shell: /bin/bash\n    groups: [wheel]" for n in rng.sample(NAMES, 3)
    ]
    lines.append(f"{svc}_password_min_length: {rng.randint(8, 16)}")
    lines.append(f"{svc}_token_ttl: {rng.randint(60, 3600)}")
    return "\n".join(lines) + "\n"


def _dotenv(rng: random.Random, svc: str) -> str:
    lines = [
        f"# {svc} local settings",
        f"APP_NAME={svc}",
        f"PORT={rng.randint(3000, 9000)}",
        f"LOG_LEVEL={rng.choice(['info', 'debug'])}",
        "DB_HOST=localhost",
        "DB_PORT=5432",
        f"DB_USER={svc}",
        "DB_PASSWORD=changeme",
        "REDIS_PASSWORD=",
        "SESSION_SECRET=${SESSION_SECRET}",
        "SMTP_PASSWORD=<your smtp password>",
        f"FEATURE_FLAGS={','.join(rng.sample(['beta', 'search', 'export', 'sso'], 2))}",
        f"SENTRY_ENVIRONMENT={rng.choice(['dev', 'staging'])}",
        "TZ=UTC",
    ]
    return "\n".join(lines) + "\n"


def _ini(rng: random.Random, svc: str) -> str:
    out = []
    for section in rng.sample(
        [
            "server",
            "database",
            "cache",
            "logging",
            "mail",
            "auth",
            "uwsgi",
            "supervisord",
            "mysqld",
            "client",
        ],
        5,
    ):
        out.append(f"[{section}]")
        for key, val in rng.sample(
            [
                ("host", "127.0.0.1"),
                ("port", str(rng.randint(1000, 9999))),
                ("timeout", "30"),
                ("user", svc),
                ("password_file", f"/etc/{svc}/db.pass"),
                ("max_connections", "100"),
                ("ssl_cert", f"/etc/ssl/{svc}.crt"),
                ("level", "INFO"),
                ("pid_file", f"/run/{svc}.pid"),
                ("password", "%(ENV_DB_PASSWORD)s"),
                ("token_expiry", "3600"),
                ("workers", "4"),
                ("socket", f"/run/{svc}.sock"),
                ("charset", "utf8mb4"),
                ("secret", "${APP_SECRET}"),
            ],
            6,
        ):
            out.append(f"{key} = {val}")
        out.append("")
    return "\n".join(out)


def _properties(rng: random.Random, svc: str) -> str:
    return (
        "\n".join(
            [
                f"spring.application.name={svc}",
                f"server.port={rng.randint(8000, 9000)}",
                f"spring.datasource.url=jdbc:postgresql://db:5432/{svc}",
                f"spring.datasource.username={svc}",
                "spring.datasource.password=${DB_PASSWORD}",
                "spring.jpa.hibernate.ddl-auto=validate",
                "management.endpoints.web.exposure.include=health",
                "app.jwt.secret=${JWT_SECRET}",
                f"app.jwt.expiration={rng.randint(600, 86400)}",
                "logging.level.root=INFO",
                f"app.cache.ttl={rng.randint(10, 600)}",
            ]
        )
        + "\n"
    )


def _toml(rng: random.Random, svc: str) -> str:
    deps = "\n".join(
        f'    "{p}>={rng.randint(0, 5)}.{rng.randint(0, 20)}",'
        for p in rng.sample(
            [
                "requests",
                "click",
                "pydantic",
                "sqlalchemy",
                "fastapi",
                "uvicorn",
                "httpx",
                "rich",
                "boto3",
            ],
            5,
        )
    )
    return f"""[project]
name = "{svc}"
version = "{rng.randint(0, 3)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
requires-python = ">=3.10"
dependencies = [
{deps}
]

[tool.ruff]
line-length = {rng.choice([88, 100, 120])}

[tool.{svc}.auth]
token_env = "{svc.upper()}_TOKEN"
password_min_length = 12
"""


def _package_lock(rng: random.Random, svc: str) -> str:
    packages = {}
    for name in rng.sample(PACKAGES, rng.randint(8, 20)):
        version = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
        packages[f"node_modules/{name}"] = {
            "version": version,
            "resolved": f"https://registry.npmjs.org/{name}/-/{name}-{version}.tgz",
            "integrity": "sha512-" + base64.b64encode(rng.randbytes(64)).decode(),
            "license": rng.choice(["MIT", "ISC", "Apache-2.0"]),
        }
    return json.dumps({"name": svc, "lockfileVersion": 3, "packages": packages}, indent=2) + "\n"


def _deploy(rng: random.Random, svc: str) -> str:
    var = rng.choice(["DB_PASSWORD", "DEPLOY_TOKEN", "REGISTRY_PASSWORD", "KUBECONFIG"])
    guard = rng.choice(
        [
            f': "${{{var}:?{var} must be set}}"',
            f'[ -n "${{{var}:-}}" ] || exit 1',
            f'test -n "${var}"',
            "",
        ]
    )
    return f"""#!/usr/bin/env bash
# Build and roll out {svc}.
set -euo pipefail

REGISTRY="${{REGISTRY:-registry.internal}}"
TAG="$(git rev-parse --short HEAD)"
{guard}

log() {{ printf '%s %s\\n' "$(date -u +%FT%TZ)" "$*" >&2; }}

log "building $REGISTRY/{svc}:$TAG"
docker build --secret id=npm_token,env=NPM_TOKEN -t "$REGISTRY/{svc}:$TAG" .
docker push "$REGISTRY/{svc}:$TAG"

export PGPASSWORD="$(vault kv get -field=password secret/{svc}/db)"
psql -h db.internal -U {svc} -c 'select 1' >/dev/null

kubectl -n {svc} set image deployment/{svc} {svc}="$REGISTRY/{svc}:$TAG"
kubectl -n {svc} rollout status deployment/{svc} --timeout={rng.randint(60, 600)}s
curl -fsS -H "Authorization: Bearer $DEPLOY_TOKEN" https://deploy.internal/api/v1/notify \\
     -d '{{"service": "{svc}", "tag": "'"$TAG"'"}}'
for i in $(seq 1 {rng.randint(3, 10)}); do
  curl -fsS "http://{svc}.internal/healthz" && break
  sleep {rng.randint(1, 5)}
done
log "done"
"""


# (path pattern, maker, weight): roughly how often each appears in a services monorepo
GENERATORS: list[tuple[str, Callable[[random.Random, str], str], int]] = [
    ("deploy/k8s/{svc}-{n}.yaml", _k8s, 4),
    ("compose/{svc}-{n}/docker-compose.yml", _compose, 1),
    ("ci/{svc}-{n}/.github/workflows/ci.yml", _workflow, 1),
    ("ansible/group_vars/{svc}-{n}.yml", _ansible, 2),
    ("services/{svc}-{n}/.env", _dotenv, 1),
    ("services/{svc}-{n}/config/{svc}.ini", _ini, 2),
    ("services/{svc}-{n}/src/main/resources/application.properties", _properties, 2),
    ("services/{svc}-{n}/pyproject.toml", _toml, 2),
    ("services/{svc}-{n}/package-lock.json", _package_lock, 3),
    ("services/{svc}-{n}/scripts/deploy.sh", _deploy, 2),
]

LATIN1_TEMPLATES = [
    (
        "legacy/es/configuracion_{n}.ini",
        "ini",
        "; Configuración del servidor - no tocar sin autorización\n"
        "[conexión]\nservidor = 10.0.0.{n}\n"
        "usuario = administración\n; contraseña en la bóveda\n",
    ),
    (
        "legacy/fr/parametres_{n}.py",
        "python",
        "# -*- coding: latin-1 -*-\n# Paramètres généraux de l'équipe sécurité\nDÉLAI = 30\n"
        "MESSAGE = 'Accès refusé à l'utilisateur'\n",
    ),
    (
        "legacy/de/Einstellungen_{n}.pm",
        "perl",
        "package Einstellungen;\n# Größe der Warteschlange für Übertragungen\nmy $grösse = 42;\n"
        "# Schlüssel für den Zugang (später ändern)\n1;\n",
    ),
]


# -- assembling the corpus -------------------------------------------------------------


def pool_files(roots: tuple[str, ...], suffixes: tuple[str, ...]) -> list[tuple[str, int]]:
    seen: set[str] = set()
    out = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                ext = os.path.splitext(name)[1].lower()
                if ext not in suffixes or (ext == "" and "bash-completion" not in folder):
                    continue
                path = os.path.join(folder, name)
                real = os.path.realpath(path)
                if real in seen:
                    continue
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                # World-readable only: a file kept from other users (a daemon's key,
                # /etc/shadow) has no place in a corpus.
                readable = st.st_mode & stat.S_IROTH
                if stat.S_ISREG(st.st_mode) and readable and 200 <= st.st_size <= 400_000:
                    seen.add(real)
                    out.append((path, st.st_size))
    return out


def _is_text(data: bytes) -> bool:
    return b"\0" not in data[:8192]


def build(out: Path, size_mb: int, n_secrets: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    corpus = out / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    if (out / "slice").exists():
        shutil.rmtree(out / "slice")
    corpus.mkdir(parents=True)
    target = size_mb * MB
    files: dict[str, str] = {}  # corpus-relative path -> kind
    total = 0
    pool_digest = hashlib.sha256()

    def write(rel: str, data: bytes, kind: str) -> None:
        nonlocal total
        dest = corpus / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        files[rel] = kind
        total += len(data)

    for kind, (roots, suffixes, share) in POOLS.items():
        available = pool_files(roots, suffixes)
        pool_digest.update(repr((kind, available)).encode())
        rng.shuffle(available)
        quota, used, round_no = share * target, 0, 0
        while used < quota and available:
            for path, _size in available:
                if used >= quota:
                    break
                try:
                    data = Path(path).read_bytes()
                except OSError:
                    continue
                if not _is_text(data):
                    continue
                prefix = f"{kind}/copy{round_no}/" if round_no else f"{kind}/"
                write(prefix + path.lstrip("/"), data, kind)
                used += len(data)
            round_no += 1

    n = 0
    weights = [w for _, _, w in GENERATORS]
    while total < target:
        pattern, make, _ = rng.choices(GENERATORS, weights)[0]
        svc = rng.choice(SERVICES)
        write("generated/" + pattern.format(svc=svc, n=n), make(rng, svc).encode(), "generated")
        n += 1
    for i in range(LATIN1_FILES):
        pattern, _lang, text = LATIN1_TEMPLATES[i % len(LATIN1_TEMPLATES)]
        filler = "".join(text for _ in range(rng.randint(3, 12)))
        write("generated/" + pattern.format(n=i), filler.encode("latin-1"), "latin-1")

    plants = plant(corpus, files, n_secrets, rng)
    slice_files = make_slice(out, corpus, files, plants, rng)
    meta = {
        "seed": seed,
        "corpus": "corpus",
        "files": len(files),
        "bytes": sum((corpus / f).stat().st_size for f in files),
        "pool_sha256": pool_digest.hexdigest(),
        "slice": {
            "files": len(slice_files),
            "bytes": sum((corpus / f).stat().st_size for f in slice_files),
        },
        "planted": [p.__dict__ for p in plants],
    }
    (out / "planted.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def plant(corpus: Path, files: dict[str, str], n_secrets: int, rng: random.Random) -> list[Plant]:
    by_lang: dict[str, list[str]] = {}
    for rel, kind in sorted(files.items()):
        lang = lang_of(rel)
        if lang is None or kind == "latin-1":
            continue
        if (corpus / rel).stat().st_size <= PLANT_MAX_FILE:
            by_lang.setdefault(lang, []).append(rel)
    latin1 = sorted(rel for rel, kind in files.items() if kind == "latin-1")
    langs = sorted(by_lang)
    lang_weights = {
        "c": 4,
        "python": 5,
        "perl": 3,
        "js": 3,
        "docs": 2,
        "yaml": 3,
        "ini": 2,
        "env": 2,
        "sh": 2,
    }
    weights = [lang_weights.get(lang, 1) for lang in langs]
    # per file: list of (line index to insert before, block)
    edits: dict[str, list[tuple[int, Block]]] = {}
    count = 0
    n_latin1 = max(1, n_secrets // 20)
    while count < n_secrets:
        secret_kind = rng.choices(KINDS, [k.weight for k in KINDS])[0]
        if count < n_latin1:
            rel = latin1[count % len(latin1)]
        else:
            lang = rng.choices(langs, weights)[0]
            rel = rng.choice(by_lang[lang])
        lang = lang_of(rel) or "docs"
        block = make_block(rng, lang, secret_kind)
        lines = (corpus / rel).read_bytes().split(b"\n")
        # Where a new top-level statement fits: after a blank line, before an unindented one.
        spots = [
            i
            for i in range(1, len(lines))
            if not lines[i - 1].strip() and lines[i][:1] not in (b" ", b"\t")
        ]
        at = rng.choice(spots) if spots else 0
        edits.setdefault(rel, []).append((at, block))
        count += len(block.secrets)

    plants = []
    for rel, changes in sorted(edits.items()):
        path = corpus / rel
        encoding = "latin-1" if files[rel] == "latin-1" else "utf-8"
        lines = path.read_bytes().split(b"\n")
        # Insert from the bottom up so earlier indices stay valid, then count lines.
        placed: list[tuple[int, Block]] = []
        for at, block in sorted(changes, key=lambda c: -c[0]):
            lines[at:at] = [line.encode(encoding) for line in block.lines]
            placed = [(a + len(block.lines), b) for a, b in placed]
            placed.append((at, block))
        path.write_bytes(b"\n".join(lines))
        for at, block in placed:
            for offset, rule, secret in block.secrets:
                digest = hashlib.sha256(secret.encode(encoding)).hexdigest()
                plants.append(
                    Plant(rel, at + offset + 1, rule, digest, lang_of(rel) or "?", encoding)
                )
    plants.sort(key=lambda p: (p.path, p.line))
    return plants


def make_slice(
    out: Path, corpus: Path, files: dict[str, str], plants: list[Plant], rng: random.Random
) -> list[str]:
    """Hard links to every planted file, topped up with others to about 30 MB."""
    chosen = sorted({p.path for p in plants})
    size = sum((corpus / f).stat().st_size for f in chosen)
    others = sorted(set(files) - set(chosen))
    rng.shuffle(others)
    for rel in others:
        if size >= SLICE_BYTES:
            break
        chosen.append(rel)
        size += (corpus / rel).stat().st_size
    for rel in chosen:
        dest = out / "slice" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.link(corpus / rel, dest)
    return chosen


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=here / "out")
    parser.add_argument("--size-mb", type=int, default=220)
    parser.add_argument("--secrets", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    meta = build(args.out, args.size_mb, args.secrets, args.seed)
    planted = meta["planted"]
    print(
        f"corpus: {meta['files']} files, {meta['bytes'] / MB:.1f} MiB "
        f"in {args.out / 'corpus'}; "
        f"{len(planted)} planted secrets in {len({p['path'] for p in planted})} files; "
        f"slice: {meta['slice']['files']} files, {meta['slice']['bytes'] / MB:.1f} MiB",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
