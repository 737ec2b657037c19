"""Parallel scrubbing: line-aligned byte ranges in forked workers, parts joined in line order.

Each worker scrubs one byte range into its own part file next to the destination (or only
counts, for ``--check``); the parent then adds up the reports, shifting line numbers by the
lines of the ranges before, and joins the parts into the destination through a temp file and
``os.replace``. A bad line anywhere stops the whole scrub with the earliest one, and every part
is removed: never a half-written dataset. Fork (not spawn), so custom detectors need not pickle.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._lines import line_aligned_ranges, write_atomic_lines

if TYPE_CHECKING:
    from .privacy import Detector, ScrubReport

__all__ = ["scrub_parallel"]

_job: tuple[str, Sequence[Detector], str | None, bool] | None = None


def _scrub_range(item: tuple[int, tuple[int, int]]) -> dict[str, Any]:
    from .privacy import BadLine, ScrubReport, scrub_lines

    assert _job is not None
    src, detectors, prefix, lenient = _job
    index, (start, end) = item
    report = ScrubReport(src, None)
    part = None if prefix is None else f"{prefix}.part{index}"
    try:
        lines = scrub_lines(src, detectors, report, start, end, write=part is not None,
                            lenient=lenient)
        if part is None:
            for _ in lines:
                pass
        else:
            write_atomic_lines(part, lines)
    except BadLine as bad:
        return {"bad": (bad.line, bad.message)}
    return {"report": report, "part": part}


def scrub_parallel(src: str | Path, dst: str | Path | None, detectors: Sequence[Detector],
                   report: ScrubReport, workers: int, *, lenient: bool = False) -> None:
    """Scrub ``src`` into ``dst`` (None: count only) with ``workers`` processes into ``report``
    (``lenient``: count-only, scan bad lines as text; see ``privacy.scrub_lines``).

    Raises ``privacy.BadLine`` (numbered in the whole file) for the earliest unreadable line.
    """
    global _job
    from .privacy import BadLine

    spans = line_aligned_ranges(src, workers)
    prefix = None
    if dst is not None:
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        prefix = str(Path(dst).with_name(f".{Path(dst).name}.{os.getpid()}"))
    _job = (str(src), detectors, prefix, lenient)
    try:
        with multiprocessing.get_context("fork").Pool(len(spans)) as pool:
            results = pool.map(_scrub_range, list(enumerate(spans)), chunksize=1)
        offset = 0
        for result in results:
            if "bad" in result:
                line, message = result["bad"]
                raise BadLine(offset + line, message)
            part: ScrubReport = result["report"]
            report.merge(part, offset)
            offset += part.physical_lines
        report.physical_lines = offset
        if dst is not None:
            _join([r["part"] for r in results], Path(dst))
    finally:
        _job = None
        if prefix is not None:
            for index in range(len(spans)):
                Path(f"{prefix}.part{index}").unlink(missing_ok=True)


def _join(parts: list[str], dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1024 * 1024)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
