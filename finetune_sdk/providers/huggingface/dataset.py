"""Hugging Face (AutoTrain / TRL) dataset format and rules (pure functions, no SDK import).

SFT: a ``messages`` column of chat messages (AutoTrain ``--text-column messages`` with a chat
template), or with ``column="text"`` a ``text`` column rendered as ChatML. DPO: TRL's
conversational preference format ``{"prompt": [...], "chosen": [assistant], "rejected": [...]}``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ...data.convert import stream_wire
from ...data.formats import message_text
from ...data.rules import RulePack
from ...errors import DatasetError

__all__ = ["RULES", "from_wire", "render_chatml", "to_wire", "write_wire_jsonl"]

MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id")
_CHATML = re.compile(r"<\|im_start\|>(\w+)\n(.*?)<\|im_end\|>\n?", re.S)

RULES = RulePack(
    provider="huggingface",
    min_examples=1,
    default_max_tokens=None,  # AutoTrain truncates at --model-max-length (default 2048)
    token_limit_is_error=False,
    allowed_roles=frozenset({"system", "user", "assistant", "tool"}),
    supports_system=True,
    supports_tool_calls=True,  # depends on the base model's chat template
    supports_weights=False,
    must_alternate=False,
    notes=("AutoTrain applies no minimum count; model_max_length/block_size truncate.",),
)


def _message(message: dict[str, Any]) -> dict[str, Any]:
    return {k: message[k] for k in MESSAGE_KEYS if k in message}


def render_chatml(messages: list[dict[str, Any]]) -> str:
    """Messages as one ChatML string (for a plain ``text`` column)."""
    return "".join(f"<|im_start|>{m['role']}\n{message_text(m)}<|im_end|>\n" for m in messages)


def to_wire(example: dict[str, Any], *, method: str = "sft",
            column: str = "messages") -> dict[str, Any]:
    """Canonical example -> one row for AutoTrain/TRL (``column``: "messages" or "text")."""
    messages = [_message(m) for m in example["messages"]]
    if method == "dpo":
        return {"prompt": messages, "chosen": [_message(example["chosen"])],
                "rejected": [_message(example["rejected"])]}
    if column == "text":
        return {"text": render_chatml(messages)}
    if column != "messages":
        raise DatasetError(f"unknown column {column!r}; expected 'messages' or 'text'")
    return {"messages": messages}


def from_wire(line: dict[str, Any]) -> dict[str, Any]:
    """One AutoTrain/TRL row -> canonical example."""
    from ...data.formats import to_canonical

    if "text" in line and "messages" not in line:
        text = line["text"]
        messages = [{"role": r, "content": c} for r, c in _CHATML.findall(text or "")]
        if not messages:
            raise DatasetError("text is not ChatML (<|im_start|>role ... <|im_end|>)",
                               field="text")
        return {"messages": messages}
    return to_canonical(line)


def write_wire_jsonl(src: str | Path, dst: str | Path, *, method: str = "sft",
                     column: str = "messages") -> int:
    """Stream ``src`` into AutoTrain/TRL JSONL at ``dst``; returns the example count."""
    return stream_wire(src, dst, to_wire, method=method, column=column)
