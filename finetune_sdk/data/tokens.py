"""Token counting: the right tokenizer when one is on this machine, else a labelled estimate.

:func:`get_counter` picks, in order: an explicit local tokenizer (``tokenizer.json`` file or a
folder holding one, e.g. a local model or ``local:`` output), a Hugging Face tokenizer already in
the local cache for ``base_model`` (never downloaded; ``tiny`` = the embedded tiny model once
built), tiktoken for OpenAI models when tiktoken is
installed and its encoding is cached, and otherwise the **estimate**: ``ceil(characters / 4)`` per
text plus 4 tokens of chat-format overhead per message. Every count says whether it is exact.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import ConfigurationError, ProviderNotInstalledError
from .formats import message_text

__all__ = ["CHARS_PER_TOKEN", "EstimateCounter", "HFTokenizerCounter", "TokenCounter",
           "count_example_tokens", "get_counter"]

CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD = 4
"""Role markers and separators a chat template adds around each message (typical value)."""


class TokenCounter(Protocol):
    name: str
    exact: bool

    def count(self, text: str) -> int: ...


@dataclass
class EstimateCounter:
    """About 4 characters per token (English prose); an estimate, and labelled as one."""

    name: str = "estimate (~4 chars/token)"
    exact: bool = False

    def count(self, text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)


class HFTokenizerCounter:
    """A ``tokenizers`` tokenizer loaded from a local ``tokenizer.json``."""

    exact = True

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        file = path / "tokenizer.json" if path.is_dir() else path
        if not file.is_file():
            raise ConfigurationError(f"no tokenizer at {file} (expected a tokenizer.json file or"
                                     " a folder holding one)")
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise ProviderNotInstalledError(
                "exact token counts with a tokenizer.json need the tokenizers package:"
                " pip install 'finetune-sdk[local]'") from None
        try:
            self._tokenizer = Tokenizer.from_file(str(file))
        except Exception as exc:  # the Rust side raises a bare Exception with its reason
            raise ConfigurationError(f"{file} is not a tokenizers tokenizer.json ({exc})") from None
        self.name = f"tokenizer {file}"

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)


class _TiktokenCounter:
    exact = True

    def __init__(self, encoding: Any, name: str) -> None:
        self._encoding, self.name = encoding, f"tiktoken {name}"

    def count(self, text: str) -> int:
        return len(self._encoding.encode(text, disallowed_special=()))


def _cached_hf_tokenizer(base_model: str) -> Path | None:
    """``tokenizer.json`` of ``base_model`` in the local HF cache, without any network call."""
    if os.sep in base_model and Path(base_model).exists():
        return Path(base_model)
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(base_model, "tokenizer.json")
    except Exception:  # an id the hub library rejects (e.g. "gpt-4o-mini") is simply not cached
        return None
    return Path(found) if isinstance(found, str) else None


def _tiny_tokenizer() -> Path | None:
    """The embedded tiny model's tokenizer, once it has been built (never built here)."""
    from ..local.tiny import tiny_model_dir  # stdlib-only module: no torch import

    folder = tiny_model_dir()
    return folder if (folder / "tokenizer.json").is_file() else None


def _tiktoken(base_model: str) -> TokenCounter | None:
    try:
        import tiktoken  # type: ignore[import-not-found]
    except ImportError:
        return None
    name = "o200k_base" if base_model.startswith(("gpt-4o", "gpt-4.1", "o")) else "cl100k_base"
    if not os.environ.get("TIKTOKEN_CACHE_DIR") and not os.environ.get("DATA_GYM_CACHE_DIR"):
        return None  # without a cache tiktoken would download the encoding
    try:
        return _TiktokenCounter(tiktoken.get_encoding(name), name)
    except Exception:
        return None


def get_counter(base_model: str | None = None, tokenizer: str | Path | None = None) -> TokenCounter:
    """The most exact counter available offline for this model (see module docstring)."""
    if tokenizer is not None:
        return HFTokenizerCounter(tokenizer)
    if base_model:
        model = base_model.removeprefix("local:")
        if model.startswith(("gpt-", "ft:gpt-", "babbage", "davinci")):
            counter = _tiktoken(model.removeprefix("ft:"))
            if counter is not None:
                return counter
        else:
            path = _tiny_tokenizer() if model == "tiny" else _cached_hf_tokenizer(model)
            if path is not None and (path.is_file() or (path / "tokenizer.json").is_file()):
                try:
                    return HFTokenizerCounter(path)
                except Exception:
                    pass
    return EstimateCounter()


def count_example_tokens(example: dict[str, Any], counter: TokenCounter) -> int:
    """Tokens of every message (prompt, and for preference data the longer answer)."""
    messages = example.get("messages") or []
    total = sum(counter.count(message_text(m)) + MESSAGE_OVERHEAD for m in messages)
    if "chosen" in example:
        total += max(counter.count(message_text(example.get("chosen"))),
                     counter.count(message_text(example.get("rejected")))) + MESSAGE_OVERHEAD
    return total
