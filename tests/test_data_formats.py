"""Formats: detection, canonical reading, and round trips through every converter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finetune_sdk.data.convert import convert_file
from finetune_sdk.data.formats import detect_format, from_canonical, iter_examples, to_canonical
from finetune_sdk.errors import ConfigurationError, DatasetError
from finetune_sdk.providers.fireworks import dataset as fireworks
from finetune_sdk.providers.gemini import dataset as gemini
from finetune_sdk.providers.huggingface import dataset as huggingface
from finetune_sdk.providers.openai import dataset as openai

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "examples" / "data"
CHAT = {"messages": [{"role": "system", "content": "Be kind."},
                     {"role": "user", "content": "Hi"},
                     {"role": "assistant", "content": "Hello!"},
                     {"role": "user", "content": "Is 110 mg/dL high?"},
                     {"role": "assistant", "content": "A little above fasting range."}]}
PREF = {"messages": [{"role": "system", "content": "Be kind."},
                     {"role": "user", "content": "Cramps?"}],
        "chosen": {"role": "assistant", "content": "Try a heating pad."},
        "rejected": {"role": "assistant", "content": "Ignore it."}}
WIRES = [openai, fireworks, gemini, huggingface]


def write(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("name, fmt", [
    ("health_chats.jsonl", "chat"), ("therapy_support.jsonl", "chat"),
    ("menstrual_health.jsonl", "input_output"), ("preferences.jsonl", "preference"),
])
def test_bundled_samples_detect_and_read(name, fmt):
    path = SAMPLES / name
    assert detect_format(path) == fmt
    examples = list(iter_examples(path))
    assert len(examples) >= 50
    assert examples[0][0] == 1
    assert all(e["messages"] for _, e in examples)


def test_canonical_sample_ships_in_package_and_matches_examples():
    canonical = ROOT / "finetune_sdk" / "data" / "samples" / "health_chats.jsonl"
    assert canonical.read_bytes() == (SAMPLES / "health_chats.jsonl").read_bytes()
    assert len(list(iter_examples(canonical))) == 300


@pytest.mark.parametrize("record, expected", [
    ({"prompt": "Q", "completion": "A"}, [("user", "Q"), ("assistant", "A")]),
    ({"input_text": "Q", "output_text": "A", "system": "S"},
     [("system", "S"), ("user", "Q"), ("assistant", "A")]),
    ({"prompt": [{"role": "user", "content": "Q"}],
      "completion": [{"role": "assistant", "content": "A"}]}, [("user", "Q"), ("assistant", "A")]),
])
def test_to_canonical_formats(record, expected):
    example = to_canonical(record)
    assert [(m["role"], m["content"]) for m in example["messages"]] == expected


def test_preference_variants_share_one_canonical_form():
    trl = {"prompt": "Cramps?", "system": "Be kind.", "chosen": "Try a heating pad.",
           "rejected": [{"role": "assistant", "content": "Ignore it."}]}
    oai = {"input": {"messages": PREF["messages"]},
           "preferred_output": [PREF["chosen"]], "non_preferred_output": [PREF["rejected"]]}
    assert to_canonical(trl) == PREF
    assert to_canonical(oai) == PREF


def test_unknown_fields_are_kept_in_metadata_and_ids_kept():
    example = to_canonical({"id": "a1", "messages": CHAT["messages"], "rating": 5})
    assert example["id"] == "a1" and example["metadata"] == {"rating": 5}


def test_bad_records_name_the_field():
    with pytest.raises(DatasetError) as err:
        to_canonical({"messages": [{"content": "x"}]}, file="f.jsonl", line=7)
    assert err.value.line == 7 and err.value.field == "messages[0].role"
    with pytest.raises(DatasetError, match="not a chat"):
        to_canonical({"text": "hi"})
    with pytest.raises(DatasetError) as err:
        to_canonical({"input_text": 3, "output_text": "A"})
    assert err.value.field == "input_text"


def test_iter_examples_reports_line_of_bad_json(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(CHAT) + "\n\n" + '{"messages": [\n', encoding="utf-8")
    with pytest.raises(DatasetError) as err:
        list(iter_examples(path))
    assert err.value.line == 3 and "not valid JSON" in str(err.value)


@pytest.mark.parametrize("module", WIRES, ids=lambda m: m.RULES.provider)
@pytest.mark.parametrize("example, method", [(CHAT, "sft"), (PREF, "dpo")], ids=["sft", "dpo"])
def test_wire_round_trip(module, example, method):
    wire = module.to_wire(example, method=method)
    json.dumps(wire)  # serialisable
    assert module.from_wire(wire) == example


def test_wire_shapes():
    g = gemini.to_wire(CHAT)
    assert g["systemInstruction"] == {"parts": [{"text": "Be kind."}]}
    assert [c["role"] for c in g["contents"]] == ["user", "model", "user", "model"]
    gp = gemini.to_wire(PREF, method="dpo")
    assert [c["score"] for c in gp["completions"]] == [1, 0]
    assert gp["contents"][-1]["role"] == "user"
    o = openai.to_wire(PREF, method="dpo")
    assert set(o) == {"input", "preferred_output", "non_preferred_output"}
    assert huggingface.to_wire(PREF, method="dpo")["chosen"][0]["role"] == "assistant"
    text = huggingface.to_wire(CHAT, column="text")
    assert text["text"].startswith("<|im_start|>system\nBe kind.<|im_end|>")
    assert huggingface.from_wire(text) == CHAT


def test_openai_keeps_weights_and_tools_but_drops_our_metadata():
    example = {"id": "x", "metadata": {"rating": 4}, "tools": [{"type": "function"}],
               "messages": [{"role": "user", "content": "Q"},
                            {"role": "assistant", "content": "A", "weight": 0}]}
    wire = openai.to_wire(example)
    assert wire == {"messages": example["messages"], "tools": example["tools"]}


def test_gemini_refuses_tool_messages():
    example = {"messages": [{"role": "user", "content": "Q"},
                            {"role": "tool", "content": "{}", "tool_call_id": "1"}]}
    with pytest.raises(DatasetError, match="no 'tool' role"):
        gemini.to_wire(example)


@pytest.mark.parametrize("fmt", ["prompt_completion", "input_output", "chat"])
def test_format_round_trip(fmt):
    single = {"messages": CHAT["messages"][:3]}
    assert to_canonical(from_canonical(single, fmt)) == single
    assert to_canonical(from_canonical(PREF, "preference")) == PREF


def test_multi_turn_cannot_become_prompt_completion():
    with pytest.raises(DatasetError, match="single-turn"):
        from_canonical(CHAT, "prompt_completion")


@pytest.mark.parametrize("target", ["openai", "fireworks", "vertex", "hf", "local",
                                    "chat", "input_output"])
def test_convert_file_round_trips_every_line(tmp_path, target):
    src = write(tmp_path / "in.jsonl", [{"prompt": f"Q{i}", "completion": f"A{i}"}
                                        for i in range(5)])
    dst = tmp_path / "out.jsonl"
    report = convert_file(src, dst, to=target)
    assert report.examples == 5 and report.source_format == "prompt_completion"
    module = {"openai": openai, "fireworks": fireworks, "gemini": gemini,
              "huggingface": huggingface}.get(report.target)
    back = [json.loads(line) for line in dst.read_text().splitlines()]
    canon = [module.from_wire(b) if module else to_canonical(b) for b in back]
    assert canon == [e for _, e in iter_examples(src)]


def test_convert_preferences_auto_method_and_sft_mismatch(tmp_path):
    src = write(tmp_path / "p.jsonl", [PREF, PREF])
    assert convert_file(src, tmp_path / "o.jsonl", to="openai", method="auto").method == "dpo"
    with pytest.raises(DatasetError, match="use method='dpo'") as err:
        convert_file(src, tmp_path / "o2.jsonl", to="openai", method="sft")
    assert err.value.line == 1
    assert not (tmp_path / "o2.jsonl").exists()  # nothing half-written


def test_convert_failure_leaves_no_partial_file(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(CHAT) + "\n{broken\n", encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    with pytest.raises(DatasetError):
        convert_file(src, dst, to="gemini")
    assert not dst.exists() and list(tmp_path.iterdir()) == [src]


def test_convert_unknown_target(tmp_path):
    src = write(tmp_path / "in.jsonl", [CHAT])
    with pytest.raises(ConfigurationError):
        convert_file(src, tmp_path / "o.jsonl", to="fake")
