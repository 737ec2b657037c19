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

__all__ = ["RULES", "from_wire", "to_wire", "write_wire_jsonl"]

MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id", "weight")

RULES = RulePack(
    provider="fireworks",
    min_examples=3,
    max_examples=3_000_000,
    max_file_bytes=None,  # < 150 MB direct upload; larger files go through a signed URL
    default_max_tokens=None,  # bounded by the job's maxContextLength / the base model
    token_limit_is_error=False,
    allowed_roles=frozenset({"system", "user", "assistant", "tool"}),
    supports_system=True,
    supports_tool_calls=True,
    supports_weights=False,  # per-message weight is uncertain in the docs
    must_alternate=False,
    methods=frozenset({"sft"}),  # the adapter runs supervisedFineTuningJobs only
    notes=("Minimum 3, maximum 3,000,000 examples; .jsonl only.",
           "DPO lines can be written (convert) but the adapter does not launch DPO jobs."),
)


def _message(message: dict[str, Any]) -> dict[str, Any]:
    return {k: message[k] for k in MESSAGE_KEYS if k in message}


def to_wire(example: dict[str, Any], *, method: str = "sft") -> dict[str, Any]:
    """Canonical example -> one Fireworks JSONL line."""
    messages = [_message(m) for m in example["messages"]]
    if method == "dpo":
        return {"input": {"messages": messages},
                "preferred_output": [_message(example["chosen"])],
                "non_preferred_output": [_message(example["rejected"])]}
    line: dict[str, Any] = {"messages": messages}
    if example.get("tools"):
        line["tools"] = example["tools"]
    return line


def from_wire(line: dict[str, Any]) -> dict[str, Any]:
    """One Fireworks JSONL line -> canonical example."""
    from ...data.formats import to_canonical

    return to_canonical(line)


def write_wire_jsonl(src: str | Path, dst: str | Path, *, method: str = "sft") -> int:
    """Stream ``src`` into Fireworks JSONL at ``dst``; returns the example count."""
    return stream_wire(src, dst, to_wire, method=method)
