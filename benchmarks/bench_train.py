"""Our training engine on the TRL anchor's workload (benchmarks/trl_baseline.py), one JSON line out.

Same model (random-init Llama, SIZE=1b: hidden 2048, 16 layers, GQA 32/8, vocab 32k, bf16), same
LoRA (r=16, alpha=32, dropout 0.05, all-linear), same 4000 synthetic examples (lognormal lengths,
median 350, clipped 32..2048, numpy seed 0, every token trained like TRL on raw input_ids). The
loop is the engine's own: ``packing.plan_rows``/``build_row`` rows, ``_loop.train_step``
(document-isolated attention, loss on target positions only), fused AdamW, warmup + cosine,
gradient clipping. Tokens/s counts every (non-pad) token over wall-clock time of steps WARMUP..end,
host work included (the anchor times each step between syncs, which leaves out its data loading).

Knobs (env): SIZE, STEPS (40), WARMUP (5), ROW_TOKENS (16384: tokens per packed row),
ROWS_PER_STEP (1), FINETUNE_SDK_ATTENTION (varlen|flex|mask), FINETUNE_SDK_FUSED_CE (liger|torch),
FINETUNE_SDK_FUSE_LORA (1|0), FINETUNE_SDK_COMPILE (0|1|decoder), PROFILE (1: kernel table to
stderr), LABEL (free text echoed in the output), DEVICE (cuda).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from finetune_sdk.local import _attention  # noqa: E402
from finetune_sdk.local._loop import autocast_for, lr_factor, make_optimizer, train_step  # noqa: E402
from finetune_sdk.local._loss import liger_available  # noqa: E402
from finetune_sdk.local._model import PackedCausalLM, wrap_lora  # noqa: E402
from finetune_sdk.local.packing import build_row, group_steps, plan_rows  # noqa: E402
from finetune_sdk.local.tokenize import EncodedExample  # noqa: E402

SIZES = {
    "1b": dict(
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
    ),
    "tiny": dict(  # CPU dry run of the script only
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    ),
    "8b": dict(
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
    ),
}
VOCAB = 32000


def main() -> None:
    size = os.environ.get("SIZE", "1b")
    steps = int(os.environ.get("STEPS", "40"))
    warm = int(os.environ.get("WARMUP", "5"))
    row_tokens = int(os.environ.get("ROW_TOKENS", "16384"))
    rows_per_step = int(os.environ.get("ROWS_PER_STEP", "1"))
    device = torch.device(os.environ.get("DEVICE", "cuda"))
    backend = _attention.pick_backend(device, os.environ.get("FINETUNE_SDK_ATTENTION"))

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, max_position_embeddings=4096, **SIZES[size])
    config._attn_implementation = _attention.register()
    with device:
        model = LlamaForCausalLM(config).to(
            torch.bfloat16 if device.type == "cuda" else torch.float32
        )
    model.config.use_cache = False
    nparams = sum(p.numel() for p in model.parameters())

    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(mean=math.log(350), sigma=0.7, size=4000).astype(int), 32, 2048)
    examples = []
    for length in lengths:
        ids = rng.integers(3, VOCAB, size=int(length)).tolist()
        examples.append(EncodedExample(ids, ids))
    plan = group_steps(
        plan_rows([len(e.input_ids) for e in examples], row_tokens, seed=0), rows_per_step
    )
    while len(plan) < steps + 3:
        plan += plan

    peft_model = wrap_lora(
        model, lora_rank=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear"
    )
    module = PackedCausalLM(peft_model, backend=backend)
    module.train()
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = make_optimizer(trainable, 2e-4, device)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_factor(math.ceil(0.03 * steps), steps)
    )
    autocast = autocast_for(device)

    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    losses, tokens, started, counted = [], 0, 0.0, 0
    for index in range(steps):
        if index == warm:
            sync()
            started, counted = time.perf_counter(), tokens
        rows = [build_row(examples, r) for r in plan[index]]
        loss = train_step(module, rows, device=device, autocast=autocast)
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += sum(r.num_tokens for r in rows)
        losses.append(loss / sum(r.num_target_tokens for r in rows))
    sync()
    elapsed = time.perf_counter() - started
    if os.environ.get("PROFILE") == "1" and cuda:
        profile_steps(module, plan[steps : steps + 3], examples, trainable, optimizer, device)
    tps = (tokens - counted) / elapsed
    loss_values = [float(x) for x in torch.stack(losses).tolist()]
    print(
        json.dumps(
            dict(
                engine="finetune_sdk",
                label=os.environ.get("LABEL", ""),
                size=size,
                params_M=round(nparams / 1e6),
                attention=backend,
                fused_ce=os.environ.get(
                    "FINETUNE_SDK_FUSED_CE", "liger" if liger_available() else "torch"
                ),
                fuse_lora=os.environ.get("FINETUNE_SDK_FUSE_LORA", "1"),
                compile=os.environ.get("FINETUNE_SDK_COMPILE", "1"),
                row_tokens=row_tokens,
                rows_per_step=rows_per_step,
                steps=steps,
                tokens_per_s=round(tps),
                step_s=round(elapsed / (steps - warm), 3),
                mfu_6N_pct=round(100 * 6 * nparams * tps / 989e12, 1),
                mfu_4N_pct=round(100 * 4 * nparams * tps / 989e12, 1),
                peak_mem_GiB=round(torch.cuda.max_memory_allocated() / 2**30, 1) if cuda else None,
                loss_first=round(loss_values[0], 4),
                loss_last=round(loss_values[-1], 4),
                finite=all(math.isfinite(v) for v in loss_values),
            )
        )
    )


def profile_steps(module, plan, examples, trainable, optimizer, device) -> None:
    """Kernel time table of a few more steps, to stderr (lands in the bench log)."""
    from torch.profiler import ProfilerActivity, profile

    autocast = autocast_for(device)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for rows_indices in plan:
            rows = [build_row(examples, r) for r in rows_indices]
            train_step(module, rows, device=device, autocast=autocast)
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
    table = prof.key_averages().table(
        sort_by="cuda_time_total", row_limit=30, max_name_column_width=60
    )
    print(table, file=sys.stderr)


if __name__ == "__main__":
    main()
