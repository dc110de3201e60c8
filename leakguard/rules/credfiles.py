"""Rules for the files tools keep their logins in: Docker's config.json, .npmrc,
.netrc, .pgpass, kubeconfig, Maven's settings.xml, Composer's auth.json,
htpasswd, and the binary keystores no pattern can read.

These files hold credentials in their own syntax, often with no token prefix a
provider rule would know. Where a shape means "credential" only inside one kind
of file (a pgpass line, a kubeconfig `token:`), the check asks `Context.kind`,
which the engine derives from the path (see
`leakguard.detectors.credfiles.credential_file_kind`).
"""

from __future__ import annotations

import base64
import binascii
import re

from leakguard.models import Confidence, RuleId, Severity
from leakguard.rules import Context, Rule
from leakguard.rules.generic import names_a_secret
from leakguard.rules.values import (
    in_sample,
    is_known_example,
    is_sample_path,
    is_word,
    not_a_secret,
)

_B64 = r"[A-Za-z0-9+/]+={0,2}"
_NAMES_A_SECRET = re.compile(rb"(?i)token|passw|secret")


def _b64decode(value: bytes) -> bytes | None:
    try:
        return base64.b64decode(value + b"=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _user_pass(value: bytes) -> tuple[bytes, bytes] | None:
    """`user:password` from base64, when the value is that."""
    decoded = _b64decode(value)
    if not decoded or b":" not in decoded:
        return None
    user, _, password = decoded.partition(b":")
    if not password or not all(32 < c < 127 for c in decoded):
        return None
    return user, password


def _skip(secret: bytes) -> bool:
    return not_a_secret(secret) or secret.startswith((b"$", b"%", b"{{"))


def _sure(secret: bytes, context: Context) -> Confidence | None:
    """HIGH, unless the value is a plain word or sits in a test, example or doc file."""
    if is_word(secret) or is_known_example(secret):
        return in_sample(secret, context.path, Confidence.LOW)
    return in_sample(secret, context.path, Confidence.HIGH)


# -- Docker -----------------------------------------------------------------------


def _check_docker_auth(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    pair = _user_pass(secret)
    if pair is None:
        return None
    if not_a_secret(pair[1]):
        return None
    return _sure(pair[1], context)


DOCKER_CONFIG_AUTH = Rule(
    id=RuleId("docker-config-auth"),
    description="Registry login (base64 user:password) in a Docker config.json",
    severity=Severity.CRITICAL,
    pattern=rf"\"auth\"[ \t]*:[ \t]*\"(?P<secret>{_B64})\"",
    keywords=('"auth"',),
    remediation=(
        "Change that registry account's password or revoke its access token at the "
        "registry, and log in at build time with a BuildKit secret instead of copying "
        "~/.docker/config.json."
    ),
    check=_check_docker_auth,
    tags=("credential-file",),
)


def _check_token_value(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    return None if _skip(secret) else _sure(secret, context)


DOCKER_CONFIG_TOKEN = Rule(
    id=RuleId("docker-config-identity-token"),
    description="Registry identity or refresh token in a Docker config.json",
    severity=Severity.CRITICAL,
    pattern=r"\"(?:identitytoken|registrytoken)\"[ \t]*:[ \t]*\"(?P<secret>[^\"\s]{8,})\"",
    keywords=('"identitytoken"', '"registrytoken"'),
    remediation=(
        "Sign out of the registry (`docker logout`) to revoke the token where the registry "
        "supports it, or revoke the session at the registry's identity provider."
    ),
    check=_check_token_value,
    tags=("credential-file",),
)

# -- npm ----------------------------------------------------------------------------


def _check_npmrc(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    if _skip(secret) or b"${" in secret:
        return None
    if secret.isalnum() and _NAMES_A_SECRET.search(secret):
        return None  # `_authToken=MYTOKEN`: documentation
    if secret.isalpha() or is_sample_path(context.path):
        return Confidence.LOW
    if b"_password" in line.lower() or b"_auth=" in line.replace(b" ", b"").lower():
        # `_password` and `_auth` are base64; anything else is a template or a mistake.
        if _b64decode(secret) is None:
            return Confidence.LOW
    return Confidence.HIGH if context.kind == "npmrc" else Confidence.MEDIUM


NPMRC_AUTH = Rule(
    id=RuleId("npmrc-auth"),
    description="Registry credential in an .npmrc (_authToken, _auth or _password)",
    severity=Severity.CRITICAL,
    pattern=(
        r"(?m)(?:^[ \t]*|:)(?:_authToken|_auth|_password)[ \t]*=[ \t]*[\"']?"
        r"(?P<secret>[^\s\"']{6,})"
    ),
    keywords=("_authtoken", "_auth=", "_auth =", "_password=", "_password ="),
    remediation=(
        "Revoke the token at the registry (npmjs.com → Access Tokens, or your private "
        "registry), and pass it at build time as a BuildKit secret, writing `${NPM_TOKEN}` "
        "in the .npmrc."
    ),
    check=_check_npmrc,
    tags=("credential-file",),
)

# -- .netrc, .pgpass ------------------------------------------------------------------


def _check_netrc(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    if _skip(secret):
        return None
    if b"login anonymous" in line.lower():
        return Confidence.LOW  # anonymous FTP: the "password" is an e-mail address
    lower = line.lower()
    if context.kind == "netrc":
        return _sure(secret, context)
    if (b"machine " in lower or b"default " in lower) and b"login " in lower:
        return _sure(secret, context)
    return None


NETRC_PASSWORD = Rule(
    id=RuleId("netrc-password"),
    description="Password in a .netrc entry",
    severity=Severity.HIGH,
    pattern=r"(?i)(?<![^\s\"'])password[ \t]+(?P<secret>[^\s\"']{3,})",
    prefilter=r"(?i)(?:^|[\s\"'])password[ \t]+[^\s\"'=:]",
    remediation=(
        "Change the password on the host the entry names, and mount a .netrc as a build "
        "secret rather than copying it into the image."
    ),
    check=_check_netrc,
    tags=("credential-file",),
)


def _check_pgpass(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    if _skip(secret):
        return None
    if context.kind == "pgpass" or b"pgpass" in line.lower():
        return _sure(secret, context)
    return None


# A host name (with a dot, or three characters at least), an IPv4 address, or `*`.
_PG_HOST = (
    r"(?:[A-Za-z][A-Za-z0-9-]*\.[A-Za-z0-9.-]+|[A-Za-z][A-Za-z0-9_-]{2,}"
    r"|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|\*)"
)

PGPASS_PASSWORD = Rule(
    id=RuleId("pgpass-password"),
    description="PostgreSQL password in a .pgpass line (host:port:database:user:password)",
    severity=Severity.HIGH,
    pattern=(
        rf"(?<![^\s\"'])(?!arn:){_PG_HOST}:(?:\d{{2,5}}|\*):[^:\s]+:[^:\s]+:"
        r"(?P<secret>(?:\\:|[^\s\"'])+)"
    ),
    # Without the host: a leading alternation of unbounded classes costs Hyperscan 10x.
    prefilter=r":(?:\d{2,5}|\*):[^:\s]+:[^:\s]+:[^\s\"']",
    remediation=(
        "Change the database user's password (ALTER ROLE ... PASSWORD), and mount the "
        ".pgpass file as a secret at run time."
    ),
    check=_check_pgpass,
    tags=("credential-file",),
)

# -- htpasswd and shadow hashes -------------------------------------------------------


def _check_hash(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    return Confidence.HIGH if context.kind == "htpasswd" else Confidence.MEDIUM


HTPASSWD_HASH = Rule(
    id=RuleId("password-hash"),
    description="Password hash of a user (htpasswd or shadow line): crackable offline",
    severity=Severity.MEDIUM,
    pattern=(
        r"(?<![^\s\"'])[A-Za-z0-9_.@-]{1,64}:(?P<secret>\$(?:apr1|2[aby]|[156])\$"
        r"[./A-Za-z0-9$]{20,}|\{SHA\}[A-Za-z0-9+/]{27}=)"
    ),
    keywords=(":$apr1$", ":$2y$", ":$2a$", ":$2b$", ":{sha}", ":$6$", ":$5$", ":$1$"),
    remediation=(
        "Set a new password for that user (htpasswd, passwd or the service's admin), and "
        "create the file at deploy time from a secret instead of baking it into the image."
    ),
    check=_check_hash,
    tags=("credential-file",),
)

# -- Kubernetes -----------------------------------------------------------------------


def _check_client_key(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    decoded = _b64decode(secret)
    if decoded is None or b"PRIVATE KEY" not in decoded:
        return None
    return Confidence.HIGH


KUBECONFIG_CLIENT_KEY = Rule(
    id=RuleId("kubeconfig-client-key"),
    description="Kubernetes client private key (client-key-data) in a kubeconfig",
    severity=Severity.CRITICAL,
    pattern=rf"client-key-data[\"']?[ \t]*:[ \t]*[\"']?(?P<secret>{_B64})",
    keywords=("client-key-data",),
    remediation=(
        "Revoke the client certificate (rotate the cluster CA or remove the user's "
        "bindings) and issue the user a new key; mount kubeconfigs at run time."
    ),
    check=_check_client_key,
    tags=("credential-file",),
)


def _check_kube_token(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    if context.kind != "kubeconfig" or _skip(secret):
        return None
    return _sure(secret, context)


KUBECONFIG_TOKEN = Rule(
    id=RuleId("kubeconfig-token"),
    description="Bearer token of a user in a kubeconfig",
    severity=Severity.CRITICAL,
    pattern=(
        r"(?m)^[ \t]*(?:token|id-token|refresh-token|access-token)[ \t]*:[ \t]*[\"']?"
        r"(?P<secret>[^\s\"']{16,})"
    ),
    prefilter=r"(?m)^[ \t]*(?:token|id-token|refresh-token|access-token)[ \t]*:[ \t]*[\"']?\S",
    remediation=(
        "Delete the service-account token Secret (or revoke the OIDC session) the token "
        "belongs to, and give the workload a projected token instead of a kubeconfig."
    ),
    check=_check_kube_token,
    tags=("credential-file",),
)

# -- Maven settings.xml and other XML ---------------------------------------------------


# The element a value on the same line opens with: its tag and attributes.
_OPEN_ELEMENT = re.compile(rb"<([A-Za-z][\w:.-]*)([^<>]*)>[ \t]*$")
_NAME_ATTRIBUTE = re.compile(rb"\b(?:key|name)=[\"']([^\"'<>]+)[\"']")


def _check_xml_password(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    if _skip(secret):
        return None
    at = line.find(secret)
    element = _OPEN_ELEMENT.search(line, 0, max(at, 0))
    if element is not None:
        named = _NAME_ATTRIBUTE.search(element.group(2))
        if not names_a_secret(named.group(1) if named else element.group(1)):
            return None  # `<NextToken>`, `<tokenType>`: a cursor or a word about a secret
    if secret.startswith(b"{") and secret.endswith(b"}"):
        return Confidence.MEDIUM  # Maven-encrypted: only as safe as settings-security.xml
    if context.kind != "maven-settings" and _sure(secret, context) is Confidence.HIGH:
        return Confidence.MEDIUM
    return _sure(secret, context)


XML_PASSWORD = Rule(
    id=RuleId("xml-password"),
    description="Password in an XML element (Maven settings.xml, server configs)",
    severity=Severity.HIGH,
    # `<serviceToken>v</serviceToken>` (the value may sit alone on the line between its
    # tags), or an element named by its key or name attribute on one line:
    # `<string name="api_key">v</string>` (Android), `<entry key="db.password">v</entry>`.
    pattern=(
        r"<(?:(?P<tag>(?:[A-Za-z]+:)?[A-Za-z0-9_.-]{0,40}?(?:[Pp]ass(?:word|phrase)"
        r"|PASS(?:WORD|PHRASE)|[Ss]ecret|SECRET|[Tt]oken|TOKEN|[Aa]pi[_.-]?[Kk]ey|API[_.-]?KEY))"
        r"(?:[ \t][^<>]{0,200})?"
        r"|(?P<el>[A-Za-z][\w:.-]{0,40})[ \t][^<>]{0,200}?\b(?:key|name)=[\"'][^\"'<>]{1,80}[\"']"
        r"[^<>]{0,200})>(?(tag)[ \t]*(?:\r?\n[ \t]*)?)"
        r"(?P<secret>[^<\s][^<\r\n]{2,200}?)(?(tag)[ \t]*(?:\r?\n[ \t]*)?)"
        r"</(?(tag)(?P=tag)|(?P=el))>"
    ),
    keywords=(
        "password>",
        "passphrase>",
        "secret>",
        "apikey>",
        "api_key>",
        "api-key>",
        "api.key>",
        "token>",
        'password">',
        'secret">',
        'token">',
        'key">',
        "password'>",
        "secret'>",
        "token'>",
        "key'>",
    ),  # fmt: skip
    remediation=(
        "Change the password at the server the element names (a Maven <server> is a "
        "repository login), and write `${env.NAME}` in the file instead of the value."
    ),
    check=_check_xml_password,
    tags=("credential-file",),
    lines=3,
)

# -- Composer auth.json ------------------------------------------------------------------


def _check_composer(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    if _skip(secret):
        return None
    sure = _sure(secret, context)
    return (
        sure
        if context.kind == "composer-auth" or sure is not Confidence.HIGH
        else (Confidence.MEDIUM)
    )


COMPOSER_AUTH_TOKEN = Rule(
    id=RuleId("composer-auth-token"),
    description="Repository token in a Composer auth.json (github-oauth, gitlab-token, bearer)",
    severity=Severity.HIGH,
    pattern=(
        r"\"(?:github-oauth|gitlab-oauth|gitlab-token|bitbucket-oauth|bearer)\"[ \t]*:[ \t]*"
        r"\{\s*\"[A-Za-z0-9.:-]+\"[ \t]*:[ \t]*\"(?P<secret>[^\"\s]{12,})\""
    ),
    keywords=('"github-oauth"', '"gitlab-oauth"', '"gitlab-token"', '"bitbucket-oauth"',
              '"bearer"'),
    remediation=(
        "Revoke the token at the host it is keyed by (GitHub, GitLab, your package "
        "repository) and pass it as COMPOSER_AUTH at build time from a secret."
    ),
    check=_check_composer,
    multiline=True,
    tags=("credential-file",),
)  # fmt: skip

# -- files that are credentials by their presence ------------------------------------------

CREDENTIAL_FILE = Rule(
    id=RuleId("credential-file"),
    description="Credential file (keystore, binary key or token store)",
    severity=Severity.HIGH,
    # Found by the file's path, never by a pattern (leakguard.detectors.credfiles): the
    # prefilter is a byte string no text file holds.
    pattern=r"(?!)(?P<secret>x)",
    prefilter=r"\x00\x00leakguard credential file\x00\x00",
    remediation=(
        "Treat every key and password in the file as exposed: revoke the certificates and "
        "tokens it holds, issue new ones, and mount the file as a secret at run time."
    ),
    tags=("credential-file",),
)

RULES: list[Rule] = [
    DOCKER_CONFIG_AUTH,
    DOCKER_CONFIG_TOKEN,
    NPMRC_AUTH,
    NETRC_PASSWORD,
    PGPASS_PASSWORD,
    HTPASSWD_HASH,
    KUBECONFIG_CLIENT_KEY,
    KUBECONFIG_TOKEN,
    XML_PASSWORD,
    COMPOSER_AUTH_TOKEN,
    CREDENTIAL_FILE,
]
