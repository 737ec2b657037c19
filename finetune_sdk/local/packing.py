"""Sequence packing: many examples per row, no padding, and no attention from one to another.

Examples are placed into rows of at most ``capacity`` tokens by best fit (each example goes into
the fullest row it still fits in), after a seeded shuffle so every epoch sees a different mix.
A row is described by its concatenated ``input_ids``, ``targets`` (the next-token labels, shifted
*inside* each example so the last token of one example never predicts the first of the next),
``position_ids`` restarting at 0 for each example, and ``cu_seqlens`` (the example borders).
``cu_seqlens`` is what keeps examples apart: the attention kernels in ``_attention.py`` only let a
token see earlier tokens of its own example (varlen kernel, flex block mask or a block-diagonal
mask), because position ids alone do not isolate examples under sdpa/eager attention.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass

from .tokenize import IGNORE_INDEX, EncodedExample


@dataclass
class PackedRow:
    """One packed row (plain lists: torch is only touched when the row is moved to a device)."""

    input_ids: list[int]
    targets: list[int]
    position_ids: list[int]
    cu_seqlens: list[int]
    example_indices: list[int]

    @property
    def num_tokens(self) -> int:
        return len(self.input_ids)

    @property
    def num_target_tokens(self) -> int:
        return sum(1 for t in self.targets if t != IGNORE_INDEX)

    @property
    def max_seqlen(self) -> int:
        return max(b - a for a, b in zip(self.cu_seqlens, self.cu_seqlens[1:], strict=False))

    def document_ids(self) -> list[int]:
        """For each token, the index (within the row) of the example it belongs to."""
        ids: list[int] = []
        for doc, (a, b) in enumerate(zip(self.cu_seqlens, self.cu_seqlens[1:], strict=False)):
            ids += [doc] * (b - a)
        return ids


def shifted_targets(example: EncodedExample) -> list[int]:
    """Next-token labels aligned with the inputs: position t is trained to predict label t+1."""
    return example.labels[1:] + [IGNORE_INDEX]


def plan_rows(lengths: Sequence[int], capacity: int, seed: int) -> list[list[int]]:
    """Group example indices into rows of at most ``capacity`` tokens (best fit, seeded order).

    Every example lands in exactly one row (``capacity`` must be at least the longest example).
    The rows are returned in a seeded random order.
    """
    if lengths and max(lengths) > capacity:
        raise ValueError(
            f"an example has {max(lengths)} tokens, more than the row capacity {capacity}"
        )
    order = list(range(len(lengths)))
    rng = random.Random(seed)
    rng.shuffle(order)
    rows: list[list[int]] = []
    # (space left, row index), kept sorted so the best-fitting row is one bisect away.
    free: list[tuple[int, int]] = []
    for index in order:
        need = lengths[index]
        slot = bisect.bisect_left(free, (need, -1))
        if slot < len(free):
            space, row = free.pop(slot)
            rows[row].append(index)
            bisect.insort(free, (space - need, row))
        else:
            rows.append([index])
            bisect.insort(free, (capacity - need, len(rows) - 1))
    rng.shuffle(rows)
    return rows


def build_row(examples: Sequence[EncodedExample], indices: Sequence[int]) -> PackedRow:
    """Concatenate the given examples into one row with per-example positions and borders."""
    input_ids: list[int] = []
    targets: list[int] = []
    position_ids: list[int] = []
    cu_seqlens = [0]
    for index in indices:
        example = examples[index]
        input_ids += example.input_ids
        targets += shifted_targets(example)
        position_ids += range(len(example.input_ids))
        cu_seqlens.append(len(input_ids))
    return PackedRow(input_ids, targets, position_ids, cu_seqlens, list(indices))


def group_steps(rows: Sequence[list[int]], rows_per_step: int) -> list[list[list[int]]]:
    """Cut the row list into optimizer steps of ``rows_per_step`` rows (the last may be short)."""
    return [list(rows[i : i + rows_per_step]) for i in range(0, len(rows), rows_per_step)]
