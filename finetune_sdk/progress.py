"""A live progress line for ``wait()``: status, progress bar and elapsed time (rich, stderr).

Shown only when stderr is a terminal unless asked for, so logs and CI output stay clean.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .types import Job

__all__ = ["job_progress"]


@contextmanager
def job_progress(job_id: str, *, enabled: bool | None = None) -> Iterator[Callable[[Job], None]]:
    """Yield an ``on_update`` callback that renders the job's progress while the block runs."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield lambda job: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]{task.fields[job]}[/]"),
        TextColumn("{task.fields[status]:<10}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = progress.add_task("wait", total=1.0, job=job_id, status="…")

    def show(job: Job) -> None:
        done = 1.0 if job.status.value == "succeeded" else (job.progress or 0.0)
        progress.update(task, completed=done, status=job.status.value)

    with progress:
        yield show
