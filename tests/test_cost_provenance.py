"""Estimates carry the price's date and confidence, warn on stale or secondary prices and on
sunsets, price by size tier and per-job minimum, and the manifest records the actual cost."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finetune_sdk import cost, facts
from finetune_sdk.cli import _register_commands
from finetune_sdk.cli.app import app
from finetune_sdk.manifest import build_manifest
from finetune_sdk.types import Job, JobSpec, JobStatus

runner = CliRunner()
_register_commands()
SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "health_chats.jsonl"
WIDE = {"COLUMNS": "250"}


@pytest.fixture(autouse=True)
def _clean_prices():
    cost.clear_registered_prices()
    yield
    cost.clear_registered_prices()


def test_fireworks_small_model_has_a_dated_secondary_figure():
    result = runner.invoke(app, ["estimate", str(SAMPLE), "-p", "fireworks", "-m",
                                 "accounts/fireworks/models/llama-v3p1-8b-instruct"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "(price of 2026-10-07, secondary)" in result.output
    assert "size tier <=16B" in result.output and "secondary source" in result.output


def test_openai_gpt41_mini_with_the_sunset_warning(monkeypatch):
    monkeypatch.setattr(facts, "today", lambda: date(2026, 12, 3))
    result = runner.invoke(app, ["estimate", str(SAMPLE), "-p", "openai", "-m", "gpt-4.1-mini"],
                           env=WIDE)
    assert result.exit_code == 0, result.output
    assert "(price of 2025-08-21, primary-copy)" in result.output
    assert "no new fine-tuning jobs from 2027-01-06 - 34 days left" in result.output
    assert "469 days ago (over 180)" in result.output


def test_huggingface_is_per_hour_times_an_estimated_duration():
    est = cost.estimate(SAMPLE, "huggingface", "HuggingFaceTB/SmolLM2-135M-Instruct", epochs=1)
    assert est.price_unit == "gpu_hour" and est.price_usd == 1.0  # a10g-small, the default
    assert est.duration_s_low < est.duration_s_high
    assert est.usd_high == pytest.approx(est.duration_s_high / 3600 * 1.0)
    assert any("estimated duration" in a for a in est.assumptions)
    assert any("assumed throughput" in w for w in est.warnings)


def test_stale_and_secondary_warnings_follow_the_clock(monkeypatch):
    cost.register_price("acme", "*", usd=1.0, date="2026-11-01", source="s",
                        confidence="secondary")
    fresh = cost.estimate(1000, "acme", "m", epochs=1)
    assert fresh.price_confidence == "secondary" and not any("days ago" in w
                                                             for w in fresh.warnings)
    monkeypatch.setattr(facts, "today", lambda: date(2027, 6, 1))
    old = cost.estimate(1000, "acme", "m", epochs=1)
    assert any("212 days ago" in w for w in old.warnings)


def test_a_token_count_is_enough():
    est = cost.estimate(2_000_000, "fireworks", "accounts/fireworks/models/gpt-oss-20b",
                        epochs=2)
    assert est.billed_tokens == 4_000_000 and est.usd_low == est.usd_high == pytest.approx(12.0)
    with pytest.raises(Exception, match="whole number"):
        cost.estimate(-1, "fireworks", "m", epochs=1)


def test_method_adapter_and_unknown_tiers():
    big = "accounts/fireworks/models/llama-v3p1-70b-instruct"
    assert cost.estimate(10**6, "fireworks", big, 1, method="dpo").price_usd == 6.0
    assert math.isnan(cost.estimate(10**6, "fireworks", big, 1, adapter="full").usd_high)
    assert cost.estimate(10**6, "fireworks", "accounts/x/models/llama-v3p1-8b", 1,
                         adapter="full").price_usd == 1.0
    assert math.isnan(cost.estimate(10**6, "fireworks", "accounts/x/models/mystery", 1).usd_high)


def test_together_data_prices_with_the_job_minimum():
    est = cost.estimate(10_000, "together", "meta-llama/Llama-3.2-3B-Instruct", epochs=1)
    assert est.price_usd == 0.48 and est.min_charge_usd == 4.0
    assert est.usd_low == est.usd_high == 4.0
    assert any("4 USD minimum per job" in a for a in est.assumptions)


def test_max_usd_unknown_refuses_until_registered(tmp_path):
    args = ["estimate", str(SAMPLE), "-p", "gemini", "-m", "gemini-3.5-flash", "--max-usd", "50"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "cannot be checked" in refused.output
    table = tmp_path / "p.json"
    table.write_text(json.dumps({"prices": [{"provider": "gemini", "model": "gemini-3.5-flash",
                                             "unit": "1M_tokens", "usd": 2.0,
                                             "date": "2026-12-01", "source": "our contract"}]}))
    ok = runner.invoke(app, args, env={"FINETUNE_SDK_PRICES": str(table), **WIDE})
    assert ok.exit_code == 0, ok.output
    assert "(price of 2026-12-01, your own price)" in ok.output


def test_manifest_records_actual_cost_next_to_the_estimate():
    spec = JobSpec(base_model="gpt-4.1-mini-2025-04-14", training_file=str(SAMPLE))
    est = cost.estimate(spec, "openai", epochs=1)
    job = Job(id="ftjob-1", provider="openai", status=JobStatus.SUCCEEDED,
              base_model="gpt-4.1-mini-2025-04-14", trained_tokens=2_000_000)
    section = build_manifest(job, spec=spec, estimate=est)["cost"]
    assert section["actual_usd"] == pytest.approx(10.0)  # 2M x 5 USD per 1M
    assert "price of 2025-08-21" in section["actual_usd_basis"]
    assert section["estimate"]["price_confidence"] == "primary-copy"
    no_estimate = build_manifest(job)["cost"]
    assert no_estimate["actual_usd"] == pytest.approx(10.0)  # from the table
    hf = job.model_copy(update={"provider": "huggingface", "base_model": "org/m"})
    assert build_manifest(hf)["cost"]["actual_usd"] is None  # per hour: tokens say nothing
