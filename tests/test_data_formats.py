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
    with pytest.raises(ConfigurationError, match="unknown provider 'fakee'"):
        convert_file(src, tmp_path / "o.jsonl", to="fakee")
    assert not (tmp_path / "o.jsonl").exists()


def test_convert_to_a_provider_without_a_wire_format_writes_canonical_jsonl(tmp_path):
    # The fake provider's profile names no wire module: it takes canonical chat JSONL.
    src = write(tmp_path / "in.jsonl", [CHAT])
    report = convert_file(src, tmp_path / "o.jsonl", to="fake")
    assert report.target == "fake" and report.examples == 1
    assert [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()] == [CHAT]


def _core(example: dict) -> dict:
    """What every wire format carries: the turns (and the preference pair)."""
    return {k: example[k] for k in ("messages", "chosen", "rejected") if k in example}


WIRE_TARGETS = [("openai", openai, {}), ("fireworks", fireworks, {}), ("gemini", gemini, {}),
                ("huggingface", huggingface, {}), ("huggingface", huggingface, {"column": "text"})]


@pytest.mark.parametrize("sample", ["health_chats.jsonl", "therapy_support.jsonl",
                                    "menstrual_health.jsonl", "preferences.jsonl"])
@pytest.mark.parametrize("target, module, options", WIRE_TARGETS,
                         ids=["openai", "fireworks", "gemini", "hf-messages", "hf-text"])
def test_every_sample_format_round_trips_through_every_wire_format(tmp_path, sample, target,
                                                                   module, options):
    src = SAMPLES / sample
    dst = tmp_path / "wire.jsonl"
    report = convert_file(src, dst, to=target, method="auto", **options)
    expected = [_core(e) for _, e in iter_examples(src)]
    lines = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert report.examples == len(expected) == len(lines)
    assert report.method == ("dpo" if sample == "preferences.jsonl" else "sft")
    assert [_core(module.from_wire(line)) for line in lines] == expected


@pytest.mark.parametrize("sample", ["health_chats.jsonl", "menstrual_health.jsonl",
                                    "preferences.jsonl"])
def test_local_format_keeps_everything(tmp_path, sample):
    """Our trainer reads canonical JSONL: ids, conversation ids and metadata survive as is."""
    src = SAMPLES / sample
    report = convert_file(src, tmp_path / "local.jsonl", to="local")
    back = [json.loads(line) for line in (tmp_path / "local.jsonl").read_text().splitlines()]
    assert report.target == "local"
    assert [to_canonical(b) for b in back] == [e for _, e in iter_examples(src)]


@pytest.mark.parametrize("sample, fmt", [("menstrual_health.jsonl", "prompt_completion"),
                                         ("menstrual_health.jsonl", "chat"),
                                         ("preferences.jsonl", "preference")])
def test_format_files_round_trip(tmp_path, sample, fmt):
    src = SAMPLES / sample
    convert_file(src, tmp_path / "a.jsonl", to=fmt)
    assert detect_format(tmp_path / "a.jsonl") == fmt
    assert [_core(e) for _, e in iter_examples(tmp_path / "a.jsonl")] == \
        [_core(e) for _, e in iter_examples(src)]
    convert_file(tmp_path / "a.jsonl", tmp_path / "b.jsonl",
                 to="input_output" if fmt != "preference" else "preference")
    assert [_core(e) for _, e in iter_examples(tmp_path / "b.jsonl")] == \
        [_core(e) for _, e in iter_examples(src)]


TOOLS = {"tools": [{"type": "function", "function": {"name": "log_glucose", "parameters": {
             "type": "object", "properties": {"mg_dl": {"type": "number"}}}}}],
         "messages": [
             {"role": "system", "content": "You log readings."},
             {"role": "user", "content": "Log 112"},
             {"role": "assistant", "content": None, "tool_calls": [
                 {"id": "call_1", "type": "function",
                  "function": {"name": "log_glucose", "arguments": "{\"mg_dl\": 112}"}}]},
             {"role": "tool", "tool_call_id": "call_1", "content": "{\"ok\": true}"},
             {"role": "assistant", "content": "Logged 112 mg/dL.", "weight": 1}]}


def test_tool_calls_round_trip_where_the_vendor_has_them():
    assert openai.from_wire(openai.to_wire(TOOLS)) == TOOLS
    fw = fireworks.from_wire(fireworks.to_wire(TOOLS))
    assert fw["tools"] == TOOLS["tools"] and fw["messages"][2] == TOOLS["messages"][2]
    # Fireworks' per-message weight is uncertain: kept (dropping it would train masked turns),
    # and validation warns about it instead.
    assert fw["messages"][-1]["weight"] == 1
    assert huggingface.from_wire(huggingface.to_wire(TOOLS))["messages"][3] == \
        TOOLS["messages"][3]
    with pytest.raises(DatasetError) as err:
        gemini.to_wire(TOOLS)
    assert err.value.field == "messages[2].tool_calls" or "tool" in str(err.value)


def test_openai_dpo_wire_line_shape_and_round_trip():
    example = {**PREF, "tools": TOOLS["tools"]}
    wire = openai.to_wire(example, method="dpo")
    assert wire["input"] == {"messages": PREF["messages"], "tools": TOOLS["tools"]}
    assert wire["preferred_output"] == [PREF["chosen"]]
    assert wire["non_preferred_output"] == [PREF["rejected"]]
    assert openai.from_wire(wire) == example


def test_vertex_system_instruction_and_roles_round_trip():
    example = {"messages": [{"role": "system", "content": "Be brief."},
                            {"role": "user", "content": "Q1"},
                            {"role": "assistant", "content": "A1"},
                            {"role": "user", "content": "Q2"},
                            {"role": "assistant", "content": "A2"}]}
    wire = gemini.to_wire(example)
    assert wire == {"systemInstruction": {"parts": [{"text": "Be brief."}]},
                    "contents": [{"role": "user", "parts": [{"text": "Q1"}]},
                                 {"role": "model", "parts": [{"text": "A1"}]},
                                 {"role": "user", "parts": [{"text": "Q2"}]},
                                 {"role": "model", "parts": [{"text": "A2"}]}]}
    assert gemini.from_wire(wire) == example
    no_system = {"messages": example["messages"][1:]}
    assert "systemInstruction" not in gemini.to_wire(no_system)
    assert gemini.from_wire(gemini.to_wire(no_system)) == no_system
    with pytest.raises(DatasetError, match="one system instruction"):
        gemini.to_wire({"messages": [*example["messages"][:3], example["messages"][0]]})
    with pytest.raises(DatasetError, match="unknown Gemini role"):
        gemini.from_wire({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]})


def test_hf_text_column_round_trips_multi_turn_and_refuses_non_chatml():
    wire = huggingface.to_wire(CHAT, column="text")
    assert set(wire) == {"text"} and wire["text"].count("<|im_start|>") == 5
    assert huggingface.from_wire(wire) == CHAT
    with pytest.raises(DatasetError, match="ChatML"):
        huggingface.from_wire({"text": "just words"})
    with pytest.raises(DatasetError, match="unknown column"):
        huggingface.to_wire(CHAT, column="prompt")


def test_fireworks_weight_is_flagged_by_validation(tmp_path):
    from finetune_sdk.data.validate import validate_file

    path = write(tmp_path / "w.jsonl", [TOOLS] * 3)
    codes = {f.code: f for f in validate_file(path, provider="fireworks").findings}
    assert codes["weight_unsupported"].severity == "warning"
    assert codes["weight_unsupported"].field == "messages[4].weight"
    assert "weight_unsupported" not in {
        f.code for f in validate_file(path, provider="openai").findings}


def test_convert_cli_hf_text_column_and_misplaced_option(tmp_path):
    from typer.testing import CliRunner

    import finetune_sdk.cli.data  # noqa: F401
    from finetune_sdk.cli.app import app

    runner = CliRunner()
    src = SAMPLES / "health_chats.jsonl"
    out = tmp_path / "hf.jsonl"
    result = runner.invoke(app, ["convert", str(src), "--to", "hf", "--column", "text", "-o",
                                 str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert all(set(line) == {"text"} for line in lines)
    assert [huggingface.from_wire(x) for x in lines] == \
        [{"messages": e["messages"]} for _, e in iter_examples(src)]
    for target in ("openai", "local", "chat"):
        bad = runner.invoke(app, ["convert", str(src), "--to", target, "--column", "text", "-o",
                                  str(tmp_path / f"{target}.jsonl")])
        assert bad.exit_code == 2 and "column" in bad.output and "Traceback" not in bad.output
        assert not (tmp_path / f"{target}.jsonl").exists()
    wrong = runner.invoke(app, ["convert", str(src), "--to", "hf", "--column", "prompt", "-o",
                                str(tmp_path / "w.jsonl")])
    assert wrong.exit_code == 2 and "unknown column" in wrong.output
