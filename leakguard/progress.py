"""How long work says how far it has got, without printing anything.

A detector that can run for more than a few seconds takes an optional
`progress: Progress` and tells it what it is doing (`phase`), how much there
is to do (`start`) and what is done (`advance`). The default, `NO_PROGRESS`,
does nothing and costs one method call. The command line passes a display
(`leakguard.display`): a live line on a terminal, a heartbeat line every few
seconds in a CI log, or nothing with `--quiet`/`--no-progress`.

An implementation must accept calls from several threads at once (the sweep
discovers tags and manifests in a thread pool). Worker processes never call it:
the parent reports each result as it comes back from them.

What goes in a phase is shown to the user: names of files, repositories,
images and layers are fine; a secret never is.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def phase(self, text: str) -> None:
        """What is being done now, e.g. `listing files` or `reading the layers of IMAGE`;
        nothing is counted in it until `start`."""

    def start(self, total: int | None, unit: str, total_bytes: int | None = None) -> None:
        """A new count of `unit`s from zero: `total` of them (None: not known), holding
        `total_bytes` bytes (None: not known)."""

    def advance(self, n: int = 1, nbytes: int = 0) -> None:
        """`n` more units done, `nbytes` more bytes read."""


class NoProgress:
    """Progress that goes nowhere: the default of every detector."""

    def phase(self, text: str) -> None:
        pass

    def start(self, total: int | None, unit: str, total_bytes: int | None = None) -> None:
        pass

    def advance(self, n: int = 1, nbytes: int = 0) -> None:
        pass


NO_PROGRESS: Progress = NoProgress()
