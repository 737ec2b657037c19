"""The equivalence table and the hyperparameter rules of `finetune migrate`: every target id is
in its provider's catalog, the documented defaults match the code, each rule does what
docs/migrate.md says."""

from __future__ import annotations

from pathlib import Path

import pytest

from finetune_sdk.errors import ConfigurationError
from finetune_sdk.facts import load_facts
from finetune_sdk.local.trainer import TrainConfig
from finetune_sdk.migrate.mapping import (
    convert_hyperparameters,
    equivalence_table_markdown,
    learning_rate_default,
    load_map,
    map_base_model,
)
from finetune_sdk.migrate.source import neutral_hyperparameters
from finetune_sdk.providers.local import TINY_DEFAULTS

DOC = Path(__file__).resolve().parents[1] / "docs" / "migrate.md"


def test_every_table_entry_is_a_live_catalog_model():
    for group in load_map()["sources"]:
        source = load_facts(group["provider"])
        for model in group["models"]:
            assert source.find(model) is not None, model
        for target, entry in group["targets"].items():
            assert entry["why"] and entry["size"] and entry["context"], (target, entry)
            facts = load_facts(target)
            if facts is None or facts.any_model:
                continue  # local / huggingface: any Hub id
            ids = group["models"] if entry["model"] == "$source" else [entry["model"]]
            for model_id in ids:
                found = facts.find(model_id)
                assert found is not None and found.status != "retired", (target, model_id)


def test_documented_learning_rate_defaults_match_the_code():
    assert learning_rate_default("local")["value"] == TrainConfig.learning_rate
    assert learning_rate_default("local", "tiny")["value"] == TINY_DEFAULTS["learning_rate"]
    assert learning_rate_default("local", "Qwen/Qwen3-8B")["value"] == TrainConfig.learning_rate


def test_docs_carry_the_generated_table():
    assert equivalence_table_markdown() in DOC.read_text(encoding="utf-8")


def test_mapping_table_fallback_and_override():
    model, why = map_base_model("openai", "gpt-4o-mini", "fireworks")  # an alias
    assert model == "accounts/fireworks/models/gpt-oss-20b" and "open-weight" in why
    assert map_base_model("openai", "gpt-4.1-mini-2025-04-14", "azure-openai")[0] == \
        "gpt-4.1-mini-2025-04-14"
    model, why = map_base_model("fireworks", "accounts/fireworks/models/llama-v3p1-8b-instruct",
                                "together")
    assert model == "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
    assert "same family (llama)" in why and "nearest size" in why
    assert map_base_model("openai", "gpt-4.1-mini-2025-04-14", "fireworks", "x/y") == \
        ("x/y", "chosen by you (--to PROVIDER:MODEL)")
    with pytest.raises(ConfigurationError, match="--to fireworks:MODEL"):
        map_base_model("fake", "base", "fireworks")


def test_multiplier_becomes_an_absolute_rate_or_stays_a_multiplier():
    hp = {"epochs": 3, "batch_size": 8, "learning_rate_multiplier": 2.0, "seed": 7}
    fw, notes = convert_hyperparameters("openai", "gpt-4.1-mini-2025-04-14", hp, "fireworks",
                                        "accounts/fireworks/models/gpt-oss-20b")
    assert fw == {"epochs": 3, "batch_size": 8, "learning_rate": 2e-4}
    assert any("seed 7 left out" in n for n in notes)
    assert any("default rank" in n for n in notes)
    gem, _ = convert_hyperparameters("openai", "gpt-4.1-mini-2025-04-14", hp, "gemini",
                                     "gemini-3.5-flash-lite")
    assert gem["learning_rate_multiplier"] == 2.0 and "learning_rate" not in gem
    tiny, _ = convert_hyperparameters("openai", "gpt-4.1-mini-2025-04-14", hp, "local", "tiny")
    assert tiny["learning_rate"] == pytest.approx(0.02) and tiny["seed"] == 7
    back, notes = convert_hyperparameters("local", "Qwen/Qwen3-8B", {"learning_rate": 4e-4},
                                          "openai", "gpt-4.1-mini-2025-04-14")
    assert back == {"learning_rate_multiplier": 2.0}
    bed, notes = convert_hyperparameters("openai", "gpt-4.1-mini-2025-04-14", hp, "bedrock",
                                         "meta.llama3-1-8b-instruct-v1:0:128k")
    assert "learning_rate" not in bed and any("no documented default" in n for n in notes)
    over, notes = convert_hyperparameters("openai", "m", hp, "fireworks", "m",
                                          {"learning_rate": 5e-5})
    assert over["learning_rate"] == 5e-5 and notes[-1] == "learning_rate=5e-05 (your override)"


def test_reported_hyperparameters_in_our_names():
    raw = {"n_epochs": 3, "batch_size": "auto", "learning_rate_multiplier": "1.8",
           "learningRate": 1e-4, "loraRank": 8, "device": "cpu", "merge": False}
    assert neutral_hyperparameters(raw) == {"epochs": 3, "learning_rate_multiplier": 1.8,
                                            "learning_rate": 1e-4, "lora_rank": 8}
