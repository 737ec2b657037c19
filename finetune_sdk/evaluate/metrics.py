"""Per-example scores (BLEU, ROUGE-L, exact match, length) and seeded bootstrap intervals.

BLEU is sacrebleu's sentence BLEU (0-100); ROUGE-L is rouge-score's F-measure with stemming
(0-1); exact match compares after trimming, lower-casing and collapsing whitespace; length is
the answer's word count (reported, never "better" when bigger, so it takes no part in wins).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from types import ModuleType
from typing import Any

from ..errors import ConfigurationError, ProviderNotInstalledError

__all__ = ["DEFAULT_METRICS", "HIGHER_IS_BETTER", "METRICS", "MIN_CI_EXAMPLES", "Bootstrap",
           "bootstrap_ci", "check_metrics", "ci_note", "score"]

DEFAULT_METRICS = ("bleu", "rouge_l", "exact_match", "length")
HIGHER_IS_BETTER = {"bleu": True, "rouge_l": True, "exact_match": True, "length": None,
                    "judge": True}
MIN_CI_EXAMPLES = 10
"""Below this many held-out examples a report gives no intervals: a bootstrap of 2 examples
resamples the same few values and prints a tight "[1.0, 1.0]" that says nothing about the next
example, so the report says the interval is not meaningful instead (``ci=None`` plus a note)."""


def ci_note(n: int) -> str | None:
    """Why a report of ``n`` examples has no intervals (None when it has them)."""
    if n >= MIN_CI_EXAMPLES:
        return None
    return (f"no 95 % intervals: only {n} example{'' if n == 1 else 's'}, too few for a"
            f" meaningful interval (at least {MIN_CI_EXAMPLES} are needed); the means are point"
            " estimates only")


def _missing(package: str) -> ProviderNotInstalledError:
    return ProviderNotInstalledError(
        f"evaluation needs {package}: pip install 'finetune-sdk[eval]'")


@lru_cache(maxsize=1)
def _rouge() -> Any:
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise _missing("rouge-score") from None
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def bleu(response: str, reference: str) -> float:
    try:
        import sacrebleu
    except ImportError:
        raise _missing("sacrebleu") from None
    return float(sacrebleu.sentence_bleu(response, [reference]).score)


def rouge_l(response: str, reference: str) -> float:
    return float(_rouge().score(reference, response)["rougeL"].fmeasure)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def exact_match(response: str, reference: str) -> float:
    return 1.0 if _norm(response) == _norm(reference) else 0.0


def length(response: str, reference: str) -> float:
    return float(len(response.split()))


METRICS: dict[str, Callable[[str, str], float]] = {
    "bleu": bleu, "rouge_l": rouge_l, "exact_match": exact_match, "length": length,
}


def check_metrics(names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ConfigurationError(f"unknown metric(s) {', '.join(unknown)}; known:"
                                 f" {', '.join(METRICS)} (and judge=...)")
    return list(names)


def score(names: Sequence[str], response: str, reference: str) -> dict[str, float]:
    return {name: METRICS[name](response, reference) for name in names}


class Bootstrap:
    """Seeded percentile bootstrap of means. One set of resamples serves every series, so the
    intervals of base, tuned and their difference are paired (same examples in each resample).
    Uses numpy when installed (fast for 500+ examples), else the standard library."""

    def __init__(self, n: int, *, seed: int = 0, n_boot: int = 1000, level: float = 0.95):
        self.n, self.n_boot, self.level = n, n_boot, level
        np: ModuleType | None
        try:
            import numpy as np
        except ImportError:
            np = None
        self._np = np
        if n < 2:
            self._idx: Any = None
        elif np is not None:
            self._idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
        else:
            rng = random.Random(seed)
            self._idx = [[rng.randrange(n) for _ in range(n)] for _ in range(n_boot)]

    def ci(self, values: Sequence[float]) -> tuple[float, float]:
        if len(values) != self.n:
            raise ValueError("bootstrap series length differs from n")
        if self.n == 0:
            return (float("nan"), float("nan"))
        if self._idx is None:
            return (float(values[0]), float(values[0]))
        if self._np is not None:
            means = sorted(self._np.asarray(values, dtype=float)[self._idx].mean(axis=1).tolist())
        else:
            means = sorted(sum(values[i] for i in row) / self.n for row in self._idx)
        tail = (1 - self.level) / 2
        return (means[int(tail * (self.n_boot - 1))],
                means[int(round((1 - tail) * (self.n_boot - 1)))])


def bootstrap_ci(values: Sequence[float], *, seed: int = 0, n_boot: int = 1000,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (seeded: same data, same interval)."""
    return Bootstrap(len(values), seed=seed, n_boot=n_boot, level=level).ci(values)
