"""Swarm secrets: values go to the swarm through the Docker API, never on a command line.

The stack file itself is rewritten by `compose_secrets.ComposeSecrets` with
`swarm=True` (each secret `external: true`). A secret is created with a label
holding the value's sha256, so a second run knows it is already there; an
existing secret with another value is refused, never replaced (Swarm secrets
are immutable while a service uses them).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leakguard.errors import ChangeRefused
from leakguard.migrators.plan import SecretMove
from leakguard.models import SecretValue

log = logging.getLogger(__name__)

FINGERPRINT_LABEL = "io.leakguard.fingerprint"


@dataclass
class SwarmStore:
    base_url: str | None = None  # default: DOCKER_HOST or the local socket

    def client(self) -> Any:
        import docker

        from leakguard.detectors.image import engine_socket_answers

        try:
            if self.base_url:
                return docker.DockerClient(base_url=self.base_url, timeout=30)
            if not engine_socket_answers():
                raise docker.errors.DockerException("its socket does not answer")
            return docker.from_env(timeout=30)
        except docker.errors.DockerException as e:
            raise ChangeRefused(
                f"cannot reach the Docker engine: {e}; nothing was changed",
                hint="start Docker (and `docker swarm init`), or set DOCKER_HOST",
            ) from e

    def __call__(self, moves: Sequence[SecretMove], values: Mapping[str, SecretValue]) -> None:
        import docker

        client = self.client()
        try:
            todo = []
            for move in moves:
                if not move.destination.startswith("swarm:"):
                    continue
                name = move.destination.removeprefix("swarm:")
                value = values[move.name]
                found = [s for s in client.secrets.list(filters={"name": name})
                         if s.name == name]  # fmt: skip
                if found:
                    labels = found[0].attrs.get("Spec", {}).get("Labels") or {}
                    if labels.get(FINGERPRINT_LABEL) == value.fingerprint:
                        continue
                    raise ChangeRefused(
                        f"the swarm already has a secret {name!r} with another value; "
                        "nothing was changed",
                        hint="remove or rename that secret, or rotate it by hand",
                    )
                todo.append((name, value))
            for name, value in todo:
                client.secrets.create(
                    name=name, data=value.raw, labels={FINGERPRINT_LABEL: value.fingerprint}
                )
                log.debug("created swarm secret %s", name)
        except docker.errors.APIError as e:
            explanation = getattr(e, "explanation", None) or str(e)
            hint = None
            if "not a swarm manager" in str(explanation) or "swarm" in str(explanation):
                hint = "run it on a swarm manager (`docker swarm init` makes one)"
            raise ChangeRefused(f"Docker refused the secret: {explanation}", hint=hint) from e
        except docker.errors.DockerException as e:
            raise ChangeRefused(f"cannot reach the Docker engine: {e}") from e
        finally:
            client.close()
