"""Disk-backed hash store for duplicate and leakage checks, so memory stays flat at any size.

Every (hash, tag) pair goes into one of ``BUCKETS`` buffers picked by the hash's low bits. When
the buffers hold ``SPILL_PAIRS`` pairs they are written to a temporary "run" file, bucket after
bucket, and only the bucket offsets stay in memory. :meth:`HashStore.scan` then reads one bucket
at a time from every run, so memory holds a 1/256th of the hashes, never all of them.

Why not SQLite (the first version): inserting and indexing 3 million rows took longer than
parsing the 1 GB file they came from. Appending to an ``array`` and one dict pass per bucket is
about 20x cheaper and needs no sort.

Invariant the scan relies on: within one file, lines are added in increasing order (runs are
read in the order they were written or absorbed), so the first hash seen is the earliest line.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["BUCKETS", "CONTENT", "IDENT", "HashScan", "HashStore", "Spill"]

CONTENT, IDENT = 0, 1
BUCKETS = 256
_MASK = BUCKETS - 1
SPILL_PAIRS = 1 << 18  # 4 MB of buffered pairs per run file
_Key = TypeVar("_Key")
SCAN_PAIRS = 1 << 18
"""Most pairs one scan pass holds in its dict (~25 MB); a bigger bucket is read in several
passes, each taking the hashes of one residue class, so memory stays flat past ~20 GB files."""


@dataclass(frozen=True)
class Spill:
    """A detached store's run files (picklable), handed from a worker process to the parent."""

    directory: str
    runs: tuple[tuple[str, tuple[int, ...]], ...]


@dataclass
class HashScan:
    """What a scan found, each as (up to ``limit`` pairs sorted by line, total count).

    ``duplicates[(kind, file)]``: (line, first line with the same hash) inside one file.
    ``overlaps[kind]``: (validation line, first training line with the same hash).
    """

    limit: int
    duplicates: dict[tuple[int, int], tuple[list[tuple[int, int]], int]] = field(
        default_factory=dict)
    overlaps: dict[int, tuple[list[tuple[int, int]], int]] = field(default_factory=dict)

    def merge(self, other: HashScan) -> None:
        """Add another scan's results (another set of buckets) into this one."""
        _merge_pairs(self.duplicates, other.duplicates, self.limit)
        _merge_pairs(self.overlaps, other.overlaps, self.limit)


def _merge_pairs(target: dict[_Key, tuple[list[tuple[int, int]], int]],
                 source: dict[_Key, tuple[list[tuple[int, int]], int]], limit: int) -> None:
    for key, (pairs, total) in source.items():
        mine, count = target.get(key, ([], 0))
        target[key] = (sorted(mine + pairs)[:limit], count + total)


class HashStore:
    """(kind, 64-bit hash, file index, line) entries in bucketed temp files."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="finetune-hashes-")
        self._owned = [self.directory]
        self._buffers = [array("q") for _ in range(BUCKETS)]
        self._buffered = 0
        # (path, bucket offsets in items, line offset) per run, in line order.
        self._runs: list[tuple[str, tuple[int, ...], int]] = []

    def add(self, kind: int, value: int, file: int, line: int) -> None:
        buffer = self._buffers[value & _MASK]
        buffer.append(value)
        buffer.append(line << 2 | kind << 1 | file)
        self._buffered += 1
        if self._buffered >= SPILL_PAIRS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered pairs to a new run file."""
        if not self._buffered:
            return
        path = os.path.join(self.directory, f"run-{len(self._runs)}.bin")
        offsets = [0]
        with open(path, "wb") as handle:
            for buffer in self._buffers:
                buffer.tofile(handle)
                offsets.append(offsets[-1] + len(buffer))
                del buffer[:]
        self._runs.append((path, tuple(offsets), 0))
        self._buffered = 0

    def detach(self) -> Spill:
        """Flush and hand over the run files; this store no longer deletes them."""
        self.flush()
        self._owned.remove(self.directory)
        return Spill(self.directory, tuple((path, offsets) for path, offsets, _ in self._runs))

    def absorb(self, spill: Spill, line_offset: int, *, own: bool = True) -> None:
        """Read another store's runs as if their lines started after ``line_offset``.

        No copy is made; with ``own`` the files are deleted when this store closes.
        """
        self.flush()
        self._runs.extend((path, offsets, line_offset) for path, offsets in spill.runs)
        if own:
            self._owned.append(spill.directory)

    def _bucket_size(self, bucket: int) -> int:
        return sum(offsets[bucket + 1] - offsets[bucket] for _, offsets, _ in self._runs) // 2

    def _bucket(self, bucket: int, passes: int = 1, index: int = 0
                ) -> Iterable[tuple[int, int]]:
        """(hash, tag) pairs of one bucket across every run, line offsets applied; with
        ``passes`` > 1 only the hashes whose higher bits fall in class ``index``."""
        pairs = self._bucket_pairs(bucket)
        if passes == 1:
            return pairs
        return ((value, tag) for value, tag in pairs if (value >> 8) % passes == index)

    def _bucket_pairs(self, bucket: int) -> Iterable[tuple[int, int]]:
        for path, offsets, line_offset in self._runs:
            start, end = offsets[bucket], offsets[bucket + 1]
            if start == end:
                continue
            data = array("q")
            with open(path, "rb") as handle:
                handle.seek(start * data.itemsize)
                data.fromfile(handle, end - start)
            pairs = iter(data)
            if line_offset:
                shift = line_offset << 2
                yield from ((value, tag + shift) for value, tag in zip(pairs, pairs, strict=False))
            else:
                yield from zip(pairs, pairs, strict=False)

    def scan(self, limit: int, buckets: Iterable[int] | None = None) -> HashScan:
        """Duplicates per (kind, file) and validation-vs-training overlaps per kind."""
        self.flush()
        tally = _Tally(limit)
        for bucket in range(BUCKETS) if buckets is None else buckets:
            passes = -(-self._bucket_size(bucket) // SCAN_PAIRS) or 1
            for index in range(passes):
                tally.add(self._bucket(bucket, passes, index))
        return tally.result()

    def close(self) -> None:
        for directory in self._owned:
            shutil.rmtree(directory, ignore_errors=True)
        self._owned = []
        self._runs = []


class _Tally:
    """Repeats and overlaps found so far, keeping the ``limit`` earliest of each and counts."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.repeats: dict[tuple[int, int], list[tuple[int, int]]] = {
            (kind, file): [] for kind in (CONTENT, IDENT) for file in (0, 1)}
        self.repeat_counts = dict.fromkeys(self.repeats, 0)
        self.overlaps: dict[int, list[tuple[int, int]]] = {CONTENT: [], IDENT: []}
        self.overlap_counts = dict.fromkeys(self.overlaps, 0)

    def add(self, pairs: Iterable[tuple[int, int]]) -> None:
        """One dict pass over (hash, tag) pairs that include every copy of their hashes."""
        limit, repeats, repeat_counts = self.limit, self.repeats, self.repeat_counts
        # key = hash with kind and file in the low bits; value = first line seen.
        first: dict[int, int] = {}
        setdefault = first.setdefault
        validation: list[tuple[int, int]] = []
        for value, tag in pairs:
            key = value << 2 | (tag & 3)
            line = tag >> 2
            seen = setdefault(key, line)
            if seen != line:
                where = (tag >> 1 & 1, tag & 1)
                repeat_counts[where] += 1
                _keep(repeats[where], (line, seen), limit)
            if tag & 1:
                validation.append((key, line))
        for key, line in validation:
            training = first.get(key ^ 1)  # the same hash and kind in file 0
            if training is not None:
                kind = key >> 1 & 1
                self.overlap_counts[kind] += 1
                _keep(self.overlaps[kind], (line, training), limit)

    def result(self) -> HashScan:
        scan = HashScan(self.limit)
        for where, total in self.repeat_counts.items():
            scan.duplicates[where] = (sorted(self.repeats[where])[:self.limit], total)
        for kind, total in self.overlap_counts.items():
            scan.overlaps[kind] = (sorted(self.overlaps[kind])[:self.limit], total)
        return scan


def _keep(pairs: list[tuple[int, int]], pair: tuple[int, int], limit: int) -> None:
    """Append, trimming to the ``limit`` smallest now and then so the list stays small."""
    pairs.append(pair)
    if len(pairs) >= 4 * limit:
        pairs.sort()
        del pairs[limit:]
