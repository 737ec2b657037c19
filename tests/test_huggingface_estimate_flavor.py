"""The Hugging Face estimate prices the flavor the job will get (hardware.plan_job), not the
provider's default: a chosen flavor wins, a model that needs more memory is priced on the bigger
flavor, an unknown size or a job no flavor holds is priced on the default with a warning."""

from __future__ import annotations

import pytest

from finetune_sdk import cost, facts
from finetune_sdk.pricing import find_price
from finetune_sdk.providers.huggingface import hardware
from finetune_sdk.providers.huggingface.adapter import HuggingFaceOptions
from finetune_sdk.testing.conformance import write_chat_jsonl
from finetune_sdk.types import JobSpec

DEFAULT = facts.load_facts("huggingface").default_flavor


@pytest.fixture
def data(tmp_path):
    return write_chat_jsonl(tmp_path / "t.jsonl")


def _hourly(flavor: str) -> float:
    return find_price("huggingface", "*", flavor=flavor).usd


def test_a_bigger_model_is_priced_on_the_flavor_its_job_gets(data) -> None:
    options = HuggingFaceOptions(model_params_b=20, peft=True)
    spec = JobSpec(base_model="org/m", training_file=data, options=options)
    planned = hardware.plan_job(spec, options).flavor
    assert planned != DEFAULT  # 20B LoRA does not fit the default A10G
    est = cost.estimate(spec, "huggingface", epochs=1)
    assert est.price_usd == _hourly(planned) != _hourly(DEFAULT)
    assert est.usd_high == pytest.approx(est.duration_s_high / 3600 * _hourly(planned))
    assert any(f"priced on {planned}, the flavor the job will get" in n for n in est.assumptions)
    # the same plan from a dict of options, and from a path with --adapter lora
    as_dict = spec.model_copy(update={"options": {"model_params_b": 20, "peft": True}})
    assert cost.estimate(as_dict, "huggingface", epochs=1).price_usd == _hourly(planned)


def test_adapter_and_quantization_change_the_planned_flavor(data) -> None:
    model = "Qwen/Qwen2.5-14B-Instruct"  # 14B, from the id
    lora = cost.estimate(data, "huggingface", model, epochs=1, adapter="lora")
    spec = JobSpec(base_model=model, training_file=data,
                   options={"peft": True, "quantization": "int4"})
    qlora = cost.estimate(spec, "huggingface", epochs=1)
    assert qlora.price_usd == _hourly(DEFAULT)  # QLoRA 14B fits the default
    planned = hardware.plan_job(JobSpec(base_model=model, training_file=data),
                                HuggingFaceOptions(peft=True)).flavor
    assert lora.price_usd == _hourly(planned)
    assert lora.price_usd != qlora.price_usd


def test_a_chosen_flavor_wins_over_the_plan(data) -> None:
    spec = JobSpec(base_model="HuggingFaceTB/SmolLM2-135M-Instruct", training_file=data,
                   options={"flavor": "a100-large"})
    assert cost.estimate(spec, "huggingface", epochs=1).price_usd == _hourly("a100-large")
    plain = JobSpec(base_model="HuggingFaceTB/SmolLM2-135M-Instruct", training_file=data)
    assert cost.estimate(plain, "huggingface", epochs=1,
                         flavor="h200").price_usd == _hourly("h200")


def test_an_unknown_size_or_an_impossible_job_says_so(data) -> None:
    unknown = cost.estimate(data, "huggingface", "org/m", epochs=1)
    assert unknown.price_usd == _hourly(DEFAULT)
    assert any("unknown offline" in w and "may get a larger flavor" in w
               for w in unknown.warnings)
    full_70b = cost.estimate(data, "huggingface", "meta-llama/Llama-3.1-70B-Instruct", epochs=1)
    assert any("would be refused before upload" in w for w in full_70b.warnings)


def test_only_vendors_with_an_estimate_module_have_the_hook() -> None:
    assert facts.estimate_hook("huggingface", "job_flavor") is not None
    assert facts.estimate_hook("openai", "job_flavor") is None
    assert facts.estimate_hook("fake", "job_flavor") is None
