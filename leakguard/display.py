"""What the command line shows on standard error while long work runs.

Two displays of one `Progress` (leakguard.progress), chosen by where standard
error goes:

* a terminal: a live line drawn by rich (a spinner, what is being done, a bar,
  done/total, MB, MB/s, ETA), shown only once the work has run for
  `LEAKGUARD_PROGRESS_DELAY_S` seconds (default 1.5: a short run, a git hook,
  shows nothing) and wiped when it ends;
* anything else (a CI log, a pipe, a file): one line every
  `LEAKGUARD_HEARTBEAT_S` seconds (default 5), the first after that long,
  so a run shorter than that writes nothing.

Both read the counts under a lock from their own thread: the work only adds to
counters. Names in a phase (files, images, layers) are escaped as the text
report escapes them: no control character reaches the terminal.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from leakguard.formats import for_terminal

if TYPE_CHECKING:
    from types import TracebackType

    from rich.console import RenderableType
    from rich.live import Live as RichLive

HEARTBEAT_ENV = "LEAKGUARD_HEARTBEAT_S"
DELAY_ENV = "LEAKGUARD_PROGRESS_DELAY_S"
HEARTBEAT_S = 5.0
DELAY_S = 1.5


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The counts at one moment."""

    phase: str
    unit: str
    total: int | None
    done: int
    total_bytes: int | None
    done_bytes: int
    seconds: float  # since the current count started
    elapsed: float  # since the display was opened

    @property
    def bytes_per_second(self) -> float | None:
        return self.done_bytes / self.seconds if self.done_bytes and self.seconds >= 0.5 else None

    def eta(self) -> float | None:
        """Seconds left, by bytes when their total is known, else by units."""
        if self.seconds < 0.5:
            return None
        if self.total_bytes and self.done_bytes:
            left = max(self.total_bytes - self.done_bytes, 0)
            return left * self.seconds / self.done_bytes
        if self.total and self.done:
            return max(self.total - self.done, 0) * self.seconds / self.done
        return None


def clock(seconds: float) -> str:
    """`1:02:03`, `2:03`."""
    s = int(seconds)
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f}"


def counts(s: Snapshot) -> list[str]:
    """`120/500 files`, `48.3/200.0 MB`, `12.1 MB/s`, `ETA 0:13`: what is known."""
    parts = []
    if s.unit:
        parts.append(
            f"{s.done}/{s.total} {s.unit}" if s.total is not None else f"{s.done} {s.unit}"
        )
    if s.total_bytes:
        parts.append(f"{_mb(s.done_bytes)}/{_mb(s.total_bytes)} MB")
    elif s.done_bytes:
        parts.append(f"{_mb(s.done_bytes)} MB")
    rate = s.bytes_per_second
    if rate is not None:
        parts.append(f"{rate / 1e6:.1f} MB/s")
    eta = s.eta()
    if eta is not None:
        parts.append(f"ETA {clock(eta)}")
    return parts


def describe(s: Snapshot) -> str:
    """One heartbeat line, without its `leakguard: ` prefix."""
    return f"{s.phase}: {', '.join([*counts(s), f'{clock(s.elapsed)} elapsed'])}"


class Counter:
    """The thread-safe counts behind a display (a `Progress`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened = self._started = time.monotonic()
        self._phase = "working"
        self._unit = ""
        self._total: int | None = None
        self._total_bytes: int | None = None
        self._done = self._done_bytes = 0

    def phase(self, text: str) -> None:
        """A new phase counts nothing until its `start`."""
        text = for_terminal(text)
        with self._lock:
            self._phase = text
            self._started = time.monotonic()
            self._unit, self._total, self._total_bytes = "", None, None
            self._done = self._done_bytes = 0

    def start(self, total: int | None, unit: str, total_bytes: int | None = None) -> None:
        with self._lock:
            self._started = time.monotonic()
            self._unit, self._total, self._total_bytes = unit, total, total_bytes
            self._done = self._done_bytes = 0

    def advance(self, n: int = 1, nbytes: int = 0) -> None:
        with self._lock:
            self._done += n
            self._done_bytes += nbytes

    def snapshot(self) -> Snapshot:
        now = time.monotonic()
        with self._lock:
            return Snapshot(
                self._phase, self._unit, self._total, self._done, self._total_bytes,
                self._done_bytes, now - self._started, now - self._opened,
            )  # fmt: skip


class Heartbeat(Counter):
    """`leakguard: scanning files: 1200/5000 files, ...` every `interval` seconds."""

    def __init__(self, stream: TextIO, interval: float) -> None:
        super().__init__()
        self._stream = stream
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="leakguard-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._stream.write(f"leakguard: {describe(self.snapshot())}\n")
                self._stream.flush()
            except (OSError, ValueError):  # standard error went away: stop beating
                return


_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class _View:
    """The live line, drawn from the counts each time rich refreshes."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter

    def __rich__(self) -> RenderableType:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        s = self._counter.snapshot()
        frame = _FRAMES[int(s.elapsed * 10) % len(_FRAMES)]
        row = Table.grid(padding=(0, 1))
        # The phase is kept whole (up to 50 characters); the counts are cut first.
        row.add_column(no_wrap=True, min_width=min(len(s.phase), 50) + 2, overflow="ellipsis")
        cells: list[Any] = [Text.assemble((frame, "cyan"), " ", (s.phase, "bold"))]
        if s.unit:
            total = s.total_bytes or s.total
            done = s.done_bytes if s.total_bytes else s.done
            row.add_column(min_width=24, no_wrap=True)
            cells.append(ProgressBar(total=total, completed=done, width=24))
        row.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
        cells.append(Text(" • ".join([*counts(s), f"{clock(s.elapsed)} elapsed"]), style="dim"))
        row.add_row(*cells)
        return row


class LiveLine(Counter):
    """The live line on a terminal, from `delay` seconds on, wiped at the end."""

    def __init__(self, stream: TextIO, delay: float) -> None:
        super().__init__()
        self._stream = stream
        self._delay = delay
        self._stop = threading.Event()
        self._live: RichLive | None = None
        self._thread = threading.Thread(target=self._show, name="leakguard-progress", daemon=True)

    def __enter__(self) -> LiveLine:
        self._thread.start()
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        if self._live is not None:
            self._live.stop()  # transient: the line is wiped

    def _show(self) -> None:
        if self._stop.wait(self._delay):
            return  # done before anything was worth showing
        from rich.console import Console
        from rich.live import Live as RichLive

        console = Console(file=self._stream)
        live = RichLive(
            _View(self), console=console, transient=True, refresh_per_second=5,
            redirect_stdout=False, redirect_stderr=False,
        )  # fmt: skip
        live.start()
        self._live = live


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        value = float(env.get(name, ""))
    except ValueError:
        return default
    return value if value >= 0 and value == value else default  # NaN is not a delay


def for_stream(stream: TextIO, env: Mapping[str, str] | None = None) -> Heartbeat | LiveLine:
    """The display for `stream`: live on a terminal that can redraw, else a heartbeat."""
    env = os.environ if env is None else env
    tty = stream.isatty() and env.get("TERM", "") not in ("dumb", "unknown")
    if tty:
        return LiveLine(stream, _seconds(env, DELAY_ENV, DELAY_S))
    return Heartbeat(stream, max(_seconds(env, HEARTBEAT_ENV, HEARTBEAT_S), 0.05))
