"""A client for OCI distribution registries (the Docker Registry HTTP API v2).

`Reference` parses `host[:port]/repo[:tag|@digest]`; `RegistryClient` fetches
manifests and blobs (streamed, digest-verified), lists repositories and tags,
and handles anonymous, basic and bearer-token access.
"""

from __future__ import annotations

from leakguard.registry.client import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    Manifest,
    RegistryClient,
    RegistryError,
    credentials_for,
)
from leakguard.registry.reference import Reference, is_loopback

__all__ = [
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "Manifest",
    "Reference",
    "RegistryClient",
    "RegistryError",
    "credentials_for",
    "is_loopback",
]
