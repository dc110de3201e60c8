"""Rules that are not tied to one provider: private keys, JWTs, credentials in
URLs, secret-named assignments, and high-entropy strings.

Together with the provider rules they cover every default plugin of Yelp's
detect-secrets (the `detect_secrets_type` of each rule names the plugin).
They are the most prone to false alarms, so each carries value analysis
(`check`) and runs after the provider rules: where a provider rule claims the
same bytes, the provider's finding is the one reported.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass

from leakguard import safejson
from leakguard.models import Confidence, RuleId, Severity
from leakguard.rules import Check, Context, Rule
from leakguard.rules.values import (
    in_sample,
    is_known_example,
    is_placeholder,
    is_reference,
    is_sample_path,
    is_word,
    not_a_secret,
    shannon_entropy,
    unquoted,
)

# -- private keys -------------------------------------------------------------

_KEY_BODY = re.compile(rb"[A-Za-z0-9+/=]{40,}")


def _check_private_key(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    # A header followed by prose or "..." is documentation, not a key.
    if secret.startswith(b"PuTTY"):
        found = b"Private-Lines" in secret
    else:
        found = bool(_KEY_BODY.search(secret))
    if not found:
        return None
    if b"EXAMPLE" in secret:
        return None  # a vendor's documentation key, its body marked as not real
    if b"..." in secret or is_sample_path(context.path):
        # Cut short in documentation, or a test fixture's key.
        return Confidence.LOW
    return Confidence.HIGH


PRIVATE_KEY = Rule(
    id=RuleId("private-key"),
    description="Private key",
    severity=Severity.CRITICAL,
    pattern=(
        # A body stops at the next BEGIN (or PuTTY header): each start then costs
        # the text up to the next one, not 60,000 bytes, on text full of headers.
        r"(?P<secret>-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:(?!-----BEGIN)[\s\S]){0,60000}?-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"|PuTTY-User-Key-File-\d: (?:(?!PuTTY-User-Key-File-)[\s\S]){0,20000}?Private-MAC: "
        r"[0-9a-f]+)"
    ),
    keywords=("PRIVATE KEY-----", "PRIVATE KEY BLOCK-----", "PuTTY-User-Key-File-"),
    remediation=(
        "Treat the key as compromised: remove its public half from every server, "
        "account and certificate that trusts it, then generate a new key pair."
    ),
    check=_check_private_key,
    multiline=True,
    detect_secrets_type="Private Key",
)

# -- JSON web tokens ----------------------------------------------------------


def _b64json(part: bytes) -> object:
    padded = part + b"=" * (-len(part) % 4)
    return safejson.loads(base64.urlsafe_b64decode(padded))  # a token nested without end: no JWT


def _check_jwt(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    parts = secret.split(b".")
    try:
        header = _b64json(parts[0])
        _b64json(parts[1])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or "alg" not in header:
        return None
    if header.get("alg") == "none" or is_sample_path(context.path) or is_known_example(secret):
        return Confidence.LOW
    return Confidence.HIGH


JWT = Rule(
    id=RuleId("jwt"),
    description="JSON Web Token",
    severity=Severity.MEDIUM,
    pattern=(
        r"(?<![A-Za-z0-9_-])(?P<secret>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}"
        r"\.[A-Za-z0-9_-]{16,})"
    ),
    keywords=("eyJ",),
    remediation=(
        "A JWT is a bearer credential until it expires: revoke the session or signing key "
        "that issued it, and do not store tokens in files."
    ),
    check=_check_jwt,
    detect_secrets_type="JSON Web Token",
)

# -- credentials in URLs --------------------------------------------------------


def _check_url_password(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    if not_a_secret(secret) or secret.lower() in (b"pass", b"password", b"pwd", b"passwd"):
        return None
    if secret.startswith((b"$", b"{")):  # printf-style % formats: is_reference
        return None
    if is_known_example(secret):
        return Confidence.LOW
    confidence = Confidence.MEDIUM if is_word(secret) else Confidence.HIGH
    return in_sample(secret, context.path, confidence)


URL_CREDENTIALS = Rule(
    id=RuleId("url-credentials"),
    description="Password in a URL (basic auth or connection string)",
    severity=Severity.HIGH,
    pattern=(
        r"(?i)\b[a-z][a-z0-9+.-]{1,30}://[^\s:/?#@\"'<>]{0,128}:"
        r"(?P<secret>[^\s:/?#@\"'<>]{3,256})@[^\s/?#\"'<>@]"
    ),
    prefilter=r"://[^\s:/?#@\"'<>]{0,128}:[^\s:/?#@\"'<>]{3,256}@",
    remediation=(
        "Change that account's password on the server the URL points at, and pass the URL "
        "(or just its password) at run time from a secret store."
    ),
    check=_check_url_password,
    detect_secrets_type="Basic Auth Credentials",
)

# -- secret-named assignments -------------------------------------------------------

_KW = (
    r"(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_.-]?key|auth[_.-]?key|access[_.-]?key"
    r"|priv(?:ate)?[_.-]?key|client[_.-]?key|service[_.-]?key|account[_.-]?key"
    r"|db[_.-]?key|database[_.-]?key|credentials?|creds|contrase(?:ña|na))"
)
# An unquoted value runs to whitespace: `#` only starts a comment after a
# space in shell, YAML, .env and INI files (`Tq9#x` is one value).
# In a URL's query string an unquoted value ends where the next `&name=` starts,
# and inside a string (a dotenv held in JSON) it ends at an escaped `\n`, `\r`, `\t`.
# `,` `;` `&` end an unquoted value before whitespace or the next `name=`
# (`password=x;Database=y`, `{password: x, user: y}`), not inside it (`A,.:-b`).
# A closing `)` or `]` ends it too (`(apiSecret=x)` in a log line), unless more follows.
# A quoted value may carry a string prefix: `@"…"` (C#, Objective-C), `L"…"`, `u8"…"`.
_VALUE = (
    r"(?:(?:@|\$|u8|[LuUbBrR]{1,2})?(?P<esc>\\)?(?P<q>[\"'`]))?(?P<secret>(?(q)[^\r\n]{4,256}?"
    r"|(?!#)(?:[^\s\"'`,;&\\)\]]|\\(?![nrt\"'\\])|[)\]](?=[^\s\"'`,;&)\]])"
    r"|[,;&](?=[^\s\"'`\\])(?![\w.\[\]-]{1,40}=)){4,256}))(?(q)(?(esc)\\)(?P=q))"
)
# A type annotation: `String`, `str`, `Optional[str]`, `&str`, `&'static str` (Rust).
_TYPE = r"&?(?:'static[ \t]+)?[A-Za-z][\w.<>?\[\]]{0,30}"
# What joins a name to its value: `=`, `:`, `=>` (Ruby, PHP, Perl), `:=` and `::=` (Go,
# Make), `?=` and `+=` (Make), `<-` (R), comparisons, a type (`val apiKey: String =`).
_OPERATOR = (
    r"(?:=>|:{1,3}=|!==|\?\?=|\|\|=|[?+!.]=|===?|=(?![=~])|<-|\.equals(?:IgnoreCase)?\("
    rf"|:(?:[ \t]*{_TYPE}[ \t]*=(?![=>])(?=[ \t]*[\"']))?)"
)
# A comparison, either way round: `password != "v"`, `"v" === token`, `"v".equals(pwd)`.
_COMPARED = r"(?:===?|!==?|\.equals(?:IgnoreCase)?\()"
_KEYWORD_PATTERN = (
    rf"(?i)(?:"
    # `if ("value" == admin_password)`: the value before the name
    rf"(?P<lq>[\"'])(?=[^\s\"'`]{{4,256}}(?P=lq)[ \t]*{_COMPARED}[ \t]*[\w.$>-]{{0,40}}?{_KW})"
    rf"|{_KW}[\w.-]{{0,40}}(?:"
    # `name = `, `cfg["name"] = `, `$name[] = `, `name: String = `
    rf"(?:\[\w{{0,20}}\])?\\?[\"']?\]?[ \t]*{_OPERATOR}[ \t]*"
    # `std::string secret("value")`, `builder.password("value")`, `setApiKey("value")`
    rf"|\([ \t]*(?=(?:@|u8|[LuUbBrR]{{1,2}})?[\"'])"
    # `setProperty("NAME", "value")`, `<add key="Name" value="value"/>`
    rf"|[\"'][ \t]*,[ \t]*(?=[\"'])|[\"'][ \t]+value[ \t]*=[ \t]*(?=[\"'])"
    # `password "value";` (HCL, nginx, config DSLs), `#define NAME "value"`
    rf"|[ \t]+(?=[\"'])"
    # Go: `var password string = "value"`
    rf"|[ \t]+(?:string|\[\]byte)[ \t]*=[ \t]*(?=[\"'`])"
    rf")){_VALUE}"
)
_KEYWORD_STEM = (
    r"(?:pass|pwd|secret|token|api.?key|auth.?key|access.?key|priv|client.?key"
    r"|service.?key|account.?key|db.?key|database.?key|credential|creds|contrase(?:ñ|n)a)"
)
_KEYWORD_PREFILTER = (
    rf"(?i){_KEYWORD_STEM}"
    # 47: the pattern's 40 after its longest keyword (`private_key` is `priv` + 7)
    r"[\w.-]{0,47}(?:(?:\[\w{0,20}\])?\\?[\"']?\]?[ \t]*"
    r"(?:=>|:{1,3}=|!==|\?\?=|\|\|=|[?+!.]=|===?|=|:|<-|\.equals[a-z]{0,10}\()[ \t]*"
    r"(?:(?:@|\$|u8|[LuUbBrR]{1,2}|\\)?[\"'`][^\r\n]{4}|[^\s\"'`]{4})|[ \t]+[\"'`][^\r\n]{4}"
    r"|:[ \t]*[\w.<>?\[\]&' ]{1,40}=[ \t]*[\"']|[ \t]+(?:string|\[\]byte)[ \t]*=[ \t]*[\"'`]"
    r"|\([ \t]*[LuUbBrR@]{0,2}[\"'][^\r\n]{4}|[\"'][ \t]*,[ \t]*[\"'][^\r\n]{4}"
    r"|[\"'][ \t]+value[ \t]*=[ \t]*[\"'][^\r\n]{4})"
    # (not `_COMPARED`: this build of Hyperscan misses `==` beside `\.equals(?:x)?\(`)
    rf"|[\"'][ \t]*(?:[=!]==?|\.equals[a-z]{{0,10}}\()[ \t]*[\w.$>-]{{0,40}}{_KEYWORD_STEM}"
)

# The name a value is assigned to, read back from the text before the value, with
# the operator between them (`op`: empty for `password "value"`).
# Bytes from 0x80 up are letters of a name written in UTF-8 (`contraseña`).
_KEY_BEFORE = re.compile(
    rb"([A-Za-z0-9_.$\x80-\xff-]+)(?:\[\w{0,20}\])?\\?[\"']?\]?[ \t]*"
    rb"(?P<op>=>|:{1,3}=|!==|\?\?=|\|\|=|[?+!.]=|===?|=|:[ \t]*" + _TYPE.encode() + rb"[ \t]*="
    rb"|<-|\.equals(?:IgnoreCase)?\(|(?:string|\[\]byte)[ \t]*=|:|,|\(|value[ \t]*=|)[ \t]*"
    rb"(?:(?:@|\$|u8|[LuUbBrR]{1,2}|\\)?[\"'`])?$"
)
# The name after a value compared with it: `"value" == admin_password`, `"v" === this.token`.
_NAME_AFTER = re.compile(
    rb"[\"'][ \t]*(?:===?|!==?|\.equals(?:IgnoreCase)?\()[ \t]*(?:[\w$]+(?:\.|->))*"
    rb"([A-Za-z0-9_$\x80-\xff-]+)"
)
# What may follow a value given without an operator (`password "value";`): the end of
# the statement, a block's opening brace, a comment.
_BLOCK_TAIL = re.compile(rb"[\"'`][ \t]*[;{]?[ \t]*(?:(?:#|//).*)?\r?$")
# How far before the operator a name is looked for: `_KEY_BEFORE` ends at `$`, so a
# search over a whole long line would try every start in it.
_NAME_REACH = 160
# Words of a name: `DbPassword2` is db, password, 2.
_CAMEL = re.compile(rb"[A-Z]?[a-z\x80-\xff]+|[A-Z]+(?![a-z])|[0-9]+")
_SECRET_WORDS = (
    b"password", b"passwd", b"pass", b"pwd", b"secret", b"token", b"passphrase",
    b"credential", b"credentials", b"apikey", b"contrasena", "contraseña".encode(),
)  # fmt: skip
# Plurals and near spellings that name the same thing (`secrets`, `secrete`, `creds`).
_SECRET_PLURALS = {b"passwords", b"passwds", b"secrets", b"secrete", b"tokens", b"creds",
                   b"apikeys", b"passphrases"}  # fmt: skip
_KEY_WORDS_BEFORE_KEY = {b"api", b"auth", b"access", b"private", b"priv", b"client",
                         b"service", b"account", b"db", b"database", b"secret"}  # fmt: skip
# A name ending in one of these holds something about a secret, not the secret.
_NOT_VALUE_SUFFIXES = {
    b"file", b"path", b"dir", b"url", b"uri", b"name", b"id", b"type", b"length", b"len",
    b"min", b"max", b"policy", b"hash", b"hashed", b"field", b"regex", b"pattern", b"label",
    b"prompt", b"hint", b"header", b"env", b"var", b"count", b"enabled", b"required",
    b"expiry", b"expires", b"expiration", b"ttl", b"timeout", b"endpoint", b"host", b"mode",
    b"format", b"reset", b"store", b"manager", b"class", b"kind", b"version", b"provider",
    b"location", b"ref", b"source", b"index", b"limit", b"size", b"key_id", b"arn",
    b"command", b"cmd", b"helper", b"mgr", b"method", b"algorithm", b"scope", b"scopes",
    b"audience",
}  # fmt: skip


def _name_before(text: bytes, end: int) -> re.Match[bytes] | None:
    """`_KEY_BEFORE`'s match ending at `end`: the name a value there is assigned to.
    The search starts at most _NAME_REACH bytes back: bounded work per value."""
    stem = len(text[:end].rstrip(b" \t\"'`]=:>!?+,"))  # back over quotes, operator and padding
    return _KEY_BEFORE.search(text, max(0, stem - _NAME_REACH), end)


def _words(key: bytes) -> list[bytes]:
    out: list[bytes] = []
    for part in re.split(rb"[_.$-]+", key):
        out.extend(w.lower() for w in _CAMEL.findall(part))
    return out


# Words that, anywhere after the secret word, make the name describe the secret
# (`TOKEN_LINESTATEMENT_END`, `PasswordLastUsed`, `Token.OutPromptNum`).
_DESCRIBING = _NOT_VALUE_SUFFIXES | {
    b"num", b"number", b"end", b"begin", b"start", b"used", b"last", b"date", b"time",
    b"changed", b"updated", b"created", b"style", b"color", b"message", b"msg", b"text",
    b"title", b"error", b"errors", b"status", b"state", b"detail", b"details", b"info",
    b"help", b"description", b"desc", b"example", b"template", b"list", b"param", b"params",
    b"parameter", b"option", b"options", b"flag", b"flags", b"attr", b"attribute", b"prefix",
    b"suffix", b"separator", b"char", b"chars", b"input", b"output", b"column", b"form",
    b"widget", b"button", b"dialog", b"page", b"view", b"link", b"request", b"response",
    b"placement", b"location", b"position", b"forgot", b"change", b"confirm",
    b"confirmation", b"verify", b"validator", b"strength",
    b"rules", b"rule", b"requirements", b"age", b"history", b"rotation", b"placeholder",
    b"mask", b"masked", b"missing", b"invalid", b"exception", b"handler", b"callback",
    b"func", b"function", b"getter", b"setter", b"prop", b"property", b"util", b"utils",
    b"module", b"parser", b"lexer", b"types", b"cls", b"regexp", b"factory", b"builder",
    b"loader", b"reader", b"writer", b"cache", b"generator", b"context", b"builtin", b"prompt",
    b"spec", b"schema", b"doc", b"docs", b"rotated", b"sid", b"names", b"keys", b"ids",
    b"encryption", b"scheme", b"digest", b"strategy", b"backend", b"salt", b"rounds",
    b"iterations", b"cost", b"complexity", b"kdf", b"const", b"constant", b"label",
}  # fmt: skip
# Tokens that are no credential: pagination cursors, idempotency and lock tokens,
# lexer tokens and CSRF nonces (`NextToken`, `client_token`, `LockToken`).
_NOT_CREDENTIAL_TOKENS = {
    b"next", b"page", b"continuation", b"pagination", b"marker", b"cursor", b"sync", b"lock",
    b"purchase", b"import", b"grant", b"copy", b"client", b"change", b"update", b"backward",
    b"forward", b"idempotency", b"input", b"output", b"csrf", b"xsrf", b"cancel", b"resume",
    b"previous", b"prev", b"first", b"upload", b"request", b"continue", b"starting", b"stop",
}  # fmt: skip


@functools.lru_cache(maxsize=8192)  # the same names come back in file after file
def _names_a_secret(key: bytes) -> bool:
    words = _words(key)
    if not words:
        return False
    for i, word in enumerate(words):
        names = False
        if (
            word in _SECRET_WORDS
            or word.endswith((b"password", b"passwd", b"secret", b"token"))
            or (word in _SECRET_PLURALS)
        ):
            names = not (word == b"token" and i > 0 and words[i - 1] in _NOT_CREDENTIAL_TOKENS)
        elif word == b"key" and i > 0 and words[i - 1] in _KEY_WORDS_BEFORE_KEY:
            names = True
        elif word.endswith(b"key") and word[:-3] in _KEY_WORDS_BEFORE_KEY:
            names = True
        if names:
            return not any(w in _DESCRIBING for w in words[i + 1 :])
    return False


def names_a_secret(key: bytes) -> bool:
    """Whether a variable, key or tag name names a secret's value (`DB_PASSWORD`,
    `serviceToken`), not something about it (`PASSWORD_FILE`, `NextToken`)."""
    return _names_a_secret(key)


_WORDISH = re.compile(rb"^#?[A-Za-z]+(?:[ _.:-][A-Za-z]+)*[.!]?$")
_COLOR = re.compile(rb"^#(?:[0-9A-Fa-f]{3,4}|[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})$")
_VERSION = re.compile(rb"^v?\d+(?:\.\d+)*[-+]?$")
# Regular-expression syntax: a validation pattern for a secret, not the secret.
_REGEX_SYNTAX = re.compile(
    rb"\]\{|\]\+|\]\*|\\[dswDSW]|\(\?|\[\^?[a-zA-Z0-9]-[a-zA-Z0-9]|\{\d+,\d*\}"
)
_MENTIONS_SECRET = re.compile(rb"(?i)passw|token|secret|credential|api.?key")
_DATE = re.compile(rb"^\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+Z?)?$")


def _value_confidence(value: bytes, quoted: bool, context: Context) -> Confidence | None:
    """How much a value assigned to a secret-named key looks like a secret."""
    if _REGEX_SYNTAX.search(value):
        return None  # `r'(?:key|pwd|password)'`: a pattern that finds secrets
    if _MENTIONS_SECRET.search(value):
        # "NextToken", "no-password-required", "SomeKindOfPassword1": names, prose, examples.
        return None if _WORDISH.match(value) else Confidence.LOW
    if b" " in value:
        if not quoted or value.count(b" ") > 4 or value.rstrip().endswith((b".", b":", b"?", b"!")):
            return None  # prose, a style spec, a command line
        if any(not (w.isalpha() and w.islower() and len(w) >= 3) for w in value.split(b" ")):
            # `bold #038B8B`, `-j 4`, `Hello World`: a spec, an option, a title; and
            # `f not in list`: code quoted in prose (a passphrase's words are longer)
            return None
        return Confidence.LOW  # `correct horse battery staple`: a passphrase, as a note
    if _DATE.match(value) or value.startswith((b"http://", b"https://", b"/", b"./", b"~/")):
        return None
    if _COLOR.match(value) or _VERSION.match(value) or _REGEX_SYNTAX.search(value):
        return None
    if _WORDISH.match(value) or value.isdigit():
        return Confidence.LOW  # dictionary words, identifiers, PINs: a note at most
    if is_known_example(value):
        return Confidence.LOW
    if len(value) >= 8 and shannon_entropy(value) >= 2.5:
        return Confidence.HIGH
    return Confidence.MEDIUM


_ALNUM_BYTES = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _flat(text: bytes) -> bytes:
    return bytes(c for c in text.lower() if 48 <= c <= 57 or 97 <= c <= 122)


# Files whose values are literal strings unless written as a reference (`${NAME}`):
# `password: Ab3d.f9Gh` in YAML is a password, not an attribute of `Ab3d`.
# Shell scripts, Dockerfiles and logs likewise: `PASSWORD=Xy7.Qw3e` is a string there.
_LITERAL_EXTENSIONS = frozenset({"env", "yaml", "yml", "properties", "ini", "cfg", "cnf", "conf",
                                 "toml", "sh", "bash", "zsh", "ksh", "log"})  # fmt: skip
_LITERAL_KINDS = frozenset({"dotenv", "shell", "dockerfile", "dockerfile-env", "compose"})
# Files where `` `cmd` `` is a command's output (shell, Make, YAML and CI files,
# Dockerfiles, .env, Perl, Ruby, PHP); elsewhere a backtick quotes a string (JS
# template literals, Go raw strings).
_COMMAND_EXTENSIONS = frozenset({"sh", "bash", "zsh", "ksh", "fish", "mk", "make", "yaml", "yml",
                                 "env", "rb", "pl", "pm", "t", "php", "dockerfile"})  # fmt: skip
_COMMAND_KINDS = frozenset({"shell", "dockerfile", "dockerfile-env", "compose", "dotenv"})
# C, C++, C#, Objective-C: `'x'` is one character, never a password.
_C_EXTENSIONS = frozenset({"c", "h", "cc", "cpp", "cxx", "hpp", "hh", "cs", "m", "mm"})
# HCL and Terraform: an unquoted value is an expression (`var.db_password`).
_HCL_EXTENSIONS = frozenset({"tf", "tfvars", "hcl"})
# Go source cannot hold these outside a string or comment: an unquoted value with one
# of them is text someone pasted, not an expression.
_NOT_GO_EXPRESSION = re.compile(rb"[$#@\\?~`]|[^\x00-\x7f]")
# A call that takes a value and stores or uses it as the secret: `secret("value")`,
# `std::string secret("…")`, `builder.password("…")`, `setApiKey("…")`, `.assign(`.
_CALL_VERBS = {b"set", b"with", b"use", b"assign", b"std", b"string", b"my", b"the"}
_CALL_NOUNS = _CALL_VERBS | {b"key"} | _KEY_WORDS_BEFORE_KEY
# `snake_case_words` of lowercase letters: an identifier or an enum value, not a password.
_SNAKE_WORDS = re.compile(rb"^[a-z]+(?:_[a-z]+)+$")
# A call with a name and a value: `System.setProperty("NAME", "value")`, `os.Setenv(`,
# `setenv(`, `define(`, `os.getenv("NAME", "fallback")`, `GetEnvOrDefault(`.
_NAMED_CALL = re.compile(rb"[A-Za-z_][\w.]*\([ \t]*[\"']$")
_COMPARISONS = (b"==", b"===", b"!=", b"!==", b".equals(", b".equalsIgnoreCase(")


@dataclass(frozen=True, slots=True)
class _Syntax:
    """What a file's name says about how its values are written."""

    literal: bool  # values are strings unless written as references (YAML, .env, INI)
    hcl: bool  # unquoted values are expressions (Terraform, HCL)
    c_family: bool  # `'x'` is a character constant
    backtick_command: bool  # `` `cmd` `` is a command's output
    go: bool


@functools.lru_cache(maxsize=1024)  # asked once per candidate, the same path each time
def _syntax(path: str, kind: str | None) -> _Syntax:
    name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    return _Syntax(
        literal=kind in _LITERAL_KINDS or ext in _LITERAL_EXTENSIONS or name.startswith(".env"),
        hcl=ext in _HCL_EXTENSIONS,
        c_family=ext in _C_EXTENSIONS,
        backtick_command=kind in _COMMAND_KINDS
        or ext in _COMMAND_EXTENSIONS
        or name in ("makefile", "gnumakefile")
        or name.startswith((".env", "dockerfile", "containerfile")),
        go=ext == "go",
    )


def _assignment(before: bytes, after: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(name, operator, text before the name) of the assignment a value belongs to:
    read back from the text before it, or after it for `"value" == name`."""
    key = _name_before(before, len(before))
    if key is not None and not _names_a_secret(key.group(1)) and key.group("op")[:1] == b":":
        # `$env:API_TOKEN = `: the name after a colon, not a typed `env: API_TOKEN =`
        key = _KEY_BEFORE.search(before, key.end(1) + 1, len(before))
    if key is not None and _names_a_secret(key.group(1)):
        return key.group(1), key.group("op"), before[: key.start(1)]
    if before.endswith((b'"', b"'")) and (b"=" in after[:6] or b".equals" in after[:12]):
        after_key = _NAME_AFTER.match(after)
        if after_key is not None and _names_a_secret(after_key.group(1)):
            return after_key.group(1), b"==", before
    return None


def _is_alnum(value: bytes) -> bool:
    """At least one letter or digit, in any script (`¿?!` has none)."""
    if len(value.translate(None, _ALNUM_BYTES)) < len(value):
        return True
    return any(ch.isalnum() for ch in value.decode("utf-8", "ignore"))


def _check_keyword(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    at = line.find(secret)
    before = line[:at] if at >= 0 else b""
    after = line[at + len(secret) :] if at >= 0 else b""
    quoted = before.endswith((b'"', b"'", b"`"))
    syntax = _syntax(context.path or "", context.kind)
    if not quoted and (context.kind == "code" or syntax.hcl):
        # `password = get_password()`: an expression, not a value; unless Go source holds
        # what no Go expression can (`db_pass := m{{h}o)p$#…`)
        if not (syntax.go and _NOT_GO_EXPRESSION.search(secret)):
            return None
    if before.endswith(b"`") and syntax.backtick_command:
        return None  # `` TOKEN=`cat token` ``: a command's output, not a value
    if before.endswith(b"'") and syntax.c_family:
        return None  # `'…'` in C is a character constant: not this value
    if before.lstrip().startswith((b"#", b"//", b"--", b"*")) and b"define" not in before:
        # commented-out assignments are still leaks in config, rarely in code
        if context.kind == "code":
            return None
    found = _assignment(before, after)
    if found is None:
        return None
    name, op, head = found
    if op == b"(":
        # a call: `password("…")` sets it, `getPassword("…")`, `hashPassword(…)` do not
        last = name.rsplit(b".", 1)[-1]
        if last in (b"equals", b"equalsIgnoreCase"):
            name, op = name[: -len(last) - 1], b".equals("
        elif not set(_words(last)) <= _CALL_NOUNS | set(_SECRET_WORDS) | _SECRET_PLURALS:
            return None
    if head.endswith(b"::"):
        return None  # `"AWS::IAM::AccessKey": ...`: a type name, not a variable
    if b"public" in name.lower():
        return None  # public keys and their tokens are meant to be seen
    if op in _COMPARISONS or b"!=" in before[-4:]:
        # A comparison: `if token == "async"` is a lexer; `if password == "s3cr3t!x"`
        # hard-codes one, and looks like it.
        if len(secret) < 8 or shannon_entropy(secret.strip()) < 3.0:
            return None
    if not op:
        # `NAME "value"` with no operator: C's #define, Dockerfile's legacy ENV form, and
        # block-style configs (`password "value";` in nginx, HCL, Ruby DSLs), where the
        # name opens the line and the value ends the statement.
        lead = head.lstrip().lower()
        if not (
            (lead.startswith(b"#") and b"define" in lead)
            or context.kind == "dockerfile"
            or (lead in (b"", b":") and _BLOCK_TAIL.match(after))
        ):
            return None
    literal = syntax.literal
    value = secret.strip()
    if len(value) < 4 or value == name:
        return None  # too short, or the name again
    if not _is_alnum(value):
        return None  # punctuation only (`", "`, `,.:-¨@*¿?!`)
    if not quoted and value.startswith((b"[", b"{")):
        return None  # `secrets: [db_password, api_token]`: a list or a map, not a value
    if _SNAKE_WORDS.match(value):
        return None  # `real_key`, `auth_token`: a name, not a password
    if quoted and (len(value) - len(value.rstrip(b"\\"))) % 2:
        return None  # the closing quote was escaped: a string inside a string, cut short
    if quoted and value != secret:
        return None  # `` `secrets:` with `file:` ``: words between two quoted names
    if quoted and before[-1:] in secret:
        return None  # `'token','try','unit'`: the value would run over its closing quote
    if literal:
        # `.env`, YAML, INI, properties: values are strings, never expressions:
        # `word.word.word` is a password.
        inner = unquoted(value)
        if is_reference(inner) or is_placeholder(inner):
            return None
    elif not_a_secret(value):
        return None
    if value.startswith(b"?") or (b"=" in value and b", " in value):
        return None  # `${VAR:?message}`; an argument list cut by the quotes
    flat_value, flat_key = _flat(value), _flat(name)
    if len(flat_value) >= 6 and (flat_value in flat_key or flat_key in flat_value):
        return None  # `SN_dhSinglePass_x = "dhSinglePass-x"`: the name spelled again
    if b" " in value:
        words = _words(name)
        if not quoted or not words or words[-1] in _SECRET_PLURALS:
            return None  # unquoted words; `tokens="whitespace standard extended"`: a list
    confidence = Confidence.LOW if is_word(value) else _value_confidence(value, quoted, context)
    if op == b"," and (
        confidence is not Confidence.HIGH
        or not _NAMED_CALL.search(head)
        or value.endswith((b"_", b"-", b".", b":", b"/"))
    ):
        # `("password", "username")`, `("HTTPPasswordMgr", "urllib2")`, `prefixed("x-token",
        # "x_")`: names in a list, a word, a token's prefix
        return None
    if confidence is None:
        return None
    return in_sample(value, context.path, confidence)


KEYWORD_SECRET = Rule(
    id=RuleId("keyword-secret"),
    description="Hard-coded value assigned to a secret-named variable",
    severity=Severity.HIGH,
    pattern=_KEYWORD_PATTERN,
    prefilter=_KEYWORD_PREFILTER,
    starts_within=104,
    remediation=(
        "Change the password or secret at the service it belongs to, then read it at run "
        "time (environment, mounted secret file or secret store) instead of writing it here."
    ),
    check=_check_keyword,
    detect_secrets_type="Secret Keyword",
)

# -- high-entropy strings ---------------------------------------------------------

_UUID = re.compile(rb"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
# Lines that carry content hashes, not credentials.
_HASH_CONTEXT = re.compile(
    rb"(?i)integrity|sha(?:1|256|384|512)|checksum|digest|hash|\bsum\b|resolved|etag|nonce"
    rb"|commit|revision|\brev\b|data:image|base64,|fingerprint|uuid|guid"
)
_SECRETISH_NAME = re.compile(rb"(?i)secret|token|passw|pwd|api.?key|private|credential|auth")


def _named_by_key(secret: bytes, line: bytes) -> bool | None:
    """Whether the name the value is assigned to names a secret (None: no name found)."""
    at = line.find(secret)
    if at <= 0:
        return None
    key = _name_before(line, at)
    if key is None:
        return None
    return _names_a_secret(key.group(1))


# Engine windows around a hit on a very long line are this wide each side: a line
# that fills both is minified code or a data blob.
WINDOW_HINT = 1024
_GENERATED = re.compile(
    r"(?:^|/)(?:package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock"
    r"|Pipfile\.lock|Cargo\.lock|go\.sum|composer\.lock|Gemfile\.lock|uv\.lock|[^/]+\.lock"
    r"|[^/]+\.min\.(?:js|css|mjs)|[^/]+\.(?:js|css)\.map|RECORD)$"
)


def _is_generated(path: str | None) -> bool:
    """Lockfiles, minified bundles and source maps, package RECORD files."""
    return path is not None and bool(_GENERATED.search(path.replace("\\", "/")))


# Letters only, in parts joined by separators: paths and names, which a random base64
# value of this length almost never is (it would need no digit at all).
_WORDS_JOINED = re.compile(rb"^[A-Za-z]+(?:[/_-][A-Za-z]+)+$")


_CAMEL_WORD = re.compile(rb"[A-Z]?[a-z]{2,}")
_SNAKE_PARTS = re.compile(rb"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+){2,}$")


def _is_snake_case_name(secret: bytes) -> bool:
    """Three or more parts joined by `_`, each in one case (`crypto_aead_aegis128l_
    MESSAGEBYTES_MAX`): a constant's or a function's name. A part of random base64
    is rarely all lower or all upper case (about 1 in 50 for 8 characters), three
    such parts about 1 in 100,000."""
    if not _SNAKE_PARTS.match(secret):
        return False
    return all(part.islower() or part.isupper() for part in secret.split(b"_"))


def _is_camel_case_name(secret: bytes) -> bool:
    """Long words, mostly capitalised, run together (`AmazonEKSClusterPolicyV2`).
    Random base64 of 32 or more characters is like that about once in 30,000."""
    if len(secret) < 32:
        return False
    words = _CAMEL_WORD.findall(secret)
    covered = sum(len(word) for word in words)
    return covered * 4 >= len(secret) * 3 and covered >= 5 * len(words)


_SRI_PREFIXES = (b"sha512-", b"sha384-", b"sha256-", b"sha1-")


def _make_entropy_check(limit: float, hex_only: bool) -> Check:
    # Entropy can exceed `limit` bits only with more than 2**limit distinct characters:
    # a cheap test that rejects most candidates before any arithmetic.
    min_distinct = int(2**limit) + 1

    def check(secret: bytes, line: bytes, context: Context) -> Confidence | None:
        if secret.startswith(_SRI_PREFIXES):
            return None  # `sha512-…`: a Subresource Integrity hash, as lockfiles hold
        if len(set(secret)) < min_distinct:
            return None
        if hex_only and secret.isdigit():
            return None
        if not hex_only and secret.count(b".") >= 2:
            return None  # dotted: versions, hostnames, JWTs (their own rule)
        if not hex_only and _WORDS_JOINED.match(secret):
            return None  # `service-role/AWSLambdaExecutionRole`: a path of words
        if shannon_entropy(secret) <= limit or not_a_secret(secret) or _UUID.match(secret):
            return None
        by_key = _named_by_key(secret, line)
        # Without a key, a secret-like word elsewhere on the line (not in the value
        # itself: `"crypto_secretbox_KEYBYTES"` names nothing) makes it named.
        named = (
            by_key
            if by_key is not None
            else bool(_SECRETISH_NAME.search(line.replace(secret, b"")))
        )
        if not named and (_is_camel_case_name(secret) or _is_snake_case_name(secret)):
            return None  # `AmazonEKSClusterPolicyV2`, `crypto_box_SEEDBYTES`: identifiers
        if not named and _HASH_CONTEXT.search(line):
            return None
        if not named and hex_only and len(secret) in (32, 40, 56, 64, 96, 128):
            return None  # md5/sha1/sha2 digests: in code, SBOMs, lockfiles and manifests
        if not named and (_is_generated(context.path) or len(line) >= 2 * WINDOW_HINT):
            return None  # lockfiles, source maps, minified bundles: hashes and ids galore
        if is_sample_path(context.path) or is_known_example(secret):
            # Test fixtures, examples and docs: only a secret-like name makes it worth a note.
            return Confidence.LOW if named else None
        return Confidence.MEDIUM if named else Confidence.LOW

    return check


HIGH_ENTROPY_BASE64 = Rule(
    id=RuleId("high-entropy-base64"),
    description="High-entropy string (base64 alphabet)",
    severity=Severity.MEDIUM,
    pattern=r"(?P<q>[\"'`])(?P<secret>[A-Za-z0-9+/=_-]{20,1000})(?P=q)",
    # The string's last characters and its closing quote: Hyperscan runs a pattern that
    # ends at a quote far faster than one that starts at every quote.
    prefilter=r"[A-Za-z0-9+/=_-]{23}[\"'`]",
    remediation=(
        "If this is a credential, rotate it at the service that issued it and load it at run "
        "time; if it is not, allowlist it with a `leakguard:allow` comment."
    ),
    confidence=Confidence.LOW,
    check=_make_entropy_check(4.5, hex_only=False),
    detect_secrets_type="Base64 High Entropy String",
)

HIGH_ENTROPY_HEX = Rule(
    id=RuleId("high-entropy-hex"),
    description="High-entropy string (hex)",
    severity=Severity.MEDIUM,
    pattern=r"(?P<q>[\"'`])(?P<secret>[0-9a-fA-F]{20,1000})(?P=q)",
    prefilter=r"[0-9a-fA-F]{20}[\"'`]",
    remediation=HIGH_ENTROPY_BASE64.remediation,
    confidence=Confidence.LOW,
    check=_make_entropy_check(3.0, hex_only=True),
    detect_secrets_type="Hex High Entropy String",
)

# -- public IP addresses (off by default: an address is not a credential) -----------

_PRIVATE_V4 = re.compile(
    rb"^(?:10\.|127\.|0\.|169\.254\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|22[4-9]\.|2[3-5]\d\.)"
)


def _check_ip(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    if _PRIVATE_V4.match(secret) or any(int(p) > 255 for p in secret.split(b".")):
        return None
    return Confidence.LOW


PUBLIC_IPV4 = Rule(
    id=RuleId("public-ipv4"),
    description="Public IPv4 address (off by default)",
    severity=Severity.LOW,
    pattern=r"(?<![\w.])(?P<secret>(?:\d{1,3}\.){3}\d{1,3})(?![\w.])",
    prefilter=r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d",
    remediation="Check whether exposing this address matters; enable the rule only if it does.",
    confidence=Confidence.LOW,
    check=_check_ip,
    detect_secrets_type="Public IP (ipv4)",
    enabled_by_default=False,
)

RULES: list[Rule] = [
    PRIVATE_KEY,
    JWT,
    URL_CREDENTIALS,
    KEYWORD_SECRET,
    HIGH_ENTROPY_BASE64,
    HIGH_ENTROPY_HEX,
    PUBLIC_IPV4,
]
