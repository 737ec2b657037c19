"""Atomic training checkpoints: ``checkpoint_dir/step-N/`` appears whole or not at all.

A checkpoint is written into a hidden temporary sibling (``.tmp-step-N-<pid>``), finished with a
``checkpoint.json`` marker, and only then renamed to ``step-N``. ``latest_checkpoint`` considers
only directories that carry the marker, so a crash mid-write leaves nothing that resume would trust.

Contents: ``adapter/`` (a loadable PEFT adapter, useful on its own), ``state.pt`` (LoRA weights,
optimizer, scheduler, RNG states) and ``checkpoint.json`` (step and data position).
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


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The complete checkpoint with the highest step, or None."""
    if not checkpoint_dir.is_dir():
        return None
    found = []
    for child in checkpoint_dir.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and (child / MARKER).is_file():
            found.append((int(match.group(1)), child))
    return max(found)[1] if found else None


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
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    position: dict[str, Any],
) -> Path:
    """Write ``step-N`` atomically and return its path."""
    from peft import get_peft_model_state_dict

    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoint_dir / f"step-{step}"
    tmp = checkpoint_dir / f".tmp-step-{step}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        peft_model.save_pretrained(tmp / "adapter")
        tokenizer.save_pretrained(tmp / "adapter")
        torch.save(
            {
                "lora": {k: v.detach().cpu()
                         for k, v in get_peft_model_state_dict(peft_model).items()},
                "optimizer": optimizer.state_dict(),
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


def load_checkpoint(
    path: Path, *, peft_model: Any, optimizer: Any, scheduler: Any
) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler and RNG from ``path``; returns its position record."""
    from peft import set_peft_model_state_dict

    state = torch.load(path / "state.pt", map_location="cpu", weights_only=False)
    set_peft_model_state_dict(peft_model, state["lora"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    restore_rng(state["rng"])
    return json.loads((path / MARKER).read_text())
