"""The chat JSONL line that several vendors take for fine-tuning: SFT ``{"messages": [...],
"tools"?: [...]}`` and DPO ``{"input": {"messages": [...]}, "preferred_output": [assistant],
"non_preferred_output": [assistant]}``, each message cut down to the vendor's message keys.

Vendor-neutral: each vendor's ``dataset.py`` keeps its own ``RULES`` and ``to_wire`` (the
converter finds RULES through ``to_wire.__module__``) and passes its key tuple, whose order is
the key order of the JSON it writes, so every vendor's files stay byte-for-byte as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["chat_line", "chat_message", "from_chat_line"]


def chat_message(message: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """``message`` with only ``keys``, in the order of ``keys``."""
    return {k: message[k] for k in keys if k in message}


def chat_line(example: dict[str, Any], keys: Sequence[str], *, method: str) -> dict[str, Any]:
    """Canonical example -> one chat JSONL line (SFT, or DPO for ``method="dpo"``)."""
    messages = [chat_message(m, keys) for m in example["messages"]]
    if method == "dpo":
        return {"input": {"messages": messages},
                "preferred_output": [chat_message(example["chosen"], keys)],
                "non_preferred_output": [chat_message(example["rejected"], keys)]}
    line: dict[str, Any] = {"messages": messages}
    if example.get("tools"):
        line["tools"] = example["tools"]
    return line


def from_chat_line(line: dict[str, Any]) -> dict[str, Any]:
    """One chat JSONL line (SFT or DPO) -> canonical example."""
    from ..data.formats import to_canonical

    return to_canonical(line)
