"""Chat with a Together model through the SDK (base models at once, a fine-tune once served),
and Together's own estimate for a local file (``live.job_estimate``: upload, ask, delete)."""

from __future__ import annotations

import httpx2
import pytest

pytest.importorskip("together")

from finetune_sdk.errors import BadRequestError, DatasetError  # noqa: E402
from finetune_sdk.facts import live_function  # noqa: E402
from finetune_sdk.providers.together.adapter import TogetherProvider  # noqa: E402
from finetune_sdk.providers.together.inference import chat  # noqa: E402
from finetune_sdk.retry import RetryPolicy  # noqa: E402
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl  # noqa: E402
from finetune_sdk.testing.mock_servers.together import TogetherMockServer  # noqa: E402
from finetune_sdk.types import JobSpec, JobStatus, ModelRef  # noqa: E402

BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


@pytest.fixture(autouse=True)
def _no_together_env(monkeypatch):
    for name in ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "TOGETHER_PROJECT_ID", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mock():
    return TogetherMockServer()


def provider_for(mock):
    return TogetherProvider(api_key=SENTINEL_SECRET, base_url=mock.base_url,
                            http_client=httpx2.Client(transport=mock.transport()),
                            dataset_poll_interval=0, retry=RetryPolicy(sleep=lambda s: None))


def test_chat_with_a_base_model_and_a_served_fine_tune(mock, tmp_path):
    http = httpx2.Client(transport=mock.transport())
    base = ModelRef(id=BASE, provider="together", base_url=f"{mock.base_url}/v1")
    answer = chat(base, [{"role": "user", "content": "hi"}], api_key=SENTINEL_SECRET,
                  http_client=http, temperature=None)
    assert answer == f"[{BASE}] you said: hi"
    provider = provider_for(mock)
    job = provider.create_job(JobSpec(base_model=BASE, training_file=provider.upload_dataset(
        write_chat_jsonl(tmp_path / "t.jsonl"))))
    mock.advance(job.id, JobStatus.SUCCEEDED)
    tuned = provider.resolve_model(provider.get_job(job.id))
    with pytest.raises(BadRequestError, match="dedicated endpoint") as info:
        chat(tuned, [{"role": "user", "content": "hi"}], api_key=SENTINEL_SECRET,
             http_client=http)
    assert SENTINEL_SECRET not in str(info.value)
    mock.served.add(tuned.id)
    assert chat(tuned, [{"role": "user", "content": "ok?"}], api_key=SENTINEL_SECRET,
                http_client=http).endswith("you said: ok?")
    [request] = [r for r in mock.requests if r.url.path == "/v1/chat/completions"][-1:]
    assert request.headers["authorization"] == f"Bearer {SENTINEL_SECRET}"


def test_live_job_estimate_uploads_asks_and_deletes(mock, tmp_path):
    job_estimate = live_function("together", "job_estimate")
    assert job_estimate is not None
    data = write_chat_jsonl(tmp_path / "t.jsonl", 20)
    found = job_estimate(data, BASE, epochs=2, provider=provider_for(mock))
    assert found["estimation_available"] and found["usd"] == found["estimated_total_price"] > 0
    assert found["confidence"] == "primary" and found["source"].endswith("(live)")
    assert mock.files == {}  # uploaded only to be priced: deleted again
    assert not mock.jobs
    asked = [r for r in mock.requests if r.url.path == "/v1/fine-tunes/estimate-price"]
    assert len(asked) == 1


def test_live_job_estimate_of_a_file_together_rejects_raises(mock, tmp_path):
    mock.file_rejection = "line 1: bad"
    with pytest.raises(DatasetError, match="line 1: bad"):
        live_function("together", "job_estimate")(write_chat_jsonl(tmp_path / "t.jsonl"), BASE,
                                                  provider=provider_for(mock))
    assert mock.files == {}


def test_live_job_estimate_keeps_sensitive_data_home(mock, tmp_path):
    from finetune_sdk.errors import SensitiveDataError

    data = write_chat_jsonl(tmp_path / "t.jsonl")
    with pytest.raises(SensitiveDataError):
        live_function("together", "job_estimate")(data, BASE, sensitive=True,
                                                  provider=provider_for(mock))
    assert mock.requests == []  # nothing was sent


def test_estimate_live_uses_togethers_own_figure_and_falls_back_without_a_key(
        mock, tmp_path, monkeypatch):
    """``finetune estimate --live -p together``: Together prices this very file; with no key
    (or offline) the bundled table's figure stays, and says why."""
    from finetune_sdk import cost
    from finetune_sdk.providers.together import live

    data = write_chat_jsonl(tmp_path / "t.jsonl", 20)
    table = cost.estimate(data, "together", BASE, epochs=2)
    fallback = cost.estimate(data, "together", BASE, epochs=2, live=True)  # no key here
    assert any("own estimate failed" in note for note in fallback.assumptions)
    assert (fallback.usd_high == table.usd_high) or (fallback.usd_high != fallback.usd_high)
    real = live.job_estimate
    monkeypatch.setattr(live, "job_estimate",
                        lambda *a, **k: real(*a, provider=provider_for(mock), **k))
    priced = cost.estimate(data, "together", BASE, epochs=2, live=True)
    asked = [r for r in mock.requests if r.url.path == "/v1/fine-tunes/estimate-price"]
    assert len(asked) == 1 and mock.files == {}
    assert priced.usd_low == priced.usd_high > 0
    assert priced.price_confidence == "primary" and priced.price_source.endswith("(live)")
    assert any("own estimate for this file" in note for note in priced.assumptions)
