"""`leakguard listen`: a registry's push notifications, into a sweep store."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from leakguard.errors import ExitCode

if TYPE_CHECKING:
    from leakguard.detectors.sweep_store import Event

TOKEN_ENV = "LEAKGUARD_FEED_TOKEN"


@click.command("listen")
@click.argument("host", metavar="HOST[:PORT]")
@click.option(
    "--store",
    "store_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="The sweep store that `leakguard sweep HOST --store FILE --feed` reads.",
)
@click.option(
    "--bind",
    default="127.0.0.1:5050",
    show_default=True,
    metavar="ADDR:PORT",
    help="Where to answer the registry's notifications (port 0: any free port).",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    metavar="FILE",
    help=f"The token senders must give (`Authorization: Bearer TOKEN`, or TOKEN as "
    f"Harbor's auth header): this file's first line, else ${TOKEN_ENV}. Needed unless "
    f"--bind is a loopback address.",
)
@click.option("-q", "--quiet", is_flag=True, help="No line per notification received.")
def listen(
    host: str, store_path: Path, bind: str, token_file: Path | None, quiet: bool
) -> ExitCode:
    """Record the registry HOST's push and delete notifications in a sweep store, so
    that `leakguard sweep HOST --store FILE --feed` lists only the repositories that
    changed. Runs until stopped (SIGINT or SIGTERM: exit 0).

    Point the registry at it: for distribution's registry, a `notifications:
    endpoints:` entry with `url: http://ADDR:PORT/events` and `headers:
    {Authorization: [Bearer TOKEN]}`; for Harbor, a project webhook (HTTP, default
    payload format) with TOKEN as its auth header. A sweep trusts the feed only
    while one listener has run without a break since the store's last complete
    sweep, has heard from the registry and has refused no request since (each
    refused request is recorded); otherwise it checks every tag, and says so.
    Exit codes: 0 stopped, 2 usage, 3 the address or the store could not be used.
    """
    from leakguard.detectors.sweep_feed import FeedServer, serve
    from leakguard.detectors.sweep_store import SweepStore
    from leakguard.errors import TargetUnreadable, UsageError
    from leakguard.registry.reference import is_loopback, registry_host

    host = registry_host(host)
    address = _address(bind)
    token = _token(token_file)
    if token is None and not is_loopback(address[0]):
        raise UsageError(
            f"--bind {bind}: beyond loopback, senders must give a token",
            hint=f"give --token-file FILE or set {TOKEN_ENV}",
        )
    store = SweepStore(store_path, "", threads=True)

    def said(events: Sequence[Event]) -> None:
        if not quiet:
            names = sorted({e.repository for e in events})
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            click.echo(f"leakguard: {len(events)} changes recorded: {shown}", err=True)

    try:
        server = FeedServer(address, store, host, token, on_events=said)
    except OSError as e:
        store.close()
        raise TargetUnreadable(f"--bind {bind}: {e.strerror or e}") from e
    except sqlite3.Error as e:  # a store another process keeps locked
        store.close()
        raise TargetUnreadable(f"sweep store {store_path}: {e}") from e
    bound = server.server_address
    click.echo(
        f"leakguard: recording notifications of {host} from http://{_url_host(bound[0])}:"
        f"{bound[1]}/events into {store_path}",
        err=True,
    )
    # SIGTERM (a service manager's stop) as SIGINT: the listener says it stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        serve(server)
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    click.echo("leakguard: listener stopped", err=True)
    return ExitCode.CLEAN


def _address(bind: str) -> tuple[str, int]:
    from leakguard.errors import UsageError

    host, sep, port = bind.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--bind {bind!r}: expected ADDRESS:PORT, e.g. 127.0.0.1:5050")
    return host, int(port)


def _url_host(host: Any) -> str:
    return f"[{host}]" if ":" in str(host) else str(host)


def _token(path: Path | None) -> str | None:
    from leakguard.errors import UsageError

    if path is not None:
        try:
            lines = path.read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"--token-file {path}: cannot be read ({e})") from e
        token = lines[0].strip() if lines else ""
        if not token:
            raise UsageError(f"--token-file {path}: its first line is empty")
        return token
    return os.environ.get(TOKEN_ENV) or None
