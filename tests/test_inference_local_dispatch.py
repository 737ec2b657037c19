"""Local models: chat() and compare() call finetune_sdk.local.generate with the agreed
signature (one load per batch), and the Hugging Face no-endpoint path downloads then runs it.
A stand-in generate module records the calls; the real one is exercised in
tests/test_evaluate_tiny.py."""

from __future__ import annotations

import json
import sys
import types

import pytest

from finetune_sdk import inference
from finetune_sdk.errors import ConfigurationError
from finetune_sdk.evaluate import compare
from finetune_sdk.types import ModelRef


@pytest.fixture
def generate(monkeypatch):
    calls: list[tuple] = []
    module = types.ModuleType("finetune_sdk.local.generate")

    def chat_local(model, messages, *, max_new_tokens=64, temperature=0.0, seed=0):
        calls.append(("one", model, len(messages), max_new_tokens, temperature, seed))
        return f"{model}:{messages[-1]['content']}"

    def chat_local_batch(model, conversations, *, max_new_tokens=64, temperature=0.0, seed=0):
        calls.append(("batch", model, len(conversations), max_new_tokens, temperature, seed))
        return [f"{model}:{c[-1]['content']}" for c in conversations]

    module.chat_local, module.chat_local_batch = chat_local, chat_local_batch
    monkeypatch.setitem(sys.modules, "finetune_sdk.local.generate", module)
    return calls


def test_chat_local_path_and_params(generate, tmp_path):
    out = inference.chat(f"local:{tmp_path}", "hi", max_tokens=9, temperature=0.5, seed=4)
    assert out == f"{tmp_path}:hi"
    assert generate == [("one", str(tmp_path), 1, 9, 0.5, 4)]
    assert inference.chat(str(tmp_path), "yo") == f"{tmp_path}:yo"  # a directory is local


def test_compare_runs_local_models_in_batches(generate, tmp_path):
    heldout = tmp_path / "h.jsonl"
    heldout.write_text("".join(
        json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                 {"role": "assistant", "content": f"a{i}"}]}) + "\n"
        for i in range(10)))
    report = compare("tiny", f"local:{tmp_path}/out", heldout, cache=False,
                     params={"max_tokens": 16})
    assert [c[0] for c in generate] == ["batch"] * 4  # 10 prompts = 8 + 2, for each model
    assert [c[2] for c in generate] == [8, 2, 8, 2]
    assert {c[1] for c in generate} == {"tiny", f"{tmp_path}/out"}
    assert all(c[3] == 16 for c in generate)
    assert report.rows[3]["tuned_response"] == f"{tmp_path}/out:q3"


def test_huggingface_without_endpoint_downloads_and_runs_locally(generate, monkeypatch):
    import huggingface_hub

    seen = {}

    def fake_download(repo_id, token=None):
        seen["repo"], seen["token"] = repo_id, token
        return "/cache/me--tuned"

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    ref = ModelRef(id="me/tuned", provider="huggingface", needs_deployment=True)
    assert inference.chat(ref, "hello", token="hf_x", max_tokens=5) == "/cache/me--tuned:hello"
    assert seen == {"repo": "me/tuned", "token": "hf_x"}
    assert generate[0][1] == "/cache/me--tuned" and generate[0][3] == 5
    from finetune_sdk.errors import UnsupportedFeatureError

    with pytest.raises(UnsupportedFeatureError, match="top_p without an Inference Endpoint"):
        inference.chat(ref, "hello", token="hf_x", top_p=0.5)
    assert len(generate) == 1


def test_missing_local_generate_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "finetune_sdk.local.generate", None)
    with pytest.raises(ConfigurationError, match="local.generate is missing"):
        inference.chat("local:/x", "hi")


def test_local_sampling_settings_it_cannot_honour_are_refused(generate, tmp_path):
    from finetune_sdk.errors import UnsupportedFeatureError

    for params in ({"top_p": 0.9}, {"stop": ["\n"]}):
        with pytest.raises(UnsupportedFeatureError, match="local does not support"):
            inference.chat(f"local:{tmp_path}", "hi", **params)
    assert generate == []  # nothing generated with settings it would have ignored
    # Credentials meant for a hosted model in the same comparison are not sampling settings.
    assert inference.chat(f"local:{tmp_path}", "hi", top_p=None, api_key="k")


def test_a_folder_that_is_no_model_is_refused_with_what_it_lacks(tmp_path):
    from finetune_sdk.errors import ConfigurationError
    from finetune_sdk.local.generate import _folder

    with pytest.raises(ConfigurationError, match="neither config.json .* nor adapter_config.json"):
        _folder(str(tmp_path))
    (tmp_path / "adapter_config.json").write_text("{}")
    assert _folder(str(tmp_path)) == tmp_path.resolve()
