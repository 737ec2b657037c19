"""Cost estimates checked against hand-computed numbers, price overrides and the max_usd guard."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from finetune_sdk import cost
from finetune_sdk.errors import BudgetExceededError, ConfigurationError, DatasetError
from finetune_sdk.types import DatasetRef, Hyperparameters, JobSpec


@pytest.fixture(autouse=True)
def _clean_registry():
    cost.clear_registered_prices()
    yield
    cost.clear_registered_prices()


def _dataset(tmp_path: Path, n: int = 2) -> Path:
    """n examples; each message is 8 chars -> 2 estimated tokens + 4 overhead = 6 tokens."""
    path = tmp_path / "train.jsonl"
    line = {"messages": [{"role": "user", "content": "abcdefgh"},
                         {"role": "assistant", "content": "ijklmnop"}]}
    path.write_text("\n".join(json.dumps(line) for _ in range(n)) + "\n")
    return path


def test_token_estimate_per_1m_tokens_by_hand(tmp_path):
    data = _dataset(tmp_path, n=2)  # 2 examples x 2 messages x 6 tokens = 24 tokens
    cost.register_price("openai", "my-model*", usd=10.0, date="2026-11-01", source="hand")
    est = cost.estimate(data, "openai", "my-model-1", epochs=5)
    assert est.tokens == 24
    assert est.billed_tokens == 120
    # 120 / 1e6 * 10 = 0.0012, widened +-25 % because the count is an estimate
    assert est.usd_low == pytest.approx(0.0009)
    assert est.usd_high == pytest.approx(0.0015)
    assert est.price_source == "hand"
    assert str(est.price_date) == "2026-11-01"
    assert any("estimate" in a for a in est.assumptions)


def test_gpu_hour_estimate_by_hand(tmp_path):
    data = _dataset(tmp_path, n=3000)  # 3000 x 12 = 36,000 tokens per epoch
    cost.register_price("local", "*", usd=2.0, unit="gpu_hour", tokens_per_s=(10.0, 20.0))
    est = cost.estimate(data, "local", "tiny", epochs=1)
    assert est.billed_tokens == 36_000
    # fastest: 36000*0.75/20 = 1350 s = 0.375 h -> 0.75 USD; slowest: 36000*1.25/10 = 4500 s
    # = 1.25 h -> 2.5 USD
    assert est.duration_s_low == pytest.approx(1350)
    assert est.duration_s_high == pytest.approx(4500)
    assert est.usd_low == pytest.approx(0.75)
    assert est.usd_high == pytest.approx(2.5)


def test_unknown_price_is_said_not_invented(tmp_path):
    est = cost.estimate(_dataset(tmp_path), "gemini", "gemini-3.5-flash", epochs=1)
    assert math.isnan(est.usd_low) and math.isnan(est.usd_high)
    assert any("price unknown" in a for a in est.assumptions)
    assert est.billed_tokens == 24


def test_default_epochs_is_an_assumption(tmp_path):
    cost.register_price("fake", "*", usd=1.0)
    est = cost.estimate(_dataset(tmp_path), "fake", "base")
    assert est.epochs == cost.DEFAULT_EPOCHS
    assert any("epochs not set" in a for a in est.assumptions)


def test_spec_epochs_used(tmp_path):
    spec = JobSpec(base_model="b", training_file=_dataset(tmp_path),
                   hyperparameters=Hyperparameters(epochs=4))
    assert cost.estimate(spec, "fake").billed_tokens == 96


def test_precedence_file_then_register(tmp_path, monkeypatch):
    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"prices": [
        {"provider": "openai", "model": "*", "unit": "1M_tokens", "usd": 3.0, "date": "2026-01-01",
         "source": "my contract"}]}))
    monkeypatch.setenv(cost.PRICES_ENV, str(table))
    assert cost.find_price("openai", "gpt-4o-mini").usd == 3.0  # the file beats the bundled row
    cost.register_price("openai", "gpt-4o-mini", usd=4.0)
    assert cost.find_price("openai", "gpt-4o-mini").usd == 4.0
    assert cost.find_price("openai", "gpt-4.1").usd == 3.0


def test_more_specific_pattern_wins_within_a_layer():
    cost.register_price("x", "*", usd=1.0)
    cost.register_price("x", "big-*", usd=2.0)
    cost.register_price("x", "*", usd=5.0)
    assert cost.find_price("x", "big-1").usd == 2.0
    assert cost.find_price("x", "small").usd == 5.0


def test_bad_price_file(tmp_path, monkeypatch):
    table = tmp_path / "p.json"
    table.write_text(json.dumps([{"provider": "openai", "unit": "per_token", "usd": 1}]))
    monkeypatch.setenv(cost.PRICES_ENV, str(table))
    with pytest.raises(ConfigurationError, match="unit must be"):
        cost.load_prices()


def test_bundled_table_is_dated_and_sourced():
    for price in cost.load_prices():
        assert price.source and price.date, price
        assert price.usd is None or price.provider in ("local", "fake") or price.confidence, price


def test_uploaded_dataset_ref_estimated_from_bytes():
    ref = DatasetRef(id="file-1", provider="openai", bytes=4000)
    cost.register_price("openai", "*", usd=1.0)
    est = cost.estimate(ref, "openai", "m", epochs=2)
    assert est.tokens == 1000 and est.billed_tokens == 2000


def test_missing_file_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError):
        cost.estimate(tmp_path / "nope.jsonl", "fake", "b", epochs=1)


def test_max_usd_refuses_above(tmp_path):
    cost.register_price("fake", "*", usd=10_000.0)
    data = _dataset(tmp_path)  # 24 x 2 epochs = 48 tokens -> 0.48 USD, high 0.60
    spec = JobSpec(base_model="b", training_file=data, max_usd=0.5,
                   hyperparameters=Hyperparameters(epochs=2))
    with pytest.raises(BudgetExceededError, match=r"up to 0\.60 USD.*max_usd=0\.5") as info:
        cost.enforce_budget(spec, "fake", data)
    assert info.value.estimate.usd_high == pytest.approx(0.6)
    ok = spec.model_copy(update={"max_usd": 0.7})
    assert cost.enforce_budget(ok, "fake", data).usd_high == pytest.approx(0.6)
    assert cost.enforce_budget(spec.model_copy(update={"max_usd": None}), "fake", data) is None


def test_max_usd_with_unknown_price_refuses(tmp_path):
    data = _dataset(tmp_path)
    spec = JobSpec(base_model="gemini-3.5-flash", training_file=data, max_usd=100)
    with pytest.raises(BudgetExceededError, match="cannot be checked"):
        cost.enforce_budget(spec, "gemini", data)
    cost.register_price("gemini", "gemini-3.5-flash", usd=1.0, source="our contract")
    assert cost.enforce_budget(spec, "gemini", data).usd_high < 100  # registered: checkable


def test_client_refuses_before_upload(tmp_path):
    from finetune_sdk.client import Client

    cost.register_price("fake", "*", usd=10_000.0)
    client = Client("fake", ledger=False)
    with pytest.raises(BudgetExceededError):
        client.jobs.create(base_model="b", training_file=_dataset(tmp_path), max_usd=0.01,
                           hyperparameters=Hyperparameters(epochs=1))
    assert list(client.jobs.list()) == []


def test_local_default_is_free_with_unknown_duration(tmp_path):
    est = cost.estimate(_dataset(tmp_path), "local", "org/some-model", epochs=1)
    assert est.usd_low == est.usd_high == 0.0
    assert est.duration_s_high is None
    assert any("throughput" in a for a in est.assumptions)
    spec = JobSpec(base_model="org/some-model", training_file=_dataset(tmp_path), max_usd=1)
    assert cost.enforce_budget(spec, "local", None).usd_high == 0.0


def test_local_tiny_duration_from_the_measured_throughput(tmp_path):
    est = cost.estimate(_dataset(tmp_path), "local", "tiny", epochs=2)
    price = cost.find_price("local", "tiny")
    assert price.model == "tiny" and price.tokens_per_s == (2000.0, 4600.0)
    estimated = any(a.startswith("token count is an estimate") for a in est.assumptions)
    spread = 0.25 if estimated else 0.0  # exact when the tiny model's tokenizer is built
    assert est.duration_s_low == pytest.approx(est.billed_tokens * (1 - spread) / 4600)
    assert est.duration_s_high == pytest.approx(est.billed_tokens * (1 + spread) / 2000)
    assert est.usd_low == est.usd_high == 0.0 and "measured" in est.price_source


def test_provider_aliases_and_unknown_providers(tmp_path):
    from finetune_sdk.errors import ConfigurationError

    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "q", "completion": "a"}\n')
    est = cost.estimate(data, "vertex", "gemini-3.5-flash", epochs=1)
    assert est.provider == "gemini" and est.price_source.startswith("unknown: no tuning price")
    assert cost.estimate(data, "HF", "org/model", epochs=1).provider == "huggingface"
    with pytest.raises(ConfigurationError, match="unknown provider 'opneai'.*'openai'"):
        cost.estimate(data, "opneai", "gpt-4o-mini")
    cost.register_price("acme", "*", usd=2.0)  # a third-party provider priced by the user
    try:
        assert cost.estimate(data, "acme", "m", epochs=1).usd_high > 0
    finally:
        cost.clear_registered_prices()
