"""The local SFT engine: LoRA on packed chat data, assistant tokens only, resumable.

``train(config, hooks)`` is the whole contract with the job worker. It tokenizes with the model's
chat template (``tokenize.py``), packs examples into token-budget rows that never attend across
examples (``packing.py``, ``_attention.py``), and runs a plain loop: bf16 autocast on GPU (fp32 on
CPU), gradient accumulation over rows, AdamW (fused on GPU), warmup + cosine, gradient clipping.
The loss is the mean over every assistant token of the optimizer step, whatever the rows.

Speed notes: no host sync per micro-step (row tensors are prepared on the host and copied
non-blocking; a step's loss is read one step later, when the GPU has moved on), no S x S masks on
GPU (varlen kernel), and no full-vocabulary logits (``_loss.py``).

Under ``torchrun`` (``WORLD_SIZE > 1``) the rows of each step are split over ranks, each holding
a whole copy (DDP) or a shard (FSDP2, ``_fsdp.py``) of the model; the node leaders alone write
checkpoints and output and talk to the hooks (``_dist.py``). A checkpoint holds the whole adapter
and optimizer state and the row plan, so it resumes under any process count or sharding.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from . import _attention, _fsdp
from ._checkpoint import (
    gather_optimizer_state,
    read_checkpoint,
    restore_lora,
    restore_training,
    save_checkpoint,
)
from ._dist import SilentHooks, agreed_checkpoint, barrier, init_distributed, stop_requested
from ._loop import autocast_for, lr_factor, make_optimizer, train_step
from ._model import PackedCausalLM, load_lora_model, row_tensors, weight_dtype
from ._output import write_output
from .packing import build_row, group_steps, plan_rows
from .tokenize import EncodeReport, encode_file, ensure_chat_template

#: Largest packed row on each device type (tokens per forward); the step's token budget is split
#: into rows of this size. Override with FINETUNE_SDK_ROW_TOKENS.
ROW_TOKENS = {"cuda": 16384, "cpu": 4096}


@dataclass
class TrainConfig:
    base_model: str
    train_file: Path
    output_dir: Path
    checkpoint_dir: Path
    validation_file: Path | None = None
    epochs: int = 1
    learning_rate: float = 2e-4
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: list[str] | str = "all-linear"
    warmup_ratio: float = 0.03
    max_seq_length: int = 2048
    seed: int = 0
    device: str = "auto"
    max_steps: int | None = None
    save_every_steps: int | None = None
    merge: bool = False
    eval_every_steps: int | None = None
    quantization: str | None = None
    """``"nf4"``: QLoRA (4-bit base weights through bitsandbytes); None: full-precision base."""
    sharding: str = "auto"
    """Under torchrun: ``"ddp"`` (a copy per rank), ``"fsdp"`` (FSDP2 shards), or ``"auto"``
    (FSDP2 when the base would not fit one GPU, see ``_fsdp.choose_sharding``)."""


class TrainerHooks(Protocol):
    def on_metric(self, point: dict) -> None: ...
    def on_event(self, message: str, level: str = "info") -> None: ...
    def should_stop(self) -> bool: ...
    def on_checkpoint(self, path: Path, step: int) -> None: ...


@dataclass
class TrainResult:
    steps: int
    trained_tokens: int
    first_loss: float | None
    final_loss: float | None
    eval_loss: float | None
    stopped: bool
    output_dir: Path | None
    resumed_from_step: int | None


_SilentHooks = SilentHooks  # the name tests and older callers import


def _budget(
    lengths: list[int], config: TrainConfig, device: torch.device, world: int
) -> tuple[int, int]:
    """Row capacity (tokens) and rows per optimizer step for ``batch_size`` examples per step."""
    mean = sum(lengths) / len(lengths)
    step_tokens = config.batch_size * config.gradient_accumulation_steps * mean
    limit = int(os.environ.get("FINETUNE_SDK_ROW_TOKENS", ROW_TOKENS[device.type]))
    capacity = max(max(lengths), min(limit, math.ceil(step_tokens)))
    rows = max(1, round(step_tokens / capacity))
    if rows % world:
        # Every rank gets the same number of rows: the step's tokens go into more, smaller rows
        # instead of a bigger step, so batch_size stays examples per step on any process count.
        rows = math.ceil(rows / world) * world
        capacity = max(max(lengths), math.ceil(step_tokens / rows))
    return capacity, rows


def train(config: TrainConfig, hooks: TrainerHooks) -> TrainResult:
    """Train a LoRA adapter as ``config`` says; see the module docstring."""
    from transformers import AutoTokenizer

    dist_env, device = init_distributed(config.device)
    hooks = hooks if dist_env.leader else SilentHooks()
    random.seed(config.seed)
    torch.manual_seed(config.seed)

    tokenizer = AutoTokenizer.from_pretrained(str(config.base_model))
    if ensure_chat_template(tokenizer):
        hooks.on_event("the tokenizer has no chat template: using the default <|role|> template")
    report = EncodeReport()
    train_examples = encode_file(tokenizer, Path(config.train_file), config.max_seq_length, report)
    val_examples = (
        encode_file(tokenizer, Path(config.validation_file), config.max_seq_length)
        if config.validation_file
        else []
    )
    if report.truncated:
        hooks.on_event(
            f"{report.truncated} examples cut to max_seq_length={config.max_seq_length}", "warning"
        )
    if report.skipped_no_assistant_tokens:
        hooks.on_event(
            f"{report.skipped_no_assistant_tokens} examples skipped: no assistant token left "
            f"within max_seq_length={config.max_seq_length}",
            "warning",
        )

    resume_path = agreed_checkpoint(Path(config.checkpoint_dir), dist_env)
    saved = read_checkpoint(resume_path) if resume_path is not None else None
    lengths = [len(e.input_ids) for e in train_examples]
    capacity, rows_per_step = _budget(lengths, config, device, dist_env.world)
    if saved is not None and "rows_per_step" in saved["position"]:
        # The saved plan, not this run's: same rows, same steps, whatever the process count.
        plan = saved["position"]
        capacity, rows_per_step = plan["row_tokens"], plan["rows_per_step"]
    epoch_steps = [
        group_steps(plan_rows(lengths, capacity, seed=config.seed * 1000 + epoch), rows_per_step)
        for epoch in range(config.epochs)
    ]
    total_steps = sum(len(s) for s in epoch_steps)
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)

    backend = _attention.pick_backend(device, os.environ.get("FINETUNE_SDK_ATTENTION"))
    sharding = _fsdp.choose_sharding(
        config.sharding, base_model=config.base_model, device=device, world=dist_env.world,
        quantization=config.quantization, say=hooks.on_event)
    if sharding == "fsdp":
        peft_model = _fsdp.load_for_sharding(config, device)
    else:
        peft_model = load_lora_model(
            config.base_model,
            device=device,
            lora_rank=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=config.lora_target_modules,
            quantization=config.quantization,
        )
    if saved is not None:  # into the whole model, before it is wrapped or sharded
        restore_lora(peft_model, saved)
    module: torch.nn.Module = PackedCausalLM(peft_model, backend=backend)
    names = [n for n, p in module.named_parameters() if p.requires_grad]
    if sharding == "fsdp":
        module = _fsdp.shard(module, peft_model, device, dist_env.world)
    elif sharding == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        module = DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None
        )
    # After sharding: FSDP2 replaces each parameter with its DTensor shard.
    trainable = [p for p in module.parameters() if p.requires_grad]
    optimizer = make_optimizer(trainable, config.learning_rate, device)
    warmup = math.ceil(config.warmup_ratio * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(warmup, total_steps))

    step, epoch, step_in_epoch, resumed_from = 0, 0, 0, None
    if saved is not None and resume_path is not None:  # saved was read from resume_path
        restore_training(module, optimizer, scheduler, saved, names)
        position = saved["position"]
        step, epoch, step_in_epoch = position["step"], position["epoch"], position["step_in_epoch"]
        resumed_from = step
        hooks.on_event(f"resumed from checkpoint step {step} ({resume_path.name})")
    spread = {"none": "", "ddp": f", DDP over {dist_env.world} processes",
              "fsdp": f", FSDP2 over {dist_env.world} processes"}[sharding]
    hooks.on_event(
        f"training on {device.type} ({backend} attention{spread}): {len(train_examples)}"
        f" examples, {total_steps} steps, rows of {capacity} tokens x {rows_per_step} per step"
    )

    autocast = autocast_for(device)
    steps_per_epoch = [len(s) for s in epoch_steps]

    def position_after(e: int, i: int) -> dict[str, int]:
        return (
            {"epoch": e + 1, "step_in_epoch": 0}
            if i + 1 >= steps_per_epoch[e]
            else {"epoch": e, "step_in_epoch": i + 1}
        )

    def checkpoint(at_step: int, position: dict[str, int]) -> None:
        if sharding == "fsdp" or dist_env.leader:  # gathering shards takes every rank
            lora_state = _fsdp.full_lora_state(peft_model)
            optimizer_state = gather_optimizer_state(module, optimizer)
        if dist_env.leader:
            path = save_checkpoint(
                Path(config.checkpoint_dir),
                at_step,
                peft_model=peft_model,
                tokenizer=tokenizer,
                lora_state=lora_state,
                optimizer_state=optimizer_state,
                scheduler=scheduler,
                position={**position, "row_tokens": capacity, "rows_per_step": rows_per_step,
                          "world_size": dist_env.world, "sharding": sharding},
            )
            hooks.on_checkpoint(path, at_step)
        barrier(dist_env)

    def evaluate() -> float | None:
        return (
            _evaluate(module, val_examples, capacity, dist_env, device, autocast,
                      lockstep=sharding == "fsdp")
            if val_examples
            else None
        )

    trained_tokens, first_loss, final_loss, eval_loss = 0, None, None, None
    pending: dict[str, Any] | None = None
    clock, tokens_since = time.perf_counter(), 0

    def publish(item: dict[str, Any]) -> None:
        nonlocal first_loss, final_loss
        loss = item.pop("loss_tensor")
        if dist_env.world > 1:
            torch.distributed.all_reduce(loss)
        value = float(loss.item()) / item.pop("target_tokens")
        first_loss = value if first_loss is None else first_loss
        final_loss = value
        hooks.on_metric({**item, "train_loss": value})

    module.train()
    position = {"epoch": epoch, "step_in_epoch": step_in_epoch}
    while step < total_steps and epoch < config.epochs:
        built = [build_row(train_examples, r) for r in epoch_steps[epoch][step_in_epoch]]
        step_targets = sum(r.num_target_tokens for r in built)
        loss_sum = train_step(
            module,
            built,
            device=device,
            autocast=autocast,
            rank=dist_env.rank,
            world=dist_env.world,
        )
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        step_lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        step_tokens = sum(r.num_tokens for r in built)
        trained_tokens += step_tokens
        tokens_since += step_tokens
        position = position_after(epoch, step_in_epoch)
        if pending is not None:
            publish(pending)  # the previous step's loss: reading it now costs no stall
        now = time.perf_counter()
        pending = {
            "step": step,
            "epoch": round(epoch + (step_in_epoch + 1) / steps_per_epoch[epoch], 4),
            "learning_rate": step_lr,
            "tokens_per_second": tokens_since / (now - clock),
            "trained_tokens": trained_tokens,
            "loss_tensor": loss_sum,
            "target_tokens": step_targets,
        }
        clock, tokens_since = now, 0
        epoch, step_in_epoch = position["epoch"], position["step_in_epoch"]
        if config.eval_every_steps and step % config.eval_every_steps == 0 and step < total_steps:
            publish(pending)
            pending = None
            eval_loss = evaluate()
            hooks.on_metric({"step": step, "epoch": position["epoch"], "valid_loss": eval_loss})
            module.train()
        if config.save_every_steps and step % config.save_every_steps == 0 and step < total_steps:
            checkpoint(step, position)
        if stop_requested(hooks, dist_env, device):
            if pending is not None:
                publish(pending)
            checkpoint(step, position)
            hooks.on_event(f"stopped at step {step}; checkpoint saved")
            return TrainResult(
                step, trained_tokens, first_loss, final_loss, eval_loss, True, None, resumed_from
            )
    if pending is not None:
        publish(pending)
    if val_examples:
        eval_loss = evaluate()
        hooks.on_metric({"step": step, "epoch": position["epoch"], "valid_loss": eval_loss})
    checkpoint(step, position)
    output = None
    adapter = peft_model
    if sharding == "fsdp":
        adapter = _fsdp.GatheredAdapter(peft_model, _fsdp.full_lora_state(peft_model),
                                        config.base_model, weight_dtype(device))
    if dist_env.leader:
        output = write_output(
            config,
            peft_model=adapter,
            tokenizer=tokenizer,
            metrics={
                "steps": step,
                "trained_tokens": trained_tokens,
                "first_loss": first_loss,
                "final_loss": final_loss,
                "eval_loss": eval_loss,
                "resumed_from_step": resumed_from,
            },
            details={
                "attention_backend": backend,
                "device": str(device),
                "row_tokens": capacity,
                "rows_per_step": rows_per_step,
                "world_size": dist_env.world,
                "sharding": sharding,
                "examples": report.examples,
                "truncated": report.truncated,
                "skipped_no_assistant_tokens": report.skipped_no_assistant_tokens,
            },
        )
        hooks.on_event(f"adapter written to {output}")
    barrier(dist_env)
    return TrainResult(
        step, trained_tokens, first_loss, final_loss, eval_loss, False, output, resumed_from
    )


@torch.no_grad()
def _evaluate(module, examples, capacity, dist_env, device, autocast, lockstep=False) -> float:
    """Mean loss over every assistant token of the validation examples."""
    # The DDP wrapper would sync buffers on each forward, and ranks may hold different numbers of
    # validation rows: evaluate with the plain module and reduce the sums once at the end. FSDP2
    # cannot be bypassed (each forward gathers weights from all ranks): there every rank runs
    # the same number of forwards, a rank short of rows repeating one with zero weight.
    module = module if lockstep else getattr(module, "module", module)
    module.eval()
    rows = plan_rows([len(e.input_ids) for e in examples], capacity, seed=0)
    mine = [(indices, 1.0) for indices in rows[dist_env.rank :: dist_env.world]]
    if lockstep:
        mine += [(rows[0], 0.0)] * (math.ceil(len(rows) / dist_env.world) - len(mine))
    loss = torch.zeros((), device=device)
    count = torch.zeros((), device=device)
    for indices, weight in mine:
        row = build_row(examples, indices)
        with autocast:
            loss += module(**row_tensors(row, device)).float() * weight
        count += row.num_target_tokens * weight
    if dist_env.world > 1:
        torch.distributed.all_reduce(loss)
        torch.distributed.all_reduce(count)
    return float(loss.item() / max(1.0, count.item()))
