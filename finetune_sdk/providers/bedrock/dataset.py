"""Amazon Bedrock fine-tuning wire formats and dataset rules (pure functions, no SDK import).

Bedrock reads JSONL from S3 and the schema depends on the base model:

- ``conversation`` (Amazon Nova, Nova 2, Meta Llama 3.2):
  ``{"schemaVersion": "bedrock-conversation-2024", "system"?: [{"text"}], "messages": [{"role":
  "user"|"assistant", "content": [{"text": str}]}]}``, first turn user, last turn assistant;
- ``messages`` (Anthropic Claude 3 Haiku): ``{"system"?: str, "messages": [{"role", "content":
  str}]}``, user/assistant alternating, first user, last assistant, no other keys;
- ``prompt_completion`` (Meta Llama 3.1): ``{"prompt": str, "completion": str}``, one turn; a
  system message is put in front of the prompt (Llama 3.1 data has no system field).

Only user/assistant text turns exist (no tools, no weights, no preference pairs: Bedrock has no
DPO). ``write_wire_jsonl(src, dst, schema=...)`` is what ``finetune convert --to bedrock`` runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from ...data.convert import stream_wire
from ...data.rules import RulePack
from ...errors import DatasetError

__all__ = ["CONVERSATION_SCHEMA", "RULES", "SCHEMAS", "Schema", "from_wire", "to_wire",
           "write_wire_jsonl"]

Schema = Literal["conversation", "messages", "prompt_completion"]
SCHEMAS: tuple[Schema, ...] = ("conversation", "messages", "prompt_completion")
CONVERSATION_SCHEMA = "bedrock-conversation-2024"
RESERVED = ("\nHuman:", "\nAssistant:")
"""Claude 3 tuning data may not contain these (Anthropic's prompt markers)."""

RULES = RulePack(
    provider="bedrock",
    # Per model (aws-samples validators, 2026-08): Nova 8-20,000 records, Claude 3 Haiku
    # 32-10,000, Llama 10,000 at most. The pack holds the loosest bounds; preflight checks the
    # base model's own (models.py).
    min_examples=8,
    recommended_min_examples=100,
    max_examples=20_000,
    max_tokens_by_model={"anthropic.claude-3-haiku": 32_000},
    default_max_tokens=None,
    token_limit_is_error=True,
    allowed_roles=frozenset({"system", "user", "assistant"}),
    supports_system=True,
    supports_tool_calls=False,
    supports_weights=False,
    must_alternate=True,
    max_validation_examples=1_000,
    notes=("Data goes to S3; the schema depends on the base model (Nova and Llama 3.2:"
           " bedrock-conversation-2024; Claude 3 Haiku: system + messages; Llama 3.1:"
           " prompt/completion, single turn).",
           "Claude 3 Haiku: 32 to 10,000 examples of at most 32,000 tokens (uncertain)."),
)


def _text(message: dict[str, Any], field: str) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not (isinstance(part, dict) and isinstance(part.get("text"), str)):
                raise DatasetError("only text parts can be tuned on Bedrock from this SDK",
                                   field=field)
            texts.append(part["text"])
        return "".join(texts)
    raise DatasetError("expected text content", field=field)


def _turns(example: dict[str, Any]) -> tuple[str | None, list[tuple[str, str]]]:
    """(system text, [(role, text), ...]) with Bedrock's shape rules checked."""
    system: str | None = None
    turns: list[tuple[str, str]] = []
    for i, message in enumerate(example.get("messages") or []):
        role = message.get("role")
        field = f"messages[{i}]"
        if role == "system":
            if turns or system is not None:
                raise DatasetError("Bedrock takes one system prompt, before the first turn",
                                   field=f"{field}.role")
            system = _text(message, f"{field}.content")
            continue
        if role not in ("user", "assistant"):
            raise DatasetError(f"Bedrock has no {role!r} role (only user and assistant)",
                               field=f"{field}.role")
        if message.get("tool_calls"):
            raise DatasetError("tool calls cannot be tuned on Bedrock", field=f"{field}.tool_calls")
        expected = "user" if len(turns) % 2 == 0 else "assistant"
        if role != expected:
            raise DatasetError(f"turns must alternate user/assistant starting with user;"
                               f" expected {expected}", field=f"{field}.role")
        turns.append((role, _text(message, f"{field}.content")))
    if not turns or turns[-1][0] != "assistant":
        raise DatasetError("the last turn must be the assistant's answer", field="messages")
    return system, turns


def to_wire(example: dict[str, Any], *, method: str = "sft",
            schema: Schema = "conversation") -> dict[str, Any]:
    """Canonical example -> one Bedrock JSONL line in ``schema``."""
    if method != "sft":
        raise DatasetError("Bedrock fine-tuning has no preference (DPO) training",
                           field="chosen")
    system, turns = _turns(example)
    if schema == "conversation":
        line: dict[str, Any] = {"schemaVersion": CONVERSATION_SCHEMA}
        if system:
            line["system"] = [{"text": system}]
        line["messages"] = [{"role": r, "content": [{"text": t}]} for r, t in turns]
        return line
    if schema == "messages":
        for text in [system or "", *(t for _, t in turns)]:
            for word in RESERVED:
                if word in text:
                    raise DatasetError(f"Claude tuning data may not contain {word.strip()!r}",
                                       field="messages")
        line = {"system": system} if system else {}
        line["messages"] = [{"role": r, "content": t} for r, t in turns]
        return line
    if schema == "prompt_completion":
        if len(turns) != 2:
            raise DatasetError("this base model trains on single-turn prompt/completion pairs;"
                               f" the example has {len(turns) // 2} user turns",
                               field="messages")
        prompt = turns[0][1] if not system else f"{system}\n\n{turns[0][1]}"
        return {"prompt": prompt, "completion": turns[1][1]}
    raise DatasetError(f"unknown Bedrock data schema {schema!r}; expected one of {SCHEMAS}")


def _content_text(content: Any, field: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict)
                       and isinstance(p.get("text"), str))
    raise DatasetError("expected a string or a list of {text} parts", field=field)


def from_wire(line: dict[str, Any]) -> dict[str, Any]:
    """One Bedrock JSONL line (any of the three schemas) -> canonical example."""
    if "prompt" in line and "completion" in line:
        return {"messages": [{"role": "user", "content": str(line["prompt"])},
                             {"role": "assistant", "content": str(line["completion"])}]}
    messages: list[dict[str, Any]] = []
    system = line.get("system")
    if isinstance(system, list):
        system = "".join(p.get("text", "") for p in system if isinstance(p, dict))
    if system:
        messages.append({"role": "system", "content": str(system)})
    for i, message in enumerate(line.get("messages") or []):
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise DatasetError(f"unknown Bedrock role {role!r}", field=f"messages[{i}].role")
        messages.append({"role": role,
                         "content": _content_text(message.get("content"),
                                                  f"messages[{i}].content")})
    if not messages:
        raise DatasetError("expected 'messages' or 'prompt'+'completion'")
    return {"messages": messages}


def write_wire_jsonl(src: str | Path, dst: str | Path, *, method: str = "sft",
                     schema: Schema = "conversation") -> int:
    """Stream ``src`` into Bedrock JSONL (``schema``) at ``dst``; returns the example count."""
    if schema not in SCHEMAS:
        raise DatasetError(f"unknown Bedrock data schema {schema!r}; expected one of {SCHEMAS}")
    return stream_wire(src, dst, to_wire, method=method, schema=schema)
