"""Progress lines on the terminal, and the rest of a run's output in its log file."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def stage(name: str, text: str, started: float | None = None) -> None:
    """One progress line on the terminal, ``[stage   12.3s] text``, even while the run's other
    output is redirected to its log file (see ``output_to``)."""
    elapsed = f"{time.perf_counter() - started:6.1f}s" if started is not None else " " * 7
    print(f"[{name:<7} {elapsed}] {text}", file=_terminal or sys.stdout, flush=True)


_terminal = None


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send everything printed (Dagster's and dbt's logs, warnings) to ``path``; stage lines still
    reach the terminal."""
    global _terminal
    path.parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.stdout
    with (
        path.open("a", encoding="utf-8", buffering=1) as handle,
        contextlib.redirect_stdout(handle),
        contextlib.redirect_stderr(handle),
    ):
        _terminal = terminal
        try:
            yield
        finally:
            _terminal = None
