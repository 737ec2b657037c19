"""A judge with a spend cap: ``BudgetedJudge(grader, max_usd=2.0, usd_per_call=0.002)``.

A judge is any callable ``judge(prompt_messages, response, reference) -> float in [0, 1]``
(``compare(..., judge=...)``); a grader model costs money per call. Wrapped in ``BudgetedJudge``
it refuses the call that would take the spend over ``max_usd`` (``BudgetExceededError``), and
``compare`` asks it first whether the whole run fits (``check_budget``), so an evaluation too big
for the budget stops before the first paid call instead of half-way through.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..errors import BudgetExceededError, ConfigurationError

__all__ = ["BudgetedJudge"]


class BudgetedJudge:
    """``judge`` with a cost per call and a cap; ``calls`` and ``spent_usd`` say what it used."""

    def __init__(self, judge: Callable[[list[dict[str, Any]], str, str], float], *,
                 max_usd: float, usd_per_call: float) -> None:
        if not max_usd >= 0 or not usd_per_call >= 0:
            raise ConfigurationError("max_usd and usd_per_call must be amounts >= 0")
        self.judge, self.max_usd, self.usd_per_call = judge, max_usd, usd_per_call
        self.calls = 0
        self.spent_usd = 0.0
        self._lock = threading.Lock()

    def check_budget(self, calls: int) -> None:
        """Raise BudgetExceededError unless ``calls`` more calls fit in what is left."""
        need = calls * self.usd_per_call
        left = self.max_usd - self.spent_usd
        if need > left + 1e-12:
            raise BudgetExceededError(
                f"the judge would need {calls} calls x {self.usd_per_call:g} USD ="
                f" {need:.4f} USD, above what is left of its max_usd={self.max_usd:g}"
                f" ({left:.4f} USD); nothing was graded. Raise max_usd or evaluate fewer"
                " examples (limit=)")

    def __call__(self, prompt: list[dict[str, Any]], response: str, reference: str) -> float:
        with self._lock:  # compare grades in threads: the check and the charge are one step
            self.check_budget(1)
            self.calls += 1
            self.spent_usd += self.usd_per_call
        return float(self.judge(prompt, response, reference))

    def __repr__(self) -> str:
        return (f"BudgetedJudge(calls={self.calls}, spent_usd={self.spent_usd:.4f},"
                f" max_usd={self.max_usd:g})")
