"""Chat JSONL -> token ids plus an assistant-only label mask, using the model's own chat template.

Every example is rendered with ``tokenizer.apply_chat_template`` exactly as inference will render
it. The characters that belong to assistant turns are found by rendering growing prefixes of the
conversation (``messages[:i]`` with the generation prompt, then ``messages[:i+1]``): the text
between the two is the assistant's reply including the template's end-of-turn marker, so the
model learns to stop. Tokens whose characters start inside such a span get a label; every other
token gets ``IGNORE_INDEX`` (system prompts, user turns, template scaffolding).

A tokenizer without a chat template gets ``DEFAULT_CHAT_TEMPLATE`` (documented below), and that
template is saved with the trained adapter so inference renders the same text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DatasetError

IGNORE_INDEX = -100

#: Used when the base tokenizer has no chat template. One block per message:
#: ``<|role|>\n{content}\n``; an assistant block ends with the EOS token instead of the newline so
#: the model learns to stop. The generation prompt is ``<|assistant|>\n``.
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}"
    "{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

_ROLES = {"system", "user", "assistant", "developer", "tool"}


@dataclass
class EncodedExample:
    """One conversation as model input: ids and labels have the same length."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool = False

    @property
    def num_label_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


@dataclass
class EncodeReport:
    """What happened while encoding a file, so nothing is dropped silently."""

    examples: int = 0
    truncated: int = 0
    skipped_no_assistant_tokens: int = 0


def ensure_chat_template(tokenizer: Any) -> bool:
    """Give ``tokenizer`` the default template if it has none; True when the default was set."""
    if getattr(tokenizer, "chat_template", None):
        return False
    tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE
    return True


def read_chat_jsonl(path: Path) -> Iterator[tuple[int, list[dict[str, str]]]]:
    """Yield ``(line_number, messages)`` for every non-blank line, validating as it goes."""
    name = str(path)
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"not valid JSON ({exc.msg})", file=name, line=number) from None
            messages = record.get("messages") if isinstance(record, dict) else None
            if not isinstance(messages, list) or not messages:
                raise DatasetError(
                    "expected an object with a non-empty 'messages' list",
                    file=name,
                    line=number,
                    field="messages",
                )
            for index, message in enumerate(messages):
                field = f"messages[{index}]"
                if not isinstance(message, dict):
                    raise DatasetError("expected an object", file=name, line=number, field=field)
                if message.get("role") not in _ROLES:
                    raise DatasetError(
                        f"role must be one of {sorted(_ROLES)}, got {message.get('role')!r}",
                        file=name,
                        line=number,
                        field=f"{field}.role",
                    )
                if not isinstance(message.get("content"), str):
                    raise DatasetError(
                        "content must be a string", file=name, line=number, field=f"{field}.content"
                    )
            if not any(m["role"] == "assistant" for m in messages):
                raise DatasetError(
                    "conversation has no assistant message to learn from",
                    file=name,
                    line=number,
                    field="messages",
                )
            yield number, [{"role": m["role"], "content": m["content"]} for m in messages]


def _render(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation_prompt
    )


def assistant_char_spans(
    tokenizer: Any, messages: list[dict[str, str]]
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the ``[start, end)`` character spans of assistant replies.

    Raises ``ValueError`` when the template does not render prefixes as prefixes (some templates
    rewrite earlier turns, e.g. strip reasoning); such templates need their own masking rule.
    """
    full = _render(tokenizer, messages, False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], True) if i else _render_prompt_only(tokenizer)
        through = _render(tokenizer, messages[: i + 1], False)
        if not through.startswith(before) or not full.startswith(through):
            raise ValueError(
                "the chat template does not render a conversation prefix as a prefix of the whole "
                "conversation, so assistant tokens cannot be located"
            )
        spans.append((len(before), len(through)))
    return full, spans


def _render_prompt_only(tokenizer: Any) -> str:
    # A conversation that opens with the assistant: whatever the template emits before any message
    # (e.g. a BOS) plus the generation prompt. Templates that refuse empty input get "".
    try:
        return _render(tokenizer, [], True)
    except Exception:  # noqa: BLE001 - template-specific refusal of an empty conversation
        return ""


def encode_messages(
    tokenizer: Any, messages: list[dict[str, str]], max_seq_length: int
) -> EncodedExample:
    """Token ids and assistant-only labels for one conversation, cut to ``max_seq_length``."""
    text, spans = assistant_char_spans(tokenizer, messages)
    if getattr(tokenizer, "is_fast", False):
        encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        input_ids = list(encoding["input_ids"])
        labels = [IGNORE_INDEX] * len(input_ids)
        span_index = 0
        for position, (start, end) in enumerate(encoding["offset_mapping"]):
            while span_index < len(spans) and spans[span_index][1] <= start:
                span_index += 1
            if span_index < len(spans) and spans[span_index][0] <= start < spans[span_index][1]:
                labels[position] = input_ids[position]
            elif end > start and span_index < len(spans) and start < spans[span_index][0] < end:
                # A token straddling the span start (merged across the boundary): train on it.
                labels[position] = input_ids[position]
    else:
        # Slow tokenizers have no offsets: tokenize the pieces between span borders separately.
        input_ids, labels, cursor = [], [], 0
        for start, end in [*spans, (len(text), len(text))]:
            for piece, trained in ((text[cursor:start], False), (text[start:end], True)):
                if piece:
                    ids = tokenizer(piece, add_special_tokens=False)["input_ids"]
                    input_ids += ids
                    labels += ids if trained else [IGNORE_INDEX] * len(ids)
            cursor = end
    truncated = len(input_ids) > max_seq_length
    return EncodedExample(input_ids[:max_seq_length], labels[:max_seq_length], truncated)


def encode_file(
    tokenizer: Any, path: Path, max_seq_length: int, report: EncodeReport | None = None
) -> list[EncodedExample]:
    """Encode every conversation of a chat JSONL file; bad lines raise ``DatasetError``.

    Examples left with no assistant token after truncation are skipped and counted in ``report``
    (the caller turns the count into a warning event).
    """
    report = report if report is not None else EncodeReport()
    examples = []
    for number, messages in read_chat_jsonl(path):
        try:
            example = encode_messages(tokenizer, messages, max_seq_length)
        except ValueError as exc:
            raise DatasetError(str(exc), file=str(path), line=number, field="messages") from None
        if example.num_label_tokens == 0:
            report.skipped_no_assistant_tokens += 1
            continue
        report.examples += 1
        report.truncated += int(example.truncated)
        examples.append(example)
    if not examples:
        raise DatasetError(
            "no usable example (every conversation lost its assistant tokens to max_seq_length)",
            file=str(path),
        )
    return examples
