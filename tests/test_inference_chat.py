"""Every hosted inference path through httpx2_mock (request bodies checked, answers parsed),
the dispatcher's provider guessing, and the deterministic fake chat."""

from __future__ import annotations

import json
import re

import httpx2
import pytest

from finetune_sdk import inference
from finetune_sdk.errors import (
    APIResponseValidationError,
    ConfigurationError,
    RateLimitError,
)
from finetune_sdk.providers import fake_inference
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.types import ModelRef

SECRET = "sk-test-SECRET-123456"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]


def _completion(text: str) -> dict:
    return {"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}


def test_openai_chat_completions(httpx2_mock):
    httpx2_mock.add_response(url="https://api.openai.com/v1/chat/completions", method="POST",
                             json=_completion("Hello!"))
    ref = ModelRef(id="ft:gpt-4o-mini:org::abc", provider="openai")
    out = inference.chat(ref, MESSAGES, api_key=SECRET, temperature=0.0, max_new_tokens=7, seed=3)
    assert out == "Hello!"
    request = httpx2_mock.get_request()
    body = json.loads(request.content)
    assert body == {"model": "ft:gpt-4o-mini:org::abc", "messages": MESSAGES,
                    "temperature": 0.0, "max_tokens": 7, "seed": 3}
    assert request.headers["authorization"] == f"Bearer {SECRET}"


def test_openai_plain_string_and_provider(httpx2_mock, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    httpx2_mock.add_response(url="https://api.openai.com/v1/chat/completions",
                             json=_completion("ok"))
    assert inference.chat("gpt-4o-mini", "hello", provider="openai") == "ok"
    body = json.loads(httpx2_mock.get_request().content)
    assert body["messages"] == [{"role": "user", "content": "hello"}]


def test_openai_error_is_translated_without_secret(httpx2_mock):
    httpx2_mock.add_response(status_code=429, json={"error": {"message": "slow down",
                                                              "type": "rate_limit", "code": "x"}},
                             is_reusable=True)
    ref = ModelRef(id="gpt-4o-mini", provider="openai")
    waits: list[float] = []
    with pytest.raises(RateLimitError) as info:
        inference.chat(ref, "hi", api_key=SECRET, base_url="http://mock.test/v1",
                       http_client=httpx2.Client(), retry=RetryPolicy(sleep=waits.append))
    assert SECRET not in str(info.value)
    assert len(httpx2_mock.get_requests()) == 4 and len(waits) == 3  # ours only, not the SDK's


def test_hosted_chat_retries_429_with_retry_after(httpx2_mock):
    url = "https://api.fireworks.ai/inference/v1/chat/completions"
    httpx2_mock.add_response(url=url, status_code=429, headers={"Retry-After": "2"},
                             json={"code": 8, "message": "busy"})
    httpx2_mock.add_response(url=url, json=_completion("after wait"))
    waits: list[float] = []
    out = inference.chat("accounts/a/models/base", "hi", provider="fireworks", api_key=SECRET,
                         retry=RetryPolicy(sleep=waits.append))
    assert out == "after wait" and waits == [2.0]


def test_fireworks_openai_compatible_endpoint(httpx2_mock):
    httpx2_mock.add_response(url="https://api.fireworks.ai/inference/v1/chat/completions",
                             method="POST", json=_completion("fw answer"))
    ref = ModelRef(id="accounts/a/models/m#accounts/a/deployments/d", provider="fireworks",
                   base_url="https://api.fireworks.ai/inference/v1")
    assert inference.chat(ref, MESSAGES, api_key=SECRET, top_p=0.5) == "fw answer"
    request = httpx2_mock.get_request()
    assert json.loads(request.content) == {"model": ref.id, "messages": MESSAGES, "top_p": 0.5}
    assert request.headers["authorization"] == f"Bearer {SECRET}"


def test_fireworks_custom_base_url_and_bad_answer(httpx2_mock, monkeypatch):
    monkeypatch.setenv("FIREWORKS_API_KEY", SECRET)
    monkeypatch.setenv("FIREWORKS_BASE_URL", "http://fw.test")
    httpx2_mock.add_response(url="http://fw.test/inference/v1/chat/completions", json={"x": 1})
    with pytest.raises(APIResponseValidationError, match="choices"):
        inference.chat("accounts/a/models/base", "hi", provider="fireworks")


def test_fireworks_undeployed_lora_refused():
    ref = ModelRef(id="accounts/a/models/lora", provider="fireworks", ready_for_inference=False,
                   needs_deployment=True, how_to_serve="provider.deploy(...)")
    with pytest.raises(ConfigurationError, match="not deployed.*deploy"):
        inference.chat(ref, "hi", api_key=SECRET)


def test_gemini_generate_content_on_tuned_endpoint(httpx2_mock):
    endpoint = "projects/p1/locations/europe-west4/endpoints/42"
    httpx2_mock.add_response(
        method="POST",
        json={"candidates": [{"content": {"role": "model", "parts": [{"text": "gem answer"}]},
                              "finishReason": "STOP"}]})
    ref = ModelRef(id=endpoint, provider="gemini", endpoint=endpoint)
    convo = [*MESSAGES, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "?"}]
    out = inference.chat(ref, convo, access_token="ya29.token", temperature=0.2, max_tokens=9)
    assert out == "gem answer"
    request = httpx2_mock.get_request()
    assert request.url.host == "europe-west4-aiplatform.googleapis.com"
    assert request.url.path.endswith(f"{endpoint}:generateContent")
    body = json.loads(request.content)
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Hi there"}]},
        {"role": "model", "parts": [{"text": "Hello"}]},
        {"role": "user", "parts": [{"text": "?"}]},
    ]
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert body["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 9}
    assert request.headers["authorization"] == "Bearer ya29.token"


def test_gemini_needs_a_project():
    with pytest.raises(ConfigurationError, match="project"):
        inference.chat(ModelRef(id="gemini-2.5-flash", provider="gemini"), "hi")


def test_huggingface_inference_endpoint(httpx2_mock, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    url = "https://abc.endpoints.huggingface.cloud"
    # huggingface_hub may look up its own metadata on the Hub first; answer it, don't require it
    httpx2_mock.add_response(method="GET", url=re.compile(r"https://huggingface\.co/.*"),
                             json={"standardEnvVars": [], "harnesses": {}},
                             is_optional=True, is_reusable=True)
    httpx2_mock.add_response(method="POST", url=f"{url}/v1/chat/completions",
                             json=_completion("hf answer"))
    ref = ModelRef(id="me/tuned", provider="huggingface", endpoint=url)
    assert inference.chat(ref, MESSAGES, token=SECRET, max_tokens=5) == "hf answer"
    request = httpx2_mock.get_request(method="POST")
    assert str(request.url).startswith(url)
    assert request.url.path.endswith("/v1/chat/completions")
    body = json.loads(request.content)
    assert body["messages"] == MESSAGES and body["max_tokens"] == 5
    assert request.headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(("model", "provider"), [
    ("fake:ft-1", "fake"), ("local:/tmp/out", "local"), ("ft:gpt-4o:o::x", "openai"),
    ("accounts/a/models/m", "fireworks"), ("projects/p/locations/l/endpoints/e", "gemini"),
])
def test_guess_provider(model, provider):
    assert inference.guess_provider(model) == provider


def test_ambiguous_id_needs_provider():
    with pytest.raises(ConfigurationError, match="provider="):
        inference.chat("some-model", "hi")


def test_fake_chat_is_deterministic_and_tuned_reuses_the_question():
    question = [{"role": "user", "content": "Is it safe to exercise after a big lunch?"}]
    tuned = inference.chat("fake:ft-job1", question)
    assert tuned == inference.chat("fake:ft-job1", question, temperature=1.0)
    assert "exercise" in tuned and "lunch" in tuned
    base = inference.chat("base-model", question, provider="fake")
    assert base in fake_inference.GENERIC_ANSWERS


def test_chat_many_keeps_order_and_limits():
    convs = [f"question number {i}" for i in range(7)]
    answers = inference.chat_many("fake:ft-x", convs, max_concurrency=3)
    assert answers == [inference.chat("fake:ft-x", c) for c in convs]


def test_hosted_chat_requests_carry_a_timeout(httpx2_mock, monkeypatch):
    """120 s by default for every vendor (a hung endpoint never blocks an eval forever)."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    httpx2_mock.add_response(method="GET", url=re.compile(r"https://huggingface\.co/.*"),
                             json={"standardEnvVars": [], "harnesses": {}},
                             is_optional=True, is_reusable=True)
    httpx2_mock.add_response(method="POST", url=re.compile(r".*chat/completions$"),
                             json=_completion("ok"), is_reusable=True)
    httpx2_mock.add_response(method="POST", url=re.compile(r".*:generateContent$"), json={
        "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}}]},
        is_reusable=True)
    endpoint = "projects/p1/locations/us-central1/endpoints/7"
    calls = {
        "openai": lambda **kw: inference.chat(ModelRef(id="m", provider="openai"), "hi",
                                              api_key=SECRET, **kw),
        "gemini": lambda **kw: inference.chat(
            ModelRef(id=endpoint, provider="gemini", endpoint=endpoint), "hi",
            access_token="ya29.t", **kw),
        "huggingface": lambda **kw: inference.chat(
            ModelRef(id="me/m", provider="huggingface",
                     endpoint="https://e.endpoints.huggingface.cloud"), "hi", token=SECRET,
            **kw),
    }
    for name, call in calls.items():
        for kwargs, expected in (({}, 120.0), ({"timeout": 7.5}, 7.5)):
            assert call(**kwargs) == "ok"
            sent = httpx2_mock.get_requests(method="POST")[-1].extensions["timeout"]
            assert sent["read"] == pytest.approx(expected), (name, kwargs, sent)
