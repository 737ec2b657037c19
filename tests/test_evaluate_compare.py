"""compare() over the deterministic fake provider: scores, win rate, intervals, cache/resume,
judge hook, report files, and clear errors for bad held-out data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finetune_sdk.errors import ConfigurationError, DatasetError
from finetune_sdk.evaluate import compare, load_heldout
from finetune_sdk.evaluate.metrics import bootstrap_ci, score
from finetune_sdk.providers import fake_inference

SAMPLE = (Path(__file__).resolve().parents[1] / "finetune_sdk" / "data" / "samples"
          / "health_chats.jsonl")
TUNED = "fake:ft-ftjob-fake-0123456789abcdef"


def test_metrics_by_hand():
    s = score(["bleu", "rouge_l", "exact_match", "length"], " The cat  sat ", "the cat sat")
    assert s["rouge_l"] == pytest.approx(1.0)  # rouge-score lower-cases
    assert s["exact_match"] == 1.0  # trimmed, lower-cased, whitespace collapsed
    assert s["length"] == 3.0
    assert score(["bleu"], "the cat sat", "the cat sat")["bleu"] == pytest.approx(100.0)
    assert score(["bleu"], "a dog ran", "the cat sat")["bleu"] == pytest.approx(0.0)
    # ROUGE-L F: LCS 3 of response 3 / reference 4 words -> P=1, R=0.75, F=6/7
    assert score(["rouge_l"], "the cat sat", "the cat sat on")["rouge_l"] == pytest.approx(6 / 7)


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = [0.0, 1.0] * 20
    lo, hi = bootstrap_ci(values, seed=1)
    assert lo < 0.5 < hi
    assert bootstrap_ci(values, seed=1) == (lo, hi)
    assert bootstrap_ci([0.3] * 10) == (pytest.approx(0.3), pytest.approx(0.3))


def test_fake_tuned_beats_base_deterministically(tmp_path):
    first = compare("base", TUNED, SAMPLE, provider="fake", limit=40, cache=tmp_path / "c1.jsonl")
    second = compare("base", TUNED, SAMPLE, provider="fake", limit=40, cache=tmp_path / "c2.jsonl")
    assert first.to_json() == second.to_json()
    agg = first.aggregates
    assert agg["rouge_l"]["tuned"] > agg["rouge_l"]["base"]
    assert agg["rouge_l"]["delta_ci"][0] > 0
    assert agg["win_rate"]["value"] > 0.7
    assert agg["win_rate"]["wins"] + agg["win_rate"]["ties"] + agg["win_rate"]["losses"] == 40
    for name in ("bleu", "rouge_l", "length"):
        lo, hi = agg[name]["tuned_ci"]
        assert lo <= agg[name]["tuned"] <= hi
    assert len(first.rows) == 40 and first.rows[0]["line"] == 1
    assert first.rows[0]["base_response"] in fake_inference.GENERIC_ANSWERS


def test_cached_rerun_makes_no_calls(tmp_path):
    cache = tmp_path / "cache.jsonl"
    before = sum(fake_inference.calls.values())
    first = compare("base", TUNED, SAMPLE, provider="fake", limit=25, cache=cache)
    assert first.new_calls == {"base": 25, "tuned": 25}
    assert sum(fake_inference.calls.values()) - before == 50
    again = compare("base", TUNED, SAMPLE, provider="fake", limit=25, cache=cache)
    assert again.new_calls == {"base": 0, "tuned": 0}
    assert sum(fake_inference.calls.values()) - before == 50
    assert again.to_json() == first.to_json()
    # other sampling settings are other answers: not served from the cache
    other = compare("base", TUNED, SAMPLE, provider="fake", limit=25, cache=cache,
                    params={"temperature": 0.7})
    assert other.new_calls == {"base": 25, "tuned": 25}


def test_interrupted_run_resumes(tmp_path, monkeypatch):
    cache = tmp_path / "cache.jsonl"
    real = fake_inference.chat
    seen = {"n": 0}

    def flaky(model_ref, messages, **params):
        seen["n"] += 1
        if seen["n"] == 8:
            raise RuntimeError("connection lost")
        return real(model_ref, messages, **params)

    monkeypatch.setattr(fake_inference, "chat", flaky)
    with pytest.raises(RuntimeError):
        compare("base", TUNED, SAMPLE, provider="fake", limit=10, cache=cache, max_concurrency=1)
    monkeypatch.setattr(fake_inference, "chat", real)
    with cache.open("a") as handle:
        handle.write('{"key": "torn')  # a crash mid-write leaves half a line
    resumed = compare("base", TUNED, SAMPLE, provider="fake", limit=10, cache=cache)
    # the 7 answers before the failure were kept; the failed one (and any the pool cancelled
    # after it) are asked again
    assert 1 <= resumed.new_calls["base"] <= 3
    assert resumed.new_calls["tuned"] == 10


def test_judge_decides_wins(tmp_path):
    def judge(prompt, response, reference):
        assert prompt[-1]["role"] == "user"
        return 1.0 if response in fake_inference.GENERIC_ANSWERS else 0.0

    report = compare("base", TUNED, SAMPLE, provider="fake", limit=10, cache=False, judge=judge)
    assert report.aggregates["judge"]["base"] == 1.0
    assert report.aggregates["win_rate"]["metric"] == "judge"
    assert report.win_rate == 0.0


def test_report_files(tmp_path):
    report = compare("base", TUNED, SAMPLE, provider="fake", limit=5, cache=False)
    paths = report.write(tmp_path / "out")
    md = paths["markdown"].read_text()
    assert "| BLEU |" in md and "| ROUGE-L |" in md and "Win rate" in md
    data = json.loads(paths["json"].read_text())
    assert data["n"] == 5 and data["aggregates"]["win_rate"]["value"] == report.win_rate
    assert len(data["rows"]) == 5
    assert "<table>" in report._repr_html_()
    assert not list((tmp_path / "out").glob(".*"))  # no temp files left behind


def test_heldout_without_answer_names_the_line(tmp_path):
    bad = tmp_path / "heldout.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "a"},
                                            {"role": "assistant", "content": "b"}]}) + "\n"
                   + json.dumps({"messages": [{"role": "user", "content": "only a question"}]})
                   + "\n")
    with pytest.raises(DatasetError) as info:
        load_heldout(bad)
    assert info.value.line == 2


def test_prompt_is_everything_before_the_last_answer(tmp_path):
    file = tmp_path / "h.jsonl"
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "a2"}]
    file.write_text(json.dumps({"messages": msgs}) + "\n")
    (example,) = load_heldout(file)
    assert example["prompt"] == msgs[:4] and example["reference"] == "a2"


def test_unknown_metric_and_bad_win_metric():
    with pytest.raises(ConfigurationError, match="unknown metric"):
        compare("base", TUNED, SAMPLE, provider="fake", metrics=["meteor"], cache=False)
    with pytest.raises(ConfigurationError, match="win_metric"):
        compare("base", TUNED, SAMPLE, provider="fake", win_metric="length", cache=False)


def test_plot_written_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip("matplotlib")
    report = compare("base", TUNED, SAMPLE, provider="fake", limit=5, cache=False)
    paths = report.write(tmp_path)
    assert paths["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_retrained_local_folder_is_not_served_from_cache(tmp_path, monkeypatch):
    from finetune_sdk.evaluate import ResponseCache
    from finetune_sdk.types import ModelRef

    out = tmp_path / "out"
    out.mkdir()
    (out / "adapter.safetensors").write_bytes(b"v1")
    ref = ModelRef(id=f"local:{out}", provider="local")
    prompt = [{"role": "user", "content": "q"}]
    before = ResponseCache.key(ref, prompt, {})
    assert ResponseCache.key(ref, prompt, {}) == before
    (out / "adapter.safetensors").write_bytes(b"v2-retrained")
    assert ResponseCache.key(ref, prompt, {}) != before


def test_repeated_prompt_is_asked_once(tmp_path):
    file = tmp_path / "h.jsonl"
    row = {"messages": [{"role": "user", "content": "same"}, {"role": "assistant", "content": "a"}]}
    file.write_text((json.dumps(row) + "\n") * 3)
    report = compare("base", TUNED, file, provider="fake", cache=tmp_path / "c.jsonl")
    assert report.new_calls == {"base": 1, "tuned": 1}
    assert len(report.rows) == 3


def test_too_few_examples_give_no_interval_and_say_why(tmp_path):
    """2 examples once printed a "95 % CI" of [1.0, 1.0]: below MIN_CI_EXAMPLES there is no
    interval (None), and the report, its markdown and its JSON say why."""
    from finetune_sdk.evaluate.metrics import MIN_CI_EXAMPLES

    small = compare("base", TUNED, SAMPLE, provider="fake", limit=2, cache=False)
    assert small.ci_note and str(MIN_CI_EXAMPLES) in small.ci_note and "2 examples" in small.ci_note
    for name in small.metrics:
        agg = small.aggregates[name]
        assert agg["base_ci"] is agg["tuned_ci"] is agg["delta_ci"] is None
        assert agg["tuned"] == agg["tuned"]  # the point estimates stay
    assert small.aggregates["win_rate"]["ci"] is None
    data = json.loads(small.to_json())
    assert data["ci_note"] == small.ci_note and data["aggregates"]["rouge_l"]["tuned_ci"] is None
    assert small.summary()["ci_note"] == small.ci_note
    markdown = small.to_markdown()
    assert small.ci_note in markdown and "95 % bootstrap intervals" not in markdown
    assert "[1.000, 1.000]" not in markdown and "[no CI]" in markdown
    assert small.ci_note in small._repr_html_()

    enough = compare("base", TUNED, SAMPLE, provider="fake", limit=MIN_CI_EXAMPLES, cache=False)
    assert enough.ci_note is None and json.loads(enough.to_json())["ci_note"] is None
    assert len(enough.aggregates["rouge_l"]["tuned_ci"]) == 2
    assert "95 % bootstrap intervals" in enough.to_markdown()
