"""Deterministic train/validation split, grouped by conversation, with a leakage check.

Each example goes to validation when a seeded hash of its *group* falls under the fraction. The
group is ``conversation_id`` (top level or in ``metadata``) when present, else the example's own
content, so identical examples always land on the same side. The split is one streaming pass,
does not depend on line order and gives the same result for the same seed on any machine. Lines
are copied as they are (the format is kept); both outputs are written atomically.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, DatasetError
from ._lines import iter_lines
from .formats import to_canonical

__all__ = ["SplitReport", "split_file"]


@dataclass
class SplitReport:
    source: str
    train_file: str
    validation_file: str
    train_examples: int
    validation_examples: int
    grouped_by: str
    seed: int
    val_fraction: float
    leakage: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _group(example: dict[str, Any]) -> tuple[str, bool]:
    conv = example.get("conversation_id")
    if conv is None and isinstance(example.get("metadata"), dict):
        conv = example["metadata"].get("conversation_id")
    if conv is not None:
        return f"conv:{conv}", True
    body = {k: example[k] for k in ("messages", "chosen", "rejected") if k in example}
    return "content:" + json.dumps(body, sort_keys=True, ensure_ascii=False), False


def _to_validation(group: str, seed: int, fraction: float) -> bool:
    digest = hashlib.blake2b(f"{seed}\x00{group}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


def split_file(src: str | Path, train_out: str | Path, val_out: str | Path, *,
               val: float = 0.1, seed: int = 0) -> SplitReport:
    """Split ``src`` into ``train_out`` and ``val_out``; raises DatasetError on a bad line."""
    if not 0 < val < 1:
        raise ConfigurationError(f"--val must be between 0 and 1 (got {val})")
    src, train_out, val_out = Path(src), Path(train_out), Path(val_out)
    grouped = False
    counts = {True: 0, False: 0}
    tmp = {True: val_out.with_name(f".{val_out.name}.tmp"),
           False: train_out.with_name(f".{train_out.name}.tmp")}
    file = str(src)
    try:
        handles = {k: open(p, "wb") for k, p in tmp.items()}
        try:
            for raw in iter_lines(src):
                if raw.data is None:
                    raise DatasetError(f"line is {raw.size:,} bytes, over the line limit",
                                       file=file, line=raw.number)
                if not raw.data.strip():
                    continue
                try:
                    record = json.loads(raw.data.decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as exc:
                    raise DatasetError(f"not valid UTF-8 JSON ({exc}); run finetune validate",
                                       file=file, line=raw.number) from None
                group, by_conv = _group(to_canonical(record, file=file, line=raw.number))
                grouped = grouped or by_conv
                to_val = _to_validation(group, seed, val)
                handles[to_val].write(raw.data + b"\n")
                counts[to_val] += 1
        finally:
            for handle in handles.values():
                handle.close()
        tmp[False].replace(train_out)
        tmp[True].replace(val_out)
    finally:
        for p in tmp.values():
            p.unlink(missing_ok=True)
    from .privacy import carry_marker

    for out in (train_out, val_out):  # both halves of a sensitive file stay sensitive
        carry_marker(src, out)
    from .validate import validate_file

    leak = validate_file(train_out, validation_path=val_out).counts.get("leakage", 0)
    return SplitReport(str(src), str(train_out), str(val_out), counts[False], counts[True],
                       "conversation_id" if grouped else "content", seed, val, leak)
