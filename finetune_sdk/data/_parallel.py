"""Parallel validation: line-aligned byte ranges in forked workers, merged in line order.

Stage 1: each worker validates one byte range with its own collector and hash store (a temp
SQLite file). Stage 2 (no validation file): duplicate queries run per hash partition, also in
parallel, each partition reading its share of every worker's hashes; otherwise all hashes are
merged into the parent's store for the leakage join. Fork (not spawn) so workers share the
parent's str hash seed: hashes from different processes must be comparable.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._hashes import CONTENT, IDENT, HashStore
from ._lines import line_aligned_ranges

if TYPE_CHECKING:
    from .validate import _FileCheck

__all__ = ["PARALLEL_MIN_BYTES", "run_parallel", "worker_count"]

PARALLEL_MIN_BYTES = 32 * 1024 * 1024
_parent: _FileCheck | None = None
_dbs: list[tuple[str, int]] = []


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
    from .findings import ValidationReport
    from .validate import _Collector, _FileCheck

    parent = _parent
    assert parent is not None
    report = ValidationReport(file=parent.file)
    out = _Collector(report)
    check = _FileCheck(parent.path, 0, parent.rules, out, HashStore(), parent.max_tokens,
                       parent.counter)
    check.run(*span)
    return {"findings": report.findings, "counts": report.counts, "errors": report.error_count,
            "omitted": report.omitted, "first": out.first, "codes": check.codes,
            "format": check.format, "examples": check.examples, "lines": check.lines,
            "db": check.hashes.detach()}


def _partition_duplicates(part: tuple[int, int]) -> dict[int, tuple[list, int]]:
    """Duplicates among hashes with ``h % parts == index``, across every worker's store."""
    from .validate import MAX_PER_CODE

    index, parts = part
    store = HashStore()
    try:
        for db, offset in _dbs:
            store.absorb(db, offset, partition=(index, parts), keep=True)
        return {kind: (list(store.duplicates(kind, 0, MAX_PER_CODE)),
                       store.count_duplicates(kind, 0)) for kind in (IDENT, CONTENT)}
    finally:
        store.close()


def run_parallel(train: _FileCheck, workers: int, *, merge: bool) -> dict | None:
    """Validate ``train`` in ``workers`` processes; returns duplicates unless ``merge``."""
    global _parent, _dbs
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
    dbs = []
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
        dbs.append((result["db"], offset))
        offset += result["lines"]
    train.lines = offset
    if merge:
        for db, db_offset in dbs:
            train.hashes.absorb(db, db_offset)
        return None
    from .validate import MAX_PER_CODE

    _dbs = dbs
    try:
        with context.Pool(workers) as pool:
            parts = pool.map(_partition_duplicates, [(i, workers) for i in range(workers)])
    finally:
        _dbs = []
        for db, _ in dbs:
            Path(db).unlink(missing_ok=True)
    merged: dict[int, tuple[list, int]] = {}
    for kind in (IDENT, CONTENT):
        pairs = sorted(p for part in parts for p in part[kind][0])[:MAX_PER_CODE]
        merged[kind] = (pairs, sum(part[kind][1] for part in parts))
    return merged
