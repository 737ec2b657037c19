"""Per-example flips between two models, and McNemar's exact test on them.

A model *passes* an example when its score on the chosen metric reaches a threshold
(``PASS_THRESHOLDS``, or the caller's). Averages hide what users most want to see after a
fine-tune or a migration: which examples got better and which got worse. So ``flips`` lists the
examples where the tuned model passes and the base fails (``gained``) and the reverse (``lost``),
and tests whether the two counts differ by more than chance with McNemar's exact (binomial) test,
which uses only those discordant pairs: the paired test for pass/fail outcomes.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ConfigurationError

__all__ = ["PASS_THRESHOLDS", "flips", "mcnemar_exact_p"]

PASS_THRESHOLDS = {"exact_match": 1.0, "rouge_l": 0.3, "bleu": 20.0, "judge": 0.5}
"""Score at or above which an answer passes. exact_match: a match; ROUGE-L 0.3: about a third of
the reference's words in the same order (free-text answers rarely share more); BLEU 20 (of 100):
"the gist is clear"; a judge's 0.5 on its 0-1 scale. Conventions, not truths: pass
``pass_threshold=`` (``--pass-threshold``) for your task."""
PROMPT_CHARS = 160
"""How much of each flipped example's prompt the summary keeps (the rows hold it all)."""


def mcnemar_exact_p(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p-value: under "no difference" each discordant pair is a fair
    coin, so the smaller count is Binomial(gained + lost, 1/2)."""
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(gained, lost) + 1)) / 2**n
    return min(1.0, 2 * tail)


def _item(row: dict[str, Any], metric: str) -> dict[str, Any]:
    prompt = str(row.get("prompt", ""))
    return {"index": row["index"], "line": row.get("line"),
            "prompt": prompt[:PROMPT_CHARS] + ("..." if len(prompt) > PROMPT_CHARS else ""),
            "base": row[f"base_{metric}"], "tuned": row[f"tuned_{metric}"]}


def flips(rows: list[dict[str, Any]], metric: str,
          threshold: float | None = None) -> dict[str, Any]:
    """Pass/fail flips of ``compare`` rows on ``metric`` (see the module docstring)."""
    if threshold is None:
        if metric not in PASS_THRESHOLDS:
            raise ConfigurationError(f"no default pass threshold for {metric!r}; pass"
                                     " pass_threshold=")
        threshold = PASS_THRESHOLDS[metric]
    gained, lost, both_pass, both_fail = [], [], 0, 0
    for row in rows:
        base_ok = row[f"base_{metric}"] >= threshold
        tuned_ok = row[f"tuned_{metric}"] >= threshold
        if tuned_ok and not base_ok:
            gained.append(_item(row, metric))
        elif base_ok and not tuned_ok:
            lost.append(_item(row, metric))
        elif base_ok:
            both_pass += 1
        else:
            both_fail += 1
    return {"metric": metric, "threshold": threshold, "gained": gained, "lost": lost,
            "both_pass": both_pass, "both_fail": both_fail,
            "mcnemar_p": mcnemar_exact_p(len(gained), len(lost))}
