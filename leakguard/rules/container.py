"""Container checks: findings that no token pattern makes.

A secret-named build argument, a credential file copied into an image, an
inline Compose secret, a password typed into a command line: the detectors for
Dockerfiles, Compose files, build contexts and scripts find these with small
functions of their own. Their ids, severities and remediation live here, in the
core, so that `leakguard rules` lists them, config can disable them and
baselines keep their ids stable.
"""

from __future__ import annotations

from dataclasses import dataclass

from leakguard.models import Severity


@dataclass(frozen=True, slots=True)
class CheckInfo:
    severity: Severity
    description: str
    remediation: str


DOCKERFILE_CHECKS: dict[str, CheckInfo] = {
    "dockerfile-secret-arg": CheckInfo(
        Severity.MEDIUM,
        "Secret-named build argument in scope of a RUN: its value is kept in the image history",
        "Pass the secret with `RUN --mount=type=secret,id=NAME` (docker buildx build --secret "
        "id=NAME,env=NAME) instead of a build argument; `docker history` shows build args.",
    ),
    "dockerfile-secret-arg-in-env": CheckInfo(
        Severity.HIGH,
        "Build argument holding a secret copied into ENV: stored in the image config",
        "Do not copy secrets into ENV; read them at run time (a mounted secret file or the "
        "orchestrator's secrets) or, at build time only, with RUN --mount=type=secret.",
    ),
    "dockerfile-run-credential": CheckInfo(
        Severity.HIGH,
        "Credential typed into a RUN command: kept in the Dockerfile and the image history",
        "Rotate the credential, then pass it with RUN --mount=type=secret,id=NAME and read "
        "it from /run/secrets/NAME inside the command.",
    ),
    "dockerfile-cmd-credential": CheckInfo(
        Severity.HIGH,
        "Credential in CMD, ENTRYPOINT or HEALTHCHECK: stored in the image config",
        "Rotate the credential, then read it at run time from a mounted secret file "
        "(/run/secrets/NAME) or the orchestrator's secrets instead of the image's command.",
    ),
    "dockerfile-run-credential-file": CheckInfo(
        Severity.HIGH,
        "RUN writes credentials to a credential file that stays in the image layer",
        "Mount the file for that one step instead: RUN --mount=type=secret,id=NAME,"
        "target=PATH; a file deleted in a later RUN is still in the earlier layer.",
    ),
    "dockerfile-copy-credential-file": CheckInfo(
        Severity.HIGH,
        "COPY/ADD puts a credential file into the image",
        "Do not copy credential files into images: mount them for the step that needs them "
        "(RUN --mount=type=secret,id=NAME,target=PATH) and add them to .dockerignore.",
    ),
}


COMPOSE_CHECKS: dict[str, CheckInfo] = {
    "compose-command-credential": CheckInfo(
        Severity.HIGH,
        "Credential typed into a service's command, entrypoint or healthcheck",
        "Rotate it, then give the service a Compose secret (`secrets:` with `file:` or "
        "`environment:`) and read it from /run/secrets/NAME in the command.",
    ),
    "compose-inline-secret": CheckInfo(
        Severity.HIGH,
        "Compose secret whose value is written inline with `content:`",
        "Rotate it, then declare the secret with `file:` (a file outside the repository) or "
        "`environment:` (a variable set at deploy time) instead of `content:`.",
    ),
}


COMMAND_RULE_ID = "command-credential"

# Command lines outside Dockerfiles and Compose files: shell scripts, Makefile
# recipes, CI pipeline scripts.
COMMAND_CHECKS: dict[str, CheckInfo] = {
    COMMAND_RULE_ID: CheckInfo(
        Severity.HIGH,
        "Credential typed into a command line in a shell script, Makefile recipe or CI job",
        "Rotate it, then have the command read it at run time: an environment variable set "
        "by the CI's secret store, or a file the command reads (`--password-stdin`, "
        "`curl --netrc-file`, `MYSQL_PWD`/`PGPASSFILE`).",
    ),
}


CONTEXT_RULE_ID = "dockerfile-context-credential-file"
CONTEXT_REMEDIATION = (
    "Add the file to .dockerignore (the line is in the message), or copy only what the "
    "image needs (COPY src/ /app/src/) instead of the whole context; if the image was "
    "pushed, rotate the credentials in it."
)

CONTEXT_CHECKS: dict[str, CheckInfo] = {
    CONTEXT_RULE_ID: CheckInfo(
        Severity.HIGH,
        "A broad COPY/ADD puts a credential file from the build context into the image",
        CONTEXT_REMEDIATION,
    ),
}


CHECKS: dict[str, CheckInfo] = {
    **DOCKERFILE_CHECKS, **COMPOSE_CHECKS, **COMMAND_CHECKS, **CONTEXT_CHECKS,
}  # fmt: skip
