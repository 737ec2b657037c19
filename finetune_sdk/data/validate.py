"""Streaming validation: every problem in a dataset, line-numbered, in constant memory.

``validate_file(path, provider="gemini", base_model=...)`` reads the file line by line as bytes
(a 2 GB line is measured and reported, never loaded), checks JSON, schema, roles and turn order,
the provider's rule pack (counts, file size, tokens per example, tool calls, weights, system
role, alternation), duplicate ids and examples, and leakage into ``validation_path``. Duplicate
and leakage checks keep 64-bit hashes in bucketed temporary files (``_hashes``), so memory stays
flat.
Finding codes are catalogued in ``findings.CODES`` and docs/datasets.md.
"""

from __future__ import annotations

import operator
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ._guards import SCAN as _SCAN
from ._guards import SKIP, TOO_DEEP, parse_line, surrogate_problem
from ._hashes import CONTENT, IDENT, HashScan, HashStore
from ._lines import iter_lines, require_file
from ._toolcheck import tool_findings
from .findings import CODES, MAX_PER_CODE, Collector, Finding, ValidationReport
from .formats import detect_record_format, message_text, to_canonical
from .rules import RulePack, file_findings, rules_for
from .tokens import CHARS_PER_TOKEN, MESSAGE_OVERHEAD, count_example_tokens, get_counter

__all__ = ["MAX_PER_CODE", "Finding", "ValidationReport", "rules_for", "validate_file"]

_ROLE, _CONTENT, _TWO = operator.itemgetter("role"), operator.itemgetter("content"), {2}
_KIND = {"preference": "a preference pair (DPO)", "chat": "a chat example (SFT)",
         "prompt_completion": "a prompt/completion example (SFT)",
         "input_output": "an input/output example (SFT)"}
_CHAT_KEYS = frozenset({"messages", "id", "conversation_id", "tools", "parallel_tool_calls"})


class _FileCheck:
    """Validates one file; ``index`` 0 is training, 1 validation (for the leakage join)."""

    def __init__(self, path: Path, index: int, rules: RulePack, out: Collector,
                 hashes: HashStore, max_tokens: int | None, counter: Any) -> None:
        self.path, self.file, self.index, self.rules = path, str(path), index, rules
        self.out, self.hashes, self.max_tokens, self.counter = out, hashes, max_tokens, counter
        self.format: str | None = None
        self.examples = 0
        self.codes: Counter[str] = Counter()
        self.lines = 0
        self.allowed_roles = rules.allowed_roles
        self.shapes: dict[tuple[Any, ...], bool] = {}

    def emit(self, line: int | None, code: str, message: str, field: str | None = None,
             severity: str | None = None) -> None:
        self.codes[code] += 1
        self.out.add(self.file, line, code, message, field, severity)

    def run(self, start: int = 0, end: int | None = None) -> None:
        emit, record = self.emit, self.record
        for raw in iter_lines(self.path, start=start, end=end):
            number, data = raw.number, raw.data
            self.lines = number
            try:
                # Fast path, inline (a call per line costs ~5%): decode and run the C scanner
                # without json.loads' wrapper. Anything unusual (BOM, CRLF, blank, too long,
                # whitespace around the value, any error) goes through parse_line, which
                # parses it again and reports it.
                if raw.had_crlf or raw.had_bom:
                    raise ValueError
                text = data.decode("utf-8")  # type: ignore[union-attr]  # None: too long
                value, stop = _SCAN(text, 0)
                if stop != len(text):
                    raise ValueError
            except (AttributeError, UnicodeDecodeError, StopIteration, ValueError,
                    RecursionError):
                value = parse_line(raw, emit)
                if value is SKIP:
                    continue
            else:
                if "\\" in text:  # a lone surrogate needs a \uD8xx-\uDFxx escape
                    problem = surrogate_problem(text, value)
                    if problem is not None:
                        emit(number, problem.code, problem.message, problem.field)
                        continue
            try:
                record(number, value, data)
            except RecursionError:  # nested just under the parser's limit, then walked
                emit(number, "too_deep", TOO_DEEP)

    def clean_chat(self, number: int, record: dict[str, Any]) -> bool:
        """Fast path for the common case: a plain chat line with nothing to report.

        Checks with C-level calls (map, zip, tuple compares) what ``check_example`` checks one
        message at a time, and caches the verdict on each sequence of roles; any doubt returns
        False and the detailed path runs instead (same findings either way: this only skips
        work when there would be none).
        """
        messages = record.get("messages")
        if type(messages) is not list or not messages:
            return False
        if len(record) > 1 and not _CHAT_KEYS.issuperset(record):
            return False  # preference pairs, unknown fields: the detailed path reports them
        try:
            # Exactly role + content in every message (weight, tool_calls, name...: detailed).
            if {*map(len, messages)} != _TWO:
                return False
            roles = tuple(map(_ROLE, messages))
            texts = tuple(map(_CONTENT, messages))
            shape_ok = self.shapes.get(roles)  # TypeError for an unhashable role
            # str.strip returns the same object when there is nothing to strip, so this is
            # an identity compare per text; TypeError when a content is not a string.
            if tuple(map(str.strip, texts)) != texts or "" in texts:
                return False
        except (KeyError, TypeError):
            return False
        if shape_ok is None:
            shape_ok = self.shape_ok(roles)
            if len(self.shapes) < 4096:
                self.shapes[roles] = shape_ok
        if not shape_ok:
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
        add = self.hashes.add
        # Same content key as check_example, so duplicates match across both paths.
        add(CONTENT, hash((roles, texts)), self.index, number)
        ident = record.get("id")
        if ident is not None:
            add(IDENT, hash(str(ident)), self.index, number)
        return True

    def shape_ok(self, roles: tuple[Any, ...]) -> bool:
        """Whether a sequence of roles passes every role and turn-order rule of the pack."""
        rules = self.rules
        if not set(roles) <= self.allowed_roles:
            return False
        turns = roles[1:] if roles[0] == "system" else roles
        if not turns or turns[0] != "user" or turns[-1] != "assistant" or "system" in turns:
            return False
        if rules.must_alternate and any(a == b for a, b in zip(turns, turns[1:], strict=False)):
            return False
        if roles[0] == "system" and not rules.supports_system:
            return False
        # A tool message must name its call (tool_call_id): the detailed path checks that.
        return "tool" not in roles

    def record(self, number: int, record: Any, data: bytes | None) -> None:
        if type(record) is dict and self.clean_chat(number, record):
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
            if "preference" in (fmt, self.format):
                # One job trains one method: convert and the upload refuse such a file.
                self.emit(number, "mixed_kinds", f"this line is {_KIND[fmt]}, the file starts"
                          f" with {_KIND[self.format]}; put preference pairs in their own file")
            else:
                self.emit(number, "mixed_formats", f"this line is {fmt}, the file is"
                          f" {self.format}")
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
        seen_roles: list[Any] = []
        seen_texts: list[str] = []
        call_ids: set[str] = set()
        for i, message in enumerate(messages):
            role = message["role"]
            content = message.get("content")
            text = content if type(content) is str else message_text(message)
            chars += len(text)
            seen_roles.append(role)
            seen_texts.append(text)
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
            elif has_tools:
                for code, text_, field in tool_findings(message, i, call_ids):
                    emit(number, code, text_, field)
            if content is not None and type(content) is not str and type(content) is not list:
                emit(number, "schema", "content must be a string (or a list of parts), got"
                     f" {type(content).__name__}", f"messages[{i}].content")
            elif not text.strip() and not has_tools and type(content) is not list:
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
        self.check_ending(number, example, messages, preference)
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
        # hash() is stable within one process (and its forks), which is all the store needs.
        fingerprint: tuple[Any, ...] = (tuple(seen_roles), tuple(seen_texts))
        if preference:
            fingerprint += (message_text(example["chosen"]), message_text(example["rejected"]))
        self.hashes.add(CONTENT, hash(fingerprint), self.index, number)
        ident = example.get("id")
        if ident is not None:
            self.hashes.add(IDENT, hash(str(ident)), self.index, number)

    def check_ending(self, number: int, example: dict[str, Any], messages: list[dict],
                     preference: bool) -> None:
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

    def finish_counts(self, scan: HashScan) -> None:
        """Duplicate ids and examples of this file (and leakage, for the validation file)."""
        self.emit_pairs("duplicate_id", *scan.duplicates[(IDENT, self.index)],
                        "same id as line {}", "id")
        self.emit_pairs("duplicate_example", *scan.duplicates[(CONTENT, self.index)],
                        "same content as line {}")
        if self.index == 1:
            self.emit_pairs("leakage", *scan.overlaps[CONTENT],
                            "also in the training file at line {}")

    def emit_pairs(self, code: str, pairs: list[tuple[int, int]], total: int, text: str,
                   field: str | None = None) -> None:
        """One finding per (line, other line) pair; past the cap, the rest are counted."""
        for line, other in pairs:
            self.emit(line, code, text.format(other), field)
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
    require_file(path)
    rules = rules_for(provider)
    max_tokens = max_seq_length or rules.max_tokens(base_model)
    counter = get_counter(base_model, tokenizer)
    report = ValidationReport(file=str(path), provider=rules.provider if provider else None,
                              base_model=base_model, bytes=path.stat().st_size,
                              max_tokens=max_tokens, token_counter=counter.name)
    out = Collector(report)
    hashes = HashStore()
    per_file: dict[str, Counter[str]] = {}
    try:
        train = _FileCheck(path, 0, rules, out, hashes, max_tokens, counter)
        from ._parallel import run_parallel, worker_count

        workers = worker_count(path)
        scan = None
        if workers > 1:
            # Without a validation file the duplicate scan runs per bucket range in the
            # workers too; with one, the workers' hashes join the leakage scan here.
            scan = run_parallel(train, workers, merge=validation_path is not None)
        else:
            train.run()
        report.format, report.examples = train.format, train.examples
        val = None
        if validation_path is not None:
            vpath = require_file(validation_path, "a JSONL validation file")
            val = _FileCheck(vpath, 1, rules, out, hashes, max_tokens, counter)
            val.run()
            report.validation_file, report.validation_examples = val.file, val.examples
        scan = scan or hashes.scan(MAX_PER_CODE)
        train.finish_counts(scan)
        per_file[train.file] = train.codes
        if val is not None:
            val.finish_counts(scan)
            per_file[val.file] = val.codes
            if rules.max_validation_examples and val.examples > rules.max_validation_examples:
                val.emit(None, "too_many_validation_examples", f"{val.examples:,} validation"
                         f" examples; {rules.provider} takes at most"
                         f" {rules.max_validation_examples:,}")
        n = train.examples
        for code, message in file_findings(rules, n, report.bytes, train.format,
                                           empty=n == 0 and not report.error_count):
            train.emit(None, code, message)
    finally:
        hashes.close()
    out.finish(per_file)
    return report
