"""Deterministic train/validation split, grouped by conversation, with a leakage check.

Each example goes to validation when a seeded hash of its *group* falls under the fraction. The
group is ``conversation_id`` (top level or in ``metadata``) when present, else the example's own
content (roles and texts, the key validation uses for duplicates), so identical examples land on
the same side. Grouping by conversation alone could still put the same text on both sides (the
same question in two conversations): such validation conversations are moved to training, to a
fixed point, so the split never leaks. It does not depend on line order and gives the same
result for the same seed on any machine. Lines are copied as they are (the format is kept); both
outputs are written atomically. Memory holds two 8-byte digests per *validation* example.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .formats import iter_raw_examples, message_text

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
    moved_to_train: int = 0
    """Validation examples moved to training because training has the same text."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _group(example: dict[str, Any]) -> tuple[str, bool]:
    conv = example.get("conversation_id")
    if conv is None and isinstance(example.get("metadata"), dict):
        conv = example["metadata"].get("conversation_id")
    if conv is not None:
        return f"conv:{conv}", True
    return "content:" + _content(example), False


def _content(example: dict[str, Any]) -> str:
    """Roles and texts (and a preference pair's answers): what makes two examples the same."""
    parts = [[m.get("role"), message_text(m)] for m in example.get("messages") or []]
    if "chosen" in example:
        parts += [["chosen", message_text(example["chosen"])],
                  ["rejected", message_text(example.get("rejected"))]]
    return json.dumps(parts, ensure_ascii=False)


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=8).digest()


def _to_validation(group: str, seed: int, fraction: float) -> bool:
    return int.from_bytes(_digest(f"{seed}\x00{group}"), "big") / 2**64 < fraction


def _groups_to_move(val_items: list[tuple[bytes, bytes]], leaking: set[bytes]) -> set[bytes]:
    """Validation groups to move to training: those holding a text that training has, then,
    to a fixed point, those sharing a text with a group already moved."""
    moved: set[bytes] = set()
    while leaking:
        newly = {group for content, group in val_items if content in leaking} - moved
        moved |= newly
        leaking = {content for content, group in val_items if group in newly}
    return moved

def split_file(src: str | Path, train_out: str | Path, val_out: str | Path, *,
               val: float = 0.1, seed: int = 0) -> SplitReport:
    """Split ``src`` into ``train_out`` and ``val_out``; raises DatasetError on a bad line."""
    if not 0 < val < 1:
        raise ConfigurationError(f"--val must be between 0 and 1 (got {val})")
    src, train_out, val_out = Path(src), Path(train_out), Path(val_out)
    grouped = False
    tmp = {True: val_out.with_name(f".{val_out.name}.tmp"),
           False: train_out.with_name(f".{train_out.name}.tmp")}
    moved_file = val_out.with_name(f".{val_out.name}.kept.tmp")
    val_items: list[tuple[bytes, bytes]] = []  # (content digest, group digest)
    moved: set[bytes] = set()
    counts = {True: 0, False: 0}
    try:
        with open(tmp[True], "wb") as to_val, open(tmp[False], "wb") as to_train:
            for _, data, example in iter_raw_examples(src):
                group, by_conv = _group(example)
                grouped = grouped or by_conv
                side = _to_validation(group, seed, val)
                (to_val if side else to_train).write(data + b"\n")
                counts[side] += 1
                if side:
                    val_items.append((_digest(_content(example)), _digest(group)))
        if grouped and val_items:
            # Texts of the validation side that training also has (a second, read-only pass
            # over the training part: only the validation digests are held in memory).
            val_contents = {content for content, _ in val_items}
            leaking = {c for c in (_digest(_content(example)) for _, _, example in
                                   iter_raw_examples(tmp[False])) if c in val_contents}
            moved = _groups_to_move(val_items, leaking)
        if moved:
            with open(tmp[False], "ab") as to_train, open(moved_file, "wb") as kept:
                for _, data, example in iter_raw_examples(tmp[True]):
                    go = _digest(_group(example)[0]) in moved
                    (to_train if go else kept).write(data + b"\n")
                    counts[True] -= go
                    counts[False] += go
            moved_file.replace(tmp[True])
        tmp[False].replace(train_out)
        tmp[True].replace(val_out)
    finally:
        for p in (*tmp.values(), moved_file):
            p.unlink(missing_ok=True)
    from .privacy import carry_marker

    for out in (train_out, val_out):  # both halves of a sensitive file stay sensitive
        carry_marker(src, out)
    from .validate import validate_file

    leak = validate_file(train_out, validation_path=val_out).counts.get("leakage", 0)
    moved_examples = len(val_items) - counts[True]
    return SplitReport(str(src), str(train_out), str(val_out), counts[False], counts[True],
                       "conversation_id" if grouped else "content", seed, val, leak,
                       moved_examples)
