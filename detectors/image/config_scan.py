"""The image config: Env, Labels, Cmd/Entrypoint, history and attestations."""

from __future__ import annotations

from typing import Any

from leakguard.detectors.image.model import Image
from leakguard.engine import Engine
from leakguard.models import (
    Finding,
    Location,
    Origin,
    Surface,
)
from leakguard.rules import Context


def image_level(engine: Engine, image: Image) -> list[Finding]:
    """Findings in the config: Env, Labels, Cmd/Entrypoint/Healthcheck, history, attestations."""
    found: list[Finding] = []
    name = image.name
    cfg = image.config.get("config") or image.config.get("container_config") or {}
    if not isinstance(cfg, dict):
        cfg = {}

    def scan(text: str, path: str, origin: Origin, kind: str) -> None:
        location = Location(surface=Surface.IMAGE, image=name, path=path, origin=origin)
        found.extend(engine.scan_text(text, location, Context(path=path, kind=kind)))

    # A hand-made config may hold anything where Docker writes a list or a
    # mapping: what has another shape is read as text, never trusted.
    for item in _as_list(cfg.get("Env")):
        key = str(item).partition("=")[0]
        scan(str(item), f"ENV {key}", Origin.ENV, "config")
    labels = cfg.get("Labels")
    for key, value in labels.items() if isinstance(labels, dict) else []:
        scan(f"{key}={value}", f"LABEL {key}", Origin.LABEL, "config")
    for field_name in ("Cmd", "Entrypoint"):
        value = cfg.get(field_name)
        if value:
            text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
            scan(text, field_name.upper(), Origin.HISTORY, "shell")
    health = cfg.get("Healthcheck") or {}
    if isinstance(health, dict) and health.get("Test"):
        scan(" ".join(map(str, _as_list(health["Test"]))), "HEALTHCHECK", Origin.HISTORY, "shell")
    for i, entry in enumerate(_as_list(image.config.get("history"))):
        created_by = str(entry.get("created_by") or "") if isinstance(entry, dict) else ""
        if created_by:
            scan(
                created_by, f"history[{i}] {_instruction_word(created_by)}", Origin.HISTORY, "shell"
            )
    for digest, data in image.attestations:
        location = Location(
            surface=Surface.IMAGE,
            image=name,
            path="attestation",
            layer=digest,
            origin=Origin.ATTESTATION,
        )
        found.extend(
            engine.scan_bytes(
                dsse_payload(data), location, Context(path="attestation.json", kind="config")
            )
        )
    return found


def dsse_payload(data: bytes) -> bytes:
    """The statement a DSSE envelope signs (`{"payloadType", "payload": base64,
    "signatures"}`: signed provenance and SBOMs), decoded, so that what the
    statement records (build arguments, environment) is scanned as written; any
    other attestation as it is."""
    import base64
    import binascii

    from leakguard import safejson

    if b'"payloadType"' not in data:
        return data
    try:
        envelope = safejson.loads(data)
    except ValueError:
        return data
    payload = envelope.get("payload") if isinstance(envelope, dict) else None
    if not isinstance(payload, str):
        return data
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        try:
            return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        except (binascii.Error, ValueError):
            return data


def _size(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _as_list(value: object) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None or value == "" else [value]


def _instruction_word(created_by: str) -> str:
    text = created_by.strip()
    if "#(nop)" in text:
        word = text.split("#(nop)", 1)[1].strip().split(" ", 1)[0]
        return word.upper() or "NOP"
    if text.startswith("/bin/sh -c") or text.startswith("|"):
        return "RUN"
    word = text.split(" ", 1)[0]
    return word.upper() if word.isalpha() else "RUN"


def layer_instructions(config: dict[str, Any], count: int) -> list[str | None]:
    """For each layer, the instruction that made it (history entries minus empty layers)."""
    history = [h for h in config.get("history") or [] if isinstance(h, dict)]
    made = [str(h.get("created_by") or "") for h in history if not h.get("empty_layer")]
    if len(made) != count:
        return [None] * count
    return [m or None for m in made]
