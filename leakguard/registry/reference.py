"""Image references: `[host[:port]/]repo[:tag|@digest]`."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from leakguard.errors import UsageError

DOCKER_HUB = "registry-1.docker.io"
_REPO = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$|^sha512:[0-9a-f]{128}$")


def is_repository(name: str) -> bool:
    """Whether `name` is a repository name as the distribution spec spells one."""
    return _REPO.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class Reference:
    host: str  # "host" or "host:port"
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What the manifest endpoint is asked for: the digest if pinned, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        out = f"{self.host}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def with_reference(self, ref: str) -> Reference:
        if ref.startswith("sha256:") or ref.startswith("sha512:"):
            return Reference(self.host, self.repository, self.tag, ref)
        return Reference(self.host, self.repository, ref, None)

    @classmethod
    def parse(cls, text: str) -> Reference:
        """`host[:port]/repo[:tag][@digest]`; a first part without `.` or `:` is a Hub name."""
        raw = _without_scheme(text.strip())
        if not raw:
            raise UsageError(f"empty image reference {text!r}")
        at = raw.find("@")
        if at >= 0 and not raw[at + 1 :].startswith(("sha256:", "sha512:")):
            raise _carries_credentials()  # `user:password@host...`: not a digest
        digest = None
        if "@" in raw:
            raw, digest = raw.split("@", 1)
            if not _DIGEST.match(digest):
                raise UsageError(f"{text!r}: {digest!r} is not a sha256 digest")
        head, sep, rest = raw.partition("/")
        if sep and ("." in head or ":" in head or head == "localhost"):
            host, path = head, rest
        else:
            host, path = DOCKER_HUB, raw
            if "/" not in path:
                path = "library/" + path
        tag = None
        last = path.rsplit("/", 1)[-1]
        if ":" in last:
            path, tag = path.rsplit(":", 1)
            if not _TAG.match(tag):
                raise UsageError(f"{text!r}: {tag!r} is not a valid tag")
        if not _REPO.match(path):
            raise UsageError(
                f"{text!r}: {path!r} is not a valid repository name",
                hint="repository names are lower case: host:port/name[:tag]",
            )
        if tag is None and digest is None:
            tag = "latest"
        return cls(host, path, tag, digest)


_SCHEMES = ("docker://", "registry://", "https://", "http://")
_USERINFO_HINT = (
    "log in with `docker login HOST` instead: leakguard reads the Docker config "
    "(~/.docker/config.json or $DOCKER_CONFIG)"
)


def _without_scheme(text: str) -> str:
    for prefix in _SCHEMES:
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def _carries_credentials() -> UsageError:
    """The refusal of a `user:password@` address, which never repeats the address."""
    return UsageError(
        "a registry address must not carry credentials (user:password@host)",
        hint=_USERINFO_HINT,
    )


def registry_host(text: str) -> str:
    """The `host[:port]` of a registry named by `host[:port]` or an `http(s)://` URL."""
    raw = _without_scheme(text.strip()).rstrip("/")
    if "@" in raw:  # anywhere: a password may hold `/`
        raise _carries_credentials()
    if not raw:
        raise UsageError("no registry named: give HOST[:PORT], e.g. 127.0.0.1:5000")
    if "/" in raw:
        raise UsageError(
            f"{raw!r} is not HOST[:PORT]",
            hint="name only the registry; `--repo GLOB` picks repositories",
        )
    return raw


def is_loopback(host: str) -> bool:
    """Whether `host[:port]` names this machine (plain HTTP is allowed only there)."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
