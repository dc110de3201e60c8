"""An image's report put together from its layers' scans."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from leakguard.detectors.image.bases import KnownImage
from leakguard.detectors.image.config_scan import image_level, layer_instructions
from leakguard.detectors.image.model import Image, LayerScan
from leakguard.detectors.image.tar import _ancestors
from leakguard.engine import Engine
from leakguard.models import (
    ScanResult,
    Skipped,
)


def assemble(
    engine: Engine,
    image: Image,
    scans: Sequence[LayerScan | None],
    base: KnownImage | None = None,
    skip_inherited: bool = False,
) -> ScanResult:
    """An image's findings from its layers' scans: deletions applied, provenance named.

    With a `base`, findings in its layers (and its history entries) are marked
    inherited, or left out with `skip_inherited`.
    """
    result = ScanResult()
    inherited_layers = len(base.diff_ids) if base is not None else 0
    inherited_history = (base.history or 0) if base is not None else 0
    history_findings = []
    for finding in image_level(engine, image):
        match = re.match(r"history\[(\d+)\]", finding.location.path or "")
        if match and int(match.group(1)) < inherited_history and base is not None:
            if skip_inherited:
                continue
            finding = replace(
                finding,
                message=f"{finding.message} [inherited from {base.name}]",
                location=replace(finding.location, inherited=base.name),
            )
        history_findings.append(finding)
    secrets = [f.secret.raw for f in history_findings]
    instructions = layer_instructions(image.config, len(image.layers))
    for index, scan in enumerate(scans):
        if scan is None or (skip_inherited and index < inherited_layers):
            continue
        later = [s for s in scans[index + 1 :] if s is not None]
        made_by = instructions[index]
        for finding in scan.findings:
            path = (finding.location.path or "").split("!", 1)[0]
            deleted = any(s.hides(path, _ancestors(path)) for s in later) if later else False
            message = finding.message
            if made_by:
                message += f" [layer {index + 1} of {len(scans)}: {_shown(made_by, secrets)}]"
            inherited = None
            if index < inherited_layers and base is not None:
                message += f" [inherited from {base.name}]"
                inherited = base.name
            location = replace(
                finding.location, image=image.name, deleted=deleted, inherited=inherited
            )
            result.findings.append(replace(finding, location=location, message=message))
        result.skipped.extend(replace(s, target=f"{image.name}: {s.target}") for s in scan.skipped)
        result.stats.add(scan.stats)
    if skip_inherited and base is not None:
        result.skipped.append(
            Skipped(
                image.name,
                f"{inherited_layers} layer(s) inherited from {base.name} not scanned "
                "(--skip-inherited)",
                error=False,
            )
        )
    result.findings.extend(history_findings)
    result.skipped.extend(image.skipped)
    return result


def _shown(created_by: str, secrets: Iterable[bytes]) -> str:
    """An instruction for a message: shortened, with any secret found in history and
    every value-like argument masked (a value that detection missed is not quoted)."""
    from leakguard.detectors.shell import masked_command

    text = created_by.replace("/bin/sh -c #(nop) ", "").replace("/bin/sh -c ", "RUN ").strip()
    text = masked_command(text, (raw.decode("utf-8", "replace") for raw in secrets))
    return text if len(text) <= 100 else text[:97] + "..."
