"""Together fine-tuning wire format and dataset rules (pure functions, no SDK import).

SFT line (Together's "conversational" format): ``{"messages": [...], "tools"?: [...]}`` with roles
system/user/assistant/tool; an assistant message may carry ``weight`` (0|1) and ``tool_calls``.
DPO line (Together's "preference_openai" format): ``{"input": {"messages": [...]},
"preferred_output": [assistant], "non_preferred_output": [assistant]}``.

Sources: the together SDK 3.1.1 (``together.lib.constants``: required columns per format, the
four roles, MIN_SAMPLES = 1, MAX_FILE_SIZE_GB = 50.1) and docs.together.ai data preparation.
Together validates the rest on its side after upload (``processing_status``); per-example token
limits depend on the base model (``/fine-tunes/models/limits``), so none is fixed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...data.convert import stream_wire
from ...data.rules import GB, RulePack

__all__ = ["MAX_FILE_BYTES", "RULES", "from_wire", "to_wire", "write_wire_jsonl"]

MAX_FILE_BYTES = int(50.1 * GB)
"""The together SDK refuses files above 50.1 GB (``MAX_FILE_SIZE_GB``)."""

MESSAGE_KEYS = ("role", "content", "name", "weight", "tool_calls", "tool_call_id")

RULES = RulePack(
    provider="together",
    min_examples=1,
    recommended_min_examples=100,  # "hundreds to thousands" (fine-tuning overview)
    max_file_bytes=MAX_FILE_BYTES,
    default_max_tokens=None,  # per base model: max_seq_length_sft/dpo of the model limits
    token_limit_is_error=False,
    allowed_roles=frozenset({"system", "user", "assistant", "tool"}),
    supports_system=True,
    supports_tool_calls=True,
    supports_weights=True,  # per-message weight 0|1 (validation_report.dataset_has_message_weights)
    must_alternate=False,
    methods=frozenset({"sft", "dpo"}),
    notes=("JSONL only here (Together also takes tokenized Parquet); at least one example.",
           "Together checks the file again after upload: a file it rejects (INVALID_FORMAT)"
           " stops the job before it is created.",
           "Examples longer than the model's max_seq_length are truncated (packing on by"
           " default)."),
)


def _message(message: dict[str, Any]) -> dict[str, Any]:
    return {k: message[k] for k in MESSAGE_KEYS if k in message}


def to_wire(example: dict[str, Any], *, method: str = "sft") -> dict[str, Any]:
    """Canonical example -> one Together JSONL line."""
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
    """One Together JSONL line -> canonical example."""
    from ...data.formats import to_canonical

    return to_canonical(line)


def write_wire_jsonl(src: str | Path, dst: str | Path, *, method: str = "sft") -> int:
    """Stream ``src`` (any supported format) into Together JSONL at ``dst``; returns the count."""
    return stream_wire(src, dst, to_wire, method=method)
