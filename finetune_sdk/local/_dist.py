"""The trainer's view of ``torchrun``: ranks, node leaders, the shared stop flag, the resume step.

Under ``torchrun`` (``WORLD_SIZE > 1``) every process runs the same ``train()``. The *node leader*
(``LOCAL_RANK == 0``) of each node writes that node's job directory: on one node that is rank 0
alone, as before; with ``--nnodes M`` each node was started as its own job (``finetune train
--nodes M --node-rank R``), so each node's leader reports, checkpoints and writes the output into
its own job directory. The LoRA weights and optimizer state are gathered to every rank before a
save (they are small), so every leader holds the same, complete checkpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ._checkpoint import complete_checkpoints


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def leader(self) -> bool:
        """Whether this process writes its node's job directory (local rank 0)."""
        return self.local_rank == 0


class SilentHooks:
    """What ranks other than the node leaders use: they neither report nor decide to stop."""

    def on_metric(self, point: dict) -> None: ...
    def on_event(self, message: str, level: str = "info") -> None: ...
    def should_stop(self) -> bool:
        return False

    def on_checkpoint(self, path: Path, step: int) -> None: ...


def init_distributed(requested: str) -> tuple[Dist, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available() and requested in ("auto", "cuda")
    if requested == "cuda" and not torch.cuda.is_available():
        from ..errors import LocalTrainerError

        raise LocalTrainerError("device='cuda' was asked for but torch sees no CUDA device")
    if world <= 1:
        return Dist(), torch.device("cuda" if cuda else "cpu")
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    return Dist(dist.get_rank(), world, local_rank), device


def barrier(env: Dist) -> None:
    if env.world > 1:
        torch.distributed.barrier()


def stop_requested(hooks: Any, env: Dist, device: torch.device) -> bool:
    """True on every rank when any node leader was asked to stop (cancel/pause on any node)."""
    stop = bool(hooks.should_stop())
    if env.world > 1:
        flag = torch.tensor([int(stop)], device=device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        stop = bool(flag.item())
    return stop


def agreed_checkpoint(checkpoint_dir: Path, env: Dist) -> Path | None:
    """The newest complete checkpoint that every rank can read, or None.

    On one node all ranks see the same directory. Across nodes each leader wrote its own copy,
    and a node that crashed mid-save may lack the newest one: resuming the others from a later
    step than it would desynchronise every collective, so all ranks take the newest step they
    all have.
    """
    mine = complete_checkpoints(checkpoint_dir)
    if env.world <= 1:
        return mine[max(mine)] if mine else None
    everyone: list[Any] = [None] * env.world
    torch.distributed.all_gather_object(everyone, sorted(mine))
    common = set(everyone[0]).intersection(*everyone[1:])
    return mine[max(common)] if common else None
