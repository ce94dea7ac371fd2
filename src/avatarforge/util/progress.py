"""A staged progress display (rich) that the library reports into and the CLI shows.

Library functions take an optional ``Stages`` and call ``stages.stage("name")`` around each
step; by default nothing is drawn, so library use stays quiet. Every stage's wall time is
recorded for ``report.json``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["Stages"]


@dataclass
class Stages:
    """Times named stages and, when ``show`` is true, draws a progress bar over them."""

    total: int | None = None
    """Number of stages expected (for the bar); None draws a spinner."""
    show: bool = False
    """Draw on stderr (the CLI sets this when stderr is a terminal; library calls stay silent)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per finished stage, in order."""
    _progress: object | None = field(default=None, repr=False)
    _task: object | None = field(default=None, repr=False)

    @classmethod
    def for_terminal(cls, total: int | None = None) -> "Stages":
        """A display that draws only when stderr is a terminal (not in pipes, logs, tests)."""
        import sys

        return cls(total=total, show=sys.stderr.isatty())

    def __enter__(self) -> "Stages":
        if self.show:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("starting", total=self.total)
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time one stage (and show its name while it runs)."""
        if self._progress is not None:
            self._progress.update(self._task, description=name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
            if self._progress is not None:
                self._progress.advance(self._task)

    @property
    def total_seconds(self) -> float:
        return sum(self.timings.values())
