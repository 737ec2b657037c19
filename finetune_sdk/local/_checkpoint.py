"""Atomic training checkpoints: ``checkpoint_dir/step-N/`` appears whole or not at all.

A checkpoint is written into a hidden temporary sibling (``.tmp-step-N-<pid>``), finished with a
``checkpoint.json`` marker, and only then renamed to ``step-N``. ``latest_checkpoint`` considers
only directories that carry the marker, so a crash mid-write leaves nothing that resume would trust.

Contents: ``adapter/`` (a loadable PEFT adapter, useful on its own), ``state.pt`` (LoRA weights,
optimizer, scheduler, RNG states) and ``checkpoint.json`` (step, data position, row plan).

The format does not depend on how the run was spread: the LoRA weights and the optimizer state are
stored whole (gathered from the shards under FSDP2), the optimizer state keyed by parameter name
(``torch.distributed.checkpoint.state_dict``). So a checkpoint written by one process, by DDP
ranks or by FSDP2 shards resumes under any other process count or sharding; the row plan stored
with it keeps the steps the same. Checkpoints from before this format (optimizer state keyed by
position) are read too.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import torch

MARKER = "checkpoint.json"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def complete_checkpoints(checkpoint_dir: Path) -> dict[int, Path]:
    """Every complete checkpoint (it carries the marker), by step."""
    if not checkpoint_dir.is_dir():
        return {}
    found = {}
    for child in checkpoint_dir.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and (child / MARKER).is_file():
            found[int(match.group(1))] = child
    return found


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The complete checkpoint with the highest step, or None."""
    found = complete_checkpoints(checkpoint_dir)
    return found[max(found)] if found else None


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    checkpoint_dir: Path,
    step: int,
    *,
    peft_model: Any,
    tokenizer: Any,
    lora_state: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any],
    scheduler: Any,
    position: dict[str, Any],
) -> Path:
    """Write ``step-N`` atomically and return its path.

    ``lora_state`` holds the whole trainable tensors under the model's parameter names and
    ``optimizer_state`` the whole optimizer state by name (``gather_optimizer_state``).
    """
    from peft import get_peft_model_state_dict

    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoint_dir / f"step-{step}"
    tmp = checkpoint_dir / f".tmp-step-{step}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        # From the given whole tensors, not the model's own: under FSDP2 those are shards.
        peft_model.save_pretrained(tmp / "adapter", state_dict=lora_state)
        tokenizer.save_pretrained(tmp / "adapter")
        torch.save(
            {
                "lora": get_peft_model_state_dict(peft_model, state_dict=lora_state),
                "optimizer": optimizer_state,
                "scheduler": scheduler.state_dict(),
                "rng": rng_state(),
            },
            tmp / "state.pt",
        )
        (tmp / MARKER).write_text(json.dumps({"step": step, **position}, indent=2))
    except BaseException:  # a full disk, an interrupt: leave no half checkpoint behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():  # a re-save of the same step (e.g. stop right after a periodic save)
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def read_checkpoint(path: Path) -> dict[str, Any]:
    """``state.pt`` of a checkpoint plus its position record (``"position"``)."""
    state = torch.load(path / "state.pt", map_location="cpu", weights_only=False)
    state["position"] = json.loads((path / MARKER).read_text())
    return state


def restore_lora(peft_model: Any, state: dict[str, Any]) -> None:
    """Put the saved LoRA weights into the (not yet sharded or wrapped) model."""
    from peft import set_peft_model_state_dict

    set_peft_model_state_dict(peft_model, state["lora"])


def gather_optimizer_state(module: torch.nn.Module, optimizer: Any) -> dict[str, Any]:
    """The whole optimizer state keyed by parameter name, on the CPU of every rank.

    A collective under FSDP2 (each state tensor is gathered from its shards): call it on every
    rank. Every rank gets the whole state because every node leader saves its own checkpoint.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    state = get_optimizer_state_dict(module, optimizer,
                                     options=StateDictOptions(full_state_dict=True))
    return _to_cpu(state)


def restore_training(module: torch.nn.Module, optimizer: Any, scheduler: Any,
                     state: dict[str, Any], names: list[str]) -> None:
    """Optimizer (re-sharded as ``module`` is), scheduler and RNG from a checkpoint.

    ``names`` are the trainable parameters' names in optimizer order: they translate a
    checkpoint of the older, position-keyed format.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    saved = state["optimizer"]
    if saved.get("state") and all(isinstance(k, int) for k in saved["state"]):
        saved = {"state": {names[k]: v for k, v in saved["state"].items()},
                 "param_groups": [{**g, "params": [names[k] for k in g["params"]]}
                                  for g in saved["param_groups"]]}
    set_optimizer_state_dict(module, optimizer, saved,
                             options=StateDictOptions(full_state_dict=True))
    scheduler.load_state_dict(state["scheduler"])
    restore_rng(state["rng"])


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value
