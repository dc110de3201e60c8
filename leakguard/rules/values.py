"""Value analysis shared by the generic rules: is this string a secret, or a
placeholder, reference or ordinary word that merely sits where one could be?

Every test here is a rule anyone can read; each returns True for "not a secret".
"""

from __future__ import annotations

import functools
import hashlib
import math
import operator
import posixpath
import re
from collections import Counter

from leakguard.models import Confidence

# Words that mark a value as an example or a hole to fill in.
PLACEHOLDER_WORDS = (
    b"changeme", b"change_me", b"change-me", b"example", b"placeholder", b"your", b"dummy",
    b"sample", b"redacted", b"replace", b"insert", b"todo", b"fixme", b"notreal", b"fake",
    b"anonymous", b"xxxx", b"****", b"...", "\u2026".encode(), b"<", b"secret_here",
    b"password_here", b"foobar",
)  # fmt: skip

_PLACEHOLDER_WORD = re.compile(b"|".join(re.escape(w) for w in PLACEHOLDER_WORDS))

# Shapes that point at a secret kept elsewhere instead of holding one.
_REFERENCE = re.compile(
    rb"""^(?:
        \$\{[A-Za-z_][\w.:-]*(?:\}|[:?=+\#%/^,@-].*|$)   # ${VAR}, ${VAR:-...}, cut: ${VAR:?msg
      | \$\{\{.*                           # ${{ secrets.X }} (CI), cut by a space
      | \$\(.*                             # $(cat file)
      | .*\$\([^()\s]*(?:\s[^()]*)?\).*    # a $(command) or Make's $(VAR) anywhere in it
      | ENC\[[A-Z0-9_]+(?:,.*)?$           # ENC[AES256_GCM,data:...]: SOPS-encrypted
      | \$[A-Za-z_][A-Za-z0-9_]*$          # $VAR
      | \$[A-Za-z_][A-Za-z0-9_]*/.*        # $dir/private/key.pem
      | (?:\\x[0-9A-Fa-f]{2})+$           # "\x6d\x61...": bytes spelled out (a label)
      | \{\{.*\}\}                         # {{ .Values.x }}
      | \{\{.*                             # {{ ... (cut by the line)
      | .*%\([A-Za-z_]+\)[sdr]             # %(name)s
      | %[-\#0-9.]*[sdrxq](?:[^A-Za-z0-9].*)?$    # %s, %s:%s, printf formats
      | .*\{\d*\}.* | .*\{[A-Za-z_][\w.]*(?:![rs])?(?::[^}]*)?\}.*   # {}, {name}, {0}
      | .*\$\{\{?[ \t]*[A-Za-z_][\w.:-]*[ \t]*(?:[:?=+\#%/^,@-][^}]*)?\}.*   # a ${VAR} in it
      | %[A-Za-z_][A-Za-z0-9_]*%$          # %VAR% (Windows)
      | <[^>]*>?                           # <your-token>
      | /run/secrets/.* | /var/run/secrets/.*
      | (?:os\.)?environ.* | process\.env.* | getenv.* | ENV\[.* | ENV\.fetch.*
      | System\.getenv.* | Deno\.env.* | import\.meta\.env.* | secrets\.[A-Za-z_].*
      | (?:file|env|vault|secret|ref|op|arn):.*    # scheme-style references
    )""",
    re.X,
)

_REPEATED = re.compile(rb"^(.)\1+$|^(..)\2+$|^(...)\3+$")
_IDENTIFIER = re.compile(
    rb"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+(?:\(\)?)?$|^[A-Za-z_][\w.]*\("
)
_LITERALS = {
    b"none", b"null", b"nil", b"true", b"false", b"undefined", b"yes", b"no", b"on", b"off",
    b"required", b"optional", b"string", b"str", b"bool", b"int", b"bytes", b"password",
    b"secret", b"token", b"empty", b"default", b"hidden", b"unset", b"n/a", b"na", b"tbd",
    b"read", b"write", b"readonly", b"read-only", b"read-write", b"readwrite",
}  # fmt: skip


# sha256 of documented example credentials that ship in vendor docs, SDKs and
# their tests (AWS's IAM user guide keys, jwt.io's sample token, Stripe's docs
# test keys, the classic "hunter2"). Stored as hashes so this file holds none.
# They open nothing, so they are not reported (policy.apply_policy counts them).
KNOWN_EXAMPLES = frozenset({
    # The AWS CLI's command examples (awscli/examples/**.rst): passwords, keys,
    # session and stream tokens in sample output.
    "77a2fcb2a87fb66ca66d5643bfbef09375b6f2c8acdfbe05c7cc28313795ac40",
    "7ca486cbe6b13db5061422f957ddd65b3d424f85caa811fdf155f5a372c68403",
    "9d511978c5d57974fcc36f9e9dd4357dfa51a42188920e33a838d2b8830f1266",
    "05b9f5d960901639fef471f294de3e654936487c91e5f9cd019b24dc48ad7984",
    "bc28f83694755141aa1111eef5e1b8b4f152c4ebad7ea47c6770af59ecef5938",
    "c588e477f0fd0cf5281d7095f8bb2b3f23a432aa0ecaad9dd5db1986788b9535",
    "c46ba61e198ba2c56384325cdfa0429188096159620f506287bf28a5a8986ad4",
    "4c7b3f40e866bf984951008d3267138c07663baf6e8eeb77bd91d72141ea8faa",
    "c0a9271ec8c34c6606bd1bc02405be1527b5d821d81af1482101c28818ac16f1",
    "1507441c647599d68cf84b11aa8f776f8ee7a71d596b5a43f40f4ab6fc4da327",
    "12d3abcc721f3a9ecbe6d8f199cddea79c987fd4765cce6b47d4f870fe4c4a36",
    "475dddd7e494f2d176ef68160ad28f92b5ff49e1d09c3c90dc174ec4d85e9ef4",
    "eef168423ab2e49f67b3dd18523cd90e3e2120f63d1b783e0c7c6319213c2870",
    "3cbbf95303d2b994e01c49b0f61650a0c5c3f6dba2a1d65f2632e5ed5ba3d94f",
    "9268d57ecf6b736e429eb7d3fbbed9500ab9a1c569edf16dceff06d3383791d3",
    "95a66051cb8d036fdb4f11cf1cb6607fa9893513820b491b55db06fdfce6d580",
    "237acc64cdcc91b386d3fdc5b4f9b8e09beb04e348453b30daecf4ce36851eb9",
    "12ff915a8fff182f9763f7a9211d35a4d6a2f23409a98535b01325e320c062c9",
    "16529b293d4d3f1a6f8fe7ef5ad0ede5a032d3da3e7825c10160a7505a9b5740",
    "4955e472dbab755305c05fe5415850b83dfb6f3f6b3ff9a6456b18928233a66e",
    "dc4704fc8d050a4bed800510a18182ff0a745e3fa6ba60bd4127f56a6137d66c",
    "04fba2c05f91ad4be0d4459fdd0899910cfd97bf564bbfe45c5f42f23f43b857",
    "974712448d9ebebb4a9162c477b4d899d09ad5c8b3c60ecbd75fb845bba7c342",
    # botocore's API examples (botocore/data/*/examples-1.json): IAM's sample
    # passwords, an Auto Scaling client token.
    "e043901ad49f7f5133ec98177592de5fa121f3b6ba9ee8dda4914295bed27e36",
    "6caa448826c11cd39c78a3a223c3ddb55358c975c0456e37058ccfbc559c86ce",
    "e6c2d3455587c47ccdd3df1271882656bc27be85f8eb6576eea35fe1aafa172a",
    "d8ccc3c547c850170a24a46dceca05861438dca7b115589739d526d2df404b66",
    # moto, the AWS mock: its proxy's test CA keys and the fixed tokens it answers with.
    "e4b5d7f14fcef3d71983fe7532479d334cbaec422a1d0037533e72a41f2146a7",
    "8b172cdca6117f6626940d1baf4357ada07ec7f9572fc3c4d74f49dc9a92e001",
    "e6f6e780c47f56496cc497b3e306159fa5900e3f7b7813909fc33243d4c99df4",
    "2c3b6ecb5a3758f5aa56b3bee7ada66a64fd28cce7f8c556acfec0387182d1bc",
    "f4187ad2496a8677d47a16af2727e8304921b6bd39b8533bfc12ed01ad461a61",
    # Kubernetes documentation's Secret examples (concepts/configuration/secret,
    # tasks/inject-data-application, kubectl create secret): each password as
    # written and in the base64 a `data:` entry holds.
    "13fe7a38a57c46053ee3a4716358619ff37ebc5674976f1a09fc189be5a3e5dd",
    "a7b580d711ef2807c7f11d881a1e7ff8a68c7e7d4e7c14e217bc9c522e3678ba",
    "28d296be3bf525f09d97eb59dee8b3fd1d69b85b6bc085752c653a51ccdd0a53",
    "d9f5032d168bd639078a4780792a40d202f926b25b4aea573a166aba3c4a737b",
    "a95c3cc2e3e2c66c96e00ddc5a72590aaef332aa00e0d3d79c987ce6677cbe5a",
    "85cf2543739fe8f330816604f68cccbc40e79af18bb86c5b85faab668993e0d4",
    "565a3ae0b1149cc8f1339ce7b316e3cb94776ab92db0380b1ade1082a71882f5",
    "8b2b38c3708a9b79f39175da4587c238bf060172229baa7372f3b7dca10dce34",
    # HTTP Basic authentication's example in RFC 7617 (and RFC 2617, MDN): the
    # decoded user:password and the header's base64.
    "e30592c37ff33ddbcf5bca999e379f4a73dcab070892bddee33aae1d4a02e413",
    "cf4d418ed3de92d71f767db5391d5a2dacd40e1ce49e75d1137e2ecf4982d844",
    # PyJWT's README and documentation: {"some": "payload"} signed (HS256) with the
    # key "secret" (every installed PyJWT carries it in its METADATA).
    "bf145d9380bbe05bdc1a72525796b224f8a8c93ae0e9e102eafbc255ac1af9e8",
    # Earlier entries: AWS's IAM user guide keys, jwt.io's sample token, Stripe's
    # docs test keys, "hunter2".
    "1a5d44a2dca19669d72edf4c4f1c27c4c1ca4b4408fbb17f6ce4ad452d78ddb3",
    "78314b11be2e581549ac1c4f616563fad3fdf0c3b71678f6e2299182080e0598",
    "c6ea27c534f993d31f0aef882e3d200e7b87470c379ae79c8f9b19d3bd363dc9",
    "e21b597ba6b9cafa59d9ebc4d65c0385f5eb3fa56abab2607fa76589ad849a33",
    "7f75367e7881255134e1375e723d1dea8ad5f6a4fdb79d938df1f1754a830606",
    "2cafc0970149a84f3b9e62eaf169f36f59907a3b3e31f7b82e68c69cd27f7326",
    "b1471f544ceeea31333bde7e1ecbaad6eac0d4a749412ad29bd66ef895b81c6b",
    "f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7",
})  # fmt: skip


def is_known_example(value: bytes) -> bool:
    """One of the documented example credentials above (compared by sha256)."""
    return hashlib.sha256(value).hexdigest() in KNOWN_EXAMPLES


# Folders and file names of tests, fixtures, examples and documentation: a generic
# hit there is far more often sample data than a leak.
_SAMPLE_DIRS = frozenset({
    "test", "tests", "testing", "testdata", "test_data", "fixtures", "fixture", "__tests__",
    "spec", "specs", "examples", "example", "doc", "docs", "man", "mocks",
})  # fmt: skip
_SAMPLE_FILE = re.compile(
    r"^(?:test_.+\.py|.+_test\.(?:py|go|rb|exs)|.+\.(?:spec|test)\.[jt]sx?|.+Tests?\.java"
    r"|examples?-\d+\.json|.+\.(?:rst|md|html|[1-8])(?:\.gz)?)$"
)


@functools.lru_cache(maxsize=4096)  # asked for every candidate of a file, by several checks
def is_sample_path(path: str | None) -> bool:
    """A path under tests, fixtures, examples or docs (site-packages/x/tests,
    /usr/share/doc, node_modules/x/test), or a test or documentation file."""
    if not path:
        return False
    norm = path.replace("\\", "/")
    parts = norm.lower().split("/")
    if "/usr/share/doc/" in norm or "/usr/share/man/" in norm:
        return True
    if any(part in _SAMPLE_DIRS for part in parts[:-1]):
        return True
    return bool(_SAMPLE_FILE.match(posixpath.basename(norm)))


def in_sample(value: bytes, path: str | None, confidence: Confidence | None) -> Confidence | None:
    """A generic hit in a test, example or documentation file (`is_sample_path`): a
    value that looks real stays as a low-confidence note, a weak one (a word, fewer
    than 8 characters) is dropped. Elsewhere `confidence` is unchanged."""
    if confidence is None or not is_sample_path(path):
        return confidence
    weak = len(value) < 8 or is_word(value) or value.isdigit()
    return None if weak or confidence is not Confidence.HIGH else Confidence.LOW


# c * log2(c) for the counts one candidate can have (candidates are bounded in length).
_C_LOG_C = [0.0] + [c * math.log2(c) for c in range(1, 4097)]


def shannon_entropy(value: bytes) -> float:
    """Bits per character of `value`'s own character distribution."""
    if not value:
        return 0.0
    n = len(value)
    counts = Counter(value).values()
    if n < len(_C_LOG_C):  # H = log2(n) - sum(c * log2(c)) / n, from a table
        return math.log2(n) - sum(map(_C_LOG_C.__getitem__, counts)) / n
    return -sum(c / n * math.log2(c / n) for c in counts)


# A US keyboard's rows, unshifted and shifted (compared in lower case), and its
# columns: typing along one gives `qwertyuiop`, `asdfghjkl`, `!@#$%^&*()`, `1qaz2wsx`.
KEYBOARD_ROWS = (
    b"`1234567890-=", b"qwertyuiop[]\\", b"asdfghjkl;'", b"zxcvbnm,./",
    b"~!@#$%^&*()_+", b"qwertyuiop{}|", b'asdfghjkl:"', b"zxcvbnm<>?",
)  # fmt: skip
_KEYBOARD_COLUMNS = (
    b"1qaz", b"2wsx", b"3edc", b"4rfv", b"5tgb", b"6yhn", b"7ujm", b"8ik,", b"9ol.", b"0p;/",
    b"!qaz", b"@wsx", b"#edc", b"$rfv", b"%tgb", b"^yhn", b"&ujm", b"*ik<", b"(ol>", b")p:?",
)  # fmt: skip


def _steps() -> dict[tuple[int, int], frozenset[int]]:
    """For two neighbouring characters, the ways one follows the other: 0 the same
    character, +1/-1 the next or previous code point (`abc`, `321`), +k/-k the next or
    previous key along keyboard line k."""
    steps: dict[tuple[int, int], set[int]] = {}
    for a in range(256):
        steps.setdefault((a, a), set()).add(0)
        if a < 255:
            steps.setdefault((a, a + 1), set()).add(1)
            steps.setdefault((a + 1, a), set()).add(-1)
    for k, line in enumerate(KEYBOARD_ROWS + _KEYBOARD_COLUMNS, start=2):
        for a, b in zip(line, line[1:], strict=False):
            steps.setdefault((a, b), set()).add(k)
            steps.setdefault((b, a), set()).add(-k)
    return {pair: frozenset(ways) for pair, ways in steps.items()}


_STEPS = _steps()
# The alphabet, the digits and the keyboard rows, each either way: what a typed
# run follows (also the 8-character runs `checks.is_filler` looks for).
RUNS = tuple(
    seq
    for line in (b"abcdefghijklmnopqrstuvwxyz", b"0123456789", *KEYBOARD_ROWS)
    for seq in (line, line[::-1])
)
_STEP_PAIRS = frozenset(_STEPS)
_NO_WAYS: frozenset[int] = frozenset()


def made_of_runs(value: bytes, shortest: int = 4) -> bool:
    """Three quarters or more of `value` (8 characters at least) in runs of `shortest` or
    more characters that repeat, count up or down one by one, or follow a keyboard row
    or column either way (`1234567890abcdef…`, `aaaaaaaa`, `qwertyuiopasdfghjkl`,
    `poiuytrewq`, `!@#$%^&*()`): typed to fill a hole, never drawn at random. A value
    that merely holds a short run (`Xk9qwer7…`) is not one."""
    if len(value) < 8:
        return False
    lower = value.lower()
    # Runs of 4 and more covering 3/4 of it hold at least 9 steps in 16 characters:
    # a value with fewer (nearly every random one) is answered without the walk below.
    pairs = zip(lower, lower[1:], strict=False)
    if shortest >= 4 and sum(map(_STEP_PAIRS.__contains__, pairs)) * 2 < len(lower):
        return False
    covered = 0
    start = 0  # the current run: lower[start:i], its steps all in `ways`
    ways: frozenset[int] | None = None
    for i in range(1, len(lower) + 1):
        now = _STEPS.get((lower[i - 1], lower[i]), _NO_WAYS) if i < len(lower) else _NO_WAYS
        kept = now if ways is None else ways & now
        if kept:
            ways = kept
            continue
        if i - start >= shortest:
            covered += i - start
        # a run ending here may share its last character with the next one
        start, ways = (i - 1, now) if now else (i, None)
    return covered * 4 >= len(lower) * 3


def is_placeholder(value: bytes) -> bool:
    lower = value.lower()
    if lower in _LITERALS:
        return True
    if _PLACEHOLDER_WORD.search(lower):
        return True
    if _REPEATED.match(lower):
        return True
    if len(value) >= 8 and (_mostly_consecutive(value) or made_of_runs(value)):
        return True
    return any(lower in seq or seq[: len(lower)] == lower for seq in RUNS if len(lower) >= 4)


def _mostly_consecutive(value: bytes) -> bool:
    """An alphabet or a keyboard-free run (`ABCDEFGHIJKLMNOPQRSTUVWXYZ234567`, `zyxw...`):
    three in four neighbours one code point apart, which no random token does."""
    steps = list(map(operator.sub, value, value[1:]))
    return (steps.count(1) + steps.count(-1)) * 4 >= (len(value) - 1) * 3


# Well-formed placeholders: `{name}`, `{}`, `${NAME}`, `{{ x }}`, `%(name)s`.
_PLACEHOLDER_SPAN = re.compile(rb"\$?\{\{?[ \t]*[\w.:!|-]*[ \t]*\}\}?|%\([A-Za-z_]+\)[sdr]")


def is_reference(value: bytes) -> bool:
    """A reference or template (`${VAR}`, `{name}`, `$(cmd)`, ...). A value whose braces
    are left unmatched once its well-formed placeholders are taken out is not one:
    `m{{h}o)p${e]nob(...}}` is a password of symbols."""
    if not _REFERENCE.match(value):
        return False
    rest = _PLACEHOLDER_SPAN.sub(b"", value)
    return not (b"{" in rest and b"}" in rest)


def looks_like_code(value: bytes) -> bool:
    """`self.password`, `config.get(...)`, `getPassword(` — an expression, not a value."""
    return bool(_IDENTIFIER.match(value))


def is_word(value: bytes) -> bool:
    """A plain lowercase or capitalised word: far more often a name than a password."""
    return value.isalpha() and (value.islower() or value.istitle()) and len(value) <= 12


def not_a_secret(value: bytes) -> bool:
    inner = unquoted(value)
    return is_reference(inner) or is_placeholder(inner) or looks_like_code(value)


def unquoted(value: bytes) -> bytes:
    """`"$(cat /run/secrets/x)"` -> `$(cat /run/secrets/x)`: a quoted reference is a reference."""
    if len(value) >= 2 and value[0] == value[-1] and value[:1] in (b'"', b"'", b"`"):
        return value[1:-1]
    return value


# Words that name a test's deliberately wrong input (`nonMatchingToken`, `wrongStart`,
# `invalid_secret`, `badKey`): a test file's value under such a name is made to fail.
_TEST_DATA_WORDS = frozenset({
    b"wrong", b"invalid", b"bad", b"non", b"nonmatching", b"unmatched", b"mismatch",
    b"mismatched", b"mismatching", b"incorrect", b"malformed", b"bogus", b"broken",
    b"negative", b"tampered", b"corrupt", b"corrupted", b"truncated", b"false",
    b"fake", b"mock", b"dummy", b"not", b"no",
})  # fmt: skip
_LAST_NAME = re.compile(rb"([A-Za-z_][A-Za-z0-9_-]*)[\"'\]]?[ \t]*(?:=>|:=|[:=,(]|)[ \t]*[\"'`]?$")
_NAME_WORD = re.compile(rb"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def is_test_data_name(before: bytes) -> bool:
    """Whether the name a value is given to, at the end of `before`, says it is a test's
    wrong input (`nonMatchingToken = `, `"wrongStart": `)."""
    name = _LAST_NAME.search(before[-80:])
    if name is None:
        return False
    words = {w.lower() for w in _NAME_WORD.findall(name.group(1))}
    return not words.isdisjoint(_TEST_DATA_WORDS)
