"""What every OpenAI-compatible preset (``generic.py``, ``azure.py``, ``nebius.py``) builds the
same way: its capability table, its single-request file limits, its dataset rules (OpenAI's,
with its own name and sizes) and its ``write_wire_jsonl``. A preset module passes only what
differs; OpenAI's own profile (``providers/openai/profile.py``) is not built from here, so a
preset never picks up OpenAI's wind-down date.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ...data.convert import stream_wire
from ...data.rules import RulePack
from ...types import Capabilities
from ..openai.dataset import RULES as OPENAI_RULES
from ..openai.dataset import to_wire
from ..openai.profile import Limits

__all__ = ["OPENAI_HYPERPARAMETERS", "preset_capabilities", "preset_rules", "single_post_limits",
           "write_checked_jsonl"]

OPENAI_HYPERPARAMETERS = frozenset({"epochs", "batch_size", "learning_rate_multiplier", "beta",
                                    "seed"})
"""The hyperparameters OpenAI's fine-tuning API takes."""


def preset_capabilities(*, max_upload_bytes: int,
                        methods: frozenset[str] = frozenset({"sft", "dpo"}),
                        hyperparameters: frozenset[str] = OPENAI_HYPERPARAMETERS,
                        pause_resume: bool = False,  # an optional OpenAI route many servers lack
                        needs_deployment: bool = False) -> Capabilities:
    """The capability table of a service that speaks OpenAI's fine-tuning API: events, metrics,
    checkpoints and validation files through OpenAI's routes, server-chosen job ids."""
    return Capabilities(
        methods=methods,
        hyperparameters=hyperparameters,
        cancel=True,
        pause_resume=pause_resume,
        events=True,
        metrics=True,
        checkpoints=True,
        validation_file=True,
        client_chosen_ids=False,
        hosted=True,
        max_upload_bytes=max_upload_bytes,
        needs_deployment=needs_deployment,
        default_poll_interval=15.0,
    )


def single_post_limits(max_file_bytes: int, **ranges: Any) -> Limits:
    """Limits of a service without OpenAI's Uploads API: one ``POST /files`` of at most
    ``max_file_bytes`` is the only way in; ``ranges`` are the other Limits fields."""
    return Limits(max_file_bytes=max_file_bytes, max_upload_bytes=max_file_bytes,
                  chunked_uploads=False, **ranges)


def preset_rules(name: str, **changes: Any) -> RulePack:
    """OpenAI's dataset rules under ``name``, with ``changes`` (sizes, methods, notes)."""
    return replace(OPENAI_RULES, provider=name, **changes)


def write_checked_jsonl(src: str | Path, dst: str | Path, rules: RulePack, *, method: str) -> int:
    """Stream ``src`` into OpenAI JSONL at ``dst``, checked with ``rules``; the count."""
    return stream_wire(src, dst, to_wire, method=method, rules=rules)
