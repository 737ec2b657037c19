"""Line-level guards every dataset reader shares: nesting too deep, lone surrogates.

Two kinds of line are valid JSON yet unusable, and used to crash the data commands:

- JSON nested thousands of levels deep: ``json.loads`` (and anything that walks the value
  afterwards: ``json.dumps``, ``repr``) raises RecursionError. We catch it where it happens rather
  than pre-scanning every line, so the common path costs nothing (``try`` is free in 3.11).
- a lone surrogate (``"\\ud800"``): JSON allows the escape, but the string cannot be encoded as
  UTF-8, so no vendor (and no file we write) can hold it. Such a code point can only come from a
  ``\\uD800``-``\\uDFFF`` escape in the raw text (UTF-8 bytes never decode to one), so only lines
  holding such an escape are walked, and the walk is iterative (no recursion on deep values).

Validate reports both as findings (``too_deep``, ``lone_surrogate``); every other reader raises
:class:`~finetune_sdk.errors.DatasetError` with the same message and field, via :func:`loads`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import DatasetError
from ._lines import RawLine

__all__ = ["SCAN", "SKIP", "TOO_DEEP", "LineProblem", "check_surrogates", "deep_guard",
           "find_surrogate", "loads", "parse_line", "surrogate_problem"]

TOO_DEEP = ("the JSON is nested too deeply to read (thousands of levels); no dataset format"
            " nests more than a few")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# An escaped backslash, or a well-formed surrogate pair: what surrogate_problem drops.
_PAIR_TEXT = r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_PAIRS = re.compile(r"\\\\|" + _PAIR_TEXT)
_SUSPECT = re.compile(r"\\(?:\\|u[dD](?:[89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
                      r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD])[c-fC-F]))")
# typeshed does not declare scan_once (JSONDecoder.__init__ sets it).
SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
"""The C scanner without json.loads' wrapper: about twice as fast per line."""
_NOT_PARSED = object()
SKIP = object()
"""What :func:`parse_line` returns for a line that has no usable value."""


class LineProblem(ValueError):
    """A line that parses (or nearly) but cannot be used: ``code`` is its finding code."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field

    def dataset_error(self, file: str | None, line: int | None) -> DatasetError:
        return DatasetError(f"{self.message} [{self.code}]", file=file, line=line,
                            field=self.field)


def _walk(value: Any) -> Iterator[tuple[str, Any, bool]]:
    """(field path, string, is a key) for every string in ``value``, without recursion."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            yield path, item, False
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, dict):
            children = []
            for key, v in item.items():
                where = f"{path}.{key}" if path else key
                yield where, key, True
                children.append((where, v))
            stack.extend(reversed(children))


def find_surrogate(record: Any) -> LineProblem | None:
    """The first string of ``record`` holding a lone surrogate, as a problem naming its field."""
    for path, text, is_key in _walk(record):
        if text.isascii():
            continue
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            char = text[exc.start]
            what = "a key" if is_key else "a string"
            path = path.encode("utf-8", "backslashreplace").decode("utf-8")  # keys hold it too
            return LineProblem(
                "lone_surrogate", f"{what} holds the lone surrogate \\u{ord(char):04x} (an"
                " unpaired \\ud800-\\udfff escape), which cannot be written as UTF-8; fix or"
                " remove the escape", path or None)
    return None


def check_surrogates(text: str, record: Any) -> None:
    """Raise the :func:`surrogate_problem` of ``record`` (parsed from ``text``), if any."""
    problem = surrogate_problem(text, record)
    if problem is not None:
        raise problem


def surrogate_problem(text: str, record: Any) -> LineProblem | None:
    """The lone surrogate in ``record`` (parsed from ``text``) as a problem, or None.

    Decided on the raw text, cheapest test first: no backslash at all (one memchr), then one
    regex that finds an escaped backslash, a high escape not followed by a low one, or a low
    one not preceded by a high one (emoji that ``json.dumps`` wrote as a pair pass). Only on a
    hit: drop escaped backslashes and pairs left to right, look for a surrogate escape left
    over, and then walk the record to name the field.
    """
    if "\\" not in text or _SUSPECT.search(text) is None:
        return None
    if _SURROGATE_ESCAPE.search(_PAIRS.sub("", text)) is None:
        return None
    return find_surrogate(record)


def loads(text: str) -> Any:
    """``json.loads`` that raises LineProblem for deep nesting and lone surrogates.

    Other JSON errors stay ValueError (json.JSONDecodeError) for the caller to word.
    """
    try:
        record = json.loads(text)
    except RecursionError:
        raise LineProblem("too_deep", TOO_DEEP) from None
    check_surrogates(text, record)
    return record


def parse_line(raw: RawLine, emit: Callable[..., None]) -> Any:
    """The JSON value of one line, or SKIP after ``emit(line, code, message[, field])``
    said why it has none (validation's line-level findings)."""
    number, data = raw.number, raw.data
    if data is None:
        emit(number, "line_too_long", f"line is {raw.size:,} bytes, over the limit of"
             " FINETUNE_SDK_MAX_LINE_BYTES; it was skipped, not parsed")
        return SKIP
    if raw.had_bom:
        emit(number, "bom", "file starts with a UTF-8 byte-order mark (read and"
             " written without it)")
    if raw.had_crlf:
        emit(number, "crlf", "line ends with \\r\\n (read as \\n; converted files use \\n)")
    if not data or data.isspace():
        emit(number, "blank_line", "blank line")
        return SKIP
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        emit(number, "not_utf8", f"byte {exc.start + 1} of the line is not UTF-8"
             f" ({data[exc.start:exc.start + 1]!r}); save the file as UTF-8")
        return SKIP
    try:
        # Anything unusual (whitespace around the value, errors) goes through json.loads
        # for its message.
        record, stop = SCAN(text, 0)
        if stop != len(text):
            raise ValueError
    except (StopIteration, ValueError):
        record = _NOT_PARSED
    except RecursionError:
        emit(number, "too_deep", TOO_DEEP)
        return SKIP
    if record is _NOT_PARSED:
        try:
            record = json.loads(text)
        except RecursionError:
            emit(number, "too_deep", TOO_DEEP)
            return SKIP
        except ValueError as exc:
            ended = getattr(exc, "pos", 0) >= len(text.rstrip()) - 1 or str(
                exc).startswith("Unterminated")
            hint = "the line ends before the JSON is complete (truncated?)" if ended else \
                "not valid JSON"
            emit(number, "invalid_json", f"{hint}: {exc}")
            return SKIP
    if "\\" in text:  # a lone surrogate needs a \uD8xx-\uDFxx escape: cheap test first
        try:
            check_surrogates(text, record)
        except LineProblem as problem:
            emit(number, problem.code, problem.message, problem.field)
            return SKIP
    return record


@contextmanager
def deep_guard(file: str | None, line: int | None) -> Iterator[None]:
    """Work on one parsed line; a RecursionError (a value nested just under the parser's limit,
    then walked by ``json.dumps`` or ``repr``) becomes the line's DatasetError."""
    try:
        yield
    except RecursionError:
        raise DatasetError(f"{TOO_DEEP} [too_deep]", file=file, line=line) from None
