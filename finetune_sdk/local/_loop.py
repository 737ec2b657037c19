"""One optimizer step over packed rows, shared by the trainer and the GPU benchmark.

Kept apart from ``trainer.py`` so ``benchmarks/bench_train.py`` times exactly the code that
trains: the same rows, the same loss normalization, the same optimizer and no extra syncs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, cast

import torch

from ._model import row_tensors
from .packing import PackedRow

if TYPE_CHECKING:
    from torch.distributed.fsdp import FSDPModule
    from torch.nn.parallel import DistributedDataParallel


def lr_factor(warmup: int, total: int):
    """Linear warmup over ``warmup`` steps, then cosine decay to 0 at ``total``."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def make_optimizer(params: list[torch.nn.Parameter], lr: float, device: torch.device):
    """AdamW, fused into one kernel on GPU (no weight decay on LoRA weights)."""
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.0, fused=device.type == "cuda")


def autocast_for(device: torch.device) -> AbstractContextManager:
    """bf16 autocast on GPU (bf16 base weights, fp32 LoRA master weights); fp32 on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def train_step(
    module: torch.nn.Module,
    rows: Sequence[PackedRow],
    *,
    device: torch.device,
    autocast: AbstractContextManager,
    rank: int = 0,
    world: int = 1,
) -> torch.Tensor:
    """Forward + backward for every row of this rank; returns the summed loss (on device).

    The gradient is that of the mean loss over all target tokens of the step (all ranks), so
    rows of different sizes and gradient accumulation weigh each token equally. Only the last
    row of the step synchronizes gradients (DDP ``no_sync``, FSDP2 ``set_requires_gradient_sync``).
    Nothing here waits for the GPU.
    """
    step_targets = sum(r.num_target_tokens for r in rows)
    mine = [(row, 1.0) for row in rows[rank::world]]
    # Every rank runs the same number of forwards: FSDP2 gathers each layer's weights from all
    # ranks in lockstep and DDP syncs on the last one. A rank short of rows (fewer rows than
    # ranks, or a plan from a run with another process count) repeats a row with zero weight.
    mine += [(rows[0], 0.0)] * (max(1, math.ceil(len(rows) / world)) - len(mine))
    sharded = hasattr(module, "set_requires_gradient_sync")
    scale = world / max(1, step_targets)
    loss_sum = torch.zeros((), device=device)
    for index, (row, weight) in enumerate(mine):
        last = index == len(mine) - 1
        no_sync: AbstractContextManager = nullcontext()
        if world > 1 and sharded:
            cast("FSDPModule", module).set_requires_gradient_sync(last)
        elif world > 1 and not last:
            no_sync = cast("DistributedDataParallel", module).no_sync()
        with no_sync:
            with autocast:
                row_loss = module(**row_tensors(row, device))
            (row_loss * (scale * weight)).backward()
        loss_sum += row_loss.detach() * weight
    return loss_sum
