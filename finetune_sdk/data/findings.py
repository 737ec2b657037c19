"""Findings and the catalogue of every finding code (docs/datasets.md is generated from it)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import DatasetValidationError

__all__ = ["CODES", "MAX_FINDINGS", "MAX_PER_CODE", "Collector", "Finding", "ValidationReport"]

MAX_FINDINGS = 2000
MAX_PER_CODE = 200
"""Findings listed per code and in all; past either cap they are counted, not listed."""
_AGGREGATED = ("whitespace", "crlf", "blank_line", "mixed_formats", "mixed_kinds",
               "unknown_fields")
"""Codes that usually hit every line: one finding per file, with the count."""

# code: (severity, fixable by --fix, what it means)
CODES: dict[str, tuple[str, bool, str]] = {
    "line_too_long": ("error", False, "a line is longer than the line limit; it was not parsed"),
    "not_utf8": ("error", False, "bytes that are not UTF-8"),
    "invalid_json": ("error", False, "the line is not valid JSON (e.g. truncated)"),
    "too_deep": ("error", False, "JSON nested too deeply to read (thousands of levels)"),
    "lone_surrogate": ("error", False, "an unpaired \\ud800-\\udfff escape: not encodable as"
                       " UTF-8, no vendor can read it"),
    "not_object": ("error", False, "the line is JSON but not an object"),
    "unknown_format": ("error", False, "not chat, prompt/completion, input/output or preference"),
    "schema": ("error", False, "a field has the wrong type or is missing"),
    "empty_messages": ("error", False, "the example has no messages"),
    "bad_role": ("error", False, "a role the provider does not accept"),
    "empty_content": ("error", True, "a message with no text (fix: drop that turn)"),
    "empty_assistant": ("error", False, "the final assistant turn is empty"),
    "no_assistant": ("error", False, "no assistant message to learn from"),
    "last_not_assistant": ("error", False, "a chat example must end with an assistant turn"),
    "prompt_not_user": ("error", False, "a preference prompt must end with a user turn"),
    "system_not_first": ("error", False, "a system message after the first turn"),
    "system_unsupported": ("error", False, "the provider has no system role"),
    "first_not_user": ("warning", False, "the first turn after system is not from the user"),
    "not_alternating": ("error", False, "two turns in a row from the same side (provider"
                        " requires user/assistant alternation)"),
    "tool_calls_unsupported": ("error", False, "tool calls or tool messages the provider lacks"),
    "bad_tool_call": ("error", False, "tool_calls not a list of {id, type, function: {name,"
                      " arguments}} with arguments a JSON string"),
    "bad_tool_result": ("error", False, "a tool message without a tool_call_id, or naming no"
                        " earlier call"),
    "weight_unsupported": ("warning", False, "per-message weight the provider ignores/rejects"),
    "bad_weight": ("error", False, "weight must be 0 or 1"),
    "identical_pair": ("warning", False, "chosen and rejected answers are the same"),
    "method_unsupported": ("error", False, "the provider cannot train this method (e.g. DPO)"),
    "too_many_tokens": ("error", False, "the example is longer than the model's limit (warning"
                        " where the provider truncates)"),
    "duplicate_id": ("error", False, "two examples share an id"),
    "duplicate_example": ("warning", False, "the same example appears more than once"),
    "leakage": ("error", False, "a validation example also appears in the training file"),
    "too_few_examples": ("error", False, "fewer examples than the provider's minimum"),
    "few_examples": ("info", False, "fewer examples than the provider recommends"),
    "too_many_examples": ("error", False, "more examples than the provider allows"),
    "too_many_validation_examples": ("error", False, "validation set above the provider's cap"),
    "file_too_large": ("error", False, "the file is larger than the provider accepts"),
    "empty_file": ("error", False, "no examples at all"),
    "whitespace": ("info", True, "leading/trailing whitespace in message text (fix: strip)"),
    "blank_line": ("warning", True, "blank lines (fix: remove)"),
    "bom": ("warning", True, "a UTF-8 byte-order mark; valid, and stripped by convert and"
            " uploads (fix: remove)"),
    "crlf": ("warning", True, "Windows line endings; valid, and written as \\n by convert and"
             " uploads (fix: write \\n)"),
    "mixed_formats": ("warning", False, "lines in different formats in one file"),
    "mixed_kinds": ("error", False, "preference pairs and SFT examples in one file (one job"
                    " trains one method)"),
    "unknown_fields": ("info", False, "fields no provider reads; kept locally, not uploaded"),
}


@dataclass(slots=True)
class Finding:
    """One problem: where (file, line, field), how bad, which code, and what to do."""

    file: str
    line: int | None
    field: str | None
    severity: str
    code: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        suffix = f" (field {self.field})" if self.field else ""
        return f"{where}: {self.severity} [{self.code}] {self.message}{suffix}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ValidationReport:
    """Everything validation found. ``counts`` is complete even when ``findings`` is capped."""

    file: str
    provider: str | None = None
    base_model: str | None = None
    format: str | None = None
    examples: int = 0
    validation_file: str | None = None
    validation_examples: int = 0
    bytes: int = 0
    max_tokens: int | None = None
    token_counter: str = ""
    findings: list[Finding] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    omitted: int = 0
    error_count: int = 0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.error_count

    def raise_for_errors(self) -> None:
        """Raise DatasetValidationError listing every error finding."""
        if self.ok:
            return
        shown = "; ".join(str(f) for f in self.errors[:3])
        more = f" (+{self.error_count - 3} more)" if self.error_count > 3 else ""
        raise DatasetValidationError(f"{self.error_count} error(s): {shown}{more}",
                                     self.errors, file=self.file)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "provider": self.provider, "base_model": self.base_model,
            "format": self.format, "examples": self.examples, "bytes": self.bytes,
            "validation_file": self.validation_file,
            "validation_examples": self.validation_examples, "max_tokens": self.max_tokens,
            "token_counter": self.token_counter, "ok": self.ok, "errors": self.error_count,
            "counts": dict(sorted(self.counts.items())), "omitted_findings": self.omitted,
            "findings": [f.to_dict() for f in self.findings],
        }


class Collector:
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
        """Add the one finding of each aggregated code, then sort everything by file and line."""
        for (file, code), (line, where, message) in self.first.items():
            n = per_file[file][code]
            extra = f" ({n} lines; first shown)" if n > 1 else ""
            self.report.findings.append(
                Finding(file, line, where, CODES[code][0], code, message + extra))
        self.report.findings.sort(key=lambda f: (f.file, f.line or 0))
