"""Streaming validation: every problem in a dataset, line-numbered, in constant memory.

``validate_file(path, provider="gemini", base_model=...)`` reads the file line by line as bytes
(a 2 GB line is measured and reported, never loaded), checks JSON, schema, roles and turn order,
the provider's rule pack (counts, file size, tokens per example, tool calls, weights, system
role, alternation), duplicate ids and examples, and leakage into ``validation_path``. Duplicate
and leakage checks keep 64-bit hashes in a temporary SQLite file, so memory stays flat.
Finding codes are catalogued in ``findings.CODES`` and docs/datasets.md.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ._hashes import CONTENT, IDENT, HashStore
from ._lines import iter_lines
from .findings import CODES, Finding, ValidationReport
from .formats import detect_record_format, message_text, to_canonical
from .rules import LOCAL_RULES, RulePack
from .tokens import CHARS_PER_TOKEN, MESSAGE_OVERHEAD, count_example_tokens, get_counter

__all__ = ["Finding", "ValidationReport", "rules_for", "validate_file"]

MAX_FINDINGS = 2000
MAX_PER_CODE = 200
_AGGREGATED = ("whitespace", "crlf", "blank_line", "mixed_formats", "unknown_fields")
_DECODER = json.JSONDecoder()
_NOT_PARSED = object()
_TWO, _STR = {2}, {str}
_CHAT_KEYS = frozenset({"messages", "id", "conversation_id", "tools", "parallel_tool_calls"})
_DEFAULT_ROLES = frozenset({"system", "user", "assistant", "tool", "function", "developer"})
_GENERIC = RulePack(provider="generic", allowed_roles=_DEFAULT_ROLES, supports_tool_calls=True,
                    supports_weights=True, methods=frozenset({"sft", "dpo"}))


def rules_for(provider: str | None) -> RulePack:
    """The rule pack of a provider (aliases allowed); a permissive generic pack for None."""
    if provider is None:
        return _GENERIC
    from ..registry import canonical_name

    name = canonical_name(provider)
    if name == "local":
        return LOCAL_RULES
    if name == "fake":
        return _GENERIC
    from .convert import wire_module

    return wire_module(name).RULES


class _Collector:
    """Findings with caps per code and overall; aggregated codes become one finding each."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        self.first: dict[tuple[str, str], tuple[int | None, str | None, str]] = {}

    def add(self, file: str, line: int | None, code: str, message: str,
            field: str | None = None, severity: str | None = None) -> None:
        severity = severity or CODES[code][0]
        report = self.report
        report.counts[code] += 1
        if severity == "error":
            report.error_count += 1
        if code in _AGGREGATED:
            self.first.setdefault((file, code), (line, field, message))
            return
        if report.counts[code] > MAX_PER_CODE or len(report.findings) >= MAX_FINDINGS:
            report.omitted += 1
            return
        report.findings.append(Finding(file, line, field, severity, code, message))

    def finish(self, per_file: dict[str, Counter[str]]) -> None:
        for (file, code), (line, field, message) in self.first.items():
            n = per_file[file][code]
            extra = f" ({n} lines; first shown)" if n > 1 else ""
            self.report.findings.append(
                Finding(file, line, field, CODES[code][0], code, message + extra))
        self.report.findings.sort(key=lambda f: (f.file, f.line or 0))


class _FileCheck:
    """Validates one file; ``index`` 0 is training, 1 validation (for the leakage join)."""

    def __init__(self, path: Path, index: int, rules: RulePack, out: _Collector,
                 hashes: HashStore, max_tokens: int | None, counter: Any) -> None:
        self.path, self.file, self.index, self.rules = path, str(path), index, rules
        self.out, self.hashes, self.max_tokens, self.counter = out, hashes, max_tokens, counter
        self.format: str | None = None
        self.examples = 0
        self.codes: Counter[str] = Counter()
        self.lines = 0
        self.allowed_roles = rules.allowed_roles

    def emit(self, line: int | None, code: str, message: str, field: str | None = None,
             severity: str | None = None) -> None:
        self.codes[code] += 1
        self.out.add(self.file, line, code, message, field, severity)

    def run(self, start: int = 0, end: int | None = None) -> None:
        emit = self.emit
        # The C scanner without json.loads' wrapper: about twice as fast per line. Anything
        # unusual (whitespace around the value, errors) goes through json.loads for its message.
        scan = _DECODER.scan_once
        for raw in iter_lines(self.path, start=start, end=end):
            number, data = raw.number, raw.data
            self.lines = number
            if data is None:
                emit(number, "line_too_long", f"line is {raw.size:,} bytes, over the limit of"
                     " FINETUNE_SDK_MAX_LINE_BYTES; it was skipped, not parsed")
                continue
            if raw.had_bom:
                emit(number, "bom", "file starts with a UTF-8 byte-order mark")
            if raw.had_crlf:
                emit(number, "crlf", "line ends with \\r\\n")
            if not data.strip():
                emit(number, "blank_line", "blank line")
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                emit(number, "not_utf8", f"byte {exc.start + 1} of the line is not UTF-8"
                     f" ({data[exc.start:exc.start + 1]!r}); save the file as UTF-8")
                continue
            try:
                record, stop = scan(text, 0)
                if stop != len(text):
                    raise ValueError
            except (StopIteration, ValueError):
                record = _NOT_PARSED
            try:
                if record is _NOT_PARSED:
                    record = json.loads(text)
            except ValueError as exc:
                ended = getattr(exc, "pos", 0) >= len(text.rstrip()) - 1 or str(exc).startswith(
                    "Unterminated")
                hint = "the line ends before the JSON is complete (truncated?)" if ended else \
                    "not valid JSON"
                emit(number, "invalid_json", f"{hint}: {exc}")
                continue
            self.record(number, record, data)

    def clean_chat(self, number: int, record: dict[str, Any]) -> bool:
        """Fast path for the common case: a plain chat line with nothing to report.

        Checks with list comprehensions and set operations what ``check_example`` checks one
        message at a time; any doubt returns False and the detailed path runs instead (same
        findings either way: this only skips work when there would be none).
        """
        messages = record.get("messages")
        if type(messages) is not list or not messages or "chosen" in record \
                or "preferred_output" in record:
            return False
        if len(record) > 1 and record.keys() - _CHAT_KEYS:
            return False
        try:
            if {len(m) for m in messages} != _TWO:
                return False  # weight, tool_calls, name...: the detailed path decides
            roles = [m["role"] for m in messages]
            texts = [m["content"] for m in messages]
            if not set(roles) <= self.allowed_roles:
                return False
        except (KeyError, TypeError):
            return False
        if {type(t) for t in texts} != _STR or [
                t for t in texts if not t or t[0].isspace() or t[-1].isspace()]:
            return False
        turns = roles[1:] if roles[0] == "system" else roles
        if not turns or turns[0] != "user" or turns[-1] != "assistant" or "system" in turns:
            return False
        if self.rules.must_alternate and any(a == b for a, b in zip(turns, turns[1:],
                                                                    strict=False)):
            return False
        if roles[0] == "system" and not self.rules.supports_system:
            return False
        if "tool" in roles and not self.rules.supports_tool_calls:
            return False
        limit = self.max_tokens
        if limit is not None:
            tokens = math_ceil(sum(map(len, texts)) / CHARS_PER_TOKEN) + \
                MESSAGE_OVERHEAD * len(texts)
            if tokens > limit // 2:
                return False  # near or over the limit: count properly
        if self.format is None:
            self.format = "chat"
        elif self.format != "chat":
            return False
        self.examples += 1
        pending = self.hashes.pending
        # Same content key as the detailed path, so duplicates match across both paths.
        pending.append((CONTENT, hash("\x1e".join([r + "\x1f" + t for r, t in zip(
            roles, texts, strict=True)])), self.index, number))
        ident = record.get("id")
        if ident is not None:
            pending.append((IDENT, hash(str(ident)), self.index, number))
        return True

    def record(self, number: int, record: Any, data: bytes) -> None:
        if type(record) is dict and self.clean_chat(number, record):
            if len(self.hashes.pending) >= 20_000:
                self.hashes.flush()
            return
        if not isinstance(record, dict):
            self.emit(number, "not_object", f"expected a JSON object, got {type(record).__name__}")
            return
        fmt = detect_record_format(record)
        if fmt is None:
            keys = ", ".join(sorted(record)[:6]) or "none"
            self.emit(number, "unknown_format", "expected 'messages', 'prompt'+'completion',"
                      f" 'input_text'+'output_text' or 'chosen'+'rejected' (keys: {keys})")
            return
        if self.format is None:
            self.format = fmt
        elif fmt != self.format:
            self.emit(number, "mixed_formats", f"this line is {fmt}, the file is {self.format}")
        messages = record.get("messages")
        if fmt == "chat" and type(messages) is list and all(
                type(m) is dict and type(m.get("role")) is str for m in messages):
            # Fast path: a well-formed chat record is already canonical; no copy.
            example = record
            if len(record) > 1 and record.keys() - _CHAT_KEYS:
                self.emit(number, "unknown_fields", "fields not sent to providers: "
                          + ", ".join(sorted(record.keys() - _CHAT_KEYS)[:5]))
        else:
            try:
                example = to_canonical(record, file=self.file, line=number)
            except DatasetError as exc:
                message = str(exc.args[0]).split(": ", 1)[-1].rsplit(" (field", 1)[0]
                self.emit(number, "schema", message, exc.field)
                return
            if "metadata" in example:
                self.emit(number, "unknown_fields", "fields not sent to providers: "
                          + ", ".join(sorted(example["metadata"])[:5]))
        self.examples += 1
        self.check_example(number, example)

    def check_example(self, number: int, example: dict[str, Any]) -> None:
        emit, rules = self.emit, self.rules
        messages = example["messages"]
        preference = "chosen" in example
        if not messages and not preference:
            emit(number, "empty_messages", "the example has no messages", "messages")
            return
        roles = rules.allowed_roles
        chars = 0
        previous = None
        parts: list[str] = []
        for i, message in enumerate(messages):
            role = message["role"]
            content = message.get("content")
            text = content if type(content) is str else message_text(message)
            chars += len(text)
            parts.append(role + "\x1f" + text)
            if role not in roles:
                emit(number, "bad_role", f"role {role!r} is not accepted by {rules.provider}"
                     f" (allowed: {', '.join(sorted(roles))})", f"messages[{i}].role")
            if role == "system":
                if i != 0:
                    emit(number, "system_not_first", "system message must be the first one",
                         f"messages[{i}].role")
                elif not rules.supports_system:
                    emit(number, "system_unsupported", f"{rules.provider} has no system role",
                         f"messages[{i}].role")
            has_tools = role == "tool" or "tool_calls" in message
            if has_tools and not rules.supports_tool_calls:
                emit(number, "tool_calls_unsupported", f"{rules.provider} cannot train on tool"
                     " calls or tool messages", f"messages[{i}]")
            if not text.strip() and not has_tools and type(content) is not list:
                last = i == len(messages) - 1 and role == "assistant"
                emit(number, "empty_assistant" if last else "empty_content",
                     f"{role} message has no text", f"messages[{i}].content")
            elif text != text.strip() and type(content) is str:
                emit(number, "whitespace", "message text has leading/trailing whitespace",
                     f"messages[{i}].content")
            if "weight" in message:
                if message["weight"] not in (0, 1):
                    emit(number, "bad_weight", "weight must be 0 or 1", f"messages[{i}].weight")
                elif not rules.supports_weights:
                    emit(number, "weight_unsupported", f"{rules.provider} does not support"
                         " per-message weight", f"messages[{i}].weight")
            if role != "system" and rules.must_alternate and previous == role:
                emit(number, "not_alternating", f"two {role} turns in a row; {rules.provider}"
                     " needs user and assistant turns to alternate", f"messages[{i}].role")
            if role != "system":
                if previous is None and role != "user":
                    emit(number, "first_not_user", "the conversation should start with a user"
                         " turn", f"messages[{i}].role",
                         "error" if rules.must_alternate else None)
                previous = role
        self.check_ending(number, example, messages, preference, parts)
        tokens = math_ceil(chars / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD * len(messages)
        if preference:
            longer = max(len(message_text(example["chosen"])),
                         len(message_text(example["rejected"])))
            tokens += math_ceil(longer / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD
        limit = self.max_tokens
        if limit is not None and tokens > limit // 2 and self.counter.exact:
            tokens = count_example_tokens(example, self.counter)
        if limit is not None and tokens > limit:
            kind = "" if self.counter.exact else "about "
            emit(number, "too_many_tokens", f"{kind}{tokens:,} tokens, over the {limit:,} limit"
                 f" for this model ({self.counter.name})", "messages",
                 None if rules.token_limit_is_error else "warning")
        content = "\x1e".join(parts)
        if preference:
            content += "\x1d" + message_text(example["chosen"]) + "\x1d" + \
                message_text(example["rejected"])
        # hash() of a str is stable within one process, which is all the store needs.
        self.hashes.add(CONTENT, hash(content), self.index, number)
        ident = example.get("id")
        if ident is not None:
            self.hashes.add(IDENT, hash(str(ident)), self.index, number)

    def check_ending(self, number: int, example: dict[str, Any], messages: list[dict],
                     preference: bool, parts: list[str]) -> None:
        emit = self.emit
        last_role = messages[-1]["role"] if messages else None
        if preference:
            if last_role != "user":
                emit(number, "prompt_not_user", "the prompt must end with a user turn",
                     "messages")
            for key in ("chosen", "rejected"):
                if not message_text(example[key]).strip():
                    emit(number, "empty_assistant", f"the {key} answer is empty", key)
            if message_text(example["chosen"]) == message_text(example["rejected"]):
                emit(number, "identical_pair", "chosen and rejected are identical", "rejected")
            return
        if not any(m["role"] == "assistant" for m in messages):
            emit(number, "no_assistant", "no assistant message to learn from", "messages")
        elif last_role != "assistant":
            emit(number, "last_not_assistant", f"the last turn is {last_role!r}; a training"
                 " example must end with an assistant turn", f"messages[{len(messages) - 1}]")

    def finish_counts(self, duplicates: dict[int, tuple[list, int]] | None = None) -> None:
        """Duplicate ids/examples: from the hash store, or as computed by parallel workers."""
        checks = ((IDENT, "duplicate_id", "same id as line {}", "id"),
                  (CONTENT, "duplicate_example", "same content as line {}", None))
        for kind, code, text, field in checks:
            if duplicates is None:
                pairs = list(self.hashes.duplicates(kind, self.index, MAX_PER_CODE))
                total = self.hashes.count_duplicates(kind, self.index)
            else:
                pairs, total = duplicates[kind]
            for line, first in pairs:
                self.emit(line, code, text.format(first), field)
            # Past the cap, count the rest without listing them.
            extra = total - self.codes[code]
            if extra > 0:
                self.codes[code] += extra
                self.out.report.counts[code] += extra
                self.out.report.omitted += extra
                if CODES[code][0] == "error":
                    self.out.report.error_count += extra


def math_ceil(value: float) -> int:
    whole = int(value)
    return whole + (value > whole)


def validate_file(path: str | Path, *, provider: str | None = None,
                  base_model: str | None = None, validation_path: str | Path | None = None,
                  tokenizer: str | Path | None = None,
                  max_seq_length: int | None = None) -> ValidationReport:
    """Validate a dataset (and optionally its validation file) for ``provider``/``base_model``.

    Returns a report; nothing is raised for bad data (call ``report.raise_for_errors()``).
    A missing file raises DatasetError.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError("no such file (expected a JSONL dataset)", file=str(path))
    rules = rules_for(provider)
    max_tokens = max_seq_length or rules.max_tokens(base_model)
    counter = get_counter(base_model, tokenizer)
    report = ValidationReport(file=str(path), provider=rules.provider if provider else None,
                              base_model=base_model, bytes=path.stat().st_size,
                              max_tokens=max_tokens, token_counter=counter.name)
    out = _Collector(report)
    hashes = HashStore()
    per_file: dict[str, Counter[str]] = {}
    try:
        train = _FileCheck(path, 0, rules, out, hashes, max_tokens, counter)
        from ._parallel import run_parallel, worker_count

        workers = worker_count(path)
        if workers > 1:
            # Without a validation file the duplicate queries run per hash partition in the
            # workers too; with one, the hashes are merged here for the leakage join.
            train.finish_counts(run_parallel(train, workers, merge=validation_path is not None))
        else:
            train.run()
            train.finish_counts()
        per_file[train.file] = train.codes
        report.format, report.examples = train.format, train.examples
        if validation_path is not None:
            vpath = Path(validation_path)
            if not vpath.is_file():
                raise DatasetError("no such validation file", file=str(vpath))
            val = _FileCheck(vpath, 1, rules, out, hashes, max_tokens, counter)
            val.run()
            val.finish_counts()
            per_file[val.file] = val.codes
            report.validation_file, report.validation_examples = val.file, val.examples
            for line, train_line in hashes.overlaps(CONTENT, MAX_PER_CODE):
                val.emit(line, "leakage", f"also in the training file at line {train_line}")
            if rules.max_validation_examples and val.examples > rules.max_validation_examples:
                val.emit(None, "too_many_validation_examples", f"{val.examples:,} validation"
                         f" examples; {rules.provider} takes at most"
                         f" {rules.max_validation_examples:,}")
        _file_rules(train, rules, report)
    finally:
        hashes.close()
    out.finish(per_file)
    return report


def _file_rules(train: _FileCheck, rules: RulePack, report: ValidationReport) -> None:
    emit, n = train.emit, train.examples
    if n == 0 and not report.error_count:
        emit(None, "empty_file", "the file has no examples")
    if n and n < rules.min_examples:
        emit(None, "too_few_examples", f"{n} example(s); {rules.provider} needs at least"
             f" {rules.min_examples}")
    elif n and rules.recommended_min_examples and n < rules.recommended_min_examples:
        emit(None, "few_examples", f"{n} examples; {rules.provider} recommends at least"
             f" {rules.recommended_min_examples}")
    if rules.max_examples and n > rules.max_examples:
        emit(None, "too_many_examples", f"{n:,} examples; {rules.provider} takes at most"
             f" {rules.max_examples:,}")
    if rules.max_file_bytes and report.bytes > rules.max_file_bytes:
        emit(None, "file_too_large", f"{report.bytes:,} bytes; {rules.provider} takes at most"
             f" {rules.max_file_bytes:,}")
    if train.format == "preference" and "dpo" not in rules.methods:
        emit(None, "method_unsupported", f"{rules.provider} cannot train on preference pairs")
