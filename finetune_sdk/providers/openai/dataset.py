"""OpenAI fine-tuning wire format and dataset rules (pure functions, no SDK import).

SFT line: ``{"messages": [...], "tools"?: [...], "parallel_tool_calls"?: bool}``; assistant
messages may carry ``weight`` (0|1) and ``tool_calls``. DPO line: ``{"input": {"messages": [...],
"tools"?}, "preferred_output": [assistant], "non_preferred_output": [assistant]}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...data.convert import stream_wire
from ...data.rules import RulePack

__all__ = ["RULES", "from_wire", "to_wire", "write_wire_jsonl"]

MESSAGE_KEYS = ("role", "content", "name", "weight", "tool_calls", "tool_call_id",
                "function_call")

RULES = RulePack(
    provider="openai",
    min_examples=10,
    recommended_min_examples=50,
    max_tokens_by_model={
        # Training context per example (uncertain for current snapshots; longer examples are
        # truncated by OpenAI, so the finding is a warning).
        "gpt-4.1": 65536,
        "gpt-4o-mini": 65536,
        "gpt-4o": 65536,
        "gpt-3.5-turbo": 16385,
        "babbage-002": 16384,
        "davinci-002": 16384,
    },
    default_max_tokens=65536,
    token_limit_is_error=False,
    allowed_roles=frozenset({"system", "user", "assistant", "tool", "function", "developer"}),
    supports_system=True,
    supports_tool_calls=True,
    supports_weights=True,
    must_alternate=False,
    notes=("Minimum 10 examples (50-100 recommended).",
           "DPO: text only; gpt-4.1 family per the guide."),
)


def _message(message: dict[str, Any]) -> dict[str, Any]:
    return {k: message[k] for k in MESSAGE_KEYS if k in message}


def to_wire(example: dict[str, Any], *, method: str = "sft") -> dict[str, Any]:
    """Canonical example -> one OpenAI JSONL line."""
    messages = [_message(m) for m in example["messages"]]
    if method == "dpo":
        source: dict[str, Any] = {"messages": messages}
        if example.get("tools"):
            source["tools"] = example["tools"]
        return {"input": source,
                "preferred_output": [_message(example["chosen"])],
                "non_preferred_output": [_message(example["rejected"])]}
    line: dict[str, Any] = {"messages": messages}
    for key in ("tools", "parallel_tool_calls"):
        if example.get(key) is not None:
            line[key] = example[key]
    return line


def from_wire(line: dict[str, Any]) -> dict[str, Any]:
    """One OpenAI JSONL line -> canonical example."""
    from ...data.formats import to_canonical

    return to_canonical(line)


def write_wire_jsonl(src: str | Path, dst: str | Path, *, method: str = "sft") -> int:
    """Stream ``src`` (any supported format) into OpenAI JSONL at ``dst``; returns the count."""
    return stream_wire(src, dst, to_wire, method=method)
