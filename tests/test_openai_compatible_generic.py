"""The generic ``openai-compatible`` provider and the ``nebius`` preset from Python: their keys
and base URLs (never OpenAI's), what each checks (and does not), the OpenAI adapter's profile
left as it was, and the wire modules ``validate`` / ``convert`` find for them."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from dataclasses import replace
from datetime import date

import httpx2
import pytest

from finetune_sdk import Client
from finetune_sdk.data.convert import wire_module
from finetune_sdk.data.rules import rules_for
from finetune_sdk.errors import ConfigurationError, UnsupportedFeatureError
from finetune_sdk.provider import PreflightWarning
from finetune_sdk.providers.openai.adapter import OpenAIProvider
from finetune_sdk.providers.openai.profile import OPENAI
from finetune_sdk.providers.openai_compatible.adapter import (
    AzureOpenAIProvider,
    NebiusProvider,
    OpenAICompatibleProvider,
)
from finetune_sdk.registry import get_provider_class
from finetune_sdk.testing.conformance import write_chat_jsonl
from finetune_sdk.testing.mock_servers.openai_compatible import OpenAICompatibleMockServer
from finetune_sdk.types import Hyperparameters, JobSpec, JobStatus

KEY = "ncmp-SENTINEL-8a7b6c"
NEBIUS_URL = "https://api.tokenfactory.nebius.com/v1"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
_ENV = ("NEBIUS_API_KEY", "NEBIUS_BASE_URL", "OPENAI_COMPATIBLE_API_KEY",
        "OPENAI_COMPATIBLE_BASE_URL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def train(tmp_path):
    return write_chat_jsonl(tmp_path / "train.jsonl", 12)


def transport(mock):
    return httpx2.Client(transport=httpx2.MockTransport(lambda r: mock.handle(r)))


def test_client_runs_upload_create_wait_model_id(train):
    mock = OpenAICompatibleMockServer(base_url="https://ft.example.invalid/v1",
                                      auto_advance=True)
    client = Client("openai-compatible", base_url=mock.base_url, api_key=KEY,
                    http_client=transport(mock), file_poll_interval=0, ledger=False)
    job = client.jobs.run(base_model="acme/chat-3b", training_file=train, poll_interval=0,
                          progress=False)
    model = client.models.resolve(job)
    assert job.status is JobStatus.SUCCEEDED and job.provider == "openai-compatible"
    assert model.id == mock.jobs[job.id]["fine_tuned_model"] and model.base_url == mock.base_url
    assert mock.job_count() == 1


def test_the_generic_provider_needs_its_own_url_and_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    with pytest.raises(ConfigurationError, match="OPENAI_COMPATIBLE_API_KEY"):
        OpenAICompatibleProvider(base_url="https://x.invalid/v1")
    with pytest.raises(ConfigurationError, match="OPENAI_COMPATIBLE_BASE_URL"):
        OpenAICompatibleProvider(api_key=KEY)
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_COMPATIBLE_BASE_URL", "https://x.invalid/v1/")
    provider = OpenAICompatibleProvider()
    assert provider.base_url == "https://x.invalid/v1"
    assert provider._api_key.get_secret_value() == KEY and KEY not in repr(provider)


def test_the_generic_provider_checks_only_what_the_wire_shape_implies():
    provider = OpenAICompatibleProvider(api_key=KEY, base_url="https://x.invalid/v1",
                                        today=lambda: date(2027, 6, 1))
    spec = JobSpec(base_model="anything/at-all", training_file="file-x",
                   hyperparameters=Hyperparameters(epochs=100, batch_size=1024))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PreflightWarning)  # no catalog, no sunset: silence
        assert provider.preflight(spec) == []
    with pytest.raises(UnsupportedFeatureError, match="openai-compatible does not support"
                       " pause/resume"):
        provider.pause_job("ftjob-1")
    lora = spec.model_copy(update={"hyperparameters": Hyperparameters(lora_rank=8)})
    with pytest.raises(UnsupportedFeatureError, match="extra_body"):
        provider.preflight(lora)


def test_extra_body_reaches_the_create(train):
    mock = OpenAICompatibleMockServer(base_url="https://ft.example.invalid/v1")
    provider = OpenAICompatibleProvider(api_key=KEY, base_url=mock.base_url,
                                        http_client=transport(mock), file_poll_interval=0)
    ref = provider.upload_dataset(train)
    provider.create_job(JobSpec(base_model="acme/chat-3b", training_file=ref,
                                extra_body={"hyperparameters": {"lora": True, "lora_r": 16},
                                            "vendor_flag": "x"}))
    body = json.loads(mock.requests_to("POST", r"^/v1/fine_tuning/jobs$")[0].content)
    assert body["hyperparameters"] == {"lora": True, "lora_r": 16} and body["vendor_flag"] == "x"


def test_nebius_preset_url_key_and_rules(monkeypatch):
    monkeypatch.setenv("NEBIUS_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-must-not-be-used")
    provider = Client("nebius", ledger=False).provider
    assert isinstance(provider, NebiusProvider) and provider.base_url == NEBIUS_URL
    assert provider._api_key.get_secret_value() == KEY
    monkeypatch.setenv("NEBIUS_BASE_URL", "https://eu.nebius.invalid/v1")
    assert NebiusProvider().base_url == "https://eu.nebius.invalid/v1"
    late = NebiusProvider(today=lambda: date(2027, 3, 1))  # after OpenAI's cutoff: fine here
    with warnings.catch_warnings():
        warnings.simplefilter("error", PreflightWarning)
        assert late.preflight(JobSpec(base_model=LLAMA, training_file="file-x")) == []
    with pytest.warns(PreflightWarning, match="tunable Nebius Token Factory models"):
        late.preflight(JobSpec(base_model="Qwen/Qwen3-8B", training_file="file-x"))
    with pytest.raises(UnsupportedFeatureError, match="method='dpo'"):
        late.preflight(JobSpec(base_model=LLAMA, training_file="file-x", method="dpo"))
    with pytest.raises(UnsupportedFeatureError, match="learning_rate"):
        late.preflight(JobSpec(base_model=LLAMA, training_file="file-x",
                               hyperparameters=Hyperparameters(learning_rate=1e-4)))


def test_nebius_model_ref_says_its_serving_is_uncertain(train):
    mock = OpenAICompatibleMockServer.nebius()
    provider = NebiusProvider(api_key=KEY, http_client=transport(mock), file_poll_interval=0)
    job = provider.create_job(JobSpec(base_model=LLAMA,
                                      training_file=provider.upload_dataset(train)))
    mock.advance(job.id, JobStatus.SUCCEEDED)
    model = provider.resolve_model(provider.get_job(job.id))
    assert model.ready_for_inference and not model.needs_deployment
    assert "uncertain" in model.how_to_serve and NEBIUS_URL in model.how_to_serve


def test_openai_keeps_its_own_profile():
    assert OpenAIProvider.profile is OPENAI and OpenAIProvider.name == "openai"
    assert OpenAIProvider.capabilities.new_jobs_until == date(2027, 1, 6)
    limits = OPENAI.limits
    assert (limits.max_suffix, limits.max_batch_size, limits.max_epochs,
            limits.chunked_uploads) == (64, 256, 50, True)
    for name, cls in (("openai-compatible", OpenAICompatibleProvider),
                      ("azure-openai", AzureOpenAIProvider), ("azure", AzureOpenAIProvider),
                      ("nebius", NebiusProvider)):
        assert get_provider_class(name) is cls
        assert cls.capabilities is cls.profile.capabilities and cls.name == cls.profile.name
        assert cls.profile.openai_wind_down is False and cls.profile.org_env == ()


@pytest.mark.parametrize("name, provider, max_bytes", [
    ("azure", "azure-openai", 512 * 1024**2),
    ("nebius", "nebius", 5 * 1024**3),
    ("openai-compatible", "openai-compatible", 512 * 1024**2),
])
def test_each_profile_has_its_wire_module_and_rules(name, provider, max_bytes):
    rules = rules_for(name)
    assert rules.provider == provider and rules.max_file_bytes == max_bytes
    module = wire_module(name)
    assert replace(module.RULES, methods=rules.methods, max_file_bytes=max_bytes) == rules
    assert get_provider_class(name).profile.wire_module == \
        module.__name__


def test_importing_the_sdk_or_the_profiles_imports_no_openai():
    code = ("import sys, finetune_sdk\n"
            "from finetune_sdk.data.rules import rules_for\n"
            "from finetune_sdk.registry import get_provider_class\n"
            "rules_for('azure-openai'); rules_for('nebius')\n"
            "get_provider_class('azure-openai'); get_provider_class('openai-compatible')\n"
            "assert 'openai' not in sys.modules, 'openai imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
