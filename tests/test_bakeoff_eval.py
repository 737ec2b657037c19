"""What compare() gained for bakeoffs and migrations: per-example flips with McNemar's exact
test, and a judge with a spend cap that refuses before the first paid call."""

from __future__ import annotations

from pathlib import Path

import pytest

from finetune_sdk.errors import BudgetExceededError
from finetune_sdk.evaluate import compare
from finetune_sdk.evaluate.flips import flips, mcnemar_exact_p
from finetune_sdk.evaluate.judge import BudgetedJudge

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "health_chats.jsonl"
TUNED = "fake:ft-ftjob-fake-0123456789abcdef"


def _row(i: int, base: float, tuned: float) -> dict:
    return {"index": i, "line": i + 1, "prompt": "q" * 300, "base_m": base, "tuned_m": tuned}


def test_flips_split_discordant_examples_and_test_them():
    rows = [_row(0, 0.9, 0.1), _row(1, 0.1, 0.9), _row(2, 0.2, 0.8), _row(3, 0.9, 0.9),
            _row(4, 0.0, 0.0)]
    found = flips(rows, "m", threshold=0.5)
    assert [i["line"] for i in found["gained"]] == [2, 3]
    assert [i["line"] for i in found["lost"]] == [1]
    assert (found["both_pass"], found["both_fail"]) == (1, 1)
    assert len(found["gained"][0]["prompt"]) < 200  # the summary keeps a prompt's start
    assert found["mcnemar_p"] == pytest.approx(1.0)  # 2 vs 1: no evidence either way


def test_mcnemar_exact_by_hand():
    assert mcnemar_exact_p(0, 0) == 1.0
    assert mcnemar_exact_p(10, 0) == pytest.approx(2 / 1024)
    assert mcnemar_exact_p(8, 2) == pytest.approx(2 * (1 + 10 + 45) / 1024)
    assert mcnemar_exact_p(3, 7) == mcnemar_exact_p(7, 3)


def test_compare_reports_flips_on_the_win_metric(tmp_path):
    report = compare("base", TUNED, SAMPLE, provider="fake", limit=30, cache=False,
                     metrics=["rouge_l", "exact_match"], pass_threshold=0.1)
    found = report.aggregates["flips"]
    assert found["metric"] == "rouge_l" and found["threshold"] == 0.1
    gained = {i["index"] for i in found["gained"]}
    for row in report.rows:
        passes = row["tuned_rouge_l"] >= 0.1 > row["base_rouge_l"]
        assert (row["index"] in gained) == passes
    assert len(found["gained"]) > len(found["lost"])
    assert "Flips on ROUGE-L" in report.to_markdown()


def test_a_judge_over_budget_refuses_before_any_call():
    calls = []

    def grader(prompt, response, reference):
        calls.append(1)
        return 1.0

    judge = BudgetedJudge(grader, max_usd=0.05, usd_per_call=0.01)
    with pytest.raises(BudgetExceededError, match="nothing was graded"):
        compare("base", TUNED, SAMPLE, provider="fake", limit=10, cache=False, judge=judge)
    assert calls == [] and judge.spent_usd == 0

    enough = BudgetedJudge(grader, max_usd=1.0, usd_per_call=0.01)
    report = compare("base", TUNED, SAMPLE, provider="fake", limit=10, cache=False,
                     judge=enough)
    assert enough.calls == 20 and enough.spent_usd == pytest.approx(0.2)
    assert report.aggregates["flips"]["metric"] == "judge"
    with pytest.raises(BudgetExceededError):
        BudgetedJudge(grader, max_usd=0.0, usd_per_call=0.01)([], "a", "b")
