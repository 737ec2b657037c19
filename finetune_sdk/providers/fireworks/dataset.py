"""Fireworks fine-tuning wire format and dataset rules (pure functions, no SDK import).

SFT: OpenAI-compatible chat JSONL ``{"messages": [...]}`` (tool calls supported). DPO:
``{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}``
(``non_preferred_output`` inferred from the OpenAI style; uncertain in the docs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...data.convert import stream_wire
from ...data.rules import RulePack
from .._chat_wire import chat_line, from_chat_line

__all__ = ["RULES", "from_wire", "to_wire", "write_wire_jsonl"]

MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id", "weight")

RULES = RulePack(
    provider="fireworks",
    min_examples=3,
    max_examples=3_000_000,
    default_max_tokens=None,  # bounded by the job's maxContextLength / the base model
    token_limit_is_error=False,
    allowed_roles=frozenset({"system", "user", "assistant", "tool"}),
    supports_system=True,
    supports_tool_calls=True,
    supports_weights=False,  # per-message weight is uncertain in the docs
    must_alternate=False,
    notes=("Minimum 3, maximum 3,000,000 examples; .jsonl only.",
           "DPO lines can be written (convert) but the adapter does not launch DPO jobs."),
)


def to_wire(example: dict[str, Any], *, method: str = "sft") -> dict[str, Any]:
    """Canonical example -> one Fireworks JSONL line (keys in MESSAGE_KEYS order)."""
    return chat_line(example, MESSAGE_KEYS, method=method)


from_wire = from_chat_line
"""One Fireworks JSONL line -> canonical example."""


def write_wire_jsonl(src: str | Path, dst: str | Path, *, method: str = "sft") -> int:
    """Stream ``src`` into Fireworks JSONL at ``dst``; returns the example count."""
    return stream_wire(src, dst, to_wire, method=method)
