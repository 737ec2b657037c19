"""Convert a dataset file to a provider's wire format or to another input format.

``convert_file(src, dst, to="gemini")`` streams ``src`` (any format ``formats.py`` reads), turns
each example into the target's JSON line and writes ``dst`` atomically. Targets are provider
names (aliases allowed: ``vertex`` -> ``gemini``, ``hf`` -> ``huggingface``), ``local`` (canonical
chat JSONL for our trainer) or a format name (``chat``, ``prompt_completion``, ``input_output``,
``preference``). Vendor wire formats live in ``finetune_sdk/providers/<vendor>/dataset.py``.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, DatasetError
from ._guards import deep_guard
from ._lines import file_sha256, require_file, write_atomic_lines
from .formats import FORMATS, detect_format, from_canonical, is_preference
from .rules import RulePack

__all__ = ["ConversionReport", "WireFile", "convert_file", "stream_wire",
           "wire_file", "wire_module"]

ToWire = Callable[..., dict[str, Any]]


@dataclass
class ConversionReport:
    """What ``convert_file`` wrote."""

    source: str
    destination: str
    target: str
    method: str
    source_format: str
    examples: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def wire_module(provider: str) -> Any:
    """The wire module (``RULES``, ``write_wire_jsonl``) of a provider name or alias, as its
    profile names it."""
    from ..profiles import profile_of

    profile = profile_of(provider)
    module = profile.wire_module()
    if module is None:
        raise ConfigurationError(f"provider {profile.name!r} has no wire format of its own: it"
                                 " takes canonical chat JSONL (convert --to local)")
    return module


def _check_method(example: dict[str, Any], method: str, file: str, line: int) -> None:
    if method == "dpo" and not is_preference(example):
        raise DatasetError("method 'dpo' needs preference pairs (chosen/rejected)",
                           file=file, line=line, field="chosen")
    if method == "sft" and is_preference(example):
        raise DatasetError("a preference pair in SFT data; use method='dpo' or convert it first",
                           file=file, line=line, field="chosen")


def resolve_method(src: str | Path, method: str) -> str:
    """``auto`` -> ``dpo`` for preference files, ``sft`` otherwise."""
    if method == "auto":
        return "dpo" if detect_format(src) == "preference" else "sft"
    if method not in ("sft", "dpo"):
        raise ConfigurationError(f"unknown method {method!r}; expected 'sft', 'dpo' or 'auto'")
    return method


def _rules_of(to_wire: ToWire) -> RulePack | None:
    """The RULES of the wire module that defines ``to_wire`` (providers/<vendor>/dataset.py)."""
    return getattr(sys.modules.get(getattr(to_wire, "__module__", "") or ""), "RULES", None)


def stream_wire(src: str | Path, dst: str | Path, to_wire: ToWire, *, method: str = "sft",
                rules: RulePack | None = None, **options: Any) -> int:
    """Stream ``src`` through ``to_wire`` into ``dst`` (atomic). Returns the example count.

    Every line first passes validation's line checks for ``rules`` (default: the RULES of
    ``to_wire``'s wire module): the first error stops it, line-numbered, and ``dst`` is left
    as it was. BOM and CRLF in ``src`` never reach ``dst`` (lines are re-serialised).
    """
    method = resolve_method(src, method)
    file = str(src)
    rules = rules or _rules_of(to_wire)

    def lines() -> Iterator[str]:
        for number, _data, example in iter_checked_examples(src, rules):
            _check_method(example, method, file, number)
            with deep_guard(file, number):
                try:
                    wire = to_wire(example, method=method, **options)
                except DatasetError as exc:
                    raise DatasetError(str(exc.args[0]) if exc.line is None else str(exc),
                                       file=file, line=number, field=exc.field) from None
                line = json.dumps(wire, ensure_ascii=False)
            yield line

    return write_atomic_lines(dst, lines())


@dataclass(frozen=True)
class WireFile:
    """A dataset in a vendor's wire format, ready to upload (see ``wire_file``)."""

    path: Path
    """Temporary file holding ``data``; it is deleted when the ``with`` block ends."""
    method: str
    examples: int
    data: bytes


@contextlib.contextmanager
def wire_file(src: str | Path, write_wire_jsonl: Callable[..., int], *, prefix: str,
              check_method: Callable[[str], None] | None = None) -> Iterator[WireFile]:
    """What every hosted adapter's upload starts with: check ``src`` exists, pick the method
    (preference pairs -> dpo, anything else -> sft; ``check_method`` may refuse it before any
    work), write the wire JSONL to a temporary file and read it back."""
    source = Path(src)
    require_file(source)
    method = resolve_method(source, "auto")
    if check_method is not None:
        check_method(method)
    fd, tmp_name = tempfile.mkstemp(suffix=".jsonl", prefix=prefix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        count = write_wire_jsonl(source, tmp, method=method)
        yield WireFile(tmp, method, count, tmp.read_bytes())
    finally:
        tmp.unlink(missing_ok=True)


def _format_lines(src: str | Path, fmt: str) -> Iterator[str]:
    file = str(src)
    for number, _data, example in iter_checked_examples(src):
        with deep_guard(file, number):
            line = json.dumps(from_canonical(example, fmt, file=file, line=number),
                              ensure_ascii=False)
        yield line


def convert_file(src: str | Path, dst: str | Path, *, to: str, method: str = "auto",
                 carry_mark: bool = True, **options: Any) -> ConversionReport:
    """Convert ``src`` to ``to`` (a provider, ``local`` or a format name) and write ``dst``.

    ``method``: ``auto`` (the default, like ``finetune convert``) picks ``dpo`` for a preference
    file and ``sft`` otherwise; ``sft``/``dpo`` insist and name the first line that does not fit.
    ``carry_mark``: give ``dst`` the sensitive/scrubbed sidecar of ``src`` (see
    ``privacy.carry_marker``); pass False when ``dst`` is a temporary file you rename afterwards
    (and call ``carry_marker(src, final)`` on the final name if it matters).
    """
    src, dst = Path(src), Path(dst)
    require_file(src)
    if src.resolve() == dst.resolve():
        raise ConfigurationError("output must be a different file from the input")
    source_format = detect_format(src)
    target = to.strip().lower()
    if target in FORMATS:
        _no_options(options, target)
        count = write_atomic_lines(dst, _format_lines(src, target))
        method = "dpo" if target == "preference" else "sft"
    else:
        from ..profiles import profile_of

        profile = profile_of("local" if target == "canonical" else target)
        target, module = profile.name, profile.wire_module()
        method = resolve_method(src, method)
        if module is None:  # canonical chat JSONL, checked against the provider's rules
            _no_options(options, target)
            count = stream_wire(src, dst, _identity, method=method, rules=profile.rules())
        else:
            accepted = inspect.signature(module.write_wire_jsonl).parameters
            unknown = sorted(set(options) - set(accepted))
            if unknown:
                raise ConfigurationError(f"option(s) {', '.join(unknown)} do not apply to {to!r}")
            count = module.write_wire_jsonl(src, dst, method=method, **options)
    from .privacy import carry_marker

    if carry_mark:
        carry_marker(src, dst)  # a converted sensitive file stays sensitive
    return ConversionReport(str(src), str(dst), target, method, source_format, count,
                            file_sha256(dst))


def _no_options(options: dict[str, Any], target: str) -> None:
    if options:
        raise ConfigurationError(f"option(s) {', '.join(sorted(options))} do not apply to"
                                 f" {target!r} (only to a provider's wire format)")


def _identity(example: dict[str, Any], *, method: str = "sft") -> dict[str, Any]:
    return example


def iter_checked_examples(src: str | Path, rules: RulePack | None = None) -> Any:
    """``checked.iter_checked_examples``, imported late (checked imports validate, which
    imports rules, which imports this module)."""
    from .checked import iter_checked_examples as checked

    return checked(src, rules)
