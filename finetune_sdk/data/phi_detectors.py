"""PHI/PII detectors: what ``scrub`` replaces and what the upload gate counts.

A detector is anything with ``find(text) -> (start, end, TYPE)`` spans (see :class:`Detector`).
Built in (:func:`default_detectors`, patterns in ``phi_patterns``): emails, phone numbers
(formatted, international, ten bare digits), SSNs, medical record numbers, insurance member ids
(and Medicare MBIs), dates of birth, full and partial dates (``on 3/4``, ``March 3``), street
addresses (directions and ordinals: ``500 W 5th Ave``), ZIP codes, URLs, IPv4/IPv6 addresses,
names after a title or ``my name is``, and names from a caller-supplied list. Placeholders are
the types in brackets: ``[EMAIL]``, ``[PHONE]``, ``[SSN]``, ``[MRN]``, ``[INSURANCE_ID]``,
``[DOB]``, ``[DATE]``, ``[ADDRESS]``, ``[ZIP]``, ``[URL]``, ``[IP]``, ``[NAME]``.

All of that runs offline with ``re``. :class:`PresidioDetector` adds Microsoft Presidio's NER
when ``presidio-analyzer`` (and a spaCy model) is installed: opt in with
``detectors=[*default_detectors(), PresidioDetector()]`` or ``finetune scrub --engine presidio``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from .phi_patterns import PATTERNS

__all__ = ["Detector", "NameListDetector", "Prefilter", "PresidioDetector", "RegexDetector", "Span",
           "default_detectors", "find_pii", "scrub_text", "shape", "words"]

Span = tuple[int, int, str]


class Detector(Protocol):
    """Anything with ``find(text) -> iterable of (start, end, TYPE)``."""

    def find(self, text: str) -> Iterable[Span]: ...


@dataclass
class RegexDetector:
    r"""One PHI type by regular expression; ``group`` picks the part to replace (-1: the one
    group of whichever alternative matched, for patterns that are several alternatives).

    Three optional necessary conditions let text without PHI skip the pattern (most chat text
    has none, and ``re`` scans a pattern that starts with ``\b`` position by position):
    ``needs``, groups of byte strings of which every group must have one in the text's
    :func:`shape` (found by ``in``); ``words``, of which one must be a whole word of the text
    (:func:`words`; a set lookup); then ``hint``, a cheap pattern that every match contains
    (one that starts with a literal, a capital or ``\d`` is found with a fast character scan).
    """

    type: str
    pattern: re.Pattern[str]
    group: int = 0
    hint: re.Pattern[str] | None = None
    needs: tuple[tuple[bytes, ...], ...] = ()
    words: frozenset[bytes] = frozenset()

    def may_match(self, text: str) -> bool:
        """False only when ``pattern`` surely finds nothing in ``text``."""
        form = shape(text) if self.needs or self.words else None
        if form is not None:
            if not all(any(s in form for s in group) for group in self.needs):
                return False
            if self.words and self.words.isdisjoint(words(form)):
                return False
        return self.hint is None or self.hint.search(text) is not None

    def find(self, text: str, checked: bool = False) -> Iterator[Span]:
        """Spans in ``text``; ``checked``: a :class:`Prefilter` passed it, only the (per
        string, cheaper) hint is tried again."""
        if checked:
            if self.hint is not None and self.hint.search(text) is None:
                return
        elif not self.may_match(text):
            return
        for match in self.pattern.finditer(text):
            group = self.group if self.group >= 0 else (match.lastindex or 0)
            yield match.start(group), match.end(group), self.type


# ASCII digits become "0", ASCII whitespace (what re's \s matches below 128) " ", ASCII letters
# lowercase; every other byte stays. Non-ASCII characters are UTF-8 bytes >= 0x80, which no
# ``needs`` string contains. _LETTERS then keeps the letters and makes every other byte a space
# (a non-ASCII letter splits a word in two: more words, never fewer).
_SHAPE = bytes(ord("0") if chr(i).isdecimal() else ord(" ") if chr(i).isspace()
               else ord(chr(i).lower()) for i in range(128)) + bytes(range(128, 256))
_LETTERS = bytes(i if 97 <= i <= 122 else 32 for i in range(256))
# Non-ASCII characters that a pattern may match as a digit, a space or (re.IGNORECASE) an ASCII
# letter: the Kelvin sign, long s, dotted and dotless i.
_FOLDS = frozenset("\u212a\u017f\u0130\u0131")


def shape(text: str) -> bytes | None:
    """``text`` as the ``needs`` words of :class:`RegexDetector` are written: digits ``0``,
    whitespace `` ``, letters lowercase. None when it has a non-ASCII digit, space or letter
    that folds to ASCII (then ``needs`` cannot decide, and is skipped)."""
    if not text.isascii() and any(ord(c) > 127 and (c.isdecimal() or c.isspace() or c in _FOLDS)
                                  for c in set(text)):
        return None
    return text.encode("utf-8", "surrogatepass").translate(_SHAPE)


def words(shaped: bytes) -> set[bytes]:
    """The whole words (maximal runs of ASCII letters) of a :func:`shape`."""
    return set(shaped.translate(_LETTERS).split())


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
    """Microsoft Presidio's analyzer (optional; ``pip install presidio-analyzer`` and a spaCy
    model such as ``en_core_web_lg``). Slow next to the regexes: an NER pass per string."""

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


class Prefilter:
    """The detectors that may match a text, decided with one shape and one set of words for
    all of them (see :class:`RegexDetector`) instead of one pass per detector."""

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self.plan: list[tuple[Detector, bool]] = [
            (d, isinstance(d, RegexDetector)) for d in detectors
            if not (isinstance(d, NameListDetector) and d.pattern is None)]  # finds nothing
        self.words = frozenset(w for d in detectors if isinstance(d, RegexDetector)
                               for w in d.words)

    def candidates(self, text: str) -> list[Detector]:
        form = shape(text)
        # Only the words some detector asks for: no set of every word of the text.
        found = (self.words.intersection(form.translate(_LETTERS).split()) if form is not None
                 else frozenset())
        out: list[Detector] = []
        for detector, regex in self.plan:
            if regex:
                assert isinstance(detector, RegexDetector)
                if form is not None and (
                        (detector.words and detector.words.isdisjoint(found))
                        or not all(any(s in form for s in g) for g in detector.needs)):
                    continue
                if detector.hint is not None and detector.hint.search(text) is None:
                    continue
            out.append(detector)
        return out


def default_detectors(names: Iterable[str] = ()) -> list[Detector]:
    """The built-in regex detectors plus a name list (order breaks ties: earlier wins)."""
    detectors: list[Detector] = [RegexDetector(**spec) for spec in PATTERNS]
    detectors.append(NameListDetector(names))
    return detectors


def find_pii(text: str, detectors: Sequence[Detector], checked: bool = False) -> list[Span]:
    """Non-overlapping spans; earlier detectors and longer matches win (``checked``: the
    detectors came from :meth:`Prefilter.candidates` for a text holding this one)."""
    found: list[tuple[int, int, int, str]] = []
    for rank, detector in enumerate(detectors):
        hits = (detector.find(text, checked) if checked and isinstance(detector, RegexDetector)
                else detector.find(text))
        for start, end, kind in hits:
            if end > start:
                found.append((start, -(end - start), rank, kind))
    spans: list[Span] = []
    taken_until = -1
    for start, neg_len, _rank, kind in sorted(found):
        if start >= taken_until:
            spans.append((start, start - neg_len, kind))
            taken_until = start - neg_len
    return spans


def scrub_text(text: str, detectors: Sequence[Detector], counts: Counter[str] | None = None,
               checked: bool = False) -> str:
    """``text`` with every detected span replaced by ``[TYPE]``."""
    spans = find_pii(text, detectors, checked)
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
