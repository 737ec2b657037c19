"""Byte-level JSONL line reading in constant memory: a 2 GB line is measured, never loaded.

Every reader in ``finetune_sdk.data`` goes through :func:`iter_lines`, so line numbers, BOM and
CRLF handling and the over-long-line rule are the same for validate, stats, convert and scrub.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_MAX_LINE_BYTES", "RawLine", "file_sha256", "iter_lines", "line_aligned_ranges",
           "require_file", "write_atomic_lines"]

BOM = b"\xef\xbb\xbf"
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
"""Lines longer than this are reported (``line_too_long``) and skipped, not parsed. No vendor
accepts a single example anywhere near 64 MB; FINETUNE_SDK_MAX_LINE_BYTES overrides it."""

_CHUNK = 1024 * 1024


@dataclass(slots=True)
class RawLine:
    """One physical line. ``data`` is None when the line was longer than the limit."""

    number: int
    data: bytes | None
    size: int
    had_bom: bool = False
    had_crlf: bool = False


def require_file(path: str | Path, what: str = "a JSONL dataset") -> Path:
    """``path`` as a Path, or DatasetError saying whether it is missing or a folder."""
    from ..errors import DatasetError

    path = Path(path)
    if path.is_dir():
        raise DatasetError(f"is a folder, not a file (expected {what})", file=str(path))
    if not path.is_file():
        raise DatasetError(f"no such file (expected {what})", file=str(path))
    return path


def max_line_bytes(value: int | None = None) -> int:
    if value is not None:
        return value
    return int(os.environ.get("FINETUNE_SDK_MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES))


def iter_lines(path: str | Path, *, limit: int | None = None, start: int = 0,
               end: int | None = None) -> Iterator[RawLine]:
    """Yield every line (1-based numbers) without its line ending, BOM stripped from line 1.

    Blank lines are yielded too (callers decide); a line longer than ``limit`` bytes is read
    through in 1 MB chunks and yielded with ``data=None`` so memory stays flat. ``start`` and
    ``end`` read one byte range (``start`` must be a line start; the range ends with the line
    that crosses ``end``); line numbers then count from the start of that range.
    """
    limit = max_line_bytes(limit)
    with open(path, "rb", buffering=_CHUNK) as handle:
        if start:
            handle.seek(start)
        position = start
        readline = handle.readline
        number = 0
        while end is None or position < end:
            data = readline(limit + 1)
            if not data:
                return
            number += 1
            size = len(data)
            position += size
            if size > limit and not data.endswith(b"\n"):
                # Too long: skip to the end of this line chunk by chunk.
                while True:
                    chunk = readline(_CHUNK)
                    size += len(chunk)
                    position += len(chunk)
                    if not chunk or chunk.endswith(b"\n"):
                        break
                yield RawLine(number, None, size)
                continue
            crlf = False
            if data.endswith(b"\n"):
                data = data[:-1]
                if data.endswith(b"\r"):
                    data, crlf = data[:-1], True
            bom = number == 1 and start == 0 and data.startswith(BOM)
            if bom:
                data = data[3:]
            yield RawLine(number, data, size, bom, crlf)


def line_aligned_ranges(path: str | Path, parts: int) -> list[tuple[int, int]]:
    """Split a file into ``parts`` byte ranges that each start at a line start."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as handle:
        for i in range(1, parts):
            target = max(size * i // parts, cuts[-1])
            handle.seek(target)
            while target:  # to the next line start, in chunks (the line may be huge)
                chunk = handle.readline(_CHUNK)
                if not chunk or chunk.endswith(b"\n"):
                    break
            cuts.append(min(handle.tell(), size))
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, read in 1 MB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic_lines(dst: str | Path, lines: Iterator[str]) -> int:
    """Write text lines to ``dst`` through a temp file in the same folder, then os.replace.

    Returns how many lines were written. On any error the temp file is removed and ``dst`` is
    left as it was: never a half-written dataset.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    count = 0
    try:
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as out:
            for line in lines:
                out.write(line)
                out.write("\n")
                count += 1
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count
