"""Vertex Gemini tuning wire format and dataset rules (pure functions, no SDK import).

SFT line: ``{"systemInstruction"?: {"parts": [{"text"}]}, "contents": [{"role": "user"|"model",
"parts": [{"text": str}]}]}``. Preference line: ``{"system_instruction"?, "contents": [... ending
with a user turn], "completions": [{"score": 1, "completion": {"role": "model", "parts": [...]}},
{"score": 0, "completion": {...}}]}``. Only user/model roles exist, so tool messages are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...data.convert import stream_wire
from ...data.rules import RulePack
from ...errors import DatasetError

__all__ = ["RULES", "from_wire", "to_wire", "write_wire_jsonl"]

ROLE_TO_WIRE = {"user": "user", "assistant": "model"}
ROLE_FROM_WIRE = {"user": "user", "model": "assistant"}

RULES = RulePack(
    provider="gemini",
    min_examples=1,
    recommended_min_examples=100,
    max_examples=1_000_000,
    max_tokens_by_model={"gemini": 131072},
    default_max_tokens=131072,
    token_limit_is_error=True,
    allowed_roles=frozenset({"system", "user", "assistant"}),
    supports_system=True,
    supports_tool_calls=False,
    supports_weights=False,
    must_alternate=True,
    max_validation_examples=5000,
    notes=("Vertex only; data must be in GCS.", "At most 131,072 tokens per example, 1 GB file."),
)


def _parts(message: dict[str, Any], field: str) -> list[dict[str, str]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"text": content}]
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append({"text": part["text"]})
            else:
                raise DatasetError("only text parts can be converted to Gemini", field=field)
        return parts
    raise DatasetError("expected text content", field=field)


def _contents(messages: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, list[dict]]:
    system: dict[str, Any] | None = None
    contents: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        if role == "system":
            if contents or system is not None:
                raise DatasetError("Gemini takes one system instruction, before the first turn",
                                   field=f"messages[{i}].role")
            system = {"parts": _parts(message, f"messages[{i}].content")}
            continue
        if role not in ROLE_TO_WIRE:
            raise DatasetError(f"Gemini has no {role!r} role (only user and model);"
                               " tool messages cannot be tuned on Vertex",
                               field=f"messages[{i}].role")
        if message.get("tool_calls"):
            raise DatasetError("tool calls cannot be converted to Gemini tuning data",
                               field=f"messages[{i}].tool_calls")
        contents.append({"role": ROLE_TO_WIRE[role],
                         "parts": _parts(message, f"messages[{i}].content")})
    return system, contents


def to_wire(example: dict[str, Any], *, method: str = "sft") -> dict[str, Any]:
    """Canonical example -> one Vertex Gemini JSONL line."""
    system, contents = _contents(example["messages"])
    if method == "dpo":
        line: dict[str, Any] = {}
        if system:
            line["system_instruction"] = system
        line["contents"] = contents
        line["completions"] = [
            {"score": 1, "completion": {"role": "model",
                                        "parts": _parts(example["chosen"], "chosen")}},
            {"score": 0, "completion": {"role": "model",
                                        "parts": _parts(example["rejected"], "rejected")}},
        ]
        return line
    line = {"systemInstruction": system} if system else {}
    line["contents"] = contents
    return line


def _text(parts: Any) -> str:
    if not isinstance(parts, list):
        raise DatasetError("expected a list of parts", field="parts")
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict))


def from_wire(line: dict[str, Any]) -> dict[str, Any]:
    """One Vertex Gemini JSONL line -> canonical example."""
    messages: list[dict[str, Any]] = []
    system = line.get("systemInstruction") or line.get("system_instruction")
    if system:
        messages.append({"role": "system", "content": _text(system.get("parts"))})
    for i, content in enumerate(line.get("contents") or []):
        role = ROLE_FROM_WIRE.get(content.get("role", ""))
        if role is None:
            raise DatasetError(f"unknown Gemini role {content.get('role')!r}",
                               field=f"contents[{i}].role")
        messages.append({"role": role, "content": _text(content.get("parts"))})
    example: dict[str, Any] = {"messages": messages}
    if "completions" in line:
        by_score = {c.get("score"): c.get("completion", {}) for c in line["completions"]}
        if set(by_score) != {0, 1}:
            raise DatasetError("expected one completion with score 1 and one with score 0",
                               field="completions")
        example["chosen"] = {"role": "assistant", "content": _text(by_score[1].get("parts"))}
        example["rejected"] = {"role": "assistant", "content": _text(by_score[0].get("parts"))}
    return example


def write_wire_jsonl(src: str | Path, dst: str | Path, *, method: str = "sft") -> int:
    """Stream ``src`` into Vertex Gemini JSONL at ``dst``; returns the example count."""
    return stream_wire(src, dst, to_wire, method=method)
