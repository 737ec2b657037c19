"""The Hugging Face estimate plans the method it was asked about: a DPO job is planned with its
reference copy, and a method HF Jobs does not train is named in the warning (not reported as
options it could not understand) and priced on the default flavor."""

from __future__ import annotations

import pytest

from finetune_sdk import cost, facts
from finetune_sdk.pricing import find_price
from finetune_sdk.providers.huggingface import hardware
from finetune_sdk.providers.huggingface.adapter import HuggingFaceOptions
from finetune_sdk.testing.conformance import write_chat_jsonl
from finetune_sdk.types import JobSpec

DEFAULT = facts.load_facts("huggingface").default_flavor
MODEL = "Qwen/Qwen2.5-1.5B-Instruct"  # the size comes from the id


@pytest.fixture
def data(tmp_path):
    return write_chat_jsonl(tmp_path / "t.jsonl")


def test_a_dpo_estimate_plans_a_dpo_job(data) -> None:
    full = HuggingFaceOptions(peft=False)
    dpo = hardware.plan_job(JobSpec(base_model=MODEL, training_file=data, method="dpo"), full)
    sft = hardware.plan_job(JobSpec(base_model=MODEL, training_file=data), full)
    assert dpo.memory is not None and sft.memory is not None
    assert dpo.memory.describe() != sft.memory.describe()  # the reference copy counts
    est = cost.estimate(data, "huggingface", MODEL, epochs=1, method="dpo", adapter="full")
    assert est.price_usd == find_price("huggingface", "*", flavor=dpo.flavor).usd
    assert any(dpo.memory.describe() in note for note in est.assumptions)


def test_a_method_hf_jobs_does_not_train_is_named_in_the_warning(data) -> None:
    est = cost.estimate(data, "huggingface", MODEL, epochs=1, method="grpo")
    assert est.price_usd == find_price("huggingface", "*", flavor=DEFAULT).usd
    assert any("not 'grpo'" in w and "default flavor" in w for w in est.warnings)
    assert not any("options not understood" in w for w in est.warnings)
