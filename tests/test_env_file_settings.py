"""Adapters read their non-secret settings through ``config.setting`` like their keys: the
process environment first, then the ``.env`` file (``FINETUNE_SDK_ENV_FILE``)."""

from __future__ import annotations

import pytest


def test_huggingface_endpoint_comes_from_the_env_file(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    from finetune_sdk.providers.huggingface.adapter import HuggingFaceProvider

    env = tmp_path / ".env"
    env.write_text("HF_ENDPOINT=https://hub.example.test/\n")
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setenv("FINETUNE_SDK_ENV_FILE", str(env))
    assert HuggingFaceProvider("hf_x", namespace="me").endpoint == "https://hub.example.test"
    monkeypatch.setenv("HF_ENDPOINT", "https://process.example.test")  # the process env wins
    assert HuggingFaceProvider("hf_x", namespace="me").endpoint == "https://process.example.test"
    assert HuggingFaceProvider("hf_x", namespace="me",
                               endpoint="https://arg.example.test").endpoint == \
        "https://arg.example.test"


def test_vertex_base_url_comes_from_the_env_file(tmp_path, monkeypatch):
    pytest.importorskip("google.genai")
    from finetune_sdk.providers.gemini.adapter import GeminiProvider

    env = tmp_path / ".env"
    env.write_text("GOOGLE_VERTEX_BASE_URL=https://vertex.example.test\n")
    monkeypatch.delenv("GOOGLE_VERTEX_BASE_URL", raising=False)
    monkeypatch.setenv("FINETUNE_SDK_ENV_FILE", str(env))
    provider = GeminiProvider(project="p", location="us-central1", access_token="ya29.x")
    assert provider.base_url == "https://vertex.example.test"
