"""Live lookups against the mock servers (HF hardware prices, OpenAI shutdown_date), with the
table as fallback, and OpenAI's eligibility error on create and after the cutoff."""

from __future__ import annotations

import json
from datetime import date

import httpx2
import pytest
from typer.testing import CliRunner

from finetune_sdk import cost, facts
from finetune_sdk.cli import _register_commands
from finetune_sdk.cli.app import app
from finetune_sdk.errors import (
    FineTuningEligibilityError,
    PermissionDeniedError,
    UnsupportedFeatureError,
)
from finetune_sdk.providers.openai.adapter import OpenAIProvider
from finetune_sdk.providers.openai.live import model_dates
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.huggingface import HuggingFaceMockServer
from finetune_sdk.testing.mock_servers.openai import OpenAIMockServer
from finetune_sdk.types import JobSpec

runner = CliRunner()
_register_commands()
pytestmark = pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")


@pytest.fixture(autouse=True)
def _clean_prices():
    cost.clear_registered_prices()
    yield
    cost.clear_registered_prices()


@pytest.fixture
def hub(httpx2_mock, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    server = HuggingFaceMockServer()
    server.mount(httpx2_mock)
    monkeypatch.setenv("HF_ENDPOINT", server.base_url)
    monkeypatch.setenv("HF_TOKEN", SENTINEL_SECRET)
    return server


def openai_provider(mock, today=date(2026, 12, 3)):
    return OpenAIProvider(api_key=SENTINEL_SECRET, base_url=mock.base_url,
                          http_client=httpx2.Client(transport=mock.transport()),
                          retry=RetryPolicy(max_attempts=1), file_poll_interval=0,
                          today=lambda: today)


def test_hf_live_hardware_prices_win_over_the_table(hub, tmp_path):
    data = write_chat_jsonl(tmp_path / "t.jsonl")
    bundled = cost.estimate(data, "huggingface", "org/m", epochs=1)
    assert bundled.price_usd == 1.0 and bundled.price_confidence == "primary"
    live = cost.estimate(data, "huggingface", "org/m", epochs=1, live=True)
    assert live.price_usd == pytest.approx(1.05)  # 0.0175 USD per minute x 60
    assert "/api/jobs/hardware (live" in live.price_source
    assert live.price_date == facts.today()
    assert any(r.url.path == "/api/jobs/hardware" for r in hub.requests)
    # a flavor the live list lacks still has its bundled price
    other = cost.estimate(data, "huggingface", "org/m", epochs=1, flavor="a100-large")
    assert other.price_usd == 2.5


def test_hf_live_failure_falls_back_to_the_table(hub, tmp_path):
    hub.fail_next(500, match="/api/jobs/hardware")
    est = cost.estimate(write_chat_jsonl(tmp_path / "t.jsonl"), "huggingface", "org/m",
                        epochs=1, live=True)
    assert est.price_usd == 1.0
    assert any("live price lookup failed" in a for a in est.assumptions)


def test_openai_live_shutdown_date():
    mock = OpenAIMockServer()
    provider = openai_provider(mock)
    assert model_dates(provider, "gpt-4.1-mini-2025-04-14") == {"shutdown": date(2027, 1, 14)}
    mock.model_shutdowns = {"gpt-4o-2024-08-06": None, "m2": 1800000000}
    assert model_dates(provider, "gpt-4o-2024-08-06") == {"shutdown": None}
    assert model_dates(provider, "m2") == {"shutdown": date(2027, 1, 15)}
    assert any(r.url.path == "/v1/models/m2" for r in mock.requests)


def test_models_cli_live_falls_back_offline(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = runner.invoke(app, ["models", "--tunable", "-p", "openai", "--live", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert "live lookup failed" in data["live_note"]
    assert all(r["shutdown_from"] == "catalog" for r in data["models"])


def test_403_on_create_is_the_eligibility_error(tmp_path):
    mock = OpenAIMockServer()
    provider = openai_provider(mock)
    ref = provider.upload_dataset(write_chat_jsonl(tmp_path / "t.jsonl"))
    mock.fail_next(403, match=r"POST /v1/fine_tuning/jobs$", body={"error": {
        "message": "OpenAI is winding down the fine-tuning platform and your organization is no"
                   " longer able to create new fine-tuning training jobs.",
        "type": "invalid_request_error", "param": None, "code": "training_not_available"}})
    with pytest.raises(FineTuningEligibilityError) as info:
        provider.create_job(JobSpec(base_model="gpt-4.1-mini-2025-04-14", training_file=ref))
    message = str(info.value)
    assert isinstance(info.value, PermissionDeniedError) and info.value.status_code == 403
    assert "2027-01-06" in message and "finetune migrate" in message
    assert "no longer able to create" in message and "\n" not in message


def test_403_for_a_missing_scope_stays_permission_denied(tmp_path):
    mock = OpenAIMockServer()
    provider = openai_provider(mock)
    ref = provider.upload_dataset(write_chat_jsonl(tmp_path / "t.jsonl"))
    mock.fail_next(403, match=r"POST /v1/fine_tuning/jobs$", body={"error": {
        "message": "You have insufficient permissions for this operation. Missing scopes:"
                   " api.fine_tuning.jobs.write", "type": "invalid_request_error"}})
    with pytest.raises(PermissionDeniedError) as info:
        provider.create_job(JobSpec(base_model="gpt-4.1-mini-2025-04-14", training_file=ref))
    assert not isinstance(info.value, FineTuningEligibilityError)


def test_after_the_cutoff_preflight_refuses_with_the_same_error():
    mock = OpenAIMockServer()
    provider = openai_provider(mock, today=date(2027, 1, 7))
    with pytest.raises(FineTuningEligibilityError, match="finetune migrate") as info:
        provider.preflight(JobSpec(base_model="gpt-4.1-mini", training_file="file-x"))
    assert isinstance(info.value, UnsupportedFeatureError)  # what preflight refusals are
    assert info.value.cutoff == date(2027, 1, 6)
    assert not mock.requests


def test_retired_openai_base_refused_in_preflight():
    provider = openai_provider(OpenAIMockServer())
    with pytest.raises(UnsupportedFeatureError, match="gpt-4.1-nano-2025-04-14.*retired"):
        provider.preflight(JobSpec(base_model="gpt-4.1-nano-2025-04-14", training_file="file-x"))


def test_cli_shows_the_eligibility_error_in_one_line(capsys):
    """Every command body runs in friendly_errors: the error is one line, exit 3 (API)."""
    import typer

    from finetune_sdk.cli.app import friendly_errors
    from finetune_sdk.providers.openai import rules

    with pytest.raises(typer.Exit) as exit_info, friendly_errors():
        raise rules.eligibility_error("job create refused (HTTP 403: training_not_available).")
    assert exit_info.value.exit_code == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "2027-01-06" in err and "finetune migrate" in err
