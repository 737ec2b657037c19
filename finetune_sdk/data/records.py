"""Build a chat dataset from app records (database rows, CSV/JSON exports).

``build_examples(rows, mapping)`` maps columns to roles (user/assistant/system), applies a rating
filter (e.g. keep rating >= 4) and a system prompt, and optionally joins the turns of one
conversation (``conversation`` + ``turn`` columns) into a multi-turn example. Every dropped row is
counted under a reason, with its row numbers: nothing disappears without a trace.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, DatasetError
from ._guards import TOO_DEEP, LineProblem, loads
from ._lines import write_atomic_lines

__all__ = ["FieldMapping", "RecordsSummary", "build_examples", "export_records", "read_records"]

MAX_ROWS_LISTED = 50


@dataclass
class FieldMapping:
    """Which column holds what. ``min_rating`` keeps rows whose rating is >= it."""

    user: str = "user_message"
    assistant: str = "assistant_reply"
    system: str | None = None
    rating: str | None = "rating"
    min_rating: float | None = None
    conversation: str | None = None
    turn: str | None = None
    id: str | None = None
    system_prompt: str | None = None
    multi_turn: bool = False


@dataclass
class RecordsSummary:
    """Rows read, examples kept, and every drop by reason (with row numbers)."""

    rows: int = 0
    examples: int = 0
    kept_rows: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    dropped_rows: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def drop(self, reason: str, row: int) -> None:
        self.dropped[reason] += 1
        if len(self.dropped_rows[reason]) < MAX_ROWS_LISTED:
            self.dropped_rows[reason].append(row)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "kept_rows": self.kept_rows, "examples": self.examples,
                "dropped": dict(self.dropped), "dropped_rows": dict(self.dropped_rows)}


def _first_bad_utf8_line(path: Path) -> int:
    """The 1-based line holding the first byte that is not UTF-8 (only asked after a failure)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0


def _read_csv(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a field over csv.field_size_limit()
                raise DatasetError(f"not valid CSV ({exc})", file=str(path),
                                   line=reader.line_num + 1) from None
            yield row


def _read_jsonl(path: Path) -> Iterator[Any]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield loads(line)
                except LineProblem as problem:  # too deep, a lone surrogate
                    raise problem.dataset_error(str(path), number) from None
                except ValueError as exc:
                    raise DatasetError(f"not valid JSON ({exc})", file=str(path),
                                       line=number) from None


def _read_json(path: Path) -> Iterator[Any]:
    try:
        data = loads(path.read_text(encoding="utf-8-sig"))
    except LineProblem as problem:
        raise problem.dataset_error(str(path), None) from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise DatasetError(f"not valid JSON ({getattr(exc, 'msg', exc)})", file=str(path),
                           line=line) from None
    if not isinstance(data, list):
        raise DatasetError("expected a JSON list of records", file=str(path))
    yield from data


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a .csv, .jsonl or .json (a list of objects) export.

    Bad input (not UTF-8, broken JSON or CSV) raises DatasetError with the file and line.
    """
    path = Path(path)
    readers = {".csv": _read_csv, ".jsonl": _read_jsonl, ".ndjson": _read_jsonl,
               ".json": _read_json}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise ConfigurationError(f"unknown records file type {path.suffix.lower()!r}; use .csv,"
                                 " .jsonl or .json")
    try:
        yield from reader(path)
    except UnicodeDecodeError:
        raise DatasetError("not UTF-8 text; save the export as UTF-8", file=str(path),
                           line=_first_bad_utf8_line(path) or None) from None


def _text(row: Mapping[str, Any], column: str | None) -> str | None:
    if column is None:
        return None
    value = row.get(column)
    if value is None:
        return None
    return str(value).strip()


def _rating_ok(row: Mapping[str, Any], m: FieldMapping, number: int,
               summary: RecordsSummary) -> bool:
    if m.min_rating is None or m.rating is None:
        return True
    value = row.get(m.rating)
    if value in (None, ""):
        summary.drop("rating_missing", number)
        return False
    try:
        rating = float(value)
    except (TypeError, ValueError):
        summary.drop("rating_not_a_number", number)
        return False
    if rating < m.min_rating:
        summary.drop(f"rating_below_{m.min_rating:g}", number)
        return False
    return True


def build_examples(rows: Iterable[Mapping[str, Any]], mapping: FieldMapping | None = None,
                   summary: RecordsSummary | None = None) -> Iterator[dict[str, Any]]:
    """Yield canonical chat examples from rows; fills ``summary`` as it goes."""
    m = mapping or FieldMapping()
    summary = summary if summary is not None else RecordsSummary()
    if m.multi_turn and not m.conversation:
        raise ConfigurationError("multi_turn needs the conversation column")
    conversations: dict[str, list[tuple[Any, int, str, str, str | None]]] = defaultdict(list)
    for number, row in enumerate(rows, 1):
        summary.rows += 1
        if not isinstance(row, Mapping):
            summary.drop("not_a_record", number)
            continue
        user, assistant = _text(row, m.user), _text(row, m.assistant)
        if m.user not in row or m.assistant not in row:
            summary.drop("missing_column", number)
            continue
        if not user:
            summary.drop("empty_user", number)
            continue
        if not assistant:
            summary.drop("empty_assistant", number)
            continue
        if not _rating_ok(row, m, number, summary):
            continue
        summary.kept_rows += 1
        system = _text(row, m.system) or m.system_prompt
        conv = _text(row, m.conversation)
        if m.multi_turn and conv:
            order: Any = row.get(m.turn) if m.turn else number
            try:
                order = float(order)  # CSV turns are strings: sort "10" after "9"
            except (TypeError, ValueError):
                pass
            conversations[conv].append((order, number, user, assistant, system))
            continue
        example: dict[str, Any] = {}
        if m.id and row.get(m.id) not in (None, ""):
            example["id"] = str(row[m.id])
        if conv:
            example["conversation_id"] = conv
        example["messages"] = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        summary.examples += 1
        yield example
    for conv, turns in conversations.items():
        turns.sort(key=lambda t: (str(type(t[0])), t[0], t[1]))
        system = turns[0][4]
        messages = [{"role": "system", "content": system}] if system else []
        for _order, _number, user, assistant, _system in turns:
            messages += [{"role": "user", "content": user},
                         {"role": "assistant", "content": assistant}]
        summary.examples += 1
        yield {"conversation_id": conv, "messages": messages}


def export_records(src: str | Path, dst: str | Path,
                   mapping: FieldMapping | None = None) -> RecordsSummary:
    """Read an app export and write chat JSONL (atomic) plus the kept/dropped summary."""
    summary = RecordsSummary()
    examples = build_examples(read_records(src), mapping, summary)

    def lines() -> Iterator[str]:
        while True:
            # A value nested just under the parser's limit overflows str() or json.dumps:
            # the row being read (its number) is the one to blame.
            try:
                example = next(examples)
                line = json.dumps(example, ensure_ascii=False)
            except StopIteration:
                return
            except RecursionError:
                raise DatasetError(f"{TOO_DEEP} [too_deep]", file=str(src),
                                   line=summary.rows or None) from None
            yield line

    write_atomic_lines(dst, lines())
    return summary
