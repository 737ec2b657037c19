"""What every OpenAI-compatible preset (``generic.py``, ``azure.py``, ``nebius.py``) builds the
same way: its capability table (OpenAI's, changed where the service differs, never with OpenAI's
wind-down date), its single-request file limits, its dataset rules (OpenAI's, with its own name
and sizes) and its ``write_wire_jsonl``. A preset module passes only what differs.
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
from ..openai.profile import OPENAI, Limits

__all__ = ["preset_capabilities", "preset_rules", "single_post_limits", "write_checked_jsonl"]


def preset_capabilities(*, max_upload_bytes: int, methods: frozenset[str] | None = None,
                        hyperparameters: frozenset[str] | None = None,
                        pause_resume: bool = False,  # an optional OpenAI route many servers lack
                        needs_deployment: bool = False) -> Capabilities:
    """OpenAI's capability table (events, metrics, checkpoints and validation files through
    OpenAI's routes, server-chosen job ids) with this service's upload limit, pause/resume and
    deployment need; ``methods`` / ``hyperparameters``: None keeps OpenAI's."""
    changes: dict[str, Any] = {"max_upload_bytes": max_upload_bytes, "pause_resume": pause_resume,
                               "needs_deployment": needs_deployment,
                               "new_jobs_until": None}  # OpenAI's own sunset, not theirs
    if methods is not None:
        changes["methods"] = methods
    if hyperparameters is not None:
        changes["hyperparameters"] = hyperparameters
    return OPENAI.capabilities.model_copy(update=changes)


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
