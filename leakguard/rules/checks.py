"""Value checks for token rules: is a format-valid match a live-looking token,
a filler someone typed into a template, or a documented example?

A check has the `Check` signature: `(secret, line, context) -> Confidence | None`.
Building blocks are plain functions over bytes so tests can call them directly.
"""

from __future__ import annotations

import re
import string
import zlib
from collections.abc import Callable

from leakguard.models import Confidence
from leakguard.rules import Check, Context
from leakguard.rules.values import RUNS, shannon_entropy

BASE62 = (string.digits + string.ascii_uppercase + string.ascii_lowercase).encode()

# Six of one character, or a short unit said over and over: no random token does that.
_REPEATS = re.compile(rb"(.)\1{5}|(..)\2{3}|(...)\3{3}|(....)\4{2}")
_SEQUENCES = frozenset(run[i : i + 8] for run in RUNS for i in range(len(run) - 7))


def base62(number: int, width: int = 0) -> bytes:
    """`number` in base 62 (digits, then A-Z, then a-z), left-padded with "0" to `width`."""
    digits = bytearray()
    while number:
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    return bytes(reversed(digits)).rjust(width, b"0")


def crc32_base62(data: bytes) -> bytes:
    """The 6-character checksum GitHub appends to its tokens."""
    return base62(zlib.crc32(data), 6)


def github_checksum_ok(token: bytes) -> bool:
    """`ghp_` + 30 random characters + base62(crc32(those 30)), zero-padded to 6."""
    _, sep, rest = token.partition(b"_")
    if not sep or len(rest) != 36:
        return False
    return crc32_base62(rest[:30]) == rest[30:]


def _holds_run(value: bytes) -> bool:
    """Eight characters of an alphabet, digit or keyboard run, either way, anywhere in it."""
    lower = value.lower()
    return any(lower[i : i + 8] in _SEQUENCES for i in range(len(lower) - 7))


def is_filler(value: bytes) -> bool:
    """Repeated characters or units, a keyboard or alphabet run, or too few distinct
    characters: a hole in a template that happens to have the right shape."""
    if _REPEATS.search(value):
        return True
    if _holds_run(value):
        return True
    return len(value) >= 16 and shannon_entropy(value) < 2.5


def is_documented_example(value: bytes) -> bool:
    """Vendors mark their documentation keys, e.g. AWS's ...EXAMPLE keys."""
    return b"example" in value.lower()


def plausible(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    """The default check of a random token: drop fillers and documented examples."""
    if is_filler(secret) or is_documented_example(secret):
        return None
    return Confidence.HIGH


def filler_body(secret: bytes) -> bool:
    """What follows a token's prefix (`glc_`, `sk_live_`, `xoxp-`: up to the last `_`,
    `-` or `.` in its first 16 characters) is a run someone typed: one character
    for half of it, a counting or alphabet run, or hardly any distinct characters."""
    head = max(secret.rfind(sep, 0, 16) for sep in (b"_", b"-", b"."))
    body = secret[head + 1 :]
    if head < 0:  # no separator: a prefix made of one character (X's `AAAA…`) is not filler
        if len(set(body)) == 1:
            return True
        body = body.lstrip(body[:1])
    if len(body) < 12:
        return False
    if max(body.count(c) for c in set(body)) * 2 >= len(body):
        return True
    if _holds_run(body):
        return True
    return shannon_entropy(body) < 2.0


def placeholder_token(secret: bytes) -> bool:
    """A provider's token shape filled in by hand (`sk_live_` and a counting run, a
    documented `EXAMPLE`): what the engine lets no generic rule report either."""
    return is_filler(secret) or filler_body(secret) or is_documented_example(secret)


def not_example(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    """For structured tokens (base64 of JSON, macaroons) whose bodies may repeat: only
    a documented example or a body that is all filler is dropped."""
    if is_documented_example(secret) or filler_body(secret):
        return None
    return Confidence.HIGH


def public_id(secret: bytes, line: bytes, context: Context) -> Confidence | None:
    """For identifiers a provider documents as public (client ids, publishable keys):
    a low note at most, and nothing for a filler (a numeric id is not one for its few
    distinct characters)."""
    if _REPEATS.search(secret) or _holds_run(secret) or is_documented_example(secret):
        return None
    return Confidence.LOW


_BASE64 = frozenset(string.ascii_letters.encode() + string.digits.encode() + b"+/=_-")
# Glue that only base64 text puts against a token: a letter, digit or `+` on either
# side, padding after it.
_GLUE_BEFORE = frozenset(string.ascii_letters.encode() + string.digits.encode() + b"+")
_GLUE_AFTER = _GLUE_BEFORE | {ord("=")}
# What ends a run of base64 characters that is a URL's or a path's part, not a blob:
# `https://host/TOKEN`, `jdbc:oracle:thin:user/PASS@db`, `host.name/TOKEN`.
_NOT_BLOB_EDGE = frozenset(b":.@?&%#~!$*")
_JOINS = frozenset(b"/-_")
_WRAP_WIDTHS = (64, 76)


def in_blob(secret: bytes, line: bytes) -> bool:
    """Whether `secret`, found in `line`, is a slice of a longer base64 text (a
    certificate, a data blob, a JSON `data` field, standard or URL-safe) rather than
    a token: a letter, a digit or `+` touches it on either side, `=` after it, or
    `/`, `-` or `_` joins it to more base64 characters; and the run of base64
    characters it lies in ends at no URL or path character (`:`, `.`, `@`, `?`, …),
    which base64 never holds: `api.telegram.org/bot…` is a URL, not a blob."""
    at = line.find(secret)
    if at < 0:
        return False  # decoded or rebuilt: not as written in the line
    end = at + len(secret)
    before = line[at - 1] if at > 0 else -1
    after = line[end] if end < len(line) else -1
    if not line[:at].strip() and not line[end:].strip():
        # A line of its own: base64 wrapped at 64 (PEM) or 76 (MIME) columns, or a token
        # that happens to be that long.
        return len(secret) in _WRAP_WIDTHS and all(c in _BASE64 for c in secret)
    glued = before in _GLUE_BEFORE or after in _GLUE_AFTER
    if not glued:
        joined_before = before in _JOINS and at > 1 and line[at - 2] in _BASE64
        joined_after = after in _JOINS and end + 1 < len(line) and line[end + 1] in _BASE64
        if not (joined_before or joined_after):
            return False
    lo = at
    while lo > 0 and line[lo - 1] in _BASE64:
        lo -= 1
    hi = end
    while hi < len(line) and line[hi] in _BASE64:
        hi += 1
    edges = (line[lo - 1] if lo > 0 else -1, line[hi] if hi < len(line) else -1)
    return not any(edge in _NOT_BLOB_EDGE for edge in edges)


def unless_in_blob(check: Check | None, confidence: Confidence = Confidence.HIGH) -> Check:
    """`check` (or `confidence` where there is none), for a token that is not a slice of
    a base64 blob (`in_blob`): what every provider rule asks of its match."""

    def checked(secret: bytes, line: bytes, context: Context) -> Confidence | None:
        if in_blob(secret, line):
            return None
        return confidence if check is None else check(secret, line, context)

    return checked


# What comes before an assigned or quoted value: `=`, `:`, `=>`, `(`, `,` or a quote.
_ASSIGNED = re.compile(rb"""(?:[=:>(,][ \t]*["'`]?|["'`])$""")


def in_context(
    words: tuple[bytes, ...],
    *,
    assigned: Confidence | None = Confidence.HIGH,
    bare: Confidence | None = Confidence.LOW,
    base: Check = plausible,
) -> Check:
    """For a short prefix followed by an open alphabet (`LTAI`, `AP` and a hex digit),
    which random base64 spells now and then. `base` first; then the token keeps
    `base`'s confidence where the line names the provider (`words`), gets at most
    `assigned` where it is assigned or quoted, and at most `bare` otherwise (alone
    on a line, or among other words). A token glued to `+`, `/` or `=` is a slice
    of a longer base64 text and is dropped."""

    def check(secret: bytes, line: bytes, context: Context) -> Confidence | None:
        confidence = base(secret, line, context)
        if confidence is None:
            return None
        at = line.find(secret)
        if at < 0:
            return confidence
        before = line[at - 1 : at]
        after = line[at + len(secret) : at + len(secret) + 1]
        if before in (b"+", b"/") or after in (b"+", b"/", b"="):
            return None
        lower = line.lower()
        if any(word in lower for word in words):
            return confidence
        cap = assigned if _ASSIGNED.search(line[:at].rstrip(b" \t")) else bare
        if cap is None:
            return None
        return cap if cap.rank < confidence.rank else confidence

    return check


def valid_if(valid: Callable[[bytes], bool], otherwise: Confidence) -> Check:
    """`plausible`, then HIGH when `valid(secret)` holds (a checksum, an encoding) and
    `otherwise` when it does not."""

    def check(secret: bytes, line: bytes, context: Context) -> Confidence | None:
        confidence = plausible(secret, line, context)
        if confidence is not Confidence.HIGH:
            return confidence
        return Confidence.HIGH if valid(secret) else otherwise

    return check


def sure_near(words: tuple[bytes, ...], otherwise: Confidence = Confidence.MEDIUM) -> Check:
    """`plausible`, then HIGH only when the line names the provider (a shape alone,
    say 48 hex characters, is shared by many things)."""

    def check(secret: bytes, line: bytes, context: Context) -> Confidence | None:
        confidence = plausible(secret, line, context)
        if confidence is not Confidence.HIGH:
            return confidence
        lower = line.lower()
        return Confidence.HIGH if any(word in lower for word in words) else otherwise

    return check
