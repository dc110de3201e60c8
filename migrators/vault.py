"""Vault (or OpenBao) KV version 2 as the home of moved secrets, through hvac.

Each value is stored under `MOUNT/PATH` with the secret's name as its key.
Writes use check-and-set: a key that already holds a different value is never
overwritten without `force`, and a concurrent writer makes the write fail
instead of being lost. The files keep reading local, git-ignored copies that
`leakguard secrets pull` (or a Vault Agent with `agent_config()`) renders.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leakguard.errors import ChangeRefused, TargetUnreadable, UsageError
from leakguard.migrators.plan import SecretMove
from leakguard.models import SecretValue

log = logging.getLogger(__name__)


def parse_destination(destination: str) -> tuple[str, str, str]:
    """ "vault:MOUNT/PATH#KEY" -> (mount, path, key)."""
    body = destination.removeprefix("vault:")
    where, _, key = body.partition("#")
    mount, _, path = where.partition("/")
    if not mount or not path or not key:
        raise UsageError(f"{destination!r} is not vault:MOUNT/PATH#KEY")
    return mount, path, key


@dataclass
class VaultStore:
    addr: str
    token: str | None = None
    role_id: str | None = None
    secret_id: str | None = None
    force: bool = False
    timeout: float = 10.0

    @classmethod
    def from_env(cls, addr: str | None, force: bool = False) -> VaultStore:
        addr = addr or os.environ.get("VAULT_ADDR")
        if not addr:
            raise UsageError("no Vault address", hint="pass --vault-addr or set VAULT_ADDR")
        if "@" in addr:  # user:password@host (a password may hold `/`): never echoed
            raise UsageError(
                "the Vault address must not carry credentials (user:password@host)",
                hint="authenticate with VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID",
            )
        return cls(
            addr,
            token=os.environ.get("VAULT_TOKEN"),
            role_id=os.environ.get("VAULT_ROLE_ID"),
            secret_id=os.environ.get("VAULT_SECRET_ID"),
            force=force,
        )

    def client(self) -> Any:
        import hvac
        import requests

        client = hvac.Client(url=self.addr, token=self.token, timeout=self.timeout)
        if not self.token:
            if not (self.role_id and self.secret_id):
                raise ChangeRefused(
                    "no Vault credentials",
                    hint="set VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole",
                )
            try:
                client.auth.approle.login(role_id=self.role_id, secret_id=self.secret_id)
            except (hvac.exceptions.VaultError, requests.RequestException) as e:
                raise self._wrap(e, "AppRole login") from e
        return client

    def _wrap(self, e: Exception, doing: str) -> ChangeRefused:
        import hvac
        import requests

        if isinstance(e, requests.RequestException):
            return ChangeRefused(
                f"cannot reach Vault at {self.addr} ({doing}): {type(e).__name__}; "
                "nothing was changed",
                hint="check --vault-addr / VAULT_ADDR and that the server is up",
            )
        if isinstance(e, hvac.exceptions.Forbidden):
            return ChangeRefused(
                f"Vault refused {doing} (permission denied); nothing was changed",
                hint="check VAULT_TOKEN and its policy (create, read, update on the path)",
            )
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        return ChangeRefused(f"Vault {doing} failed: {first}; nothing was changed")

    # -- store (RemoteStore) --------------------------------------------------

    def __call__(self, moves: Sequence[SecretMove], values: Mapping[str, SecretValue]) -> None:
        import hvac
        import requests

        client = self.client()
        by_path: dict[tuple[str, str], dict[str, str]] = {}
        for move in moves:
            if not move.destination.startswith("vault:"):
                continue
            mount, path, key = parse_destination(move.destination)
            by_path.setdefault((mount, path), {})[key] = values[move.name].reveal()
        # Read everything first, so a conflict refuses before any write.
        current: dict[tuple[str, str], tuple[dict[str, Any], int]] = {}
        for (mount, path), wanted in by_path.items():
            try:
                data, version = self._read(client, mount, path)
            except (hvac.exceptions.VaultError, requests.RequestException) as e:
                raise self._wrap(e, f"read of {mount}/{path}") from e
            clash = [k for k, v in wanted.items() if k in data and data[k] != v]
            if clash and not self.force:
                raise ChangeRefused(
                    f"Vault {mount}/{path} already holds a different value for "
                    f"{', '.join(sorted(clash))}; nothing was changed",
                    hint="pick another --vault-path, or --force to overwrite it",
                )
            current[(mount, path)] = (data, version)
        for (mount, path), wanted in by_path.items():
            data, version = current[(mount, path)]
            if all(data.get(k) == v for k, v in wanted.items()):
                continue
            try:
                client.secrets.kv.v2.create_or_update_secret(
                    path=path, secret={**data, **wanted}, cas=version, mount_point=mount
                )
            except (hvac.exceptions.VaultError, requests.RequestException) as e:
                raise self._wrap(e, f"write of {mount}/{path} (check-and-set)") from e
            log.debug("stored %d key(s) in %s/%s", len(wanted), mount, path)

    @staticmethod
    def _read(client: Any, mount: str, path: str) -> tuple[dict[str, Any], int]:
        import hvac

        try:
            resp = client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=mount, raise_on_deleted_version=False
            )
        except hvac.exceptions.InvalidPath:
            return {}, 0
        data = (resp.get("data") or {}).get("data") or {}
        version = int(((resp.get("data") or {}).get("metadata") or {}).get("version") or 0)
        return dict(data), version

    def fetch(self, sources: Iterable[tuple[str, str]]) -> dict[str, SecretValue]:
        """(name, "vault:MOUNT/PATH#KEY") pairs -> name: value."""
        import hvac
        import requests

        client = self.client()
        cache: dict[tuple[str, str], dict[str, Any]] = {}
        out = {}
        for name, source in sources:
            mount, path, key = parse_destination(source)
            if (mount, path) not in cache:
                try:
                    cache[(mount, path)] = self._read(client, mount, path)[0]
                except (hvac.exceptions.VaultError, requests.RequestException) as e:
                    wrapped = self._wrap(e, f"read of {mount}/{path}")
                    raise TargetUnreadable(wrapped.message, wrapped.hint) from e
            data = cache[(mount, path)]
            if key not in data:
                raise TargetUnreadable(f"Vault {mount}/{path} has no key {key!r}")
            out[name] = SecretValue(str(data[key]).encode())
        return out


def agent_config(entries: Iterable[tuple[str, str, str, str | None]]) -> str:
    """A Vault Agent config: one template per local file, from (name, file, source,
    env key) entries; an env file gets one `KEY=value` line per entry."""
    parts = [
        "# Vault Agent templates that render the secrets leakguard moved to Vault.\n",
        "# Add `vault { address = ... }` and an `auto_auth` block for your deployment.\n",
    ]
    by_file: dict[str, list[tuple[str, str, str | None]]] = {}
    for name, file, source, env_key in entries:
        by_file.setdefault(file, []).append((name, source, env_key))
    for file, group in by_file.items():
        pieces = []
        for _name, source, env_key in group:
            mount, path, key = parse_destination(source)
            value = (
                f'{{{{ with secret "{mount}/data/{path}" }}}}'
                f"{{{{ .Data.data.{key} }}}}{{{{ end }}}}"
            )
            pieces.append(f"{env_key}={value}\n" if env_key else value)
        names = ", ".join(n for n, _, _ in group)
        parts.append(
            f"\ntemplate {{\n  # {names}\n  destination = {json.dumps(file)}\n"
            f'  contents    = {json.dumps("".join(pieces))}\n  perms       = "0600"\n}}\n'
        )
    return "".join(parts)
