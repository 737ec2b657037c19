"""Dataset statistics: counts, turns, tokens per example (histogram, p50/p95/max), totals.

Token counts come from :func:`tokens.get_counter`: exact with a local tokenizer (or cached
tiktoken), otherwise the documented estimate, and ``DatasetStats.tokens_exact`` says which.
Per-example token counts are kept in a compact ``array`` (8 bytes each) for exact percentiles.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .formats import iter_examples, message_text
from .tokens import MESSAGE_OVERHEAD, TokenCounter, count_example_tokens, get_counter

__all__ = ["DatasetStats", "compute_stats", "percentile"]


def percentile(sorted_values: Any, q: float) -> int:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not len(sorted_values):
        return 0
    rank = max(1, int(-(-q * len(sorted_values) // 100)))  # ceil(q/100 * n)
    return int(sorted_values[min(rank, len(sorted_values)) - 1])


@dataclass
class DatasetStats:
    """What is in a dataset and what training on it costs in tokens."""

    file: str
    examples: int = 0
    messages: int = 0
    multi_turn_examples: int = 0
    role_messages: Counter[str] = field(default_factory=Counter)
    role_tokens: Counter[str] = field(default_factory=Counter)
    tokens_total: int = 0
    tokens_p50: int = 0
    tokens_p95: int = 0
    tokens_max: int = 0
    tokens_mean: float = 0.0
    histogram: list[tuple[int, int, int]] = field(default_factory=list)
    """(low, high, count) buckets of tokens per example, powers of two."""
    epochs: int = 1
    training_tokens: int = 0
    """tokens_total x epochs (what hosted providers bill)."""
    max_seq_length: int | None = None
    truncated: int = 0
    tokenizer: str = ""
    tokens_exact: bool = False

    @property
    def turns_mean(self) -> float:
        return self.messages / self.examples if self.examples else 0.0

    def _repr_html_(self) -> str:
        """Jupyter: the numbers as a table, then the tokens-per-example histogram."""
        from ..display import html_table

        estimate = "exact" if self.tokens_exact else "estimate"
        rows = [
            ("examples", f"{self.examples:,}"),
            ("messages per example", f"{self.turns_mean:.1f}"),
            ("multi-turn examples", f"{self.multi_turn_examples:,}"),
            ("tokens per example p50 / p95 / max",
             f"{self.tokens_p50:,} / {self.tokens_p95:,} / {self.tokens_max:,}"),
            ("tokens", f"{self.tokens_total:,} ({estimate}: {self.tokenizer})"),
            (f"training tokens ({self.epochs} epochs)", f"{self.training_tokens:,}"),
            ("messages by role", ", ".join(f"{r} {n:,}" for r, n in self.role_messages.items())),
        ]
        if self.max_seq_length:
            rows.append((f"cut at max_seq_length={self.max_seq_length}", f"{self.truncated:,}"))
        histogram = html_table(((f"{lo:,}-{hi:,}", f"{n:,}", "#" * max(1, round(40 * n / top)))
                                for top in [max((n for *_, n in self.histogram), default=1)]
                                for lo, hi, n in self.histogram),
                               header=("tokens", "examples", ""))
        return html_table(rows, title=f"dataset {self.file}") + histogram

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file, "examples": self.examples, "messages": self.messages,
            "turns_mean": round(self.turns_mean, 2),
            "multi_turn_examples": self.multi_turn_examples,
            "role_messages": dict(self.role_messages), "role_tokens": dict(self.role_tokens),
            "tokens": {"total": self.tokens_total, "p50": self.tokens_p50,
                       "p95": self.tokens_p95, "max": self.tokens_max,
                       "mean": round(self.tokens_mean, 1), "exact": self.tokens_exact,
                       "counter": self.tokenizer},
            "histogram": [{"low": lo, "high": hi, "count": n} for lo, hi, n in self.histogram],
            "epochs": self.epochs, "training_tokens": self.training_tokens,
            "max_seq_length": self.max_seq_length, "truncated": self.truncated,
        }


def _histogram(values: Any) -> list[tuple[int, int, int]]:
    buckets: Counter[int] = Counter(max(0, int(v) - 1).bit_length() for v in values)
    return [((1 << b >> 1) + 1 if b else 0, 1 << b, buckets[b]) for b in sorted(buckets)]


def compute_stats(path: str | Path, *, base_model: str | None = None,
                  tokenizer: str | Path | None = None, counter: TokenCounter | None = None,
                  epochs: int = 1, max_seq_length: int | None = None) -> DatasetStats:
    """Stream ``path`` and compute :class:`DatasetStats` (raises DatasetError on a bad line)."""
    counter = counter or get_counter(base_model, tokenizer)
    stats = DatasetStats(file=str(path), epochs=epochs, max_seq_length=max_seq_length,
                         tokenizer=counter.name, tokens_exact=counter.exact)
    per_example = array("q")
    for _line, example in iter_examples(path):
        messages = example["messages"]
        stats.examples += 1
        stats.messages += len(messages)
        if sum(1 for m in messages if m.get("role") == "assistant") > 1 or \
                sum(1 for m in messages if m.get("role") == "user") > 1:
            stats.multi_turn_examples += 1
        for message in messages:
            role = message.get("role", "?")
            stats.role_messages[role] += 1
            stats.role_tokens[role] += counter.count(message_text(message)) + MESSAGE_OVERHEAD
        for key in ("chosen", "rejected"):
            if key in example:
                stats.role_messages[key] += 1
                stats.role_tokens[key] += counter.count(message_text(example[key]))
        tokens = count_example_tokens(example, counter)
        per_example.append(tokens)
        if max_seq_length is not None and tokens > max_seq_length:
            stats.truncated += 1
    ordered = sorted(per_example)
    stats.tokens_total = sum(ordered)
    stats.tokens_p50 = percentile(ordered, 50)
    stats.tokens_p95 = percentile(ordered, 95)
    stats.tokens_max = ordered[-1] if ordered else 0
    stats.tokens_mean = stats.tokens_total / len(ordered) if ordered else 0.0
    stats.histogram = _histogram(ordered)
    stats.training_tokens = stats.tokens_total * epochs
    return stats
