"""Find and scrub PHI/PII before data leaves the machine; gate every hosted upload.

The detectors live in ``phi_detectors`` (re-exported here): emails, phones, SSNs, MRNs, insurance
member ids, dates of birth, full and partial dates, street addresses, ZIP codes, URLs, IPs and
names (in context or from a caller-supplied list). :func:`scrub_file` replaces each with a typed
placeholder (``[EMAIL]``, ``[PHONE]``, ...) in every string value of every record and reports
counts per type, the lines affected and the first lines of each type; with ``dst=None``
(``finetune scrub --check``) it only counts, without building the scrubbed copy.

How a dataset is *sensitive* and *scrubbed*: a sidecar file ``<dataset>.finetune.json`` next to
the data holds ``{"sensitive": bool, "scrubbed": bool, "sha256": "<hash of the data file>"}``.
:func:`mark_sensitive` writes it; :func:`scrub_file` writes one for its output with
``scrubbed: true`` and the output's hash. A marker counts only while the hash still matches
(edit the file after scrubbing and it is unscrubbed again). Files derived from a marked one
(``convert``, ``split``, ``--fix``) inherit its mark through :func:`carry_marker`, so converting
a sensitive file to a vendor's format does not launder it. :func:`check_upload_allowed` is the gate
``Client.datasets.upload`` calls before every upload. Private by default:

- non-hosted providers (``local``) are always allowed: nothing leaves the machine;
- ``allow_sensitive=True`` (``JobSpec.allow_sensitive``, ``finetune train --allow-sensitive``)
  is the caller's explicit decision and always passes; so does a matching scrub marker;
- a file marked sensitive (``sensitive=True`` or its sidecar) is refused;
- any other file is scanned (streamed, one process per core from 32 MB) and refused when the
  detectors find anything, unless its owner declared this very content not sensitive
  (``mark_sensitive(path, False)``, ``finetune mark-sensitive --unmark``: for synthetic data
  that only looks like PHI). An explicit ``sensitive=False`` does not skip the scan.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DatasetError, SensitiveDataError
from ._guards import TOO_DEEP, LineProblem, loads
from ._lines import file_sha256, iter_lines, write_atomic_lines
from .phi_detectors import (
    Detector,
    NameListDetector,
    Prefilter,
    PresidioDetector,
    RegexDetector,
    default_detectors,
    find_pii,
    scrub_text,
)

__all__ = [
    "Detector", "NameListDetector", "PresidioDetector", "RegexDetector", "ScrubReport",
    "carry_marker", "check_upload_allowed", "default_detectors", "find_pii", "is_scrubbed",
    "mark_sensitive", "read_marker", "scrub_file", "scrub_text", "sidecar_path",
]

_SKIP_KEYS = {"role", "id", "conversation_id", "type", "tool_call_id"}


def _strings(value: Any) -> list[str]:
    """Every string ``_scrub_value`` would scrub, in the same order (a loop with a stack, not
    recursion: this runs for every record, and deep nesting cannot overflow it)."""
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed([v for k, v in item.items() if k not in _SKIP_KEYS]))
    return out


def _count_value(strings: list[str], detectors: Sequence[Detector], counts: Counter[str]) -> None:
    """What ``_scrub_value`` would replace, counted without building the scrubbed copy."""
    for text in strings:
        for _start, _end, kind in find_pii(text, detectors, checked=True):
            counts[kind] += 1


def _scrub_value(value: Any, detectors: Sequence[Detector], counts: Counter[str]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, detectors, counts, checked=True)
    if isinstance(value, list):
        return [_scrub_value(v, detectors, counts) for v in value]
    if isinstance(value, dict):
        return {k: v if k in _SKIP_KEYS else _scrub_value(v, detectors, counts)
                for k, v in value.items()}
    return value


@dataclass
class ScrubReport:
    """What a scrub found: counts per type and the lines that changed."""

    source: str
    destination: str | None
    records: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    lines_affected: list[int] = field(default_factory=list)
    lines_affected_total: int = 0
    first_lines: dict[str, list[int]] = field(default_factory=dict)
    """Per type, the first lines it was found on (at most ``MAX_FIRST_LINES``)."""
    physical_lines: int = field(default=0, repr=False)
    """Lines read, blank ones included (to number the lines of the next parallel range)."""
    MAX_LINES_LISTED = 10_000
    MAX_FIRST_LINES = 5

    def add(self, line: int, counts: Counter[str]) -> None:
        """Record what one line held (nothing when ``counts`` is empty)."""
        if not counts:
            return
        self.counts.update(counts)
        self.lines_affected_total += 1
        if len(self.lines_affected) < self.MAX_LINES_LISTED:
            self.lines_affected.append(line)
        for kind in counts:
            lines = self.first_lines.setdefault(kind, [])
            if len(lines) < self.MAX_FIRST_LINES:
                lines.append(line)

    def merge(self, part: ScrubReport, offset: int) -> None:
        """Add the report of the next byte range, whose line 1 is line ``offset + 1``."""
        self.records += part.records
        self.counts.update(part.counts)
        self.lines_affected_total += part.lines_affected_total
        room = self.MAX_LINES_LISTED - len(self.lines_affected)
        self.lines_affected.extend(offset + n for n in part.lines_affected[:room])
        for kind, lines in part.first_lines.items():
            mine = self.first_lines.setdefault(kind, [])
            mine.extend(offset + n for n in lines[:self.MAX_FIRST_LINES - len(mine)])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "destination": self.destination, "records": self.records,
                "counts": dict(sorted(self.counts.items())), "total": self.total,
                "lines_affected": self.lines_affected,
                "lines_affected_total": self.lines_affected_total,
                "first_lines": dict(sorted(self.first_lines.items()))}


class BadLine(Exception):
    """A line scrub cannot read (its 1-based number in the range read, and why)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(line, message)
        self.line, self.message = line, message


def scrub_lines(src: str | Path, detectors: Sequence[Detector], report: ScrubReport,
                start: int = 0, end: int | None = None, *, write: bool = True,
                lenient: bool = False) -> Iterator[str]:
    """The scrubbed JSON text of each record in a byte range of ``src``; updates ``report``
    (line numbers count from the range's start). Raises BadLine at the first unreadable line.

    ``write=False`` only counts (``scrub --check``, the upload gate) and yields nothing.
    ``lenient`` (the gate, which must not fail where the vendor would report the line) scans an
    unparseable line as plain text instead of raising, and skips one over the line limit.
    """
    prefilter = Prefilter(detectors)
    for raw in iter_lines(src, start=start, end=end):
        report.physical_lines = raw.number
        if raw.data is None:
            if lenient:
                continue
            raise BadLine(raw.number, f"line is {raw.size:,} bytes, over the line limit")
        if not raw.data.strip():
            continue
        counts: Counter[str] = Counter()
        try:
            record = loads(raw.data.decode("utf-8"))
        except LineProblem as problem:  # nesting too deep, a lone surrogate
            if not lenient:
                raise BadLine(raw.number, f"{problem.message} [{problem.code}]"
                              + (f" (field {problem.field})" if problem.field else "")) from None
            record = raw.data.decode("utf-8", "replace")
        except (ValueError, UnicodeDecodeError) as exc:
            if not lenient:
                raise BadLine(raw.number, f"not valid UTF-8 JSON ({exc}); run finetune validate"
                              ) from None
            record = raw.data.decode("utf-8", "replace")
        try:
            # The detectors that may match anywhere in the record, decided once over all its
            # strings joined with NUL (a word found across two strings only costs a search).
            strings = _strings(record)
            candidates = prefilter.candidates("\x00".join(strings))
            if write:
                if candidates:
                    record = _scrub_value(record, candidates, counts)
                text = json.dumps(record, ensure_ascii=False)
            elif candidates:
                _count_value(strings, candidates, counts)
        except RecursionError:  # nested just under the parser's limit: the walk overflows
            if not lenient:
                raise BadLine(raw.number, f"{TOO_DEEP} [too_deep]") from None
        report.records += 1
        report.add(raw.number, counts)
        if write:
            yield text


def scrub_file(src: str | Path, dst: str | Path | None, *, names: Iterable[str] = (),
               detectors: Sequence[Detector] | None = None, lenient: bool = False
               ) -> ScrubReport:
    """Scrub every string value of every JSONL record; write ``dst`` (atomic) with a scrubbed
    marker. ``dst=None`` only scans and reports. Bad lines raise DatasetError (nothing dropped,
    nothing written; with ``lenient``, scan-only, they are scanned as text). Files of 32 MB and
    more are scrubbed by one forked process per core."""
    from ._parallel import worker_count

    detectors = list(detectors) if detectors is not None else default_detectors(names)
    report = ScrubReport(str(src), str(dst) if dst is not None else None)
    try:
        workers = worker_count(Path(src))
        if workers > 1:
            from ._parallel_scrub import scrub_parallel

            scrub_parallel(src, dst, detectors, report, workers, lenient=lenient and dst is None)
        elif dst is None:
            for _ in scrub_lines(src, detectors, report, write=False, lenient=lenient):
                pass
        else:
            write_atomic_lines(dst, scrub_lines(src, detectors, report))
    except BadLine as bad:
        raise DatasetError(bad.message, file=str(src), line=bad.line) from None
    if dst is not None:
        _write_marker(Path(dst), {"sensitive": True, "scrubbed": True,
                                  "sha256": file_sha256(dst), "scrubbed_from": str(src),
                                  "counts": dict(report.counts)})
    return report


def sidecar_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".finetune.json")


def read_marker(path: str | Path) -> dict[str, Any]:
    """The sidecar marker of a dataset, or {} when there is none (or it is unreadable)."""
    try:
        data = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_marker(path: Path, data: dict[str, Any]) -> None:
    write_atomic_lines(sidecar_path(path), iter([json.dumps(data, indent=2)]))


def mark_sensitive(path: str | Path, sensitive: bool = True) -> None:
    """Mark (or unmark) a dataset as containing sensitive data (writes the sidecar)."""
    marker = read_marker(path)
    marker.update(sensitive=sensitive, sha256=file_sha256(path))
    marker.setdefault("scrubbed", False)
    _write_marker(Path(path), marker)


def carry_marker(src: str | Path, dst: str | Path) -> None:
    """Give ``dst`` (just written from ``src`` by convert/split/fix) the sensitivity of ``src``.

    Those steps add no text, so a scrubbed source gives a scrubbed output (with the output's
    own hash); a sensitive unscrubbed source gives a sensitive unscrubbed output; a source its
    owner declared not sensitive (unchanged since) gives an output declared the same, so a split
    of reviewed synthetic data uploads without a second review. An unmarked source leaves
    ``dst`` as it is: any older sidecar of ``dst`` keeps refusing if it said sensitive (its hash
    no longer matches, so it can never count as scrubbed).
    """
    marker = read_marker(src)
    if marker and _reviewed(Path(src), marker):
        _write_marker(Path(dst), {"sensitive": False, "scrubbed": False,
                                  "sha256": file_sha256(dst), "derived_from": str(src)})
    if not marker.get("sensitive"):
        return
    _write_marker(Path(dst), {"sensitive": True, "scrubbed": is_scrubbed(src),
                              "sha256": file_sha256(dst), "derived_from": str(src)})


def is_scrubbed(path: str | Path) -> bool:
    """True when the sidecar says scrubbed and the file is unchanged since."""
    marker = read_marker(path)
    return bool(marker.get("scrubbed")) and marker.get("sha256") == file_sha256(path)


def _reviewed(path: Path, marker: dict[str, Any]) -> bool:
    """True when the owner declared this very content not sensitive (``mark_sensitive(path,
    False)`` / ``finetune mark-sensitive --unmark``) and the file is unchanged since."""
    return marker.get("sensitive") is False and marker.get("sha256") == file_sha256(path)


def _ways_out(path: Path) -> str:
    scrubbed = path.with_name(f"{path.stem}.scrubbed{path.suffix or '.jsonl'}")
    return (f"Either scrub it (`finetune scrub {path} -o {scrubbed}`) and upload the scrubbed"
            " copy, or, if this data may leave the machine, say so: allow_sensitive=True"
            " (client.datasets.upload, JobSpec.allow_sensitive) or `finetune train"
            " --allow-sensitive`")


def _found(report: ScrubReport) -> str:
    kinds = sorted(report.counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{kind} {n} (line{'s' if len(report.first_lines[kind]) > 1 else ''}"
                     f" {', '.join(map(str, report.first_lines[kind][:3]))}"
                     f"{', ...' if n > 3 else ''})" for kind, n in kinds)


def check_upload_allowed(path: Path, *, provider: str, hosted: bool, sensitive: bool | None,
                         allow_sensitive: bool) -> ScrubReport | None:
    """Raise SensitiveDataError before sensitive data would leave the machine unscrubbed.

    Hosted providers only. Passes with ``allow_sensitive`` (the caller's decision) or a scrub
    marker that matches the file. Otherwise a file marked sensitive (``sensitive=True`` or its
    sidecar) is refused; one not marked is scanned with the same detectors as ``finetune scrub
    --check`` and refused when they find anything, unless its owner unmarked this very content
    (``mark_sensitive(path, False)``). Returns the scan's report when it ran (nothing found).
    The error names the file, the count and first lines of each type, and the ways out.
    """
    if not hosted or provider == "local":
        return None
    if allow_sensitive:
        logging.getLogger("finetune_sdk").info(
            "uploading %s to %s unscanned: allow_sensitive=True", path, provider)
        return None
    path = Path(path)
    marker = read_marker(path)
    if marker and is_scrubbed(path):
        return None
    if sensitive or marker.get("sensitive"):
        raise SensitiveDataError(
            f"marked sensitive and not scrubbed; refusing to upload it to {provider}."
            f" {_ways_out(path)}.", file=str(path))
    if marker and _reviewed(path, marker):
        return None
    report = scrub_file(path, None, lenient=True)
    if not report.total:
        return report
    noun = "record" if report.records == 1 else "records"
    error = SensitiveDataError(
        f"looks like it holds PHI/PII, found by the same detectors as `finetune scrub --check`"
        f" in {report.lines_affected_total} of {report.records} {noun}: {_found(report)};"
        f" it is not marked scrubbed, so it is not uploaded to {provider}. {_ways_out(path)}."
        " If these are not real identifiers (synthetic data), `finetune mark-sensitive --unmark"
        " FILE` records that for this version of the file", file=str(path))
    error.report = report  # type: ignore[attr-defined]
    raise error
