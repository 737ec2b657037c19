"""Find and scrub PHI/PII before data leaves the machine; gate hosted uploads of sensitive data.

Detectors (pluggable, see :class:`Detector`) find emails, phone numbers, SSN-like ids, medical
record numbers, dates of birth and other full dates, street addresses, URLs, IP addresses and
names from a caller-supplied list; :func:`scrub_file` replaces each with a typed placeholder
(``[EMAIL]``, ``[PHONE]``, ``[SSN]``, ``[MRN]``, ``[DOB]``, ``[DATE]``, ``[ADDRESS]``, ``[URL]``,
``[IP]``, ``[NAME]``) in every string value of every record and reports counts per type and the
lines affected. Presidio joins in with ``PresidioDetector`` when ``presidio-analyzer`` is installed.

How a dataset is *sensitive* and *scrubbed*: a sidecar file ``<dataset>.finetune.json`` next to
the data holds ``{"sensitive": bool, "scrubbed": bool, "sha256": "<hash of the data file>"}``.
:func:`mark_sensitive` writes it; :func:`scrub_file` writes one for its output with
``scrubbed: true`` and the output's hash. A scrub marker counts only while the hash still matches
(edit the file after scrubbing and it is unscrubbed again). Files derived from a marked one
(``convert``, ``split``, ``--fix``) inherit its mark through :func:`carry_marker`, so converting
a sensitive file to a vendor's format does not launder it. :func:`check_upload_allowed` is the gate
``Client.datasets.upload`` calls before every upload:

- non-hosted providers (``local``) are always allowed: nothing leaves the machine;
- the file is sensitive if the caller says ``sensitive=True`` or its sidecar says so (an explicit
  ``sensitive=False`` does not clear a sidecar mark; ``mark_sensitive(path, False)`` does);
- a sensitive file goes to a hosted provider only if it was scrubbed, or with
  ``allow_sensitive=True`` (the caller's explicit, logged decision).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import DatasetError, SensitiveDataError
from ._guards import TOO_DEEP, LineProblem, loads
from ._lines import file_sha256, iter_lines, write_atomic_lines

__all__ = [
    "Detector", "NameListDetector", "PresidioDetector", "RegexDetector", "ScrubReport",
    "carry_marker", "check_upload_allowed", "default_detectors", "find_pii", "is_scrubbed",
    "mark_sensitive", "read_marker", "scrub_file", "scrub_text", "sidecar_path",
]

Span = tuple[int, int, str]
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DATE = (rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})|\d{{4}}-\d{{2}}-\d{{2}}"
         rf"|{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}|\d{{1,2}} {_MONTH}\.?,? \d{{4}})")
_STREET = (r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way"
           r"|place|pl|terrace|circle|cir|highway|hwy)")


class Detector(Protocol):
    """Anything with ``find(text) -> iterable of (start, end, TYPE)``."""

    def find(self, text: str) -> Iterable[Span]: ...


@dataclass
class RegexDetector:
    r"""One PHI type by regular expression; ``group`` picks the part to replace.

    ``hint`` is an optional cheap pattern that every match of ``pattern`` contains (a necessary
    condition): text without it is skipped. Python's ``re`` scans a pattern that starts with
    ``\b`` or a case-insensitive alternation position by position; a hint that starts with a
    literal or ``\d`` is found with a fast character scan, and most chat text has no PHI.
    """

    type: str
    pattern: re.Pattern[str]
    group: int = 0
    hint: re.Pattern[str] | None = None

    def may_match(self, text: str) -> bool:
        """False only when ``pattern`` surely finds nothing in ``text``."""
        return self.hint is None or self.hint.search(text) is not None

    def find(self, text: str) -> Iterator[Span]:
        if not self.may_match(text):
            return
        for match in self.pattern.finditer(text):
            yield match.start(self.group), match.end(self.group), self.type


class NameListDetector:
    """Names the caller knows (patients, staff), matched as whole words, case-insensitive."""

    def __init__(self, names: Iterable[str]) -> None:
        words = sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True)
        self.pattern = (re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", re.I)
                        if words else None)

    def find(self, text: str) -> Iterator[Span]:
        if self.pattern is not None:
            for match in self.pattern.finditer(text):
                yield match.start(), match.end(), "NAME"


class PresidioDetector:
    """Microsoft Presidio's analyzer (optional; ``pip install presidio-analyzer``)."""

    TYPES = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "US_SSN": "SSN", "PERSON": "NAME",
             "URL": "URL", "IP_ADDRESS": "IP", "DATE_TIME": "DATE", "LOCATION": "ADDRESS",
             "MEDICAL_LICENSE": "MRN"}

    def __init__(self, language: str = "en") -> None:
        try:
            from presidio_analyzer import AnalyzerEngine  # type: ignore[import-not-found]
        except ImportError as exc:
            raise ImportError("PresidioDetector needs: pip install presidio-analyzer") from exc
        self._engine, self.language = AnalyzerEngine(), language

    def find(self, text: str) -> Iterator[Span]:
        for result in self._engine.analyze(text=text, language=self.language):
            yield result.start, result.end, self.TYPES.get(result.entity_type, result.entity_type)


def default_detectors(names: Iterable[str] = ()) -> list[Detector]:
    """The built-in regex detectors plus a name list."""
    flags = re.I
    # Each hint matches a piece every match must contain (see RegexDetector), written to start
    # with a character class so re can skip ahead fast; tests/test_data_privacy.py checks that
    # hints never change what is found.
    detectors: list[Detector] = [
        RegexDetector("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)]",
                                        flags), hint=re.compile(r"[:Ww](?://|(?i:ww\.))")),
        RegexDetector("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
                      hint=re.compile("@")),
        RegexDetector("IP", re.compile(
            r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"
            r"|\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b", flags),
            hint=re.compile(r"[0-9a-fA-F][.:][0-9a-fA-F]")),
        RegexDetector("MRN", re.compile(
            r"\b(?:MRN|medical record(?:\s+(?:number|no\.?|#))?|patient\s+(?:id|number)|chart"
            r"\s+(?:no\.?|number|#))[\s:#.-]*([A-Z]{0,3}-?\d[\dA-Z-]{3,})", flags), 1,
            hint=re.compile(r"[MmPpCc](?i:rn|edical|atient|hart)")),
        RegexDetector("DOB", re.compile(
            rf"\b(?:DOB|D\.O\.B\.?|date of birth|birth ?date|born(?: on)?|birthday)"
            rf"(?:\s+(?:is|was|=))?[\s:,-]*({_DATE})", flags), 1,
            hint=re.compile(r"[DdBb](?i:ob|\.o\.b|irth|orn)")),
        RegexDetector("SSN", re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"),
                      hint=re.compile(r"\d-\d\d-\d")),
        RegexDetector("PHONE", re.compile(
            r"(?<![\w-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])"
            r"|(?<![\w-])\+\d{1,3}(?:[\s.-]\d{2,5}){2,4}(?![\w-])"),
            hint=re.compile(r"[\d+](?:(?<=\d)[\s.-]\d{4}|(?<=\+)\d)")),
        RegexDetector("ADDRESS", re.compile(
            rf"\b\d{{1,6}}\s+(?:[A-Za-z][A-Za-z'-]*\s+){{1,4}}{_STREET}\b\.?"
            r"(?:,?\s+(?:apt|apartment|suite|unit|#)\.?\s*\w+)?", flags),
            hint=re.compile(r"\d\s")),
        RegexDetector("DATE", re.compile(rf"\b{_DATE}\b", flags),
                      hint=re.compile(r"\d(?:\d{3}|[/.-]\d)")),
    ]
    detectors.append(NameListDetector(names))
    return detectors


def find_pii(text: str, detectors: Sequence[Detector]) -> list[Span]:
    """Non-overlapping spans; earlier detectors and longer matches win."""
    found: list[tuple[int, int, int, str]] = []
    for rank, detector in enumerate(detectors):
        for start, end, kind in detector.find(text):
            if end > start:
                found.append((start, -(end - start), rank, kind))
    spans: list[Span] = []
    taken_until = -1
    for start, neg_len, _rank, kind in sorted(found):
        if start >= taken_until:
            spans.append((start, start - neg_len, kind))
            taken_until = start - neg_len
    return spans


def scrub_text(text: str, detectors: Sequence[Detector], counts: Counter[str] | None = None) -> str:
    """``text`` with every detected span replaced by ``[TYPE]``."""
    spans = find_pii(text, detectors)
    if not spans:
        return text
    out, last = [], 0
    for start, end, kind in spans:
        out.append(text[last:start])
        out.append(f"[{kind}]")
        last = end
        if counts is not None:
            counts[kind] += 1
    out.append(text[last:])
    return "".join(out)


_SKIP_KEYS = {"role", "id", "conversation_id", "type", "tool_call_id"}


def _strings(value: Any) -> Iterator[str]:
    """Every string ``_scrub_value`` would scrub, in the same walk."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _SKIP_KEYS:
                yield from _strings(item)


def _detectors_for(record: Any, detectors: Sequence[Detector]) -> list[Detector]:
    """The detectors that may match somewhere in the record: one hint search per detector
    over all its strings joined with NUL (a hint matching across two strings would only cost
    a wasted search) instead of one per string."""
    joined = "\x00".join(_strings(record))
    return [d for d in detectors if not isinstance(d, RegexDetector) or d.may_match(joined)]


def _scrub_value(value: Any, detectors: Sequence[Detector], counts: Counter[str]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, detectors, counts)
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
    physical_lines: int = field(default=0, repr=False)
    """Lines read, blank ones included (to number the lines of the next parallel range)."""
    MAX_LINES_LISTED = 10_000

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "destination": self.destination, "records": self.records,
                "counts": dict(sorted(self.counts.items())), "total": self.total,
                "lines_affected": self.lines_affected,
                "lines_affected_total": self.lines_affected_total}


class BadLine(Exception):
    """A line scrub cannot read (its 1-based number in the range read, and why)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(line, message)
        self.line, self.message = line, message


def scrub_lines(src: str | Path, detectors: Sequence[Detector], report: ScrubReport,
                start: int = 0, end: int | None = None) -> Iterator[str]:
    """The scrubbed JSON text of each record in a byte range of ``src``; updates ``report``
    (line numbers count from the range's start). Raises BadLine at the first unreadable line."""
    for raw in iter_lines(src, start=start, end=end):
        report.physical_lines = raw.number
        if raw.data is None:
            raise BadLine(raw.number, f"line is {raw.size:,} bytes, over the line limit")
        if not raw.data.strip():
            continue
        try:
            record = loads(raw.data.decode("utf-8"))
        except LineProblem as problem:  # nesting too deep, a lone surrogate
            raise BadLine(raw.number, f"{problem.message} [{problem.code}]"
                          + (f" (field {problem.field})" if problem.field else "")) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadLine(raw.number, f"not valid UTF-8 JSON ({exc}); run finetune validate"
                          ) from None
        counts: Counter[str] = Counter()
        try:
            record = _scrub_value(record, _detectors_for(record, detectors), counts)
            text = json.dumps(record, ensure_ascii=False)
        except RecursionError:  # nested just under the parser's limit: the walk overflows
            raise BadLine(raw.number, f"{TOO_DEEP} [too_deep]") from None
        report.records += 1
        if counts:
            report.counts.update(counts)
            report.lines_affected_total += 1
            if len(report.lines_affected) < report.MAX_LINES_LISTED:
                report.lines_affected.append(raw.number)
        yield text


def scrub_file(src: str | Path, dst: str | Path | None, *, names: Iterable[str] = (),
               detectors: Sequence[Detector] | None = None) -> ScrubReport:
    """Scrub every string value of every JSONL record; write ``dst`` (atomic) with a scrubbed
    marker. ``dst=None`` only scans and reports. Bad lines raise DatasetError (nothing dropped,
    nothing written). Files of 32 MB and more are scrubbed by one forked process per core."""
    from ._parallel import worker_count

    detectors = list(detectors) if detectors is not None else default_detectors(names)
    report = ScrubReport(str(src), str(dst) if dst is not None else None)
    try:
        workers = worker_count(Path(src))
        if workers > 1:
            from ._parallel_scrub import scrub_parallel

            scrub_parallel(src, dst, detectors, report, workers)
        elif dst is None:
            for _ in scrub_lines(src, detectors, report):
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
    own hash); a sensitive unscrubbed source gives a sensitive unscrubbed output. An unmarked
    source leaves ``dst`` as it is: any older sidecar of ``dst`` keeps refusing if it said
    sensitive (its hash no longer matches, so it can never count as scrubbed).
    """
    marker = read_marker(src)
    if not marker.get("sensitive"):
        return
    _write_marker(Path(dst), {"sensitive": True, "scrubbed": is_scrubbed(src),
                              "sha256": file_sha256(dst), "derived_from": str(src)})


def is_scrubbed(path: str | Path) -> bool:
    """True when the sidecar says scrubbed and the file is unchanged since."""
    marker = read_marker(path)
    return bool(marker.get("scrubbed")) and marker.get("sha256") == file_sha256(path)


def check_upload_allowed(path: Path, *, provider: str, hosted: bool, sensitive: bool | None,
                         allow_sensitive: bool) -> None:
    """Raise SensitiveDataError if a sensitive, unscrubbed dataset would leave the machine."""
    if not hosted or provider == "local":
        return
    marker = read_marker(path)
    if not (sensitive or marker.get("sensitive")):
        return
    if allow_sensitive or is_scrubbed(path):
        return
    raise SensitiveDataError(
        f"dataset is marked sensitive and was not scrubbed; refusing to upload it to {provider}."
        f" Run `finetune scrub {path} -o SCRUBBED.jsonl` and upload that, or pass"
        " allow_sensitive=True (--allow-sensitive) if this data may leave the machine",
        file=str(path))
