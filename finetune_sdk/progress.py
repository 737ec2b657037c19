"""Job progress while ``wait()`` polls: a live rich bar on a terminal, plain lines elsewhere.

``job_progress`` draws the bar (stderr) and is shown only when stderr is a terminal unless asked
for, so a library call in a script or CI stays quiet. ``plain_progress`` is for the CLI when
stderr is not a terminal (CI, ``docker logs``, a pipe): one flushed line per status change or
whole-percent step, since a redrawn bar there is either invisible or a wall of escape codes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .types import Job

__all__ = ["job_progress", "plain_progress"]


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


def plain_progress(job_id: str, *, stream: TextIO | None = None,
                   clock: Callable[[], float] = time.monotonic) -> Callable[[Job], None]:
    """An ``on_update`` callback printing ``[  12s] JOB status 40%`` when something changed.

    A line is written when the status, the vendor's raw status or the whole percent changes, so
    a poll that learnt nothing new prints nothing. ``stream`` defaults to the stderr of the
    moment (looked up per line, so a test runner's captured stderr is honoured).
    """
    started = clock()
    last: tuple[str, str | None, int | None] | None = None

    def show(job: Job) -> None:
        nonlocal last
        percent = 100 if job.status.value == "succeeded" else (
            int(job.progress * 100) if job.progress is not None else None)
        now = (job.status.value, job.provider_status, percent)
        if now == last:
            return
        last = now
        raw = (f" ({job.provider_status})" if job.provider_status
               and job.provider_status != job.status.value else "")
        done = f" {percent}%" if percent is not None else ""
        out = stream or sys.stderr
        out.write(f"[{clock() - started:5.0f}s] {job_id} {job.status.value}{raw}{done}\n")
        out.flush()  # docker logs / CI show a line only once it is flushed

    return show
