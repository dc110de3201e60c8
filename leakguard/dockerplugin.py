"""`docker leakguard`: leakguard as a Docker CLI plugin.

The Docker CLI finds `docker-leakguard` in a `cli-plugins` folder, runs
`docker-leakguard docker-cli-plugin-metadata` for a JSON description (shown by
`docker --help` and `docker info`), and runs `docker [OPTIONS] leakguard ARGS`
as `docker-leakguard [OPTIONS] leakguard ARGS`: the options given before
`leakguard` (`--context`, `-H`, `--config`, the TLS ones) arrive as they were
typed. The 20.10 CLI resolves none of them for its plugins (it exports no
DOCKER_HOST; DOCKER_CONTEXT and DOCKER_HOST arrive only when the user set
them), so the engine is resolved here the way the CLI does it, and handed to
leakguard as DOCKER_HOST (with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH), which
is what the Docker SDK reads.

The installed file is a two-line shell script that runs this module with the
Python it was installed from: `python -m leakguard.dockerplugin ARGS`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from leakguard import __version__
from leakguard.errors import ChangeRefused, TargetUnreadable, UsageError

NAME = "leakguard"  # the plugin's name: `docker leakguard`
SCRIPT = f"docker-{NAME}"
METADATA_COMMAND = "docker-cli-plugin-metadata"
MARKER = "# Written by `leakguard docker-plugin install`"
DEFAULT_HOST = "unix:///var/run/docker.sock"


def metadata() -> dict[str, str]:
    """What the plugin protocol asks of `docker-leakguard docker-cli-plugin-metadata`
    (URL, optional there, is left out: the package declares no home page, and
    reading package metadata would slow every `docker --help`, which asks each
    plugin)."""
    return {
        "SchemaVersion": "0.1.0",
        "Vendor": "leakguard",
        "Version": __version__,
        "ShortDescription": "Find credentials leaked into images, Dockerfiles and build contexts",
    }


# -- installing -----------------------------------------------------------------------


def default_folder(env: Mapping[str, str], home: Path) -> Path:
    """Where the Docker CLI looks for the user's plugins: $DOCKER_CONFIG/cli-plugins,
    else ~/.docker/cli-plugins."""
    config = env.get("DOCKER_CONFIG")
    return (Path(config) if config else home / ".docker") / "cli-plugins"


def script_text(python: str) -> str:
    """The plugin: runs this module with `python` (the interpreter leakguard is in)."""
    return (
        "#!/bin/sh\n"
        f"{MARKER}: the Docker CLI plugin\n"
        "# (`docker leakguard --help`); `leakguard docker-plugin uninstall` removes it.\n"
        f'exec {shlex.quote(python)} -m leakguard.dockerplugin "$@"\n'
    )


def is_ours(path: Path) -> bool:
    """Whether `path` is a plugin script that `install` wrote (a regular file)."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return MARKER.encode() in head


@dataclass(frozen=True, slots=True)
class Installed:
    path: Path
    replaced: bool  # a file was there (an earlier install, or a forced replacement)


def install(folder: Path, python: str, *, force: bool = False) -> Installed:
    """Write `folder/docker-leakguard` (0755, atomically). A file that `install`
    did not write is replaced only with `force`."""
    from leakguard.fsutil import atomic_write

    if os.name == "nt":
        raise UsageError("the Docker CLI plugin is a shell script: not for Windows")
    if not python:
        raise UsageError("cannot tell which Python runs leakguard (sys.executable is empty)")
    path = folder / SCRIPT
    exists = os.path.lexists(path)
    if exists and not is_ours(path):
        if not force:
            raise ChangeRefused(
                f"{path} exists and was not written by leakguard: left as it is",
                hint="--force replaces it",
            )
        if path.is_dir() and not path.is_symlink():
            raise ChangeRefused(f"{path} is a folder: left as it is")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():  # --force: the link goes, whatever it points to stays
            path.unlink()
        atomic_write(path, script_text(python).encode(), mode=0o755, follow_links=False)
    except OSError as e:
        raise ChangeRefused(
            f"cannot write {path}: {(e.strerror or str(e)).lower()}; nothing was installed",
            hint="check the folder's permissions, or give another with --dir",
        ) from e
    return Installed(path, exists)


def uninstall(folder: Path, *, force: bool = False) -> Path | None:
    """Remove `folder/docker-leakguard`; None when there is none. A file that
    `install` did not write is removed only with `force`."""
    path = folder / SCRIPT
    if not os.path.lexists(path):
        return None
    if not is_ours(path):
        if not force:
            raise ChangeRefused(
                f"{path} was not written by leakguard: left as it is",
                hint="--force removes it",
            )
        if path.is_dir() and not path.is_symlink():
            raise ChangeRefused(f"{path} is a folder: left as it is")
    try:
        path.unlink()
    except OSError as e:
        raise ChangeRefused(f"cannot remove {path}: {(e.strerror or str(e)).lower()}") from e
    return path


# -- the Docker CLI's global options ------------------------------------------------------

# Options of the `docker` command itself, which the CLI passes on to a plugin as typed.
_VALUED = {
    "--config": "config", "-c": "context", "--context": "context", "-H": "host",
    "--host": "host", "-l": "log_level", "--log-level": "log_level",
    "--tlscacert": "tlscacert", "--tlscert": "tlscert", "--tlskey": "tlskey",
}  # fmt: skip
_FLAGS = {"-D": "debug", "--debug": "debug", "--tls": "tls", "--tlsverify": "tlsverify"}
_FALSE = ("0", "f", "false", "F", "FALSE", "False")


@dataclass(frozen=True, slots=True)
class DockerOptions:
    """The `docker` options given before `leakguard`."""

    config: str | None = None
    context: str | None = None
    hosts: tuple[str, ...] = ()
    tls: bool = False
    tlsverify: bool = False
    tlscacert: str | None = None
    tlscert: str | None = None
    tlskey: str | None = None


def split_args(argv: Sequence[str]) -> tuple[DockerOptions, list[str]]:
    """(the docker options, leakguard's arguments) of `[OPTIONS] leakguard ARGS`."""
    values: dict[str, str] = {}
    hosts: list[str] = []
    flags: dict[str, bool] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == NAME:
            return _options(values, hosts, flags), list(argv[i + 1 :])
        if arg == "help" and argv[i + 1 : i + 2] == [NAME]:  # `docker help leakguard [CMD]`
            return _options(values, hosts, flags), [*argv[i + 2 :], "--help"]
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if not eq and arg[:1] == "-" and arg[1:2] != "-" and len(arg) > 2:
            name, value, eq = arg[:2], arg[2:].removeprefix("="), "="  # -Hunix://..., -cNAME
        if name in _FLAGS:
            flags[_FLAGS[name]] = not (eq and value in _FALSE)
        elif name in _VALUED:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"docker option {name} needs a value")
                value = argv[i]
            if _VALUED[name] == "host":
                hosts.append(value)
            else:
                values[_VALUED[name]] = value
        else:
            raise UsageError(
                f"{arg!r} before `{NAME}` is not a docker option this plugin knows",
                hint="put leakguard's own options after `leakguard`",
            )
        i += 1
    raise UsageError(
        f"this is the Docker CLI plugin of leakguard: run it as `docker {NAME} ...`",
        hint=f"or run `leakguard` itself; `{SCRIPT} {NAME} --help` works too",
    )


def _options(values: dict[str, str], hosts: list[str], flags: dict[str, bool]) -> DockerOptions:
    return DockerOptions(
        config=values.get("config"), context=values.get("context"), hosts=tuple(hosts),
        tls=flags.get("tls", False), tlsverify=flags.get("tlsverify", False),
        tlscacert=values.get("tlscacert"), tlscert=values.get("tlscert"),
        tlskey=values.get("tlskey"),
    )  # fmt: skip


# -- the engine ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The engine a docker command would talk to."""

    context: str
    host: str
    tls_verify: bool = False
    cert_path: str | None = None  # ca.pem, cert.pem, key.pem: TLS when set

    def apply(self, env: MutableMapping[str, str]) -> None:
        """Set the variables the Docker SDK reads (an empty DOCKER_TLS_VERIFY still
        means "verify" to it: the variable is removed instead)."""
        env["DOCKER_HOST"] = self.host
        for name, value in (("DOCKER_TLS_VERIFY", "1" if self.tls_verify else None),
                            ("DOCKER_CERT_PATH", self.cert_path)):  # fmt: skip
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value


def config_folder(options: DockerOptions, env: Mapping[str, str], home: Path) -> Path:
    return Path(options.config or env.get("DOCKER_CONFIG") or home / ".docker")


def resolve_endpoint(options: DockerOptions, env: Mapping[str, str], home: Path) -> Endpoint:
    """The engine as the Docker CLI picks it: --context, else -H, else DOCKER_HOST,
    else DOCKER_CONTEXT, else the config's current context, else the local socket."""
    if options.context and options.hosts:
        raise UsageError("either --host or --context, not both")
    if len(options.hosts) > 1:
        raise UsageError("give only one -H/--host")
    folder = config_folder(options, env, home)
    name = options.context
    if not name:
        if options.hosts or "DOCKER_HOST" in env:  # set, even empty: as the CLI has it
            name = "default"
        else:
            name = env.get("DOCKER_CONTEXT") or _current_context(folder) or "default"
    if name == "default":
        return _default_endpoint(options, env, folder)
    return _context_endpoint(name, folder)


def _current_context(folder: Path) -> str | None:
    from leakguard import safejson

    try:
        config = safejson.loads((folder / "config.json").read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise TargetUnreadable(f"cannot read {folder / 'config.json'}: {e}") from e
    current = config.get("currentContext") if isinstance(config, dict) else None
    return str(current) if current else None


def _default_endpoint(options: DockerOptions, env: Mapping[str, str], folder: Path) -> Endpoint:
    host = options.hosts[0] if options.hosts else env.get("DOCKER_HOST") or DEFAULT_HOST
    verify = options.tlsverify or bool(env.get("DOCKER_TLS_VERIFY"))
    files = [f for f in (options.tlscacert, options.tlscert, options.tlskey) if f]
    if not (verify or options.tls or files):
        return Endpoint("default", host, cert_path=env.get("DOCKER_CERT_PATH") or None)
    cert_path = env.get("DOCKER_CERT_PATH") or str(folder)
    if files:
        wanted = {options.tlscacert: "ca.pem", options.tlscert: "cert.pem",
                  options.tlskey: "key.pem"}  # fmt: skip
        folders = {os.path.dirname(os.path.abspath(f)) for f in files}
        if len(folders) > 1 or any(f and os.path.basename(f) != n for f, n in wanted.items()):
            raise UsageError(
                "--tlscacert/--tlscert/--tlskey: only ca.pem, cert.pem and key.pem in one "
                "folder are supported",
                hint="name the folder in DOCKER_CERT_PATH instead, or use a docker context",
            )
        cert_path = folders.pop()
    return Endpoint("default", host, tls_verify=verify, cert_path=cert_path)


def _context_endpoint(name: str, folder: Path) -> Endpoint:
    from leakguard import safejson

    key = hashlib.sha256(name.encode()).hexdigest()
    meta_path = folder / "contexts" / "meta" / key / "meta.json"
    try:
        meta = safejson.loads(meta_path.read_bytes())
    except FileNotFoundError:
        raise TargetUnreadable(
            f'docker context "{name}" does not exist', hint="`docker context ls` lists them"
        ) from None
    except (OSError, ValueError) as e:
        raise TargetUnreadable(f'cannot read docker context "{name}": {e}') from e
    endpoints = meta.get("Endpoints") if isinstance(meta, dict) else None
    docker = endpoints.get("docker") if isinstance(endpoints, dict) else None
    host = docker.get("Host") if isinstance(docker, dict) else None
    if not isinstance(host, str) or not host:
        raise TargetUnreadable(f'docker context "{name}" has no Docker endpoint')
    assert isinstance(docker, dict)
    tls = folder / "contexts" / "tls" / key / "docker"
    if host.startswith(("unix://", "npipe://", "ssh://")) or not tls.is_dir():
        return Endpoint(name, host)
    verify = not docker.get("SkipTLSVerify") and (tls / "ca.pem").is_file()
    return Endpoint(name, host, tls_verify=verify, cert_path=str(tls))


# -- the plugin's entry point ---------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """`docker-leakguard ARGS`, as the Docker CLI runs it."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [METADATA_COMMAND]:
        sys.stdout.write(json.dumps(metadata(), indent=2) + "\n")
        return 0
    from leakguard import cli

    try:
        options, rest = split_args(args)
        resolve_endpoint(options, os.environ, Path.home()).apply(os.environ)
        if options.config:  # registry credentials come from the same config
            os.environ["DOCKER_CONFIG"] = options.config
    except (UsageError, TargetUnreadable) as e:
        return cli.show_error(e)
    return cli.main(rest, prog_name=f"docker {NAME}")


if __name__ == "__main__":  # pragma: no cover - run by the installed script
    sys.exit(main())
