"""Value analysis shared by the generic rules: is this string a secret, or a
placeholder, reference or ordinary word that merely sits where one could be?

Every test here is a rule anyone can read; each returns True for "not a secret".
"""

from __future__ import annotations

import math
import re
from collections import Counter

# Words that mark a value as an example or a hole to fill in.
PLACEHOLDER_WORDS = (
    b"changeme", b"change_me", b"change-me", b"example", b"placeholder", b"your", b"dummy",
    b"sample", b"redacted", b"replace", b"insert", b"todo", b"fixme", b"notreal", b"fake",
    b"xxxx", b"****", b"....", b"<", b"secret_here", b"password_here", b"foobar",
)  # fmt: skip

# Shapes that point at a secret kept elsewhere instead of holding one.
_REFERENCE = re.compile(
    rb"""^(?:
        \$\{[^}]*\}?                       # ${VAR}, ${VAR:-...}
      | \$\(.*                             # $(cat file)
      | \$[A-Za-z_][A-Za-z0-9_]*$          # $VAR
      | \{\{.*\}\}                         # {{ .Values.x }}
      | \{\{.*                             # {{ ... (cut by the line)
      | %\([A-Za-z_]+\)s                   # %(name)s
      | %[sd]$ | \{\d*\}$ | \{[a-z_]+\}$    # %s, {}, {name}
      | <[^>]*>?                           # <your-token>
      | /run/secrets/.* | /var/run/secrets/.*
      | (?:os\.)?environ.* | process\.env.* | getenv.* | ENV\[.*
      | (?:file|env|vault|secret|ref|op|arn):.*    # scheme-style references
    )""",
    re.X,
)

_REPEATED = re.compile(rb"^(.)\1+$|^(..)\2+$|^(...)\3+$")
_IDENTIFIER = re.compile(
    rb"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+(?:\(\)?)?$|^[A-Za-z_]\w*\("
)
_SEQUENTIAL = (
    b"abcdefghijklmnopqrstuvwxyz", b"0123456789", b"9876543210", b"qwertyuiop", b"asdfghjkl",
)  # fmt: skip
_LITERALS = {
    b"none", b"null", b"nil", b"true", b"false", b"undefined", b"yes", b"no", b"on", b"off",
    b"required", b"optional", b"string", b"str", b"bool", b"int", b"bytes", b"password",
    b"secret", b"token", b"empty", b"default", b"hidden", b"unset", b"n/a", b"na", b"tbd",
}  # fmt: skip


def shannon_entropy(value: bytes) -> float:
    """Bits per character of `value`'s own character distribution."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def is_placeholder(value: bytes) -> bool:
    lower = value.lower()
    if lower in _LITERALS:
        return True
    if any(word in lower for word in PLACEHOLDER_WORDS):
        return True
    if _REPEATED.match(lower):
        return True
    return any(lower in seq or seq[: len(lower)] == lower for seq in _SEQUENTIAL if len(lower) >= 4)


def is_reference(value: bytes) -> bool:
    return bool(_REFERENCE.match(value))


def looks_like_code(value: bytes) -> bool:
    """`self.password`, `config.get(...)`, `getPassword(` — an expression, not a value."""
    return bool(_IDENTIFIER.match(value))


def is_word(value: bytes) -> bool:
    """A plain lowercase or capitalised word: far more often a name than a password."""
    return value.isalpha() and (value.islower() or value.istitle()) and len(value) <= 12


def not_a_secret(value: bytes) -> bool:
    return is_reference(value) or is_placeholder(value) or looks_like_code(value)
