"""Loss on the trained positions only, without materializing full-vocabulary fp32 logits.

The decoder's hidden states are gathered at the positions that have a target (assistant tokens),
then projected to the vocabulary and scored in chunks. Two implementations:

- Liger's fused linear cross-entropy (when ``liger_kernel`` is installed and the tensors are on
  CUDA): computes the gradient during the forward chunk by chunk, so logits never live long.
- A torch fallback (also forced by FINETUNE_SDK_FUSED_CE=torch): each chunk's logits are
  recomputed in backward (activation checkpointing), so at most one chunk of
  ``chunk_tokens x vocab`` fp32 logits exists at a time.

Both return the *sum* of token losses; the trainer divides by the step's target-token count so
gradient accumulation and packing weigh every trained token the same.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


@lru_cache(maxsize=1)
def _liger_function() -> Any:
    try:
        from liger_kernel.ops.fused_linear_cross_entropy import (
            LigerFusedLinearCrossEntropyFunction,
        )
    except Exception:  # noqa: BLE001 - optional accelerator, any import failure means "absent"
        return None
    return LigerFusedLinearCrossEntropyFunction


def liger_available() -> bool:
    return _liger_function() is not None


def _chunk_loss(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, softcap: float | None
) -> torch.Tensor:
    logits = (hidden @ weight.t()).float()
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return F.cross_entropy(logits, targets, reduction="sum")


def linear_cross_entropy_sum(
    hidden: torch.Tensor,  # [N, H] hidden states at trained positions
    weight: torch.Tensor,  # [V, H] output embedding
    targets: torch.Tensor,  # [N] token ids
    *,
    chunk_tokens: int = 4096,
    softcap: float | None = None,
    use_liger: bool | None = None,
) -> torch.Tensor:
    """Sum of next-token cross-entropy over ``N`` positions, chunked over positions."""
    if use_liger is None:
        wanted = os.environ.get("FINETUNE_SDK_FUSED_CE", "liger") != "torch"
        use_liger = wanted and hidden.is_cuda and not softcap and liger_available()
    if use_liger:
        function = _liger_function()
        # apply(input, weight, target, bias, ce_weight, ignore_index, lse_square_scale,
        #       label_smoothing, reduction, ...): positional to stay compatible across versions.
        loss = function.apply(hidden, weight, targets, None, None, -100, 0.0, 0.0, "sum")
        return loss[0] if isinstance(loss, tuple) else loss
    total = hidden.new_zeros((), dtype=torch.float32)
    for start in range(0, hidden.shape[0], chunk_tokens):
        piece = slice(start, start + chunk_tokens)
        if torch.is_grad_enabled() and hidden.requires_grad:
            total = total + checkpoint(
                _chunk_loss, hidden[piece], weight, targets[piece], softcap, use_reentrant=False
            )
        else:
            total = total + _chunk_loss(hidden[piece], weight, targets[piece], softcap)
    return total
