"""A lost or failed OpenAI upload leaves no file behind on the server.

The create may have stored the file although its answer never came (the connection dropped or
timed out after OpenAI processed it, a 502, a garbled 200), or the file may be stored and then
fail processing: in each case the adapter deletes what it made and raises the upload's error.
Files it did not make (an earlier upload of the same data) stay.
"""

from __future__ import annotations

from datetime import date

import httpx2
import pytest
from faults_support import after_processing

from finetune_sdk.errors import (
    APIResponseValidationError,
    APITimeoutError,
    DatasetError,
    InternalServerError,
)
from finetune_sdk.providers.openai.adapter import OpenAIProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.openai import OpenAIMockServer

CREATE = r"^POST /v1/files$"
FILES = r"^/v1/files$"


@pytest.fixture
def mock():
    return OpenAIMockServer()


def make(mock, **overrides):
    kwargs = dict(
        api_key=SENTINEL_SECRET,
        base_url=mock.base_url,
        # Late-bound, so faults that wrap ``mock.handle`` (after_processing) apply.
        http_client=httpx2.Client(transport=httpx2.MockTransport(lambda r: mock.handle(r))),
        retry=RetryPolicy(max_attempts=3, sleep=lambda s: None),
        file_poll_interval=0,
        today=lambda: date(2026, 11, 23),
    )
    kwargs.update(overrides)
    return OpenAIProvider(**kwargs)


@pytest.fixture
def train(tmp_path):
    return write_chat_jsonl(tmp_path / "train.jsonl", 12)


def html_200(request):
    return httpx2.Response(200, content=b"<html>proxy says hi</html>",
                           headers={"content-type": "text/html"})


def bad_gateway(request):
    return httpx2.Response(502, content=b"<html>502 Bad Gateway</html>",
                           headers={"content-type": "text/html"})


# -- the single files.create --------------------------------------------------------------------
def test_a_create_dropped_after_processing_then_retried_keeps_only_the_returned_file(mock, train):
    mock.fail_next(timeout=True, after_processing=True, match=CREATE)
    ref = make(mock).upload_dataset(train)
    assert len(mock.requests_to("POST", FILES)) == 2  # the first one made a file too
    assert list(mock.files) == [ref.id]


def test_a_create_dropped_after_processing_every_time_leaves_no_file(mock, train):
    mock.fail_next(timeout=True, after_processing=True, match=CREATE, times=10)
    with pytest.raises(APITimeoutError):
        make(mock).upload_dataset(train)
    assert len(mock.requests_to("POST", FILES)) == 3
    assert mock.files == {}
    assert len(mock.requests_to("DELETE", r"^/v1/files/")) == 3


@pytest.mark.parametrize(("answer", "error"), [(html_200, APIResponseValidationError),
                                               (bad_gateway, InternalServerError)])
def test_a_stored_file_whose_answer_is_garbled_or_an_error_is_deleted(mock, train, answer, error):
    with after_processing(mock, CREATE, answer, times=10):
        with pytest.raises(error):
            make(mock).upload_dataset(train)
    assert mock.requests_to("POST", FILES)
    assert mock.files == {}


def test_a_refused_connection_is_retried_without_any_cleanup_requests(mock, train):
    mock.fail_next(timeout=True, match=CREATE)  # connection refused: nothing was stored
    ref = make(mock).upload_dataset(train)
    assert list(mock.files) == [ref.id]
    assert not mock.requests_to("GET", FILES)
    assert not mock.requests_to("DELETE", r"^/v1/files/")


def test_an_earlier_upload_of_the_same_data_is_not_taken_for_an_orphan(mock, train):
    provider = make(mock)
    first = provider.upload_dataset(train)
    mock.fail_next(timeout=True, after_processing=True, match=CREATE, times=10)
    with pytest.raises(APITimeoutError):
        provider.upload_dataset(train)
    assert list(mock.files) == [first.id]
    mock.faults.clear()
    mock.fail_next(timeout=True, after_processing=True, match=CREATE)
    second = provider.upload_dataset(train)
    assert sorted(mock.files) == sorted([first.id, second.id])


# -- processing ---------------------------------------------------------------------------------
def test_a_file_that_fails_processing_is_deleted(mock, train):
    mock.file_rejection = "line 4: messages must end with an assistant turn"
    with pytest.raises(DatasetError, match="line 4"):
        make(mock).upload_dataset(train)
    assert mock.files == {}


def test_a_failing_processing_wait_deletes_the_file(mock, train):
    mock.fail_next(500, match=r"^GET /v1/files/file-", times=10)
    with pytest.raises(InternalServerError):
        make(mock).upload_dataset(train)
    assert mock.requests_to("POST", FILES)
    assert mock.files == {}


# -- the chunked Uploads API --------------------------------------------------------------------
def test_a_lost_complete_deletes_the_file_it_made(mock, train):
    provider = make(mock, single_upload_limit=1000, upload_part_size=700)
    mock.fail_next(timeout=True, after_processing=True, match=r"/complete$")
    with pytest.raises(APITimeoutError):
        provider.upload_dataset(train)
    assert [u["status"] for u in mock.uploads.values()] == ["completed"]  # it did complete
    assert mock.files == {}


def test_a_failed_part_cancels_the_pending_upload(mock, train):
    provider = make(mock, single_upload_limit=1000, upload_part_size=700)
    mock.fail_next(400, match=r"/parts$")
    with pytest.raises(Exception):  # noqa: B017 - which error is the mock's business
        provider.upload_dataset(train)
    assert [u["status"] for u in mock.uploads.values()] == ["cancelled"]
    assert mock.files == {}


# -- over a real socket -------------------------------------------------------------------------
def test_a_connection_lost_after_the_file_post_leaves_no_file_over_real_sockets(train):
    server = OpenAIMockServer()
    with server.serve() as url:
        provider = OpenAIProvider(SENTINEL_SECRET, base_url=f"{url}/v1", timeout=5,
                                  retry=RetryPolicy(max_attempts=2, sleep=lambda s: None),
                                  file_poll_interval=0, today=lambda: date(2026, 11, 23))
        server.fail_next(timeout=True, after_processing=True, match=CREATE, times=10)
        with pytest.raises(APITimeoutError):
            provider.upload_dataset(train)
        provider.close()
    assert len(server.requests_to("POST", FILES)) == 2
    assert server.files == {}
