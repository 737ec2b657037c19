"""Parallel validation: line-aligned byte ranges in forked workers, merged in line order.

Stage 1: each worker validates one byte range with its own collector and hash store (bucketed
temp files). Stage 2 (no validation file): the duplicate scan runs per share of the hash buckets,
also in parallel, each share reading its buckets from every worker's runs; otherwise the
parent's store absorbs every worker's runs for the leakage scan. Fork (not spawn) so workers
share the parent's str hash seed: hashes from different processes must be comparable.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._hashes import BUCKETS, HashScan, HashStore, Spill
from ._lines import line_aligned_ranges

if TYPE_CHECKING:
    from .validate import _FileCheck

__all__ = ["PARALLEL_MIN_BYTES", "run_parallel", "worker_count"]

PARALLEL_MIN_BYTES = 32 * 1024 * 1024
_parent: _FileCheck | None = None
_spills: list[tuple[Spill, int]] = []


def worker_count(path: Path) -> int:
    """Processes to use: one per core (max 8) for big files, where fork is safe.

    ``FINETUNE_SDK_WORKERS`` overrides (1 = serial). Fork is skipped when the caller runs other
    threads (forking a threaded process can deadlock) or the platform has no fork.
    """
    wanted = int(os.environ.get("FINETUNE_SDK_WORKERS", "0")) or min(os.cpu_count() or 1, 8)
    if wanted < 2 or path.stat().st_size < PARALLEL_MIN_BYTES:
        return 1
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return 1
    return wanted


def _check_range(span: tuple[int, int]) -> dict[str, Any]:
    from .findings import Collector, ValidationReport
    from .validate import _FileCheck

    parent = _parent
    assert parent is not None
    report = ValidationReport(file=parent.file)
    out = Collector(report)
    store = HashStore()
    check = _FileCheck(parent.path, 0, parent.rules, out, store, parent.max_tokens,
                       parent.counter)
    try:
        check.run(*span)
    except BaseException:
        store.close()  # nobody will absorb this worker's files
        raise
    return {"findings": report.findings, "counts": report.counts, "errors": report.error_count,
            "omitted": report.omitted, "first": out.first, "codes": check.codes,
            "format": check.format, "examples": check.examples, "lines": check.lines,
            "spill": check.hashes.detach()}


def _scan_share(share: tuple[int, int]) -> HashScan:
    """Duplicates among the buckets ``index, index + parts, ...`` of every worker's runs."""
    from .findings import MAX_PER_CODE

    index, parts = share
    store = HashStore()
    try:
        for spill, offset in _spills:
            store.absorb(spill, offset, own=False)
        return store.scan(MAX_PER_CODE, range(index, BUCKETS, parts))
    finally:
        store.close()


def run_parallel(train: _FileCheck, workers: int, *, merge: bool) -> HashScan | None:
    """Validate ``train`` in ``workers`` processes; returns the duplicate scan unless ``merge``
    (then ``train.hashes`` holds every worker's hashes, to scan with the validation file's)."""
    global _parent, _spills
    spans = line_aligned_ranges(train.path, workers)
    context = multiprocessing.get_context("fork")
    _parent = train
    try:
        with context.Pool(len(spans)) as pool:
            results = pool.map(_check_range, spans, chunksize=1)
    finally:
        _parent = None
    report, first = train.out.report, train.out.first
    offset = 0
    spills = []
    for result in results:
        for finding in result["findings"]:
            if finding.line is not None:
                finding.line += offset
            report.findings.append(finding)
        report.counts.update(result["counts"])
        report.error_count += result["errors"]
        report.omitted += result["omitted"]
        for key, (line, field, message) in result["first"].items():
            first.setdefault(key, (None if line is None else line + offset, field, message))
        train.codes.update(result["codes"])
        train.format = train.format or result["format"]
        train.examples += result["examples"]
        spills.append((result["spill"], offset))
        offset += result["lines"]
    train.lines = offset
    for spill, spill_offset in spills:  # the store deletes the workers' files when it closes
        train.hashes.absorb(spill, spill_offset)
    if merge:
        return None
    from .findings import MAX_PER_CODE

    _spills = spills
    try:
        with context.Pool(workers) as pool:
            shares = pool.map(_scan_share, [(i, workers) for i in range(workers)])
    finally:
        _spills = []
    scan = HashScan(MAX_PER_CODE)
    for share in shares:
        scan.merge(share)
    return scan
