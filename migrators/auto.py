"""Pick a migrator per finding, and put their plans together.

`auto`: a Dockerfile finding goes to BuildKit secret mounts; a Compose
finding to Compose secrets, or to Swarm secrets when the file is a stack
(a service has `deploy:`); with a Vault address, every value goes to Vault
and the files read local copies that `leakguard secrets pull` renders.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from leakguard.engine import kind_of_path
from leakguard.errors import UsageError
from leakguard.migrators import manifest
from leakguard.migrators.plan import (
    MANIFEST_NAME,
    SECRETS_DIR,
    Applied,
    Plan,
    RemoteStore,
    Skipped,
    Workspace,
    apply_plan,
    merge,
)
from leakguard.models import Finding

TARGETS = ("auto", "buildkit", "compose", "swarm", "vault")


@dataclass(frozen=True)
class Options:
    target: str = "auto"
    vault_addr: str | None = None
    vault_path: str | None = None  # "MOUNT/PATH"; default secret/leakguard/<folder name>
    force: bool = False
    dockerfile_syntax: str | None = None  # None: the built-in frontend; "1.10": env= form
    vault_agent: bool = False

    @property
    def uses_vault(self) -> bool:
        return self.target == "vault" or (self.target == "auto" and self.vault_addr is not None)


def _is_stack(path: Path) -> bool:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return False
    return any(line.strip().startswith("deploy:") for line in text.splitlines())


def own_output(root: Path, finding: Finding) -> bool:
    """Findings in the secrets folder or the manifest are where secrets now belong."""
    if not finding.location.path:
        return False
    path = Path(finding.location.path).resolve()
    base = root.resolve()
    return path == base / MANIFEST_NAME or base / SECRETS_DIR in path.parents


def plan_migration(root: Path, findings: Sequence[Finding], options: Options) -> Plan:
    """Read-only: the plan for moving every finding it can, the rest skipped."""
    from leakguard.migrators.compose_secrets import ComposeSecrets

    root = Path(root)
    if options.target not in TARGETS:
        raise UsageError(f"unknown target {options.target!r}", hint=f"one of {', '.join(TARGETS)}")
    vault_path = None
    if options.uses_vault:
        vault_path = options.vault_path or f"secret/leakguard/{root.resolve().name or 'project'}"
        if "/" not in vault_path.strip("/"):
            raise UsageError(f"--vault-path {vault_path!r} needs MOUNT/PATH")
        vault_path = vault_path.strip("/")
    unique = {(f.rule_id, f.location, f.fingerprint): f for f in findings}
    findings = [f for f in unique.values() if not own_output(root, f)]
    ws = Workspace()
    plans: list[Plan] = []
    by_kind: dict[str, list[Finding]] = {"compose": [], "dockerfile": [], "other": []}
    for f in findings:  # one pass: `f not in list` for each finding was quadratic
        kind = kind_of_path(f.location.path)
        by_kind[kind if kind in ("compose", "dockerfile") else "other"].append(f)
    compose, dockerfile, other = by_kind["compose"], by_kind["dockerfile"], by_kind["other"]
    plans.append(Plan(skipped=tuple(
        Skipped(f, "not in a Dockerfile or Compose file: needs manual change") for f in other
    )))  # fmt: skip

    if compose:
        if options.target == "buildkit":
            plans.append(Plan(skipped=tuple(Skipped(f, "--to buildkit: not a Dockerfile")
                                            for f in compose)))  # fmt: skip
        else:
            stacks = {p for p in {f.location.path for f in compose} if p and _is_stack(Path(p))}
            swarm = options.target == "swarm"
            for is_stack in (False, True):
                group = [f for f in compose if (f.location.path in stacks) == is_stack]
                if not group:
                    continue
                as_swarm = swarm or (is_stack and options.target == "auto" and not vault_path)
                migrator = ComposeSecrets(root, ws, swarm=as_swarm, vault_path=vault_path)
                plans.append(migrator.plan(group))
    if dockerfile:
        if options.target in ("compose", "swarm"):
            plans.append(
                Plan(
                    skipped=tuple(
                        Skipped(f, f"--to {options.target}: a Dockerfile (use --to buildkit)")
                        for f in dockerfile
                    )
                )
            )
        else:
            plans.append(_buildkit_plan(root, ws, dockerfile, options, vault_path))
    plan = merge(plans)
    # A build context, most likely: a Dockerfile here, or a Compose file whose
    # services build from here (`build: .`, or a Dockerfile kept in a sub-folder).
    context = any(
        kind_of_path(name) in ("dockerfile", "compose")
        for name in os.listdir(root) if (root / name).is_file()
    ) if root.is_dir() else False  # fmt: skip
    manifest.record(ws, root, plan.moves, context)
    if options.vault_agent and vault_path:
        from leakguard.migrators.vault import agent_config

        entries = manifest.load(root, ws.read(root / MANIFEST_NAME))
        ws.write(root / "vault-agent.hcl", agent_config(
            (e.name, e.file, e.source, e.env_key)
            for e in entries.values()
            if e.source.startswith("vault:")
        ))  # fmt: skip
    hidden = tuple({f.secret for f in findings
                    if len(f.secret.raw) >= 6 and "credential-file" not in f.rule_id})  # fmt: skip
    return Plan(ws.edits(), plan.moves, plan.skipped, plan.values, plan.notes, hidden)


def _buildkit_plan(
    root: Path, ws: Workspace, findings: list[Finding], options: Options, vault_path: str | None
) -> Plan:
    try:
        from leakguard.migrators.buildkit import BuildKitSecrets
    except ImportError as e:  # the Dockerfile parser is missing from this install
        reason = f"the Dockerfile parser is not available ({e.name})"
        return Plan(skipped=tuple(Skipped(f, reason) for f in findings))
    compose_files = []
    if root.is_dir() and options.target != "buildkit":
        compose_files = sorted(p for p in root.iterdir() if kind_of_path(p.name) == "compose")
    migrator = BuildKitSecrets(root, ws, syntax=options.dockerfile_syntax, vault_path=vault_path,
                               compose_files=compose_files)  # fmt: skip
    return migrator.plan(findings)


def store_for(plan: Plan, options: Options) -> RemoteStore | None:
    kinds = {m.destination.split(":", 1)[0] for m in plan.moves}
    if "vault" in kinds:
        from leakguard.migrators.vault import VaultStore

        return VaultStore.from_env(options.vault_addr, force=options.force)
    if "swarm" in kinds:
        from leakguard.migrators.swarm import SwarmStore

        return SwarmStore()
    return None


def apply_migration(plan: Plan, options: Options) -> Applied:
    return apply_plan(plan, store_for(plan, options))
