"""The value checks shared by provider rules."""

from __future__ import annotations

import binascii
import random
import string

import pytest

from leakguard.models import Confidence
from leakguard.rules import Context
from leakguard.rules.checks import (
    base62,
    crc32_base62,
    filler_body,
    github_checksum_ok,
    is_filler,
    plausible,
)
from tests.conftest import fake

ALNUM = string.ascii_letters + string.digits


def test_base62_digits_then_upper_then_lower() -> None:
    assert base62(0, 6) == b"000000"
    assert base62(9) == b"9"
    assert base62(10) == b"A"
    assert base62(36) == b"a"
    assert base62(61) == b"z"
    assert base62(62) == b"10"
    assert base62(2**32 - 1) == b"4gfFC3"


def test_github_checksum_is_base62_crc32_of_the_random_part() -> None:
    rng = random.Random(7)
    for _ in range(200):
        body = "".join(rng.choice(ALNUM) for _ in range(30)).encode()
        digest = binascii.crc32(body)
        # An independent base62: divmod from the right, padded to 6.
        chars = ""
        while digest:
            digest, rest = divmod(digest, 62)
            chars = (string.digits + string.ascii_uppercase + string.ascii_lowercase)[rest] + chars
        token = b"ghp_" + body + chars.rjust(6, "0").encode()
        assert crc32_base62(body) == token[-6:]
        assert github_checksum_ok(token)
        assert not github_checksum_ok(token[:-1] + (b"A" if token[-1:] != b"A" else b"B"))


@pytest.mark.parametrize(
    "value",
    [b"x" * 36, b"ghp_" + b"0" * 36, b"abcdefghijklmnop1234", b"Ab12" * 6, b"qwertyuiopQWERTY",
     b"aabbaabbaabbaabbaabb"],
)  # fmt: skip
def test_fillers(value: bytes) -> None:
    assert is_filler(value)
    assert plausible(value, b"", Context()) is None


@pytest.mark.parametrize(
    ("alphabet", "length"),
    [(ALNUM, 36), ("0123456789abcdef", 32), ("0123456789abcdef", 64), (ALNUM + "+/", 40)],
)
def test_random_tokens_are_not_fillers(alphabet: str, length: int) -> None:
    rng = random.Random(length)
    tokens = ["".join(rng.choice(alphabet) for _ in range(length)).encode() for _ in range(2000)]
    assert sum(map(is_filler, tokens)) <= 1


def test_documented_examples_are_not_secrets() -> None:
    value = b"AKIA" + b"IOSFODNN7" + b"EXAMPLE"
    assert plausible(value, b"", Context()) is None
    assert plausible(b"AKIA" + b"IOSFODNN7" + b"EXAMPLX", b"", Context()) is Confidence.HIGH


def test_filler_body_looks_past_the_prefix() -> None:
    assert filler_body(b"glc_" + b"x" * 40)
    assert filler_body(b"sk_live_" + b"1234567890" * 3)
    assert not filler_body(b"glc_" + fake("", 40, seed=3).encode())
    # a prefix of one repeated character (X's bearer tokens) is not the filler
    assert not filler_body(b"A" * 22 + fake("", 30, seed=4).encode())
    assert filler_body(b"A" * 60)
