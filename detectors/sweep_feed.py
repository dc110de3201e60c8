"""A registry's push notifications, received into a sweep store (`leakguard listen`).

Two senders are understood:

* distribution (Docker's registry, GitLab's, Zot in compatibility mode): a POST
  of an envelope `{"events": [...]}` (media type
  `application/vnd.docker.distribution.events.v1+json`) whose events carry an
  `action` (push, pull, delete, mount) and a `target` with the `repository`,
  and for manifests the `tag` and `digest`. Configured in the registry's
  `notifications.endpoints` with a `headers: {Authorization: [Bearer TOKEN]}`.
* Harbor's webhooks in their default format: `{"type": "PUSH_ARTIFACT" |
  "DELETE_ARTIFACT", "event_data": {"repository": {"repo_full_name": ...},
  "resources": [{"tag", "digest"}]}}`, with the auth header set to TOKEN.

Only the repository a push, delete or mount names is kept (pulls are not
changes). An event can only add work: a forged one makes a sweep list a
repository it could have carried over; it cannot hide a change. The token keeps
strangers from filling the store. A request refused (a wrong token, a payload
not understood, too large) is counted in the store: it may have been a change,
so sweeps do not trust the feed until their next complete run. The store
records the listener's start and a heartbeat every `FEED_HEARTBEAT` seconds,
so a sweep can tell whether a listener was up without a break since its last
complete run.
"""

from __future__ import annotations

import hmac
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from leakguard import safejson
from leakguard.detectors.sweep_store import FEED_HEARTBEAT, Event, SweepStore
from leakguard.registry.reference import is_repository

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024  # a registry sends events in small batches
READ_TIMEOUT = 10.0  # a sender that stops mid-request is dropped after this
# Connections served at once (a registry sends one event at a time per endpoint);
# one more is closed unanswered, and counted as refused: it may have been a change.
MAX_CONNECTIONS = 32
_CHANGES = {"push", "delete", "mount"}
_HARBOR = {"PUSH_ARTIFACT": "push", "DELETE_ARTIFACT": "delete"}


class NotAnEvent(ValueError):
    """A body that is not a notification this listener knows."""


def parse(body: bytes) -> list[Event]:
    """The changes a notification reports (none for pulls and other kinds of event)."""
    try:
        document = safejson.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise NotAnEvent(f"not JSON: {e}") from None
    if not isinstance(document, dict):
        raise NotAnEvent("not a JSON object")
    if isinstance(document.get("events"), list):
        found = (_distribution(item) for item in document["events"])
        return [event for event in found if event is not None]
    if isinstance(document.get("type"), str) and isinstance(document.get("event_data"), dict):
        return _harbor(document)
    raise NotAnEvent("neither a distribution envelope nor a Harbor webhook")


def _distribution(item: Any) -> Event | None:
    if not isinstance(item, dict):
        raise NotAnEvent("an event is not a JSON object")
    action = item.get("action")
    target = item.get("target")
    if action not in _CHANGES:
        return None
    if not isinstance(target, dict):
        raise NotAnEvent(f"a {action} event has no target")
    return Event(_repository(target.get("repository")), action, _text(target.get("tag")),
                 _text(target.get("digest")))  # fmt: skip


def _harbor(document: dict[str, Any]) -> list[Event]:
    action = _HARBOR.get(document["type"])
    if action is None:
        return []
    data = document["event_data"]
    repository = data.get("repository")
    if not isinstance(repository, dict):
        raise NotAnEvent(f"a {document['type']} webhook names no repository")
    name = _repository(repository.get("repo_full_name"))
    resources = data.get("resources")
    if not isinstance(resources, list) or not resources:
        return [Event(name, action)]
    return [
        Event(name, action, _text(r.get("tag")), _text(r.get("digest")))
        for r in resources
        if isinstance(r, dict)
    ] or [Event(name, action)]


def _repository(value: Any) -> str:
    if not isinstance(value, str) or not is_repository(value):
        raise NotAnEvent("an event names no valid repository")
    return value


def _text(value: Any) -> str | None:
    return value[:256] if isinstance(value, str) and value else None


class _Handler(BaseHTTPRequestHandler):
    server: FeedServer
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        listener = self.server
        if listener.token is not None and not _authorized(
            self.headers.get("Authorization", ""), listener.token
        ):
            self._answer(401, "a wrong or missing Authorization header")
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._answer(411, "a Content-Length is needed")
            return
        if int(length) > MAX_BODY:
            self._answer(413, f"over {MAX_BODY} bytes")
            return
        try:
            body = self.rfile.read(int(length))
        except OSError:  # the sender went quiet or away
            self.close_connection = True
            return
        try:
            events = parse(body)
        except NotAnEvent as e:
            self._answer(400, str(e))
            return
        try:
            listener.received(events)
        except Exception as e:  # noqa: BLE001 (any failure to record: the sender retries)
            log.warning("could not record %d events: %s", len(events), e)
            self._answer(503, "could not record the events")
            return
        self._answer(200, "")

    def do_GET(self) -> None:  # noqa: N802
        self._answer(405, "POST notifications here")

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET  # noqa: N815

    def _answer(self, status: int, reason: str) -> None:
        if status in (400, 401, 411, 413):  # a notification, maybe, that was not taken
            self.server.refused()
        body = (reason + "\n").encode() if reason else b""
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if status >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s %s", self.address_string(), format % args)


def _authorized(header: str, token: str) -> bool:
    """`Bearer TOKEN` (distribution's headers) or `TOKEN` itself (Harbor's auth header)."""
    given = header.strip().encode()
    wanted = token.encode()
    return hmac.compare_digest(given, b"Bearer " + wanted) | hmac.compare_digest(given, wanted)


class FeedServer(ThreadingHTTPServer):
    """A thread per connection (a sender that keeps its connection open, or goes quiet
    mid-request, holds up no other); one SQLite connection writes for all, in turn. The
    heartbeat is written from the serving thread, between its polls."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        store: SweepStore,
        host: str,
        token: str | None,
        on_events: Callable[[Sequence[Event]], None] = lambda events: None,
    ):
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, _Handler)
        self.store = store
        self.token = token
        self.lock = threading.Lock()  # the store's connection, one thread at a time
        self._served = threading.BoundedSemaphore(MAX_CONNECTIONS)
        try:
            self.feed = store.open_feed(host)
        except BaseException:
            self.server_close()
            raise
        self._beat = time.monotonic()
        self._on_events = on_events

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection, unless MAX_CONNECTIONS are open already."""
        if not self._served.acquire(blocking=False):
            self.shutdown_request(request)
            self.refused()
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._served.release()

    def received(self, events: Sequence[Event]) -> None:
        """Record `events` (from a request's thread); raises if the store cannot."""
        if not events:
            return
        with self.lock:
            self.store.record(self.feed, events)
            self._on_events(events)

    def refused(self) -> None:
        """Said in the store: until the next complete sweep, the feed is not trusted."""
        try:
            with self.lock:
                self.store.feed_refused(self.feed)
        except Exception as e:  # noqa: BLE001 (then a change may go unseen: say so)
            log.warning("could not record a refused request: %s", e)

    def service_actions(self) -> None:
        """Between polls of the serving thread (every quarter heartbeat): the heartbeat."""
        if time.monotonic() - self._beat >= FEED_HEARTBEAT:
            self._beat = time.monotonic()
            try:
                with self.lock:
                    self.store.feed_alive(self.feed)
            except Exception as e:  # noqa: BLE001 (a busy store: the next beat tries again)
                log.warning("could not write the heartbeat: %s", e)

    def close(self) -> None:
        """Stop: the store says so, and a sweep no longer trusts this listener."""
        self.server_close()
        try:
            with self.lock:
                self.store.close_feed(self.feed)
        except Exception as e:  # noqa: BLE001
            log.warning("could not record the listener's stop: %s", e)


def serve(server: FeedServer) -> None:
    """Answer notifications until KeyboardInterrupt (SIGINT, or SIGTERM made one); then
    close, saying so in the store."""
    try:
        server.serve_forever(poll_interval=FEED_HEARTBEAT / 4)
    finally:
        server.close()
