"""HF Jobs flavor and timeout: a GPU-memory preflight from the model's size and method picks
the smallest flavor that fits, refuses one that cannot (before any upload or job), and the job's
time limit follows the data instead of a fixed 2 h."""

from __future__ import annotations

import json
import warnings

import pytest
from test_huggingface_conformance import make_provider, mount_hub_mock

from finetune_sdk import Client
from finetune_sdk.errors import ConfigurationError
from finetune_sdk.provider import PreflightWarning
from finetune_sdk.providers.huggingface import hardware
from finetune_sdk.providers.huggingface.adapter import HuggingFaceOptions, HuggingFaceProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import write_chat_jsonl
from finetune_sdk.types import Hyperparameters, JobSpec

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"
LORA = Hyperparameters(lora_rank=16, lora_alpha=32, lora_dropout=0.05, epochs=1)


@pytest.fixture
def mock(httpx2_mock, monkeypatch):
    return mount_hub_mock(httpx2_mock, monkeypatch)


@pytest.fixture
def provider(mock) -> HuggingFaceProvider:
    return make_provider(mock, retry=RetryPolicy(max_attempts=1, sleep=lambda s: None))


@pytest.fixture
def train(tmp_path):
    return write_chat_jsonl(tmp_path / "train.jsonl")


def plan(base: str, hp: Hyperparameters | None = None, **options) -> hardware.Plan:
    spec = JobSpec(base_model=base, training_file="none.jsonl", hyperparameters=hp or {})
    return hardware.plan_job(spec, HuggingFaceOptions(**options))


def run_body(mock) -> dict:
    [request] = mock.requests_to("POST", r"^/api/jobs/[^/]+$")
    return json.loads(request.content)


def test_8b_full_fine_tune_is_refused_before_anything_is_sent(provider, mock, train):
    spec = JobSpec(base_model=LLAMA_8B, training_file=train)  # no LoRA field: AutoTrain full FT
    client = Client(provider, ledger=False)
    with pytest.raises(ConfigurationError) as info:
        client.jobs.create(spec)
    message = str(info.value)
    for part in ("8B parameters (from the model id)", "full fine-tuning",
                 "no single-GPU flavor is large enough", "LoRA", "quantization='int4'",
                 "deepspeed", "check_memory=False"):
        assert part in message, (part, message)
    assert mock.requests_to("POST", r"^/api/jobs/") == []
    assert mock.requests_to("POST", r"/commit/") == []  # refused before the upload too


def test_the_smallest_flavor_that_fits_is_chosen():
    assert plan("HuggingFaceTB/SmolLM2-135M-Instruct").flavor == "a10g-small"  # full FT, 4 GB
    lora_8b = plan(LLAMA_8B, LORA)
    assert lora_8b.flavor == "a10g-small" and 19 < lora_8b.memory.total_gb < 22.08
    assert plan(LLAMA_8B, LORA, quantization="int4").memory.total_gb < 9
    assert plan("Qwen/Qwen2.5-14B-Instruct", LORA).flavor == "l40sx1"
    assert plan("meta-llama/Llama-3.3-70B-Instruct", LORA, quantization="int4").flavor \
        == "a100-large"
    with pytest.raises(ConfigurationError, match="QLoRA"):
        plan("meta-llama/Llama-3.3-70B-Instruct", LORA)  # 16-bit 70B fits no single GPU
    assert plan("org/no-size-here", LORA, model_params_b=8).memory.params_from == "model_params_b"


def test_an_explicit_flavor_too_small_is_refused_with_one_that_fits():
    with pytest.raises(ConfigurationError) as info:
        plan(LLAMA_8B, LORA, flavor="t4-small")
    message = str(info.value)
    assert "flavor 't4-small' has 16 GB per GPU" in message
    assert "flavor='a10g-small'" in message and "LoRA rank 16" in message
    assert plan(LLAMA_8B, LORA, flavor="t4-small", check_memory=False).flavor == "t4-small"
    assert plan(LLAMA_8B, LORA, flavor="a100-large").flavor == "a100-large"


def test_several_gpus_add_memory_only_with_deepspeed():
    with pytest.raises(ConfigurationError, match="copies the model to each"):
        plan(LLAMA_8B, flavor="a100x4")  # full FT, DDP: 147 GB on every 80 GB GPU
    sharded = plan(LLAMA_8B, flavor="a100x4",
                   extra_args=["--distributed-backend", "deepspeed"])
    assert sharded.flavor == "a100x4"


def test_size_from_the_hub_when_the_id_names_none(provider, mock, train):
    mock.add_model_repo("acme/clinic-assistant", parameters=8_030_261_248)
    ref = provider.upload_dataset(train)
    with pytest.raises(ConfigurationError, match=r"8\.03026B parameters \(from the Hub's"):
        provider.create_job(JobSpec(base_model="acme/clinic-assistant", training_file=ref))
    job = provider.create_job(JobSpec(base_model="acme/clinic-assistant", training_file=ref,
                                      hyperparameters=LORA))
    assert run_body(mock)["flavor"] == "a10g-small" and job.id


def test_unknown_size_warns_and_keeps_the_default_flavor(provider, mock, train):
    ref = provider.upload_dataset(train)
    with pytest.warns(PreflightWarning, match="size of acme/mystery is unknown"):
        provider.create_job(JobSpec(base_model="acme/mystery", training_file=ref))
    assert run_body(mock)["flavor"] == "a10g-small"


def test_the_job_gets_the_planned_flavor_and_a_timeout_from_the_data(provider, mock, tmp_path):
    big = tmp_path / "big.jsonl"
    line = json.dumps({"messages": [{"role": "user", "content": "How much water a day? " * 40},
                                    {"role": "assistant", "content": "About 2 litres. " * 60}]})
    big.write_text("\n".join([line] * 3000) + "\n")  # ~5.6 MB: ~1.4M tokens an epoch
    ref = provider.upload_dataset(big)
    hp = Hyperparameters(lora_rank=16, epochs=3)
    spec = JobSpec(base_model="meta-llama/Llama-3.3-70B-Instruct", training_file=ref,
                   hyperparameters=hp, options=HuggingFaceOptions(quantization="int4"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PreflightWarning)
        provider.create_job(spec)
    body = run_body(mock)
    # 1.5 x tokens / (2,392 tok/s x 8/70) + 30 min, from the a100 row of facts.json
    tokens = ref.bytes / hardware.BYTES_PER_TOKEN * 3
    expected = 1.5 * tokens / (2392 * 8 / 70) + 1800
    assert body["flavor"] == "a100-large"
    assert abs(body["timeoutSeconds"] - expected) <= 60 and body["timeoutSeconds"] > 7200
    small = plan("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert small.timeout == hardware.MIN_TIMEOUT_S  # data unknown here: at least an hour


def test_an_explicit_timeout_is_kept_and_a_short_one_warned_about(provider, mock, tmp_path):
    big = tmp_path / "big.jsonl"
    line = json.dumps({"messages": [{"role": "user", "content": "q " * 500},
                                    {"role": "assistant", "content": "a " * 500}]})
    big.write_text("\n".join([line] * 4000) + "\n")
    ref = provider.upload_dataset(big)
    spec = JobSpec(base_model=LLAMA_8B, training_file=ref, hyperparameters=LORA,
                   options=HuggingFaceOptions(timeout="30m", flavor="a10g-large"))
    with pytest.warns(PreflightWarning, match="timeout '30m' may stop the job"):
        provider.create_job(spec)
    body = run_body(mock)
    assert body["timeoutSeconds"] == 1800 and body["flavor"] == "a10g-large"


def test_the_hardware_table_is_sourced_and_covers_the_auto_flavors():
    raw = hardware._raw_facts()
    for row in raw["hardware"]:
        assert row["source"] and row["date"] and row["gpu_memory_gb"] > 0, row
    assert all(hardware.flavor_info(name) for name in raw["auto_flavors"])
    assert hardware.flavor_info("a10g-small").gpu_memory_gb == 24
    assert hardware.flavor_info("cpu-basic") is None
    assert hardware.timeout_seconds("90m") == 5400 and hardware.timeout_seconds(7200) == 7200
    with pytest.raises(ConfigurationError, match="timeout"):
        hardware.timeout_seconds("soon")
