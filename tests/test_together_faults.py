"""The fault matrix for the Together adapter, in process and over real sockets.

Each cell asserts what tests/test_faults_hosted.py asserts for the other hosted adapters: no
duplicate job on the server, the ledger row carries the id, and our error types where it gives
up. Together-specific cells: a failure in the steps before the create (model limits) is "not
sent", a failed price estimate never blocks the create, an estimate above ``max_usd`` stops it,
and the SDK never resends a create by itself (its own retries are off).
"""

from __future__ import annotations

import time
import uuid

import httpx2
import pytest
from faults_support import after_processing, make_rig, write_train

pytest.importorskip("together")

from finetune_sdk import Client  # noqa: E402
from finetune_sdk.errors import (  # noqa: E402
    APIResponseValidationError,
    BudgetExceededError,
    CreateOutcomeUnknownError,
    InternalServerError,
    RateLimitError,
)
from finetune_sdk.ledger import Ledger  # noqa: E402
from finetune_sdk.providers.together.request import CreateNotSentError  # noqa: E402
from finetune_sdk.registry import create_provider  # noqa: E402
from finetune_sdk.retry import RetryPolicy  # noqa: E402
from finetune_sdk.types import JobSpec, JobStatus  # noqa: E402

pytestmark = [
    pytest.mark.faults,
    pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning"),
]

LIMITS = r"^GET /v1/fine-tunes/models/limits$"
ESTIMATE = r"^POST /v1/fine-tunes/estimate-price$"


@pytest.fixture(autouse=True)
def _no_together_env(monkeypatch):
    for name in ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "TOGETHER_PROJECT_ID", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def rig():
    return make_rig("together")


@pytest.fixture
def client(rig):
    with Client(rig.provider(), ledger=Ledger()) as client:
        yield client


@pytest.fixture
def spec(rig, client, tmp_path):
    ref = client.datasets.upload(write_train(tmp_path / "train.jsonl"))
    rig.sleeps.clear()
    return JobSpec(base_model=rig.base_model, training_file=ref,
                   client_ref=f"faults-{uuid.uuid4().hex[:12]}")


def assert_one_job_recorded(rig, client, spec, job):
    assert rig.mock.job_count() == 1
    assert job.client_ref == spec.client_ref
    row = client.ledger.get(spec.client_ref)
    assert row is not None and row.job_id == job.id and row.provider == "together"


def assert_intent_kept(rig, client, spec):
    assert rig.mock.job_count() == 0
    row = client.ledger.get(spec.client_ref)
    assert row is not None and row.job_id is None and row.status == "create_failed"


# -- the create answer lost after Together made the job ---------------------------------------
@pytest.mark.parametrize("lost", [httpx2.ReadTimeout, httpx2.RemoteProtocolError])
def test_dropped_create_is_found_by_its_suffix_and_never_resent(rig, client, spec, lost):
    def drop(request):
        raise lost("answer lost", request=request)

    with after_processing(rig.mock, rig.create, drop) as hits:
        job = client.jobs.create(spec)
    assert hits and rig.creates() == 1
    assert_one_job_recorded(rig, client, spec, job)


def test_dropped_create_over_real_sockets_makes_one_job(rig, tmp_path):
    """The SDK's own httpx client against a loopback server that closes the connection after
    making the job: the adapter finds it, the SDK (retries off) does not resend."""
    def drop(request):
        raise httpx2.ReadTimeout("dropped", request=request)

    with rig.mock.serve() as url:
        client = Client(create_provider("together", retry=rig.policy(), **rig.kwargs(url)),
                        ledger=Ledger())
        ref = client.datasets.upload(write_train(tmp_path / "train.jsonl"))
        with after_processing(rig.mock, rig.create, drop):
            job = client.jobs.create(base_model=rig.base_model, training_file=ref)
    assert rig.mock.job_count() == 1 and rig.creates() == 1
    assert client.ledger.get(job.client_ref).job_id == job.id


def test_a_create_landing_after_the_read_timeout_is_found_not_sent_twice(rig, tmp_path):
    """Together takes 1.5 s, the client waits 0.5 s: the lookups over the window find it."""
    with rig.mock.serve() as url:
        provider = create_provider("together", retry=RetryPolicy(max_attempts=3, lookup_window=6),
                                   **{**rig.kwargs(url), "timeout": 0.5})
        client = Client(provider, ledger=Ledger())
        ref = client.datasets.upload(write_train(tmp_path / "train.jsonl"))
        rig.mock.slow_next(1.5, match=rig.create)
        job = client.jobs.create(base_model=rig.base_model, training_file=ref)
        time.sleep(0.3)  # a resent create (the bug) would land now
    assert rig.mock.job_count() == 1 and rig.creates() == 1
    assert client.ledger.get(job.client_ref).job_id == job.id


def test_a_500_on_create_is_sent_once_then_stops_unknown(rig, client, spec):
    """together 3.1 would resend it twice by itself (max_retries=2): here it is sent once,
    looked up, and the call stops for `finetune reconcile` (nothing was made)."""
    rig.mock.fail_next(500, match=rig.create)
    with pytest.raises(CreateOutcomeUnknownError, match="finetune reconcile"):
        client.jobs.create(spec)
    assert rig.creates() == 1 and rig.mock.job_count() == 0
    assert client.ledger.get(spec.client_ref).status == "unknown"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_after_the_create_was_processed_is_found_not_resent(rig, client, spec, status):
    def fail(request):
        return httpx2.Response(status, json={"error": {"message": "upstream"}})

    with after_processing(rig.mock, rig.create, fail):
        job = client.jobs.create(spec)
    assert rig.creates() == 1
    assert_one_job_recorded(rig, client, spec, job)


def test_malformed_create_answer_is_looked_up_not_resent(rig, client, spec):
    def garbage(request):
        return httpx2.Response(200, content=b"<html>502 Bad Gateway</html>")

    with after_processing(rig.mock, rig.create, garbage):
        job = client.jobs.create(spec)
    assert rig.creates() == 1
    assert_one_job_recorded(rig, client, spec, job)


# -- 429 with Retry-After ------------------------------------------------------------------------
def test_429_on_create_waits_as_told_and_makes_one_job(rig, client, spec):
    rig.mock.fail_next(429, retry_after=3, match=rig.create, times=2)
    job = client.jobs.create(spec)
    assert rig.sleeps == [3.0, 3.0] and rig.creates() == 3
    assert_one_job_recorded(rig, client, spec, job)


def test_endless_429_on_create_keeps_the_intent_for_a_rerun(rig, client, spec):
    rig.mock.fail_next(429, retry_after=1, match=rig.create, times=200)
    with pytest.raises(RateLimitError) as info:
        client.jobs.create(spec)
    assert info.value.retry_after == 1.0 and info.value.provider == "together"
    assert_intent_kept(rig, client, spec)
    rig.mock.faults.clear()
    assert_one_job_recorded(rig, client, spec, client.jobs.create(spec))


def test_429_on_polls_waits_as_told(rig, client, spec):
    job = client.jobs.create(spec)
    rig.sleeps.clear()
    rig.mock.fail_next(429, retry_after=2, match=r"^GET /v1/fine-tunes/ft-", times=2)
    assert client.jobs.get(job.id).id == job.id
    assert rig.sleeps == [2.0, 2.0]


# -- 5xx on polls ------------------------------------------------------------------------------
def test_5xx_on_polls_is_retried_and_a_wait_rides_it_out(rig, client, spec):
    job = client.jobs.create(spec)
    rig.sleeps.clear()
    for status in (500, 502, 503):
        rig.mock.fail_next(status, match=r"^GET /v1/fine-tunes/ft-")
        assert client.jobs.get(job.id).id == job.id
    assert len(rig.sleeps) == 3
    rig.mock.advance(job.id, JobStatus.SUCCEEDED)
    rig.mock.fail_next(502, match=r"^GET /v1/fine-tunes/ft-", times=2)  # mid-wait
    final = client.jobs.wait(job.id, poll_interval=0, progress=False)
    assert final.status is JobStatus.SUCCEEDED and len(rig.sleeps) == 5
    assert client.ledger.get(spec.client_ref).status == "succeeded"


def test_an_outage_mid_wait_gives_up_and_a_new_client_resumes(rig, client, spec):
    job = client.jobs.create(spec)
    rig.mock.advance(job.id, JobStatus.RUNNING)
    rig.mock.fail_next(503, match=r"^GET ", times=200)
    with pytest.raises(InternalServerError):
        client.jobs.wait(job.id, poll_interval=0, progress=False)
    rig.mock.faults.clear()
    rig.mock.advance(job.id, JobStatus.SUCCEEDED)
    with Client.for_job(job.id, retry=rig.policy(), **rig.wired_kwargs()) as again:
        assert again.jobs.wait(job.id, poll_interval=0, progress=False).status.value == "succeeded"
    assert rig.mock.job_count() == 1


# -- malformed JSON and unknown statuses ---------------------------------------------------------
def test_malformed_json_on_reads_is_a_response_validation_error(rig, client, spec):
    job = client.jobs.create(spec)
    rig.mock.fail_next(malformed=True, match=r"^GET ", times=50)
    with pytest.raises(APIResponseValidationError) as info:
        client.jobs.get(job.id)
    assert info.value.provider == "together"
    with pytest.raises(APIResponseValidationError):
        list(client.jobs.list())


def test_wait_polls_through_an_unknown_status_to_the_end(rig, client, spec):
    job = client.jobs.create(spec)
    rig.mock.set_raw_status(job.id, "migrating_to_new_cluster")
    seen = []

    def on_update(current):
        seen.append((current.status, current.provider_status))
        if current.status is JobStatus.UNKNOWN:
            rig.mock.advance(job.id, JobStatus.SUCCEEDED)

    final = client.jobs.wait(job.id, poll_interval=0, on_update=on_update, progress=False)
    assert (JobStatus.UNKNOWN, "migrating_to_new_cluster") in seen
    assert final.status is JobStatus.SUCCEEDED


# -- the steps before the create -----------------------------------------------------------------
def test_model_limits_down_means_not_sent_and_the_intent_is_kept(rig, client, spec):
    rig.mock.fail_next(500, match=LIMITS, times=200)
    with pytest.raises(CreateNotSentError, match="not sent"):
        client.jobs.create(spec)
    assert rig.creates() == 0
    assert_intent_kept(rig, client, spec)  # never "unknown": the create never left
    rig.mock.faults.clear()
    assert_one_job_recorded(rig, client, spec, client.jobs.create(spec))


def test_a_failing_price_estimate_never_blocks_the_create(rig, client, spec):
    rig.mock.fail_next(500, match=ESTIMATE, times=200)
    job = client.jobs.create(spec)
    assert rig.creates() == 1 and "price_estimate" not in job.provider_details
    assert_one_job_recorded(rig, client, spec, job)


def test_an_estimate_above_max_usd_stops_before_the_create(rig, client, spec):
    rig.mock.price_per_million = 10_000.0
    pricey = spec.model_copy(update={"max_usd": 5.0})
    with pytest.raises(BudgetExceededError, match="Together estimates this job at"):
        client.provider.create_job(pricey)
    assert rig.creates() == 0 and rig.mock.job_count() == 0
