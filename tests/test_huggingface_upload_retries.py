"""One retry owner for the Hugging Face upload: our RetryPolicy, never huggingface_hub's too.

``upload_file`` sends its preupload request through huggingface_hub's ``http_backoff``, which
retried a 503/429 five more times (sleeping for real) inside each of our attempts: 24 POSTs
under a persistent 503. Here the Hub mock refuses for good, and the requests are counted.
"""

from __future__ import annotations

import re

import huggingface_hub.utils._http as hub_http
import pytest
from test_huggingface_conformance import make_provider, mount_hub_mock

from finetune_sdk import Client
from finetune_sdk.errors import APIStatusError
from finetune_sdk.providers.huggingface.adapter import HuggingFaceProvider
from finetune_sdk.providers.huggingface.hub_retries import HUB_RETRIED_STATUSES
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import write_chat_jsonl

PREUPLOAD = r"^POST /api/datasets/.+/preupload/"
COMMIT = r"^POST /api/datasets/.+/commit/"
CREATE_REPO = r"^POST /api/repos/create$"


@pytest.fixture
def hub_sleeps(monkeypatch) -> list[float]:
    """The sleeps of huggingface_hub's own backoff (recorded, never slept)."""
    slept: list[float] = []
    monkeypatch.setattr(hub_http.time, "sleep", slept.append)
    return slept


@pytest.fixture
def mock(httpx2_mock, monkeypatch):
    return mount_hub_mock(httpx2_mock, monkeypatch)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(mock, sleeps) -> HuggingFaceProvider:
    # RetryPolicy's defaults (max_attempts and all), only its sleeps recorded.
    return make_provider(mock, retry=RetryPolicy(sleep=sleeps.append))


@pytest.fixture
def data(tmp_path):
    return write_chat_jsonl(tmp_path / "train.jsonl")


def sent(mock, pattern: str) -> int:
    return sum(1 for r in mock.requests if re.search(pattern, f"{r.method} {r.url.path}"))


@pytest.mark.parametrize("status", [503, 429])
@pytest.mark.parametrize("refused", [PREUPLOAD, COMMIT, CREATE_REPO, None],
                         ids=["preupload", "commit", "create-repo", "every-request"])
def test_an_upload_refused_forever_is_sent_at_most_max_attempts(
        provider, mock, data, sleeps, hub_sleeps, status, refused) -> None:
    mock.fail_next(status, times=1000, match=refused)
    with pytest.raises(APIStatusError) as info:
        provider.upload_dataset(data)
    assert info.value.status_code == status
    attempts = RetryPolicy().max_attempts
    # Whichever request is refused first is the one sent again; nothing after it is sent.
    first_refused = CREATE_REPO if refused is None else refused
    requests = sent(mock, first_refused)
    assert requests == attempts == len(sleeps) + 1
    assert all(sent(mock, each) <= attempts for each in (CREATE_REPO, PREUPLOAD, COMMIT))
    assert len(mock.requests) == sum(sent(mock, e) for e in (CREATE_REPO, PREUPLOAD, COMMIT))
    assert hub_sleeps == []  # huggingface_hub waited for nothing and sent nothing again


def test_a_429_retry_after_is_honoured_by_our_policy_alone(provider, mock, data, sleeps,
                                                           hub_sleeps) -> None:
    mock.fail_next(429, times=2, retry_after=3, match=PREUPLOAD)
    ref = provider.upload_dataset(data)
    assert ref.status == "ready" and sent(mock, PREUPLOAD) == 3
    assert sleeps == [3.0, 3.0] and hub_sleeps == []


def test_the_lifecycle_upload_sends_wait_false_and_gets_a_ready_ref(provider, mock, data,
                                                                   hub_sleeps) -> None:
    mock.fail_next(503, times=1, match=PREUPLOAD)
    ref = Client(provider, ledger=False).datasets.upload(data, wait=False)
    assert ref.status == "ready" and sent(mock, PREUPLOAD) == 2 and hub_sleeps == []


def test_hub_requests_outside_a_provider_call_keep_their_own_retries(provider, mock, data,
                                                                    hub_sleeps) -> None:
    provider.upload_dataset(data)  # installs the hook on the shared client
    mock.fail_next(503, times=1, match=PREUPLOAD)
    url = f"{mock.base_url}/api/datasets/{provider.dataset_repo}/preupload/main"
    response = hub_http.http_backoff("POST", url, json={"files": []})
    assert response.status_code == 200 and len(hub_sleeps) == 1


def test_the_statuses_taken_over_are_the_ones_huggingface_hub_retries() -> None:
    default = getattr(hub_http, "_DEFAULT_RETRY_ON_STATUS_CODES", None)
    if default is None:
        pytest.skip("this huggingface_hub names its retried statuses differently")
    assert set(default) <= HUB_RETRIED_STATUSES
