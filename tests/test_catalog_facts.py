"""The per-provider facts files: every entry sourced and dated, and preflight by the catalog
(retired refused with the successor, winding-down warned with days left, unknown only warned)."""

from __future__ import annotations

import json
import warnings
from datetime import date
from importlib import resources

import httpx2
import pytest
from typer.testing import CliRunner

from finetune_sdk import facts
from finetune_sdk.cli import _register_commands
from finetune_sdk.cli.app import app
from finetune_sdk.client import Client
from finetune_sdk.errors import UnsupportedFeatureError
from finetune_sdk.provider import PreflightWarning
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.vertex import VertexMockServer
from finetune_sdk.types import JobSpec

runner = CliRunner()
_register_commands()


@pytest.mark.parametrize("provider", facts.providers_with_facts())
def test_every_entry_has_a_source_and_a_date(provider):
    text = resources.files("finetune_sdk.providers").joinpath(provider, "facts.json").read_text()
    data = json.loads(text)
    assert facts.check_facts(data, provider) == []
    assert data["date"] and data["prices"]


def test_a_missing_source_or_date_is_reported():
    broken = {"date": "2026-12-02", "models": [{"id": "m", "status": "active",
                                                 "confidence": "primary"}],
              "prices": [{"unit": "1M_tokens", "usd": 1.0, "source": "x"}]}
    problems = facts.check_facts(broken, "f.json")
    assert any("no source" in p for p in problems)
    assert any("no source_date" in p for p in problems)
    assert any("prices[0]: no date" in p for p in problems)
    assert any("needs a confidence" in p for p in problems)


def test_shipped_with_the_package():
    assert {"openai", "gemini", "fireworks", "huggingface", "together"} <= set(
        facts.providers_with_facts())


def test_retired_model_is_refused_with_its_successor():
    with pytest.raises(UnsupportedFeatureError, match="retired on 2026-10-16.*gemini-3.5-flash"):
        facts.check_base_model("gemini", "gemini-2.5-flash", on=date(2026, 12, 3))
    with pytest.raises(UnsupportedFeatureError, match="gpt-4.1-mini-2025-04-14 instead"):
        facts.check_base_model("openai", "gpt-4.1-nano", on=date(2026, 12, 3))
    # a winding-down model whose own jobs_until has passed is refused the same way
    with pytest.raises(UnsupportedFeatureError, match="closed to new tuning jobs since 2027-01-06"):
        facts.check_base_model("openai", "gpt-4o", on=date(2027, 1, 7))


def test_winding_down_warns_and_unknown_never_blocks():
    found = facts.check_base_model("openai", "gpt-4.1-mini", on=date(2026, 12, 3))
    assert found == ["gpt-4.1-mini-2025-04-14 and every model fine-tuned from it shut down on"
                     " 2027-01-14"]
    unknown = facts.check_base_model("fireworks", "accounts/me/models/brand-new-9b")
    assert len(unknown) == 1 and "may be stale" in unknown[0] and "upgrade" in unknown[0]
    assert facts.check_base_model("huggingface", "any/model") == []  # the open Hub
    assert facts.check_base_model("local", "anything") == []


def test_clock_is_injectable(monkeypatch):
    monkeypatch.setattr(facts, "today", lambda: date(2027, 1, 1))
    [sunset, *_] = facts.lifecycle_warnings("openai", "gpt-4o-mini")
    assert "no new fine-tuning jobs from 2027-01-06 - 5 days left" in sunset
    assert facts.sunset_summary("openai").endswith("5 days left")


def test_size_tiers_from_catalog_or_id():
    fw = facts.load_facts("fireworks")
    assert fw.tier_for("accounts/fireworks/models/gpt-oss-20b")[0] == "16.1B-80B"
    assert fw.tier_for("accounts/x/models/qwen2p5-7b-instruct")[0] == "<=16B"
    assert fw.tier_for("accounts/x/models/mystery")[0] is None
    assert facts.parse_size_b("SmolLM2-135M-Instruct") == 0.135


def test_gemini_create_refused_before_upload(tmp_path):
    from finetune_sdk.providers.gemini.adapter import GeminiProvider

    mock = VertexMockServer()
    provider = GeminiProvider(
        project=mock.project, location=mock.location, bucket="gs://b/tuning",
        access_token=SENTINEL_SECRET, base_url=mock.base_url,
        http_client=httpx2.Client(transport=mock.transport()),
        storage_client=mock.storage_client())
    client = Client(provider, ledger=False)
    with pytest.raises(UnsupportedFeatureError, match="Use gemini-3.5-flash instead"):
        client.jobs.create(base_model="gemini-2.5-flash",
                           training_file=write_chat_jsonl(tmp_path / "t.jsonl"))
    assert mock.requests == []  # nothing uploaded, nothing created
    with warnings.catch_warnings():
        warnings.simplefilter("error", PreflightWarning)  # the successor passes silently
        assert provider.check_spec(JobSpec(base_model="gemini-3.5-flash",
                                           training_file="gs://b/t.jsonl")) == []


def test_models_cli_lists_the_catalog_with_dates_and_prices():
    result = runner.invoke(app, ["models", "--tunable", "-p", "openai", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = {r["id"]: r for r in data["models"]}
    assert rows["gpt-4.1-mini-2025-04-14"]["jobs_until"] == "2027-01-06"
    assert "$5/1M tokens (2025-08-21, primary-copy)" in rows["gpt-4.1-mini-2025-04-14"]["price"]
    assert rows["gpt-4.1-nano-2025-04-14"]["status"] == "retired"
    table = runner.invoke(app, ["models", "--tunable", "-p", "vertex"], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "gemini-3.5-flash" in table.output
    assert runner.invoke(app, ["models", "-p", "openai"]).exit_code == 2
    assert "no tunable-model catalog" in runner.invoke(
        app, ["models", "--tunable", "-p", "local"]).output


def test_providers_cli_shows_the_sunset():
    result = runner.invoke(app, ["providers", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["openai"]["sunset"].startswith("no new jobs from 2027-01-06")
    assert data["local"]["sunset"] is None
