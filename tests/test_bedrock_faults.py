"""The fault matrix for Bedrock: a dropped create leaves exactly one job (the resend carries the
same clientRequestToken and Bedrock ignores it), throttling is retried as told, 5xx on create
and on polls, malformed answers, an unknown status, and no credential in any error.

In process the mock answers boto3 through a botocore ``before-send`` hook (faults become
botocore's own ReadTimeoutError / EndpointConnectionError); the loopback cells use real sockets,
where a dropped answer is botocore's ConnectionClosedError and a slow one its ReadTimeoutError.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

import httpx2
import pytest
from faults_support import after_processing
from test_bedrock_conformance import BUCKET, make_provider, no_ambient_aws  # noqa: F401

from finetune_sdk import Client
from finetune_sdk.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    RateLimitError,
)
from finetune_sdk.ledger import Ledger
from finetune_sdk.providers.bedrock.adapter import BedrockProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import write_chat_jsonl
from finetune_sdk.testing.mock_servers.bedrock import BedrockMockServer
from finetune_sdk.types import JobSpec, JobStatus

pytestmark = [pytest.mark.faults]

NOVA = "amazon.nova-micro-v1:0:128k"
CREATE = r"^POST /model-customization-jobs$"
SECRET = "wJalrXUtnFEMI-K7MDENG-SENTINEL-7f3a9c"
TOKEN = "IQoJb3JpZ2luX2VjE-SESSION-SENTINEL-5b2d"


@pytest.fixture
def mock() -> BedrockMockServer:
    return BedrockMockServer()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(mock, sleeps, tmp_path):
    provider = BedrockProvider(region=mock.region, bucket=BUCKET, role_arn=mock.role_arn,
                               session=mock.session(secret_key=SECRET, token=TOKEN),
                               endpoint_url=mock.base_url,
                               retry=RetryPolicy(max_attempts=3, sleep=sleeps.append))
    with Client(provider, ledger=Ledger(tmp_path / "ledger.sqlite3")) as client:
        yield client


@pytest.fixture
def spec(client, sleeps, tmp_path):
    ref = client.datasets.upload(write_chat_jsonl(tmp_path / "train.jsonl", 12))
    sleeps.clear()
    return JobSpec(base_model=NOVA, training_file=ref, client_ref=f"faults-{uuid.uuid4().hex[:12]}")


def creates(mock) -> list[dict]:
    return [json.loads(r.content) for r in mock.requests_to("POST", r"^/model-customization-jobs$")]


def assert_one_job(mock, client, spec, job):
    assert mock.job_count() == 1 and job.client_ref == spec.client_ref
    row = client.ledger.get(spec.client_ref)
    assert row is not None and row.job_id == job.id and row.provider == "bedrock"


# -- the dropped create: exactly one job, the same token on every send ----------------------
def test_dropped_create_answer_makes_one_job_with_the_same_token(mock, client, spec):
    def drop(request):
        raise httpx2.ReadTimeout("answer lost", request=request)

    with after_processing(mock, CREATE, drop) as hits:
        job = client.jobs.create(spec)
    assert hits
    assert_one_job(mock, client, spec, job)
    sent = creates(mock)
    assert len(sent) == 2  # the lifecycle resent (client-chosen ids), Bedrock ignored it
    assert {b["clientRequestToken"] for b in sent} == {spec.client_ref}


def test_connection_dropped_after_the_create_over_sockets(mock, spec, tmp_path):
    def drop(request):
        raise httpx2.ReadTimeout("connection closed", request=request)  # server hangs up

    with mock.serve() as url:
        provider = make_provider(mock, SECRET, RetryPolicy(sleep=lambda s: None),
                                 session=None, endpoint_url=url, aws_access_key_id="AKIDX",
                                 aws_secret_access_key=SECRET, timeout=5)
        client = Client(provider, ledger=Ledger(tmp_path / "l.sqlite3"))
        with after_processing(mock, CREATE, drop):
            job = client.jobs.create(spec)
    assert_one_job(mock, client, spec, job)
    assert len(creates(mock)) == 2


def test_real_read_timeout_on_create_over_sockets(mock, spec, tmp_path):
    mock.slow_next(1.5, match=CREATE)  # Bedrock acts on it after our 0.5 s read timeout
    with mock.serve() as url:
        provider = make_provider(mock, SECRET, RetryPolicy(sleep=lambda s: None),
                                 session=None, endpoint_url=url, aws_access_key_id="AKIDX",
                                 aws_secret_access_key=SECRET, timeout=0.5)
        client = Client(provider, ledger=Ledger(tmp_path / "l.sqlite3"))
        job = client.jobs.create(spec)
        time.sleep(1.6)  # the slow first create lands too: same token, so no second job
    assert_one_job(mock, client, spec, job)


def test_connection_refused_before_send_is_sent_again(mock, client, spec, sleeps):
    mock.fail_next(timeout=True, match=CREATE)
    job = client.jobs.create(spec)
    assert_one_job(mock, client, spec, job)
    assert len(creates(mock)) == 2 and len(sleeps) == 1


def test_connect_errors_on_every_read_give_up_as_connection_errors(mock, client, spec):
    job = client.jobs.create(spec)
    mock.fail_next(timeout=True, times=50)
    with pytest.raises(APIConnectionError) as info:
        client.jobs.get(job.id)
    assert not isinstance(info.value, APITimeoutError) and info.value.provider == "bedrock"


# -- throttling -----------------------------------------------------------------------------
def test_throttled_create_waits_as_told_and_makes_one_job(mock, client, spec, sleeps):
    mock.fail_next(429, retry_after=3, times=2, match=CREATE)
    job = client.jobs.create(spec)
    assert_one_job(mock, client, spec, job)
    assert sleeps == [3.0, 3.0] and len(creates(mock)) == 3


def test_throttling_exception_with_a_400_is_still_a_rate_limit(mock, client, spec, sleeps):
    body = {"__type": "ThrottlingException", "message": "Rate exceeded"}
    mock.fail_next(400, body=body, match=CREATE)
    job = client.jobs.create(spec)
    assert_one_job(mock, client, spec, job)
    assert len(sleeps) == 1


def test_endless_throttling_keeps_the_intent_and_a_rerun_makes_one_job(mock, client, spec):
    mock.fail_next(429, times=100, match=CREATE)
    with pytest.raises(RateLimitError) as info:
        client.jobs.create(spec)
    assert info.value.provider_code == "ThrottlingException"
    row = client.ledger.get(spec.client_ref)
    assert row.job_id is None and row.status == "create_failed" and mock.job_count() == 0
    mock.faults.clear()
    assert_one_job(mock, client, spec, client.jobs.create(spec))


# -- 5xx ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [500, 503])
def test_5xx_on_create_is_resent_with_the_token(mock, client, spec, status):
    mock.fail_next(status, match=CREATE)
    job = client.jobs.create(spec)
    assert_one_job(mock, client, spec, job)


def test_5xx_after_the_create_was_processed_makes_one_job(mock, client, spec):
    def error(request):
        return httpx2.Response(500, json={"__type": "InternalServerException", "message": "x"})

    with after_processing(mock, CREATE, error):
        job = client.jobs.create(spec)
    assert_one_job(mock, client, spec, job)
    assert len(creates(mock)) == 2


def test_5xx_on_polls_is_retried_through_the_wait(mock, client, spec):
    job = client.jobs.create(spec)
    mock.advance(job.id, JobStatus.SUCCEEDED)
    mock.fail_next(500, times=2, match=r"^GET /model-customization-jobs/")
    final = client.jobs.wait(job.id, poll_interval=0, progress=False)
    assert final.status is JobStatus.SUCCEEDED


# -- malformed answers and unknown statuses -----------------------------------------------------
def test_malformed_create_answer_after_processing_makes_one_job(mock, client, spec):
    def garbled(request):
        return httpx2.Response(201, content=b"<html>gateway</html>")

    with after_processing(mock, CREATE, garbled):
        job = client.jobs.create(spec)
    assert_one_job(mock, client, spec, job)


def test_malformed_read_is_a_response_validation_error(mock, client, spec):
    job = client.jobs.create(spec)
    mock.fail_next(malformed=True, match=r"^GET ")
    with pytest.raises(APIResponseValidationError, match="bedrock"):
        client.jobs.get(job.id)


def test_wait_polls_through_an_unknown_status_to_the_end(mock, client, spec):
    job = client.jobs.create(spec)
    mock.set_raw_status(job.id, "Pausing")
    seen: list[JobStatus] = []

    def update(current):
        seen.append(current.status)
        if current.status is JobStatus.UNKNOWN:
            mock.advance(job.id, JobStatus.SUCCEEDED)

    final = client.jobs.wait(job.id, poll_interval=0, progress=False, on_update=update)
    assert seen == [JobStatus.UNKNOWN, JobStatus.SUCCEEDED]
    assert final.provider_status == "Completed"


# -- secrets ----------------------------------------------------------------------------------
def test_credentials_never_reach_errors_logs_or_the_ledger(mock, client, spec, caplog, tmp_path):
    caplog.set_level(logging.DEBUG, logger="finetune_sdk")
    echo = {"__type": "UnrecognizedClientException",
            "message": f"The security token {TOKEN} (key {SECRET}) is invalid"}
    mock.fail_next(403, body=echo)
    with pytest.raises(AuthenticationError) as info:
        next(iter(client.jobs.list()))  # a generator: the call happens on the first next()
    chain, seen = [], info.value
    while seen is not None:
        chain += [str(seen), repr(seen), repr(getattr(seen, "body", None))]
        seen = seen.__cause__ or seen.__context__
    job = client.jobs.create(spec)
    texts = [*chain, caplog.text, repr(client), repr(client.provider),
             repr(vars(client.provider)), job.model_dump_json(),
             (tmp_path / "ledger.sqlite3").read_bytes().decode("latin-1")]
    for text in texts:
        assert SECRET not in text and TOKEN not in text
        assert SECRET[:12] not in text and TOKEN[:12] not in text


def test_credentials_from_the_default_chain_are_masked_too(mock, monkeypatch, tmp_path):
    """Keys the adapter never saw (boto3 found them in the environment) are masked all the same,
    and the loopback requests carry only the signature, never the secret key."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDCHAINEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    with mock.serve() as url:
        provider = BedrockProvider(region="us-east-1", bucket=BUCKET, role_arn=mock.role_arn,
                                   endpoint_url=url, retry=RetryPolicy(max_attempts=1))
        mock.fail_next(400, body={"__type": "ValidationException",
                                  "message": f"bad request signed with {SECRET} / {TOKEN}"})
        with pytest.raises(BadRequestError) as info:
            provider.get_job("some-job")
    text = f"{info.value} {info.value!r} {getattr(info.value, 'body', '')} {provider!r}"
    assert "***" in text and SECRET not in text and TOKEN not in text
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert all(SECRET not in str(dict(r.headers)) for r in mock.requests)
