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
from .._chat_wire import chat_line, from_chat_line

__all__ = ["MAX_FILE_BYTES", "RULES", "from_wire", "to_wire", "write_wire_jsonl"]

MAX_FILE_BYTES = int(50.1 * GB)
"""The together SDK refuses files above 50.1 GB (``MAX_FILE_SIZE_GB``)."""

MESSAGE_KEYS = ("role", "content", "name", "weight", "tool_calls", "tool_call_id")

RULES = RulePack(
    provider="together",
    min_examples=1,
    recommended_min_examples=100,  # "hundreds to thousands" (fine-tuning overview)
    default_max_tokens=None,  # per base model: max_seq_length_sft/dpo of the model limits
    token_limit_is_error=False,
    allowed_roles=frozenset({"system", "user", "assistant", "tool"}),
    supports_system=True,
    supports_tool_calls=True,
    supports_weights=True,  # per-message weight 0|1 (validation_report.dataset_has_message_weights)
    must_alternate=False,
    notes=("JSONL only here (Together also takes tokenized Parquet); at least one example.",
           "Together checks the file again after upload: a file it rejects (INVALID_FORMAT)"
           " stops the job before it is created.",
           "Examples longer than the model's max_seq_length are truncated (packing on by"
           " default)."),
)


def to_wire(example: dict[str, Any], *, method: str = "sft") -> dict[str, Any]:
    """Canonical example -> one Together JSONL line (keys in MESSAGE_KEYS order)."""
    return chat_line(example, MESSAGE_KEYS, method=method)


from_wire = from_chat_line
"""One Together JSONL line -> canonical example."""


def write_wire_jsonl(src: str | Path, dst: str | Path, *, method: str = "sft") -> int:
    """Stream ``src`` (any supported format) into Together JSONL at ``dst``; returns the count."""
    return stream_wire(src, dst, to_wire, method=method)
