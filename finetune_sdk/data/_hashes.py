"""Disk-backed hash store for duplicate and leakage checks, so memory stays flat at any size.

Content and id hashes (64-bit) go into a temporary SQLite file in batches; duplicates and
train/validation overlaps are found with one indexed query at the end.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator

__all__ = ["HashStore", "hash64"]

CONTENT, IDENT = 0, 1
_BATCH = 20_000


def hash64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


class HashStore:
    """(kind, hash, file, line) rows in a temp SQLite database with a small page cache."""

    def __init__(self) -> None:
        fd, self.path = tempfile.mkstemp(prefix="finetune-hashes-", suffix=".sqlite")
        os.close(fd)
        self._db = sqlite3.connect(self.path)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8000;"
            " PRAGMA temp_store=FILE;"
            " CREATE TABLE h (kind INTEGER, h INTEGER, file INTEGER, line INTEGER);")
        self.pending: list[tuple[int, int, int, int]] = []
        self._indexed = False

    def add(self, kind: int, value: int, file: int, line: int) -> None:
        self.pending.append((kind, value, file, line))
        if len(self.pending) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self._db.executemany("INSERT INTO h VALUES (?, ?, ?, ?)", self.pending)
            self.pending.clear()

    def detach(self) -> str:
        """Flush, close and hand over the database file (a worker's store, for ``absorb``)."""
        self.flush()
        self._db.commit()
        self._db.close()
        return self.path

    def absorb(self, path: str, line_offset: int, *, partition: tuple[int, int] | None = None,
               keep: bool = False) -> None:
        """Copy another store's rows in, shifting their line numbers (only hashes with
        ``h % parts == index`` for a ``partition``); deletes that file unless ``keep``."""
        self.flush()
        self._db.execute("ATTACH DATABASE ? AS w", (path,))
        where, args = "", [line_offset]
        if partition is not None:
            where, args = " WHERE (h % ? + ?) % ? = ?", [line_offset, partition[1],
                                                           partition[1], partition[1],
                                                           partition[0]]
        self._db.execute(f"INSERT INTO h SELECT kind, h, file, line + ? FROM w.h{where}", args)
        self._db.commit()
        self._db.execute("DETACH DATABASE w")
        if not keep:
            os.unlink(path)

    def _index(self) -> None:
        self.flush()
        if not self._indexed:
            self._db.execute("CREATE INDEX hk ON h (kind, h, file, line)")
            self._indexed = True

    def duplicates(self, kind: int, file: int, limit: int) -> Iterator[tuple[int, int]]:
        """(line, first line with the same hash) for every repeat inside one file."""
        self._index()
        # One linear pass over the covering index finds the repeated hashes; only their rows
        # are then joined and sorted.
        query = ("SELECT a.line, g.first FROM (SELECT h, MIN(line) AS first FROM h"
                 " WHERE kind = ? AND file = ? GROUP BY h HAVING COUNT(*) > 1) g"
                 " JOIN h a ON a.kind = ? AND a.h = g.h AND a.file = ? AND a.line > g.first"
                 " ORDER BY a.line LIMIT ?")
        yield from self._db.execute(query, (kind, file, kind, file, limit))

    def count_duplicates(self, kind: int, file: int) -> int:
        self._index()
        query = ("SELECT COUNT(*) - COUNT(DISTINCT h) FROM h WHERE kind = ? AND file = ?")
        return int(self._db.execute(query, (kind, file)).fetchone()[0])

    def overlaps(self, kind: int, limit: int) -> Iterator[tuple[int, int]]:
        """(validation line, training line) pairs with the same hash."""
        self._index()
        query = ("SELECT line, tl FROM (SELECT v.line AS line, (SELECT MIN(t.line) FROM h t"
                 " WHERE t.kind = v.kind AND t.h = v.h AND t.file = 0) AS tl FROM h v"
                 " WHERE v.kind = ? AND v.file = 1) WHERE tl IS NOT NULL ORDER BY line LIMIT ?")
        yield from self._db.execute(query, (kind, limit))

    def count_overlaps(self, kind: int) -> int:
        self._index()
        query = ("SELECT COUNT(*) FROM h v WHERE v.kind = ? AND v.file = 1 AND EXISTS (SELECT 1"
                 " FROM h t WHERE t.kind = v.kind AND t.h = v.h AND t.file = 0)")
        return int(self._db.execute(query, (kind,)).fetchone()[0])

    def close(self) -> None:
        self._db.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
