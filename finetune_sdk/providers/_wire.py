"""A guard for the wire parsers in ``providers/*/mapping.py``: a vendor answer of the wrong shape
(a missing key, a list where an object belongs, an out-of-range timestamp) becomes
``APIResponseValidationError`` naming the provider and what was being read, never a raw
KeyError / TypeError / AttributeError / pydantic ValidationError from deep inside a mapping.

Vendor-neutral; it lives here only because the core modules belong to another owner (it would
sit well in ``finetune_sdk/_http.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from ..errors import APIResponseValidationError, FinetuneError, redact

__all__ = ["PARSE_ERRORS", "wire_parser"]

P = ParamSpec("P")
T = TypeVar("T")

PARSE_ERRORS: tuple[type[Exception], ...] = (
    KeyError, IndexError, TypeError, AttributeError, ValueError, OverflowError,
)
"""What a parser raises on a body it cannot read (pydantic's ValidationError is a ValueError)."""


def wire_parser(provider: str, what: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorate a parser of ``provider``'s ``what`` (e.g. "a fine-tuning job")."""

    def decorate(fn: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(fn)
        def parse(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return fn(*args, **kwargs)
            except FinetuneError:
                raise
            except PARSE_ERRORS as exc:
                kind, detail = type(exc).__name__, _complaint(exc)
            # Raised outside the except, so the parser's exception (which may hold the whole
            # vendor object, and a key echoed in it) is not left on ours as __context__.
            raise APIResponseValidationError(
                f"{what} from the API is not in the documented shape ({kind}: {detail})",
                provider=provider,
            ) from None

        return parse

    return decorate


def _complaint(exc: Exception) -> str:
    """The parser's complaint, cut short (vendor bodies can be large): for pydantic, the field
    paths and messages without the offending values; token-like runs masked either way."""
    errors = getattr(exc, "errors", None)
    text = str(exc)
    if callable(errors):
        try:
            found = errors(include_input=False, include_url=False)
            text = "; ".join(
                f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in found
            )
        except TypeError:  # not pydantic's signature
            pass
    return redact(" ".join(text.split()))[:200]
