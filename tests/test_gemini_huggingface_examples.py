"""The two workflow examples run against the real adapters too ("one changed line"), with the
stateful mocks standing in for Vertex/GCS and the Hub/HF Jobs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from test_huggingface_conformance import mount_hub_mock

from finetune_sdk.providers.gemini.adapter import GeminiProvider
from finetune_sdk.providers.huggingface.adapter import HuggingFaceProvider
from finetune_sdk.testing.mock_servers.vertex import VertexMockServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gemini_example_against_vertex_mock(httpx2_mock, monkeypatch, capsys):
    import google.auth
    from google.oauth2.credentials import Credentials

    mock = VertexMockServer(auto_advance=True)
    mock.mount(httpx2_mock)
    with mock.serve() as gcs_url:
        monkeypatch.setenv("FINETUNE_PROVIDER", "gemini")
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", mock.project)
        monkeypatch.setenv("FINETUNE_SDK_GCS_BUCKET", "gs://cycle-app-tuning/data")
        monkeypatch.setenv("GOOGLE_VERTEX_BASE_URL", mock.base_url)
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_url)
        # Stand-in for application-default credentials (no ADC lookup in tests).
        monkeypatch.setattr(google.auth, "default",
                            lambda *a, **k: (Credentials(token="adc-test-token"), mock.project))
        monkeypatch.setattr(GeminiProvider, "poll_interval", lambda self: 0.0)
        load_example("gemini_workflow").main()
    out = capsys.readouterr().out
    assert "uploaded: gs://cycle-app-tuning/data/" in out
    assert "tuned model: projects/mock-project/locations/us-central1/endpoints/" in out
    [job] = mock.jobs.values()
    assert job["tunedModelDisplayName"] == "menstrual-health-coach"
    hyper = job["supervisedTuningSpec"]["hyperParameters"]
    assert hyper == {"epochCount": 3, "learningRateMultiplier": 1.0,
                     "adapterSize": "ADAPTER_SIZE_FOUR"}
    [data] = [v for k, v in mock.objects.items() if k.startswith("gs://cycle-app-tuning/")]
    assert b"systemInstruction" in data and b'"model"' in data


def test_autotrain_example_against_hub_mock(httpx2_mock, monkeypatch, capsys):
    mock = mount_hub_mock(httpx2_mock, monkeypatch)
    mock.auto_advance = True
    monkeypatch.setenv("FINETUNE_PROVIDER", "huggingface")
    monkeypatch.setenv("HF_TOKEN", "hf_example_token_123456")
    monkeypatch.setenv("HF_NAMESPACE", mock.namespace)
    monkeypatch.setenv("HF_ENDPOINT", mock.base_url)
    monkeypatch.setattr(HuggingFaceProvider, "poll_interval", lambda self: 0.0)
    load_example("autotrain_workflow").main()
    out = capsys.readouterr().out
    assert "model: mock-user/therapy-support-lora" in out
    assert "loss 1.4" in out
    [job] = mock.jobs.values()
    script = job["command"][2]
    for flag in ("--peft", "--lora-r 16", "--lora-alpha 32", "--lora-dropout 0.05",
                 "--target-modules q_proj,v_proj", "--trainer sft"):
        assert flag in script
    assert job["flavor"] == "a10g-small"
    assert "hf_example_token_123456" not in out
