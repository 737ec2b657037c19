"""``--fix``: safe, reported repairs written to a new file (the input is never changed).

Safe means the meaning of an example cannot change: strip a BOM, write ``\\n`` line ends, drop
blank lines, strip leading/trailing whitespace in message text, drop turns with no text (never
one carrying tool calls), and drop exact duplicate examples: a record equal to an earlier one
after those repairs, ``id`` aside (exports give every copy a fresh id; a duplicate teaches the
model nothing new and weighs its answer twice, and validation only warns). Records that differ
in anything else (metadata, weights, tool calls) are kept, and validation still warns about
them. Lines that cannot be parsed are copied unchanged and listed: nothing is dropped without
being reported, and validation still flags what is left.

Duplicates are found by a 128-bit digest per kept record, held in memory (about 100 bytes per
distinct example: 100 MB for a million).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ._guards import loads
from ._lines import iter_lines, write_atomic_lines
from .findings import ValidationReport

__all__ = ["FixReport", "fix_file", "keep_if_valid"]

MAX_CHANGES_LISTED = 1000


@dataclass
class FixReport:
    """What ``fix_file`` changed, per kind of change, with line numbers."""

    source: str
    destination: str
    lines_written: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    changes: list[dict[str, Any]] = field(default_factory=list)
    unparsed_lines: list[int] = field(default_factory=list)
    written: bool = True
    """False when ``finetune validate --fix`` did not keep the copy (errors remained)."""
    dropped_lines: list[int] = field(default_factory=list, repr=False)
    """Source lines not written (blank, duplicate), ascending: to map the copy's lines back."""

    @property
    def duplicates_removed(self) -> int:
        return self.counts["drop_duplicate"]

    def source_line(self, line: int) -> int:
        """The line of the source that became ``line`` of the copy."""
        for dropped in self.dropped_lines:
            if dropped > line:
                break
            line += 1
        return line

    def note(self, line: int, change: str, detail: str = "") -> None:
        self.counts[change] += 1
        if len(self.changes) < MAX_CHANGES_LISTED:
            self.changes.append({"line": line, "change": change, "detail": detail})

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "destination": self.destination,
                "lines_written": self.lines_written, "counts": dict(self.counts),
                "changes": self.changes, "unparsed_lines": self.unparsed_lines,
                "duplicates_removed": self.duplicates_removed, "written": self.written}


def _fix_message_list(messages: list[Any], line: int, where: str, report: FixReport,
                      strip: bool, drop_empty: bool) -> list[Any]:
    kept = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            kept.append(message)
            continue
        content = message.get("content")
        if isinstance(content, str):
            if drop_empty and not content.strip() and not message.get("tool_calls") \
                    and message.get("role") != "tool":
                report.note(line, "drop_empty_turn",
                            f"{where}[{i}] ({message.get('role')}) had no text")
                continue
            if strip and content != content.strip():
                message = {**message, "content": content.strip()}
                report.note(line, "strip_whitespace", f"{where}[{i}].content")
        kept.append(message)
    return kept


def _fix_record(record: Any, line: int, report: FixReport, strip: bool,
                drop_empty: bool) -> Any:
    if not isinstance(record, dict):
        return record
    record = dict(record)
    if isinstance(record.get("messages"), list):
        record["messages"] = _fix_message_list(record["messages"], line, "messages", report,
                                               strip, drop_empty)
    for key in ("prompt", "completion", "input_text", "output_text", "system"):
        value = record.get(key)
        if strip and isinstance(value, str) and value != value.strip():
            record[key] = value.strip()
            report.note(line, "strip_whitespace", key)
    for key in ("chosen", "rejected"):
        value = record.get(key)
        if strip and isinstance(value, dict) and isinstance(value.get("content"), str) \
                and value["content"] != value["content"].strip():
            record[key] = {**value, "content": value["content"].strip()}
            report.note(line, "strip_whitespace", f"{key}.content")
    return record


def _digest(record: Any) -> bytes:
    """What makes two examples exact duplicates: the whole record, ``id`` aside."""
    if isinstance(record, dict) and "id" in record:
        record = {k: v for k, v in record.items() if k != "id"}
    text = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def fix_file(src: str | Path, dst: str | Path, *, strip_whitespace: bool = True,
             drop_empty_turns: bool = True, drop_duplicates: bool = True) -> FixReport:
    """Write a repaired copy of ``src`` to ``dst`` and report every change."""
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise ConfigurationError("--fix writes a new file; give an output path (-o)")
    report = FixReport(str(src), str(dst))
    first_line: dict[bytes, int] = {}  # digest of each kept record -> its line

    def lines():
        for raw in iter_lines(src):
            if raw.had_bom:
                report.note(raw.number, "remove_bom")
            if raw.had_crlf:
                report.counts["crlf_to_lf"] += 1
            if raw.data is None:
                report.unparsed_lines.append(raw.number)
                raise ConfigurationError(
                    f"{src}:{raw.number}: line of {raw.size:,} bytes is over the line limit;"
                    " --fix cannot repair it (remove it from the file first)")
            if not raw.data.strip():
                report.note(raw.number, "drop_blank_line")
                report.dropped_lines.append(raw.number)
                continue
            try:
                text = raw.data.decode("utf-8")
                record = loads(text)  # LineProblem (too deep, lone surrogate) is a ValueError
                fixed = _fix_record(record, raw.number, report, strip_whitespace,
                                    drop_empty_turns)
                line = json.dumps(fixed, ensure_ascii=False) if fixed != record else text
                digest = _digest(fixed) if drop_duplicates else b""
            except (UnicodeDecodeError, ValueError, RecursionError):
                report.unparsed_lines.append(raw.number)
                # Copied byte for byte (surrogateescape round-trips non-UTF-8 bytes); the
                # validation of the copy then reports the line.
                yield raw.data.decode("utf-8", "surrogateescape")
                continue
            if drop_duplicates:
                first = first_line.setdefault(digest, raw.number)
                if first != raw.number:
                    report.note(raw.number, "drop_duplicate", f"same example as line {first}")
                    report.dropped_lines.append(raw.number)
                    continue
            yield line

    report.lines_written = write_atomic_lines(dst, lines())
    from .privacy import carry_marker

    carry_marker(src, dst)  # a repaired sensitive file stays sensitive
    return report


def keep_if_valid(report: ValidationReport, fixed: FixReport, source: Path, staging: Path,
                  target: Path) -> None:
    """``validate --fix``: move the copy fixed into ``staging`` to ``target`` when its
    validation ``report`` has no errors; otherwise keep nothing (never a copy that still
    fails) and point the findings back at ``source`` and its line numbers."""
    from .privacy import sidecar_path

    staged = str(staging)
    if report.ok:
        os.replace(staging, target)
        if sidecar_path(staging).exists():  # a sensitive source gives a sensitive copy
            os.replace(sidecar_path(staging), sidecar_path(target))
        shown, line_of = str(target), None
    else:
        fixed.written = False
        shown, line_of = str(source), fixed.source_line
    fixed.destination = str(target)
    report.file = shown
    for finding in report.findings:
        if finding.file == staged:
            finding.file = shown
            if line_of is not None and finding.line is not None:
                finding.line = line_of(finding.line)
