"""Command lines, wherever they are written.

A Dockerfile's `RUN` and `CMD`, a Compose service's `command:`, a shell
script, a Makefile recipe and a CI job's `run:` or `script:` all hold shell
command lines, and the same credentials get typed into all of them:
`curl -u user:password`, `docker login -p`, `sshpass -p`, `mysql -pPASSWORD`,
`wget --password=`, a `PGPASSWORD` prefix on `psql`. `command_credentials`
finds them in one simple command; `shell_commands` splits a script into
simple commands.
Values that point elsewhere (`$VAR`, `${VAR}`, `$(cat file)`, backticks) are
not secrets.

`scan` is the surface for shell scripts (by extension or a `#!` line),
Makefiles (their recipes) and CI pipeline files (GitHub Actions `run:`,
GitLab CI `script:`/`before_script:`/`after_script:`, and the like): the
engine over the whole text, plus what the command analysis finds, reported as
`command-credential`.
"""

from __future__ import annotations

import functools
import logging
import posixpath
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from leakguard.models import (
    Confidence,
    Finding,
    Location,
    RuleId,
    ScanResult,
    SecretValue,
    Surface,
    fingerprint,
    redact,
)
from leakguard.rules import Context
from leakguard.rules.container import COMMAND_CHECKS, COMMAND_RULE_ID
from leakguard.rules.values import is_placeholder, is_reference
from leakguard.tree import DISK

if TYPE_CHECKING:
    from leakguard.engine import Engine
    from leakguard.tree import SourceTree

log = logging.getLogger(__name__)

# -- secret-named variables ----------------------------------------------------------

_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SECRET_WORDS = frozenset({
    "password", "passwd", "pword", "pwd", "secret", "token", "apikey", "credential",
    "credentials", "passphrase", "auth", "authtoken", "accesstoken", "pat",
})  # fmt: skip
_KEY_QUALIFIERS = frozenset({
    "api", "secret", "private", "priv", "access", "auth", "client", "signing", "encryption",
    "master", "ssh", "deploy", "service", "account", "app", "session", "license", "licence",
    "encrypt", "hmac", "jwt", "aes", "rsa", "sas", "storage", "admin",
})  # fmt: skip
# A name that ends with one of these holds something *about* a secret.
_ABOUT_SECRET = frozenset({
    "url", "uri", "file", "files", "path", "dir", "id", "ids", "name", "host", "hostname",
    "port", "endpoint", "type", "user", "username", "length", "len", "ttl", "timeout",
    "region", "version", "enabled", "enable", "disabled", "mode", "header", "format",
    "fingerprint", "kind", "scope", "scopes", "server", "servers", "location", "ref", "arn",
    "prefix", "suffix", "algorithm", "algo", "method", "policy", "expiry", "expires", "hash",
    "size", "bits", "count", "required", "audience", "issuer", "provider", "store", "helper",
    "cmd", "command", "email", "field", "label", "env", "var",
})  # fmt: skip
_PUBLIC = frozenset({"public", "pub", "publishable"})


@functools.lru_cache(maxsize=4096)  # the same names come back instruction after instruction
def secret_name_reason(name: str) -> str | None:
    """Why a variable's name says it holds a secret, or None when it does not.

    Like BuildKit's `SecretsUsedInArgOrEnv` check, by the words of the name,
    but a name about a secret (`PUBLIC_KEY_URL`, `TOKEN_FILE`, `GPG_KEY`, a
    key id or a user name) is not one.
    """
    words: list[str] = []
    for part in re.split(r"[_.\-]+", name):
        words.extend(w.lower() for w in _CAMEL.findall(part))
    if not words or any(w in _PUBLIC for w in words) or words[-1] in _ABOUT_SECRET:
        return None
    for k, word in enumerate(words):
        if word in _SECRET_WORDS or word.endswith(("password", "passwd", "token", "secret")):
            return f"its name says it holds a secret ({word.upper()})"
        if word == "key" and k > 0 and words[k - 1] in _KEY_QUALIFIERS:
            return f"its name says it holds a secret ({words[k - 1].upper()}_KEY)"
        if word.endswith("key") and word[:-3] in _KEY_QUALIFIERS:
            return f"its name says it holds a secret ({word.upper()})"
    return None


_VAR_REF = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")
_DEFAULT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-)([^}]+)\}")


def referenced_names(text: str) -> set[str]:
    return {a or b for a, b in _VAR_REF.findall(text)}


def interpolation_defaults(text: str) -> Iterator[tuple[int, str, str]]:
    """(offset, variable, default) of each `${NAME:-default}` / `${NAME-default}`."""
    for m in _DEFAULT.finditer(text):
        yield m.start(2), m.group(1), m.group(2)


def is_literal(value: str) -> bool:
    """A value typed in, not a reference (`$X`, `${X}`, `$(cat ...)`, backticks) or
    placeholder."""
    raw = value.encode("utf-8", "surrogateescape")
    return (
        len(value) >= 3
        and "$" not in value
        and "`" not in value  # a command substitution
        and not is_reference(raw)
        and not is_placeholder(raw)
        and not value.startswith(("/run/secrets/", "/var/run/secrets/"))
    )


# -- shell commands ----------------------------------------------------------------------

_SEPARATORS = frozenset({"&&", "||", ";", "|", "&", ";;", "(", ")", "|&", "\n"})
REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>"})


# A line with none of these has no credential and writes no credential file.
_INTERESTING = re.compile(
    r"(?i)>|tee|curl|wget|login|mysql|maria|sshpass|npm|yarn|git|htpasswd|pass|pwd|secret"
    r"|token|key|auth|cred|\brm\b|shred|unlink|-cli\b|mongo|sqlcmd|\bbcp\b"
)


def logical_lines(script: str) -> Iterator[tuple[int, int, str]]:
    """(first, last, text) of each line with its backslash continuations joined;
    first and last are 0-based physical line numbers."""
    lines = [line[:-1] if line.endswith("\r") else line for line in script.split("\n")]
    if lines and not lines[-1]:
        lines.pop()
    k = 0
    while k < len(lines):
        first, parts = k, [lines[k]]
        while parts[-1].endswith("\\") and k + 1 < len(lines):
            parts[-1] = parts[-1][:-1]
            k += 1
            parts.append(lines[k])
        yield first, k, " ".join(parts)
        k += 1


# Shell words the way `shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")`
# with `whitespace_split` splits them (words, and runs of punctuation), but in
# one regex pass: this runs on every line of every script.
_WORD = r"""(?:'[^']*'|"(?:[^"\\]|\\.)*"|\\.|[^\s;&|()<>'"\\])+"""
_TOKENS = re.compile(rf"{_WORD}|[;&|()<>]+")
_PART = re.compile(r"""'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)|([^'"\\]+)""", re.S)
_ESCAPED_IN_DOUBLE = re.compile(r"""\\(["\\])""")


def _unquote_word(word: str) -> str:
    if not any(c in word for c in "'\"\\"):
        return word
    out = []
    for single, double, escaped, plain in _PART.findall(word):
        out.append(single or _ESCAPED_IN_DOUBLE.sub(r"\1", double) or escaped or plain)
    return "".join(out)


def _line_commands(
    line: str, interesting: re.Pattern[str] | None = _INTERESTING
) -> list[list[str]]:
    if line.lstrip().startswith("#") or (interesting and not interesting.search(line)):
        return []
    tokens: list[str] = []
    end = 0
    for m in _TOKENS.finditer(line):
        if not line[end : m.start()].isspace() and m.start() > end:
            break  # an unbalanced quote: no token could start there
        tokens.append(m.group())
        end = m.end()
    if line[end:].strip():  # an unbalanced quote (or one left over): plain words
        return [line.split()]
    out: list[list[str]] = [[]]
    for token in tokens:
        if token in _SEPARATORS:
            out.append([])
        elif token[0] in ";&|()<>":
            out[-1].append(token)
        else:
            out[-1].append(_unquote_word(token))
    return [c for c in out if c]


def shell_commands(script: str) -> list[list[str]]:
    """Simple commands of a shell script, as word lists (redirections kept as words)."""
    return [c for _, _, line in logical_lines(script) for c in _line_commands(line)]


def strip_prefix(words: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Leading `NAME=value` assignments (and `export`/`sudo`/`env`), then the command."""
    assignments: list[tuple[str, str]] = []
    k = 0
    while k < len(words):
        word = words[k]
        if word in ("export", "sudo", "env", "exec", "command", "time", "nohup", "-E"):
            k += 1
            continue
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", word, re.S)
        if m is None:
            break
        assignments.append((m.group(1), m.group(2)))
        k += 1
    return assignments, words[k:]


def _option_values(args: list[str], short: str | None, longs: Iterable[str]) -> Iterator[str]:
    """Values of `-x VALUE`, `-xVALUE`, `--long VALUE`, `--long=VALUE`."""
    longs = tuple(longs)
    letter = short[1:] if short else ""
    for k, arg in enumerate(args):
        nxt = args[k + 1] if k + 1 < len(args) else None
        if letter and arg.startswith("-") and not arg.startswith("--") and letter in arg[1:]:
            # `-u VALUE`, `-uVALUE`, and combined flags: `-fu VALUE`, `-fuVALUE`
            rest = arg[arg.index(letter, 1) + 1 :]
            if rest:
                yield rest
            elif nxt is not None:
                yield nxt
        for name in longs:
            if arg == name and nxt is not None:
                yield nxt
            elif arg.startswith(name + "="):
                yield arg[len(name) + 1 :]


@dataclass(frozen=True, slots=True)
class CommandLeak:
    secret: str
    what: str


def command_credentials(words: list[str]) -> list[CommandLeak]:
    """Credentials written into one simple command's arguments."""
    assignments, cmd = strip_prefix(words)
    out: list[CommandLeak] = [
        CommandLeak(value, f"`{name}=...` sets a secret-named variable to a literal")
        for name, value in assignments
        if secret_name_reason(name) and is_literal(value)
    ]
    if not cmd:
        return out
    prog = posixpath.basename(cmd[0])
    args = cmd[1:]
    found: list[tuple[str, str]] = []
    if prog == "curl":
        for v in _option_values(args, "-u", ("--user", "--proxy-user")):
            user, sep, password = v.partition(":")
            if sep:
                found.append((password, "`curl -u user:password`"))
        for v in _option_values(args, "-H", ("--header",)):
            found.extend((t, "`curl` with an Authorization header") for t in _auth_header(v))
        found.extend(
            (v, "`curl --oauth2-bearer`") for v in _option_values(args, None, ("--oauth2-bearer",))
        )
    elif prog == "wget":
        names = ("--password", "--http-password", "--ftp-password", "--proxy-password")
        found.extend((v, "`wget --password`") for v in _option_values(args, None, names))
        for v in _option_values(args, None, ("--header",)):
            found.extend((t, "`wget` with an Authorization header") for t in _auth_header(v))
    elif prog in ("docker", "podman", "buildah", "skopeo", "helm", "oras", "crane") and (
        "login" in args
    ):
        found.extend((v, f"`{prog} login -p`") for v in _option_values(args, "-p", ("--password",)))
    elif prog in ("mysql", "mysqldump", "mysqladmin", "mariadb", "mariadb-dump", "mysqlimport"):
        for arg in args:
            if arg.startswith("-p") and len(arg) > 2 and not arg.startswith("--"):
                found.append((arg[2:], f"`{prog} -p<password>`"))
            elif arg.startswith("--password="):
                found.append((arg.split("=", 1)[1], f"`{prog} --password=`"))
    elif prog == "sshpass":
        found.extend((v, "`sshpass -p`") for v in _option_values(args, "-p", ()))
    elif prog in ("redis-cli", "valkey-cli", "keydb-cli"):
        values = _option_values(args, "-a", ("--pass",))
        found.extend((v, f"`{prog} -a`") for v in values if not v.startswith("-"))
    elif prog in ("mongosh", "mongo", "mongodump", "mongorestore", "mongoexport", "mongoimport"):
        values = _option_values(args, "-p", ("--password",))
        found.extend((v, f"`{prog} --password`") for v in values if not v.startswith("-"))
    elif prog in ("sqlcmd", "bcp"):
        found.extend((v, f"`{prog} -P`") for v in _option_values(args, "-P", ()) if v[:1] != "-")
    elif prog in ("npm", "pnpm", "yarn") and "config" in args and "set" in args:
        rest = args[args.index("set") + 1 :]
        if rest:
            key, eq, value = rest[0].partition("=")
            if not eq and len(rest) > 1:
                value = rest[1]
            if any(t in key.lower() for t in ("_authtoken", "_auth", "_password", "authtoken")):
                found.append((value, f"`{prog} config set {key}`"))
    elif prog == "htpasswd" and any(a.startswith("-") and "b" in a for a in args):
        plain = [a for a in args if not a.startswith("-")]
        if len(plain) >= 3:
            found.append((plain[-1], "`htpasswd -b`"))
    out.extend(CommandLeak(secret, what) for secret, what in found if is_literal(secret))
    return out


def _auth_header(value: str) -> Iterator[str]:
    """The credential of an Authorization-like header. `Basic` ones are left to the
    `basic-auth-header` rule, which reports them decoded (user:password) everywhere."""
    m = re.match(
        r"(?i)\s*(?:authorization|private-token|x-api-key|x-auth-token)\s*:\s*"
        r"(?:(bearer|basic|token)\s+)?(\S+)",
        value,
    )
    if m and (m.group(1) or "").lower() != "basic":
        yield m.group(2)


def written_files(words: list[str]) -> list[str]:
    """Files one simple command writes to: redirection targets, `tee` arguments,
    and the config files of `npm config set` / `git config --global`."""
    out: list[str] = []
    for k, word in enumerate(words):
        if word in REDIRECTS and k + 1 < len(words):
            out.append(words[k + 1])
        elif re.fullmatch(r"\d?>>?", word) and k + 1 < len(words) and not word.startswith("2"):
            out.append(words[k + 1])
    _, cmd = strip_prefix(words)
    if cmd:
        prog = posixpath.basename(cmd[0])
        if prog == "tee":
            out.extend(a for a in cmd[1:] if not a.startswith("-") and a not in REDIRECTS)
        elif prog in ("npm", "pnpm") and "config" in cmd and "set" in cmd:
            out.append("~/.npmrc")
        elif (
            prog == "git"
            and "config" in cmd
            and "--global" in cmd
            and any("credential" in a or "insteadof" in a.lower() for a in cmd)
        ):
            out.append("~/.gitconfig")
    return [o for o in out if o and not o.startswith("&") and o != "/dev/null"]


def removed_files(words: list[str]) -> list[str]:
    _, cmd = strip_prefix(words)
    if cmd and posixpath.basename(cmd[0]) in ("rm", "shred", "unlink"):
        return [a for a in cmd[1:] if not a.startswith("-")]
    return []


# -- where command lines are written -------------------------------------------------------

_SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "zsh", "mksh", "busybox"})
_SCRIPT_EXTENSIONS = frozenset({".sh", ".bash", ".zsh", ".ksh", ".ash", ".dash"})
_MAKEFILE_NAMES = frozenset({"makefile", "gnumakefile", "bsdmakefile"})
_CI_NAMES = frozenset({
    ".gitlab-ci.yml", ".gitlab-ci.yaml", "bitbucket-pipelines.yml", "azure-pipelines.yml",
    "azure-pipelines.yaml", ".travis.yml", ".drone.yml", "action.yml", "action.yaml",
})  # fmt: skip
# Keys whose value is a shell script in CI pipeline files: GitHub Actions `run`,
# GitLab CI `script`/`before_script`/`after_script`, CircleCI `command`, Azure
# Pipelines `script`/`bash`, Travis CI's phases, Drone's `commands`.
_SCRIPT_KEYS = frozenset({
    "run", "script", "before_script", "after_script", "command", "commands", "bash",
    "install", "before_install", "after_success", "after_failure", "before_deploy",
})  # fmt: skip
MAX_CI_NODES = 200_000


def script_kind(path: str, head: bytes = b"") -> str | None:
    """ "shell", "makefile" or "ci" when the file holds command lines, else None.

    By name (`*.sh`, `Makefile`, `*.mk`, `.github/workflows/*.yml`,
    `.gitlab-ci.yml`, ...) or, for a file without an extension, by a `#!` line
    naming a POSIX shell.
    """
    name = path[max(path.rfind("/"), path.rfind("\\")) + 1 :].lower()
    dot = name.rfind(".")
    if dot < 0:
        if name in _MAKEFILE_NAMES:
            return "makefile"
        return _shebang_kind(head) if head.startswith(b"#!") else None
    ext = name[dot:]
    if ext in _SCRIPT_EXTENSIONS:
        return "shell"
    if ext in (".yml", ".yaml"):
        folder = path.replace("\\", "/").lower()
        if (
            name in _CI_NAMES
            or name.endswith(".gitlab-ci.yml")
            or "/.github/workflows/" in "/" + folder
            or "/.circleci/" in "/" + folder
        ):
            return "ci"
        return None
    if ext == ".mk" or name.startswith("makefile."):
        return "makefile"
    return None


def _shebang_kind(head: bytes) -> str | None:
    first = head[2:].split(b"\n", 1)[0].decode("latin-1").split()
    if first and posixpath.basename(first[0]) == "env" and len(first) > 1:
        first = first[1:]
    if first and posixpath.basename(first[0]) in _SHELLS:
        return "shell"
    return None


# Where (in the lower-cased text) a command could hold a credential that
# `command_credentials` reports: a program with its credential option on the same
# logical line, or a secret-named assignment whose value is not a reference.
_REST = r"(?:[^\n]|\\\n)*?"  # the rest of a logical line, lazily
# An Authorization-like header whose value is typed in (not `$TOKEN`).
_AUTH = (
    r"[\s=]*[\"']?(?:authorization|private-token|x-api-key|x-auth-token)\s*:\s*"
    r"(?!(?:bearer|basic|token)\s+[$`])(?:(?:bearer|basic|token)\s+)?[^\s$`\"']"
)
_CREDENTIAL_HINT = re.compile(
    r"(?=[cwlmsnyhpatkrvb])(?:"
    rf"curl\b{_REST}(?:\s-[a-z]*u|--(?:proxy-)?user\b|--oauth2|(?:\s-[a-z]*h|--header){_AUTH})"
    rf"|wget\b{_REST}(?:password|--header{_AUTH})"
    rf"|login\b{_REST}\s(?:-[a-z]*p|--password\b)"
    rf"|(?:mysql|maria)[a-z-]*\b{_REST}\s(?:-p\S|--password=)"
    r"|sshpass\b|htpasswd\b"
    rf"|(?:redis|valkey|keydb)-cli\b{_REST}\s(?:-[a-z]*a|--pass\b)"
    rf"|mongo[a-z]*\b{_REST}\s(?:-[a-z]*p|--password\b)"
    rf"|(?:sqlcmd|bcp)\b{_REST}\s-[a-z]*p"
    rf"|(?:npm|pnpm|yarn)\s+config\s+set\b"
    r"|(?:pass|pwd|secret|token|key|auth|cred|pat)\w*=[\"']?[^\s$`\"'])"
)

# The same, for a whole file's bytes: most files have no hint and are not decoded.
_CREDENTIAL_HINT_BYTES = re.compile(_CREDENTIAL_HINT.pattern.encode())


def _hint_lines(script: str) -> set[int]:
    """0-based numbers of the lines that `_CREDENTIAL_HINT` finds something on."""
    low = script.lower()
    out: set[int] = set()
    line = at = 0
    for m in _CREDENTIAL_HINT.finditer(low):
        line += low.count("\n", at, m.start())
        at = m.start()
        out.add(line)
    return out


def script_leaks(script: str) -> Iterator[tuple[int, int, CommandLeak]]:
    """(first, last, leak): credentials in a script's commands, with the 0-based
    physical lines of the logical line that holds each."""
    hints = _hint_lines(script)
    if not hints:
        return
    for first, last, line in logical_lines(script):
        if not any(k in hints for k in range(first, last + 1)):
            continue
        for words in _line_commands(line, None):
            for leak in command_credentials(words):
                yield first, last, leak


def makefile_recipes(text: str) -> str:
    """The recipe lines of a Makefile as a shell script, other lines blanked (so
    line numbers stay); `@`, `-` and `+` prefixes dropped from the start of each
    command (a continuation line is the command's own text: `\\` then `-pX` keeps
    its `-`)."""
    out: list[str] = []
    in_recipe = False
    for line in text.split("\n"):
        continued = in_recipe and bool(out) and out[-1].endswith("\\")
        if continued:
            out.append(line.removeprefix("\t"))
            continue
        if line.startswith("\t"):
            out.append(line.lstrip("\t").lstrip("@-+ "))
            in_recipe = True
            continue
        in_recipe = False
        out.append("")
    return "\n".join(out)


def scan(engine: Engine, data: bytes, path: str, tree: SourceTree = DISK) -> ScanResult:
    """Findings in a shell script, a Makefile or a CI pipeline file (which names no
    other file: `tree` is unused)."""
    result = ScanResult()
    location = Location(surface=Surface.FILE, path=path)
    result.findings.extend(engine.scan_bytes(data, location, Context(path=path)))
    seen = {(f.location.line, f.fingerprint) for f in result.findings}
    for f in command_findings(data, path):
        if (f.location.line, f.fingerprint) not in seen:
            seen.add((f.location.line, f.fingerprint))
            result.findings.append(f)
    return result


def command_findings(data: bytes, path: str, lines: Sequence[int] | None = None) -> list[Finding]:
    """The command-line analysis alone (not the engine's token scan): credentials in
    the commands of a shell script, a Makefile's recipes or a CI file's jobs.

    With `lines` (1-based, ascending: what a commit added), only the logical
    lines that hold one of them are read (in a CI file, the scripts that do).
    """
    kind = script_kind(path, data[:256])
    if kind is None:
        return []
    location = Location(surface=Surface.FILE, path=path)
    if lines is not None and kind != "ci":
        return _commands_on_lines(data, location, kind, lines)
    if not _CREDENTIAL_HINT_BYTES.search(data.lower()):
        return []
    text = data.decode("utf-8", "surrogateescape")
    all_lines = text.split("\n")
    found: list[Finding] = []
    if kind == "ci":
        wanted = set(lines) if lines is not None else None
        for first, last, script in _ci_scripts(text):
            if wanted is not None and not any(k + 1 in wanted for k in range(first, last + 1)):
                continue
            for a, _, leak in script_leaks(script):
                found.append(_finding(location, all_lines, first, last, leak, "a CI job's script",
                                      hint=first + a))  # fmt: skip
    else:
        script = makefile_recipes(text) if kind == "makefile" else text
        for first, last, leak in script_leaks(script):
            found.append(_finding(location, all_lines, first, last, leak, _WHERE[kind]))
    return found


_WHERE = {"makefile": "a Makefile recipe", "shell": "a shell script"}

# What lines must hold for a credential to be typed on them: a short option that
# takes one (`-u`, `-p`, `-pPASS`, `-a`), or one of these words (`--user`, `--password=`,
# `--header`, an auth header, `sshpass`, `npm config set`, a secret-named
# assignment). Looser than the hint, and cheap: literal searches.
_SHORT_OPTION = re.compile(rb"-[a-z]*[pua]")
_LINE_WORDS = (b"pass", b"pwd", b"secret", b"token", b"key", b"auth", b"cred", b"pat",
               b"user", b"header", b"bearer", b"config set")  # fmt: skip


def may_hold_credential(lines: bytes) -> bool:
    """Whether these (added) lines could hold a command-line credential; when not,
    `command_findings` for them finds nothing the token scan would not."""
    low = lines.lower()
    return any(word in low for word in _LINE_WORDS) or _SHORT_OPTION.search(low) is not None


def _commands_on_lines(
    data: bytes, location: Location, kind: str, numbers: Sequence[int]
) -> list[Finding]:
    """Credentials on the logical lines (backslash continuations joined) that hold
    one of the 1-based line `numbers`; nothing else of the file is decoded."""
    raw = data.split(b"\n")
    spans: list[list[int]] = []  # [first, last], 0-based, in order, merged
    for n in numbers:
        k = n - 1
        if not 0 <= k < len(raw) or (spans and k <= spans[-1][1]):
            continue
        first = last = k
        while first > 0 and raw[first - 1].endswith(b"\\"):
            first -= 1
        while last < len(raw) - 1 and raw[last].endswith(b"\\"):
            last += 1
        if spans and first <= spans[-1][1] + 1:
            spans[-1][1] = last
        else:
            spans.append([first, last])
    index = [k for first, last in spans for k in range(first, last + 1)]
    picked = b"\n".join(raw[k] for k in index)
    if not _CREDENTIAL_HINT_BYTES.search(picked.lower()):
        return []
    text = picked.decode("utf-8", "surrogateescape")
    script = makefile_recipes(text) if kind == "makefile" else text
    out: list[Finding] = []
    for first, last, leak in script_leaks(script):
        f = _finding(location, text.split("\n"), first, last, leak, _WHERE[kind])
        line = index[(f.location.line or 1) - 1] + 1
        out.append(replace(f, location=location.at(line, f.location.column)))
    return out


def _finding(
    location: Location,
    lines: list[str],
    first: int,
    last: int,
    leak: CommandLeak,
    where: str,
    hint: int | None = None,
) -> Finding:
    line, column = _locate(lines, first, last, leak.secret, hint)
    secret = leak.secret.encode("utf-8", "surrogateescape")
    info = COMMAND_CHECKS[COMMAND_RULE_ID]
    return Finding(
        rule_id=RuleId(COMMAND_RULE_ID),
        severity=info.severity,
        confidence=Confidence.HIGH,
        location=location.at(line, column),
        fingerprint=fingerprint(secret),
        redacted=redact(secret),
        message=f"{leak.what} in {where}: anyone who can read the file has it",
        remediation=info.remediation,
        secret=SecretValue(secret),
    )


def _locate(
    lines: list[str], first: int, last: int, needle: str, hint: int | None = None
) -> tuple[int, int]:
    """1-based (line, column) of `needle` in lines first..last (0-based), or of the
    first line when it is not written there verbatim (quoted, escaped)."""
    start = hint if hint is not None and first <= hint <= last else first
    for k in (*range(start, min(last + 1, len(lines))), *range(first, start)):
        at = lines[k].find(needle)
        if at >= 0:
            return k + 1, len(lines[k][:at].encode("utf-8", "surrogateescape")) + 1
    return start + 1, 1


def _ci_scripts(text: str) -> Iterator[tuple[int, int, str]]:
    """(first, last, script) of each script-valued key in a CI pipeline file;
    first and last are the 0-based lines the value spans."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = yaml.compose(text, Loader=loader)
    except yaml.YAMLError as e:
        log.debug("not YAML (%s): scripts not read", e)
        return
    stack: list[Any] = [root] if root is not None else []
    seen: set[int] = set()
    while stack and len(seen) < MAX_CI_NODES:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value in _SCRIPT_KEYS:
                    yield from _scalars(value, yaml)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _scalars(node: Any, yaml: Any) -> Iterator[tuple[int, int, str]]:
    """Each string in a script value: one string, or a (nested) list of them."""
    if isinstance(node, yaml.ScalarNode) and isinstance(node.value, str):
        first = node.start_mark.line
        if node.style in ("|", ">"):
            first += 1  # the block's text starts below its indicator
        yield first, max(first, node.end_mark.line), node.value
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _scalars(item, yaml)


# -- masking a command line for a message ------------------------------------------------

MASK = "<redacted>"
_QUOTED_OR_WORD = r"(?:\"[^\"]*\"|'[^']*'|[^\s;|&)]+)"
# NAME=value (a secret-named variable) and a long option's value (--db-password=v,
# --token v): the value is group "v"; the name, group "n".
_ASSIGNED = re.compile(rf"(?P<n>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<v>{_QUOTED_OR_WORD})")
_CREDENTIAL_OPTION = re.compile(
    r"(?i)(?<!\S)(?P<n>--?[a-z][\w-]*(?:pass|pwd|secret|token|key|auth|cred|user|login)[\w-]*"
    rf"|-[pu])(?:=|\s+)(?P<v>{_QUOTED_OR_WORD})"
)
_ATTACHED_PASSWORD = re.compile(r"(?<!\S)-p(?P<v>[^\s;|&]{3,})")  # mysql -pPASSWORD
_URL_PASSWORD = re.compile(r"(?P<n>://[^/\s:@]*:)(?P<v>[^@\s/]+)@")
# A word that could be a value: base64/URL-safe characters, `=` padding at the end.
_VALUE_WORD = re.compile(r"(?<![A-Za-z0-9+/_~=-])[A-Za-z0-9+/_~-]+={0,2}(?![A-Za-z0-9+/_~=-])")


def _value_like(word: str) -> bool:
    """Whether a word looks generated: 16 characters or more with letters and digits,
    or 8 or more with upper case, lower case and digits. A path (`/usr/lib/x86_64`,
    `usr/lib64/...`: a leading `/` or lower-case parts) is not."""
    if len(word) < 8 or word.startswith(("/", "~")):
        return False
    if not any(c.isdigit() for c in word) or not any(c.isalpha() for c in word):
        return False
    if "/" in word and all(p == p.lower() for p in word.split("/")):
        return False
    if len(word) >= 16:
        return True
    return any(c.isupper() for c in word) and any(c.islower() for c in word)


def masked_command(text: str, secrets: Iterable[str] = ()) -> str:
    """A command line fit to quote in a message: the `secrets` found in it, the
    value of every secret-named assignment and credential option (`-p`, `-u`,
    `--password=`, `--token`), a URL's password and every word that looks
    generated (long, or with letters and digits mixed) are replaced by
    `<redacted>`, so a value that detection missed is not quoted either."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)

    def value(m: re.Match[str]) -> str:
        v = m.group("v")
        if v.startswith("$") or v == MASK:
            return m.group(0)
        start, end = m.span("v")
        return m.string[m.start() : start] + MASK + m.string[end : m.end()]

    def assigned(m: re.Match[str]) -> str:
        name = m.group("n").rsplit(".", 1)[-1]
        return value(m) if secret_name_reason(name) else m.group(0)

    text = _URL_PASSWORD.sub(value, text)
    text = _ASSIGNED.sub(assigned, text)
    text = _CREDENTIAL_OPTION.sub(value, text)
    text = _ATTACHED_PASSWORD.sub(value, text)
    return _VALUE_WORD.sub(lambda m: MASK if _value_like(m.group(0)) else m.group(0), text)
