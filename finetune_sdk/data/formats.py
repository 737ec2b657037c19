"""Dataset formats: detect them, read any of them as the canonical example, write them back.

Input formats (auto-detected per line, reported per file by :func:`detect_format`):

- ``chat``: ``{"messages": [{"role": "system"|"user"|"assistant"|"tool", "content": ...}, ...]}``
- ``prompt_completion``: ``{"prompt": str, "completion": str, "system"?: str}`` (TRL style; both
  may also be lists of messages)
- ``input_output``: ``{"input_text": str, "output_text": str, "system"?: str}`` (Gemini style)
- ``preference``: ``{"messages"|"prompt": ..., "chosen": ..., "rejected": ...}`` or OpenAI DPO
  ``{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}``

The canonical example every converter reads is a chat example,
``{"messages": [...], "id"?: str, "conversation_id"?: str, "tools"?: [...], "metadata"?: {...}}``,
and for preference data additionally ``"chosen"``/``"rejected"``: one assistant message each, with
``messages`` holding the prompt. Unknown top-level fields go to ``metadata`` (never dropped here;
wire writers decide what the vendor accepts).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ._guards import LineProblem, loads
from ._lines import iter_lines

__all__ = [
    "FORMATS",
    "detect_format",
    "detect_record_format",
    "from_canonical",
    "is_preference",
    "iter_examples",
    "iter_raw_examples",
    "message_text",
    "to_canonical",
]

FORMATS = ("chat", "prompt_completion", "input_output", "preference")
KEPT_KEYS = {"id", "conversation_id", "tools", "parallel_tool_calls"}
_FORMAT_KEYS = {
    "chat": {"messages"},
    "prompt_completion": {"prompt", "completion", "system"},
    "input_output": {"input_text", "output_text", "system"},
    "preference": {"messages", "prompt", "chosen", "rejected", "system", "input",
                   "preferred_output", "non_preferred_output"},
}
_DETECT_LINES = 50
_PREFERENCE_KEYS = frozenset({"chosen", "rejected", "preferred_output", "non_preferred_output"})
_PAIRS = (("chosen", "rejected"), ("preferred_output", "non_preferred_output"))


def detect_record_format(record: Any) -> str | None:
    """The format of one parsed line, or None when it matches none of them."""
    if not isinstance(record, dict):
        return None
    # One side alone is still a preference row (missing its other half): to_canonical says
    # which side is missing, instead of the row passing as chat with a stray field.
    if not _PREFERENCE_KEYS.isdisjoint(record):
        return "preference"
    if "messages" in record:
        return "chat"
    if "prompt" in record and "completion" in record:
        return "prompt_completion"
    if "input_text" in record and "output_text" in record:
        return "input_output"
    return None


def detect_format(path: str | Path) -> str:
    """The format of a file, from its first parseable lines ("chat", "prompt_completion", ...)."""
    seen: dict[str, int] = {}
    first_bad: tuple[int, str] | None = None  # to say why when nothing is recognised
    for raw in iter_lines(path):
        if raw.data is None or not raw.data.strip():
            continue
        try:
            record = loads(raw.data.decode("utf-8"))
        except UnicodeDecodeError:
            first_bad = first_bad or (raw.number, "is not UTF-8 text (a binary file?)")
            continue
        except LineProblem as problem:
            first_bad = first_bad or (raw.number, problem.message)
            continue
        except ValueError:
            first_bad = first_bad or (raw.number, "is not JSON")
            continue
        fmt = detect_record_format(record)
        if fmt:
            seen[fmt] = seen.get(fmt, 0) + 1
        if sum(seen.values()) >= _DETECT_LINES:
            break
    if not seen:
        why = f"; line {first_bad[0]} {first_bad[1]}" if first_bad else ""
        raise DatasetError(
            "cannot tell the format: expected JSON lines with 'messages', 'prompt'+'completion',"
            f" 'input_text'+'output_text' or 'chosen'+'rejected'{why}", file=str(path))
    return max(seen, key=lambda k: seen[k])


def message_text(message: Any) -> str:
    """The text of a message (string content, or the text parts of a parts list)."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict)
                       and isinstance(p.get("text"), str))
    return ""


def _missing_side(record: dict[str, Any], where: _Where) -> None:
    """A preference row with one answer and not the other: name the missing side."""
    for one, other in _PAIRS:
        for have, lack in ((one, other), (other, one)):
            if have in record and lack not in record:
                raise where.error(f"preference row has {have!r} but no {lack!r}; a pair needs"
                                  " both answers", lack)


def is_preference(example: dict[str, Any]) -> bool:
    return "chosen" in example and "rejected" in example


class _Where:
    """Error factory bound to a file and line."""

    def __init__(self, file: str | None, line: int | None) -> None:
        self.file, self.line = file, line

    def error(self, message: str, field: str | None = None) -> DatasetError:
        return DatasetError(message, file=self.file, line=self.line, field=field)


def _messages(value: Any, where: _Where, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise where.error(f"expected a list of messages, got {type(value).__name__}", field)
    out = []
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise where.error("expected a message object {role, content}", f"{field}[{i}]")
        if not isinstance(message.get("role"), str):
            raise where.error("message has no 'role' string", f"{field}[{i}].role")
        out.append(dict(message))
    return out


def _assistant(value: Any, where: _Where, field: str) -> dict[str, Any]:
    """A chosen/rejected answer: a string, a message, or a one-message list."""
    if isinstance(value, str):
        return {"role": "assistant", "content": value}
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict) and "content" in value:
        return {"role": "assistant", **{k: v for k, v in value.items() if k != "role"}}
    raise where.error("expected the answer as a string or one assistant message", field)


def _user_turns(value: Any, where: _Where, field: str) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return _messages(value, where, field)


def _string(record: dict[str, Any], key: str, where: _Where) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise where.error(f"expected a string, got {type(value).__name__}", key)
    return value


def to_canonical(record: Any, *, file: str | None = None, line: int | None = None) -> dict:
    """Any supported record -> the canonical example. Raises DatasetError naming the field."""
    where = _Where(file, line)
    fmt = detect_record_format(record)
    if fmt is None:
        keys = ", ".join(sorted(record)) if isinstance(record, dict) else type(record).__name__
        raise where.error(
            "not a chat, prompt/completion, input/output or preference record"
            f" (found: {keys or 'an empty object'})")
    example: dict[str, Any] = {}
    system = record.get("system")
    if system is not None and not isinstance(system, str):
        raise where.error("expected a string", "system")
    prefix = [{"role": "system", "content": system}] if system else []
    if fmt == "chat":
        example["messages"] = _messages(record["messages"], where, "messages")
    elif fmt == "prompt_completion":
        prompt, completion = record["prompt"], record["completion"]
        example["messages"] = [*prefix, *_user_turns(prompt, where, "prompt")]
        if isinstance(completion, str):
            example["messages"].append({"role": "assistant", "content": completion})
        else:
            example["messages"] += _messages(completion, where, "completion")
    elif fmt == "input_output":
        example["messages"] = [*prefix,
                               {"role": "user", "content": _string(record, "input_text", where)},
                               {"role": "assistant",
                                "content": _string(record, "output_text", where)}]
    else:
        _missing_side(record, where)
        if "preferred_output" in record:
            source = record.get("input")
            if not isinstance(source, dict):
                raise where.error("expected an object with 'messages'", "input")
            example["messages"] = _messages(source.get("messages"), where, "input.messages")
            if source.get("tools") is not None:
                example["tools"] = source["tools"]
            chosen, rejected = "preferred_output", "non_preferred_output"
        else:
            prompt = record.get("messages", record.get("prompt"))
            if prompt is None:
                raise where.error("preference record needs 'messages' or 'prompt'", "prompt")
            example["messages"] = [*prefix, *_user_turns(prompt, where, "prompt")]
            chosen, rejected = "chosen", "rejected"
        example["chosen"] = _assistant(record.get(chosen), where, chosen)
        example["rejected"] = _assistant(record.get(rejected), where, rejected)
    format_keys = _FORMAT_KEYS[fmt]
    extra = {}
    for key, value in record.items():
        if key in KEPT_KEYS:
            example[key] = value
        elif key not in format_keys:
            extra[key] = value
    if extra:
        example["metadata"] = extra
    return example


def _single_turn(example: dict[str, Any], fmt: str, file: str | None, line: int | None):
    messages = example.get("messages", [])
    system = [m for m in messages if m.get("role") == "system"]
    rest = [m for m in messages if m.get("role") != "system"]
    if len(system) > 1 or [m.get("role") for m in rest] != ["user", "assistant"]:
        raise DatasetError(
            f"only single-turn chats (optional system, one user, one assistant) can be written"
            f" as {fmt}; this one has roles {[m.get('role') for m in messages]}",
            file=file, line=line, field="messages")
    return (message_text(system[0]) if system else None), message_text(rest[0]), \
        message_text(rest[1])


def from_canonical(example: dict[str, Any], fmt: str, *, file: str | None = None,
                   line: int | None = None) -> dict[str, Any]:
    """The canonical example written as one of :data:`FORMATS`."""
    meta: dict[str, Any] = {k: example[k] for k in ("id", "conversation_id") if k in example}
    if fmt == "chat":
        if is_preference(example):
            raise DatasetError("a preference pair is not a chat example (use to='preference')",
                               file=file, line=line, field="chosen")
        return dict(example)
    if fmt == "preference":
        if not is_preference(example):
            raise DatasetError("a chat example has no chosen/rejected pair",
                               file=file, line=line, field="chosen")
        return {**meta, "messages": example["messages"], "chosen": example["chosen"],
                "rejected": example["rejected"]}
    if fmt not in ("prompt_completion", "input_output"):
        raise DatasetError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    system, user, assistant = _single_turn(example, fmt, file, line)
    keys = ("prompt", "completion") if fmt == "prompt_completion" else ("input_text",
                                                                        "output_text")
    out = {**meta, keys[0]: user, keys[1]: assistant}
    if system:
        out["system"] = system
    return out


def iter_examples(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, canonical example)`` for every non-blank line of a JSONL file.

    Streams the file; raises DatasetError with file and line at the first bad line (use
    ``finetune_sdk.data.validate`` to collect every problem instead).
    """
    for number, _raw, example in iter_raw_examples(path):
        yield number, example


def iter_raw_examples(path: str | Path) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """Like :func:`iter_examples`, with each line's bytes too (for tools that copy lines)."""
    file = str(path)
    for raw in iter_lines(path):
        if raw.data is None:
            raise DatasetError(f"line is {raw.size:,} bytes, over the line limit",
                               file=file, line=raw.number)
        if not raw.data.strip():
            continue
        try:
            text = raw.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DatasetError(f"not UTF-8 (byte {exc.start + 1} of the line)",
                               file=file, line=raw.number) from None
        try:
            record = loads(text)
        except LineProblem as problem:
            raise problem.dataset_error(file, raw.number) from None
        except ValueError as exc:
            raise DatasetError(f"not valid JSON ({exc})", file=file, line=raw.number) from None
        yield raw.number, raw.data, to_canonical(record, file=file, line=raw.number)
