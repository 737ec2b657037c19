"""What a local job can resume from, decided without torch (the provider runs in the user's
process): the default checkpoint period, and the truthful line for a resume or a lost worker.

The trainer continues from the newest *complete* checkpoint (``step-N`` with its marker, see
``_checkpoint.latest_checkpoint``); ``JobDir.checkpoint_steps`` applies the same test, so the
event written at resume names the step the worker will really start from. Before this, a job
without ``save_every_steps`` wrote no checkpoint until it ended, so a crash restarted it at
step 0 while the log said "resumed from its last checkpoint".
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_CHECKPOINTS", "count_examples", "default_save_period", "lost_hint",
           "resume_event"]

DEFAULT_CHECKPOINTS = 10
"""Periodic checkpoints per run when ``save_every_steps`` is not set: a crash loses ~10 %."""


def count_examples(path: str | Path | None) -> int | None:
    """Examples in a converted training file (one per non-empty line)."""
    if not path:
        return None
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def default_save_period(config: dict[str, Any], examples: int) -> int:
    """Steps between checkpoints for about DEFAULT_CHECKPOINTS per run.

    The trainer packs ``batch_size`` x accumulation examples' worth of tokens into each step, so
    the step count is estimated from the example count without tokenizing (the defaults are
    TrainConfig's; trainer.py imports torch, so they are repeated here).
    """
    per_step = int(config.get("batch_size", 8)) * int(config.get("gradient_accumulation_steps", 1))
    steps = math.ceil(examples / max(1, per_step)) * int(config.get("epochs", 1))
    if config.get("max_steps"):
        steps = min(steps, int(config["max_steps"]))
    return max(1, math.ceil(steps / DEFAULT_CHECKPOINTS))


def resume_event(step: int | None) -> str:
    """The event written when a job is resumed, naming where training really continues."""
    if step is None:
        return "job resumed with no checkpoint saved: training restarts from step 0"
    return f"job resumed: continuing from the checkpoint at step {step}"


def lost_hint(step: int | None) -> str:
    """The end of a lost worker's failure message: what ``resume`` would do."""
    if step is None:
        return "no checkpoint was saved, so resuming the job restarts it from step 0"
    return f"resume the job to continue from its checkpoint at step {step}"
