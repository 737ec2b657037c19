"""Read a dataset through validation's line checks, stopping at the first error: for writers.

``convert`` and every hosted upload (``convert.stream_wire``) read their input here, so they
refuse exactly what ``finetune validate`` reports as an error on a line (bad JSON, nesting too
deep, lone surrogates, schema, roles, non-string content, weights, tool calls, turn order,
preference pairs missing a side or mixed into SFT data, tokens over an error limit), with the
same message, line and field, before anything is written. The checks run *while* converting:
one pass, no second read of the file. Whole-file rules (minimum/maximum counts, file size,
duplicates, leakage) stay with ``validate`` and the provider's upload preflight: a 3-line sample
can still be converted for a provider whose minimum is 10.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ._guards import SKIP, deep_guard, parse_line
from ._lines import iter_lines
from .findings import CODES
from .formats import to_canonical
from .rules import RulePack, rules_for
from .tokens import EstimateCounter
from .validate import _FileCheck

__all__ = ["iter_checked_examples"]


class _NoHashes:
    """Duplicates are a whole-file rule: nothing to keep."""

    def add(self, *args: Any) -> None:
        return None


class _FirstError(_FileCheck):
    """A file check that raises the first error finding as a DatasetError (warnings pass)."""

    def emit(self, line: int | None, code: str, message: str, field: str | None = None,
             severity: str | None = None) -> None:
        if (severity or CODES[code][0]) == "error":
            raise DatasetError(f"{message} [{code}]", file=self.file, line=line, field=field)


def iter_checked_examples(path: str | Path, rules: RulePack | None = None
                          ) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """``(line, bytes, canonical example)`` for each line that passes ``rules``' line checks
    (the generic pack when None); raises DatasetError at the first line that does not."""
    path = Path(path)
    rules = rules or rules_for(None)
    check = _FirstError(path, 0, rules, None, _NoHashes(), rules.max_tokens(None),  # type: ignore[arg-type]
                        EstimateCounter())
    file, emit = str(path), check.emit
    for raw in iter_lines(path):
        value = parse_line(raw, emit)
        if value is SKIP:
            continue
        with deep_guard(file, raw.number):
            check.record(raw.number, value, raw.data)
            example = to_canonical(value, file=file, line=raw.number)
        yield raw.number, raw.data, example  # type: ignore[misc]
