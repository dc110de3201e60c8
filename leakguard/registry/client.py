"""Registry HTTP API v2: manifests, blobs, catalog and tags, with auth and retries.

Every response body that names a digest is checked against it: a manifest
fetched by digest, and every blob as it streams (a mismatch raises at the end
of the stream, before the caller reports the blob as read). Plain HTTP is used
only for loopback hosts or when the caller says `insecure`.

A client holds at most `max_connections` connections to its registry at once
(a blocking connection pool: a request waits for a free connection), and is
shared by threads. A request answered 429 or 5xx, or whose connection failed,
is retried after the `Retry-After` the registry sent (seconds or an HTTP date)
or else after an exponential back-off with jitter, as long as the waits add up
to no more than `max_wait` seconds; then it is reported. Once a request has
given up that way, the next ones are tried once each until one succeeds, so a
registry that is down ends a sweep in bounded time instead of `max_wait` per
request.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import random
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leakguard import safejson
from leakguard.errors import TargetUnreadable
from leakguard.registry.reference import DOCKER_HUB, is_loopback

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])
MAX_MANIFEST = 4 * 1024 * 1024
MAX_PAGES = 100_000
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_CONNECTIONS = 8  # per registry, when the caller does not say
MAX_RETRY_WAIT = 60.0  # seconds a request may spend waiting between its retries
MAX_DELAY = 30.0  # the longest one back-off wait (a Retry-After may ask for more)


class RegistryError(TargetUnreadable):
    """A registry could not be reached, refused us, or sent something wrong."""

    status: int | None = None  # the HTTP status it answered with, if it answered


@dataclass(frozen=True)
class Manifest:
    media_type: str
    digest: str
    data: bytes = field(repr=False)

    @property
    def json(self) -> dict[str, Any]:
        try:
            value = safejson.loads(self.data)
        except ValueError as e:
            raise RegistryError(f"manifest {self.digest} is not JSON: {e}") from None
        if not isinstance(value, dict):
            raise RegistryError(f"manifest {self.digest} is not a JSON object")
        return value

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class VerifiedBlob:
    """A blob's body as a stream, hashed as it is read; a mismatch raises at the end."""

    def __init__(self, response: requests.Response, digest: str, what: str):
        self._raw = response.raw
        self._response = response
        algo, _, self._expected = digest.partition(":")
        if algo not in ("sha256", "sha512"):
            raise RegistryError(f"{what}: unsupported digest algorithm {algo!r}")
        self._hash = hashlib.new(algo)
        self._what = what
        self.bytes_read = 0
        self.verified = False

    def read(self, n: int = -1, /) -> bytes:
        import requests  # noqa: F401  (urllib3 errors are wrapped below)
        import urllib3

        try:
            data: bytes = self._raw.read(None if n is None or n < 0 else n, decode_content=False)
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise RegistryError(f"{self._what}: download failed: {e}") from e
        if data:
            self._hash.update(data)
            self.bytes_read += len(data)
        elif not self.verified:
            if self._hash.hexdigest() != self._expected:
                raise RegistryError(
                    f"{self._what}: content does not match its digest "
                    f"(got {self._hash.name}:{self._hash.hexdigest()[:16]}…)",
                    hint="the registry or a proxy altered the blob; do not trust this image",
                )
            self.verified = True
        return data

    def drain(self) -> None:
        """Read to the end so the digest gets checked."""
        while self.read(1024 * 1024):
            pass

    def close(self) -> None:
        self._response.close()


def _docker_config_dir() -> Path:
    explicit = os.environ.get("DOCKER_CONFIG")
    return Path(explicit) if explicit else Path.home() / ".docker"


def credentials_for(host: str, config_dir: Path | None = None) -> tuple[str, str] | None:
    """(user, password or identity token) for `host` from Docker's config.json.

    Reads `auths` (base64 `auth`, or `identitytoken`), then `credHelpers` and
    `credsStore`, which run `docker-credential-<name> get`.
    """
    path = (config_dir or _docker_config_dir()) / "config.json"
    try:
        config = safejson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:  # go on anonymously, as docker does, but say so
        log.warning("ignoring %s (no registry credentials from it): %s", path, _short(e))
        return None
    if not isinstance(config, dict):
        log.warning("ignoring %s: not a JSON object", path)
        return None
    names = [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/"]
    if host == DOCKER_HUB:
        names += ["docker.io", "index.docker.io", "https://index.docker.io/v1/"]
    helpers = config.get("credHelpers") or {}
    for name in names:
        helper = helpers.get(name) if isinstance(helpers, dict) else None
        if isinstance(helper, str):
            return _from_helper(helper, name)
    auths = config.get("auths") or {}
    for name in names:
        entry = auths.get(name) if isinstance(auths, dict) else None
        if not isinstance(entry, dict):
            continue
        if entry.get("identitytoken"):
            return ("<token>", str(entry["identitytoken"]))
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            return (user, password)
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        return _from_helper(store, host)
    return None


def _from_helper(helper: str, server: str) -> tuple[str, str] | None:
    try:
        done = subprocess.run(
            [f"docker-credential-{helper}", "get"],
            input=server.encode(),
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        log.debug("credential helper %s failed: %s", helper, e)
        return None
    if done.returncode != 0:
        return None
    try:
        value = safejson.loads(done.stdout)
        return (str(value["Username"]), str(value["Secret"]))
    except (ValueError, KeyError, TypeError):
        return None


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class RegistryClient:
    """One registry host; shared by threads, with at most `max_connections` open at once.

    Pickled (to a worker process), it arrives as one client per process for
    all the blobs that name it: one connection pool per process, not one per task.
    """

    def __init__(
        self,
        host: str,
        *,
        insecure: bool = False,
        credentials: tuple[str, str] | None = None,
        use_docker_config: bool = True,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        retries: int = 8,
        backoff: float = 0.5,
        max_wait: float = MAX_RETRY_WAIT,
        max_connections: int = MAX_CONNECTIONS,
    ):
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self.host = host
        self.scheme = "http" if insecure or is_loopback(host) else "https"
        self.base = f"{self.scheme}://{host}"
        self.insecure = insecure
        self._credentials = credentials
        self._use_docker_config = use_docker_config and credentials is None
        self._looked_up = False
        self.timeout = (connect_timeout, timeout)
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.max_connections = max_connections
        self._tokens: dict[str, str] = {}
        self._basic = False
        self._session: requests.Session | None = None
        self._lock = threading.Lock()
        # Set when a request gave up on a failing registry; cleared by any success.
        self._failing = False
        self._identity = os.urandom(8).hex()  # copies in other processes share one client

    # -- plumbing -----------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                import requests
                from requests.adapters import HTTPAdapter

                session = requests.Session()
                session.headers["User-Agent"] = "leakguard"
                # A blocking pool of max_connections: the connection limit itself.
                for prefix in ("http://", "https://"):
                    session.mount(
                        prefix,
                        HTTPAdapter(pool_maxsize=self.max_connections, pool_block=True),
                    )
                self._session = session
            return self._session

    def __reduce__(self) -> tuple[Any, tuple[str, dict[str, Any]]]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("_session", "_lock")}
        return (_in_this_process, (self._identity, state))

    def close(self) -> None:
        """Close every connection (a later request opens new ones)."""
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    def _creds(self) -> tuple[str, str] | None:
        if self._credentials is None and self._use_docker_config and not self._looked_up:
            self._looked_up = True
            self._credentials = credentials_for(self.host)
        return self._credentials

    def _auth_headers(self, scope: str) -> dict[str, str]:
        token = self._tokens.get(scope)
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self._basic and self._creds():
            user, password = self._creds() or ("", "")
            raw = base64.b64encode(f"{user}:{password}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}
        return {}

    def _delay(self, attempt: int, retry_after: float | None, waited: float) -> float:
        """The wait before retry `attempt` (from 1): what the registry asked for, or
        an exponential back-off with jitter (half to all of it) so that many clients
        told to wait do not all come back at the same moment, cut to what is left
        of the retry budget."""
        if retry_after is not None:
            return retry_after
        ceiling = min(MAX_DELAY, self.backoff * 2 ** (attempt - 1))
        left = self.max_wait - waited
        return min(random.uniform(ceiling / 2, ceiling), left) if left >= 0.05 else ceiling

    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str = "",
        stream: bool = False,
        headers: dict[str, str] | None = None,
        what: str = "",
    ) -> requests.Response:
        """One API call with auth, retries on 429/5xx/connection errors, and clear errors."""
        import requests

        url = path if path.startswith("http") else self.base + path
        what = what or f"{self.host}{path}"
        attempt = 0
        waited = 0.0
        authed = False
        while True:
            try:
                response = self.session.request(
                    method,
                    url,
                    headers={**(headers or {}), **self._auth_headers(scope)},
                    stream=stream,
                    timeout=self.timeout,
                    allow_redirects=True,
                )
            except requests.exceptions.SSLError as e:
                raise RegistryError(
                    f"{what}: TLS failed: {_short(e)}",
                    hint="for a plain-HTTP registry that is not on loopback, pass --insecure",
                ) from e
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
                # A refusal is final; a server that accepts and stays silent is asked
                # once more, not `retries` times (each costs a whole timeout).
                silent = isinstance(e, requests.exceptions.Timeout)
                if attempt < (1 if silent else self.retries) and not _refused(e):
                    delay = self._delay(attempt + 1, None, waited)
                    if not self._failing and waited + delay <= self.max_wait + 1e-9:
                        attempt += 1
                        waited += delay
                        time.sleep(delay)
                        continue
                self._failing = True
                kind = (
                    "timed out"
                    if isinstance(e, requests.exceptions.Timeout)
                    else ("connection refused" if _refused(e) else "cannot connect")
                )
                raise RegistryError(
                    f"{self.host}: {kind} ({method} {path})",
                    hint=f"is a registry listening at {self.base}? check host, port and network",
                ) from e
            status = response.status_code
            if status == 401 and not authed:
                authed = True
                challenge = response.headers.get("WWW-Authenticate", "")
                response.close()
                if self._authenticate(challenge, scope):
                    continue
            if status in _RETRY_STATUS:
                after = retry_after(response.headers.get("Retry-After", ""))
                response.close()
                delay = self._delay(attempt + 1, after, waited)
                if (
                    attempt < self.retries
                    and not self._failing
                    and waited + delay <= self.max_wait + 1e-9
                ):
                    attempt += 1
                    waited += delay
                    log.debug(
                        "%s %s: HTTP %d, retry %d in %.1fs", method, path, status, attempt, delay
                    )
                    time.sleep(delay)
                    continue
                error = _gave_up(status, what, self, attempt, waited, after, self._failing)
                self._failing = True
                raise error
            if status >= 400:
                response.close()
                raise _http_error(status, what, self)
            self._failing = False
            return response

    def _authenticate(self, challenge: str, scope: str) -> bool:
        """Answer a WWW-Authenticate challenge; False when we have nothing to answer with."""
        import requests

        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if self._creds() is None:
                return False
            self._basic = True
            return True
        if scheme.lower() != "bearer":
            return False
        fields = dict(_CHALLENGE.findall(params))
        realm = fields.get("realm")
        if not realm:
            return False
        query = {k: v for k, v in (("service", fields.get("service")), ("scope", scope)) if v}
        creds = self._creds()
        try:
            response = self.session.get(
                realm, params=query, auth=creds if creds else None, timeout=self.timeout
            )
        except requests.exceptions.RequestException as e:
            raise RegistryError(
                f"{self.host}: token service {realm} unreachable: {_short(e)}"
            ) from e
        if response.status_code in (401, 403):
            refused = "refused the credentials" if creds else "wants credentials"
            raise RegistryError(
                f"{self.host}: its token service {refused} (HTTP {response.status_code})",
                hint=f"log in again with `docker login {self.host}`; credentials are read "
                "from ~/.docker/config.json and its credential helpers",
            )
        if response.status_code != 200:
            raise _http_error(response.status_code, f"{self.host}: token for {scope}", self)
        try:
            body = safejson.loads(response.content)
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):  # not JSON, or not an object
            token = None
        if not token:
            raise RegistryError(f"{self.host}: the token service sent no token")
        self._tokens[scope] = str(token)
        return True

    # -- API ----------------------------------------------------------------

    def ping(self) -> None:
        self.request("GET", "/v2/", what=f"{self.host}/v2/").close()

    def manifest(self, repository: str, reference: str) -> Manifest:
        """A manifest or index; its digest is checked when `reference` is one."""
        what = (
            f"{self.host}/{repository}@{reference}"
            if ":" in reference
            else (f"{self.host}/{repository}:{reference}")
        )
        response = self.request(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            scope=_pull(repository),
            headers={"Accept": ACCEPT},
            stream=True,
            what=what,
        )
        try:
            data = response.raw.read(MAX_MANIFEST + 1, decode_content=True)
        finally:
            response.close()
        if len(data) > MAX_MANIFEST:
            raise RegistryError(f"{what}: manifest larger than {MAX_MANIFEST} bytes")
        digest = sha256_digest(data)
        expected = (
            reference
            if reference.startswith("sha256:")
            else (response.headers.get("Docker-Content-Digest") or "")
        )
        if expected.startswith("sha256:") and expected != digest:
            raise RegistryError(
                f"{what}: manifest content does not match its digest {expected[:19]}…",
                hint="the registry or a proxy altered the manifest; do not trust this image",
            )
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            declared = safejson.loads(data).get("mediaType")
        except (ValueError, AttributeError):
            raise RegistryError(f"{what}: manifest is not JSON") from None
        if declared:
            media_type = str(declared)
        return Manifest(media_type, digest, data)

    def head_manifest(self, repository: str, reference: str) -> str | None:
        """The digest a tag resolves to now (`Docker-Content-Digest` of a HEAD), without
        its body; None when the registry does not say."""
        response = self.request(
            "HEAD",
            f"/v2/{repository}/manifests/{reference}",
            scope=_pull(repository),
            headers={"Accept": ACCEPT},
            what=f"{self.host}/{repository}:{reference}",
        )
        response.close()
        digest = response.headers.get("Docker-Content-Digest") or ""
        return digest if digest.startswith("sha256:") else None

    def blob(self, repository: str, digest: str) -> VerifiedBlob:
        """A blob as a digest-verifying stream; close() it when done."""
        what = f"{self.host}/{repository}@{digest[:19]}…"
        response = self.request(
            "GET",
            f"/v2/{repository}/blobs/{digest}",
            scope=_pull(repository),
            stream=True,
            what=what,
        )
        return VerifiedBlob(response, digest, what)

    def blob_bytes(self, repository: str, digest: str, limit: int = MAX_MANIFEST) -> bytes:
        """A small blob (an image config) read whole and verified."""
        blob = self.blob(repository, digest)
        try:
            data = blob.read(limit + 1)
            if len(data) > limit:
                raise RegistryError(f"{self.host}/{repository}@{digest}: larger than {limit}")
            rest = blob.read(limit)
            while rest:
                rest = blob.read(limit)
            return data
        finally:
            blob.close()

    def catalog(self, page_size: int = 1000) -> Iterator[str]:
        """Every repository name, following `Link` pagination."""
        yield from self._paged(f"/v2/_catalog?n={page_size}", "repositories", "registry:catalog:*")

    def tags(self, repository: str, page_size: int = 1000) -> Iterator[str]:
        yield from self._paged(
            f"/v2/{repository}/tags/list?n={page_size}", "tags", _pull(repository)
        )

    def _paged(self, path: str, key: str, scope: str) -> Iterator[str]:
        pages = 0
        next_path: str | None = path
        while next_path and pages < MAX_PAGES:
            pages += 1
            try:
                response = self.request("GET", next_path, scope=scope)
            except RegistryError as e:
                if pages == 1 and e.status == 400 and "?n=" in next_path:
                    # A registry that caps its page size (distribution's catalog
                    # maxentries) refuses a larger n: let it choose, and follow Link.
                    next_path = next_path.split("?n=", 1)[0]
                    continue
                raise
            try:
                body = safejson.loads(response.content)
            except ValueError:
                raise RegistryError(f"{self.host}{next_path}: response is not JSON") from None
            finally:
                response.close()
            items = body.get(key) if isinstance(body, dict) else None
            yield from (str(x) for x in (items if isinstance(items, list) else []))
            link = response.headers.get("Link", "")
            match = re.match(r"\s*<([^>]+)>", link)
            next_path = match.group(1) if match else None


_CLIENTS: dict[tuple[int, str], RegistryClient] = {}
_CLIENTS_LOCK = threading.Lock()


def _in_this_process(identity: str, state: dict[str, Any]) -> RegistryClient:
    """The one client of this process for a client pickled elsewhere (its pool reused)."""
    key = (os.getpid(), identity)  # a forked child never reuses its parent's sockets
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = RegistryClient.__new__(RegistryClient)
            client.__dict__.update(state)
            client._session = None
            client._lock = threading.Lock()
            _CLIENTS[key] = client
        return client


def retry_after(value: str) -> float | None:
    """Seconds from a `Retry-After` header: delay-seconds or an HTTP date; None if neither."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT
        import datetime

        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - time.time())


def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _short(e: BaseException) -> str:
    text = str(e)
    return text if len(text) < 160 else text[:157] + "..."


def _refused(e: BaseException) -> bool:
    """Whether a connection error is a refusal (nothing listens): not worth retrying."""
    return "Connection refused" in str(e) or "Errno 111" in str(e)


def _gave_up(
    status: int,
    what: str,
    client: RegistryClient,
    attempts: int,
    waited: float,
    after: float | None,
    failing: bool,
) -> RegistryError:
    """A 429 or 5xx that retrying did not get past: what was tried, and why it stopped."""
    error = _http_error(status, what, client)
    if failing:
        why = "not retried: earlier requests to this registry failed the same way"
    elif after is not None and waited + after > client.max_wait:
        why = f"it asked to wait {after:.0f}s more, past the {client.max_wait:.0f}s retry budget"
    else:
        why = f"{attempts + 1} tries over {waited:.0f}s"
    return RegistryError(
        f"{error.message} ({why})",
        hint=f"{error.hint}; --max-retry-wait sets how long to keep trying",
    )


def _http_error(status: int, what: str, client: RegistryClient) -> RegistryError:
    error = _http_error_of(status, what, client)
    error.status = status
    return error


def _http_error_of(status: int, what: str, client: RegistryClient) -> RegistryError:
    if status == 401 and client._credentials is not None:
        return RegistryError(
            f"{what}: the credentials for {client.host} were refused (HTTP 401)",
            hint=f"log in again with `docker login {client.host}`; credentials are read from "
            "~/.docker/config.json and its credential helpers",
        )
    if status == 401:
        return RegistryError(
            f"{what}: authentication required (HTTP 401)",
            hint=f"log in with `docker login {client.host}`; credentials are read from "
            "~/.docker/config.json and its credential helpers",
        )
    if status == 403:
        return RegistryError(
            f"{what}: access denied (HTTP 403)",
            hint="the credentials lack pull rights for this repository",
        )
    if status == 404:
        return RegistryError(
            f"{what}: not found (HTTP 404)", hint="check the repository name and tag"
        )
    if status == 429:
        return RegistryError(f"{what}: rate limited (HTTP 429)", hint="try again later")
    return RegistryError(
        f"{what}: registry answered HTTP {status}",
        hint="the registry may be failing; try again later",
    )
