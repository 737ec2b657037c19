"""The fault matrix of the hosted adapters (openai, fireworks, gemini, huggingface, together),
in process.

Every cell runs for every adapter against its stateful mock and asserts the same three things:
no duplicate job on the server, no lost ledger row, and one of our error types where the SDK
gives up. A create the vendor may have acted on is never sent again where the vendor cannot
dedupe it (no client-chosen ids). Retries never really sleep (the policy's sleep records).
Together's own cells (the steps before its create: model limits, the price estimate) close the
file. Loopback-socket and killed-process cells are in test_faults_loopback.py; the table is
docs/reliability.md.
"""

from __future__ import annotations

import importlib.util
import uuid

import httpx2
import pytest
from faults_support import VENDORS, after_processing, make_rig, write_train

from finetune_sdk import Client
from finetune_sdk.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    InternalServerError,
    RateLimitError,
)
from finetune_sdk.ledger import Ledger
from finetune_sdk.types import JobSpec, JobStatus

pytestmark = [
    pytest.mark.faults,
    pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning"),
]

TOGETHER = pytest.param("together", id="together", marks=pytest.mark.skipif(
    importlib.util.find_spec("together") is None,
    reason="the together SDK is not installed (it comes with the [together] extra)"))
HOSTED = (*VENDORS, TOGETHER)
"""The matrix's adapters: faults_support's VENDORS and Together, whose SDK is an extra."""
together_only = pytest.mark.parametrize("rig", [TOGETHER], indirect=True)


@pytest.fixture(params=HOSTED)
def rig(request, monkeypatch):
    rig = make_rig(request.param)
    if rig.vendor == "huggingface":  # huggingface_hub has its own session: intercept it
        import huggingface_hub.constants

        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        httpx2_mock = request.getfixturevalue("httpx2_mock")  # late-bound, like Rig.provider
        httpx2_mock.add_callback(lambda r: rig.mock.handle(r), is_reusable=True, is_optional=True)
    return rig


@pytest.fixture
def client(rig):
    with Client(rig.provider(), ledger=Ledger()) as client:
        yield client


@pytest.fixture
def spec(rig, client, tmp_path):
    """A spec whose training file is already uploaded (faults aim at the job calls)."""
    ref = client.datasets.upload(write_train(tmp_path / "train.jsonl"))
    rig.sleeps.clear()
    # An explicit intent key, so the assertions can name the row (derived keys: test_intent_*).
    return JobSpec(base_model=rig.base_model, training_file=ref,
                   client_ref=f"faults-{uuid.uuid4().hex[:12]}")


def started(rig, client, spec):
    job = client.jobs.create(spec)
    rig.sleeps.clear()
    return job


def assert_one_job_recorded(rig, client, spec, job):
    """One job on the server for the intent, and the ledger row carries its id."""
    assert rig.mock.job_count() == 1
    assert job.client_ref == spec.client_ref
    row = client.ledger.get(spec.client_ref)
    assert row is not None and row.job_id == job.id and row.provider == rig.vendor


def assert_sent_once(rig, client):
    """The create left once: a vendor without client-chosen ids cannot dedupe a second one."""
    if not client.provider.capabilities.client_chosen_ids:
        assert rig.creates() == 1


def assert_intent_kept(rig, client, spec):
    """Gave up on a create that surely never arrived: no job, and the row says a later run
    may send the intent again."""
    assert rig.mock.job_count() == 0
    row = client.ledger.get(spec.client_ref)
    assert row is not None and row.job_id is None and row.status == "create_failed"
    assert row.owner is None


# -- connect error before send ------------------------------------------------------------
def test_connect_error_before_send_resends_the_create_once(rig, client, spec):
    rig.mock.fail_next(timeout=True, match=rig.create)  # connection refused: never arrived
    job = client.jobs.create(spec)
    assert_one_job_recorded(rig, client, spec, job)
    assert rig.creates() == 2 and len(rig.sleeps) == 1


def test_connect_errors_on_every_read_give_up_with_connection_error(rig, client, spec):
    job = started(rig, client, spec)
    rig.mock.fail_next(timeout=True, times=50)
    with pytest.raises(APIConnectionError) as info:
        client.jobs.get(job.id)
    assert not isinstance(info.value, APITimeoutError)  # "never sent" stays distinguishable
    assert info.value.provider == rig.vendor
    assert len(rig.sleeps) == client.provider.retry.max_attempts - 1


# -- read timeout after the create reached the server -----------------------------------------
@pytest.mark.parametrize("lost", [httpx2.ReadTimeout, httpx2.RemoteProtocolError])
def test_timeout_after_the_create_arrived_makes_one_job_and_a_ledger_row(rig, client, spec,
                                                                          lost):
    def drop(request):
        raise lost("answer lost", request=request)

    with after_processing(rig.mock, rig.create, drop) as hits:
        job = client.jobs.create(spec)
    assert hits
    assert_one_job_recorded(rig, client, spec, job)
    assert_sent_once(rig, client)


def test_timeouts_on_reads_are_retried(rig, client, spec):
    job = started(rig, client, spec)
    rig.mock.fail_next(timeout=True, after_processing=True, match=r"^GET ", times=2)
    assert client.jobs.get(job.id).id == job.id
    assert len(rig.sleeps) == 2


# -- 429 storm with Retry-After ---------------------------------------------------------------
def test_429_storm_on_reads_waits_as_told_then_succeeds(rig, client, spec):
    job = started(rig, client, spec)
    rig.mock.fail_next(429, retry_after=2, match=r"^GET ", times=2)
    assert client.jobs.get(job.id).id == job.id
    assert rig.sleeps == [2.0, 2.0]


def test_endless_429_storm_is_a_rate_limit_error_with_the_hint(rig, client, spec):
    job = started(rig, client, spec)
    rig.mock.fail_next(429, retry_after=3600, times=50)
    with pytest.raises(RateLimitError) as info:
        client.jobs.get(job.id)
    assert info.value.retry_after == 3600.0 and info.value.provider == rig.vendor
    cap = client.provider.retry.max_retry_after  # an absurd hint is capped, not obeyed
    assert rig.sleeps == [cap] * (client.provider.retry.max_attempts - 1)


def test_429_storm_on_create_waits_as_told_and_makes_one_job(rig, client, spec):
    rig.mock.fail_next(429, retry_after=3, match=rig.create, times=2)
    job = client.jobs.create(spec)
    assert_one_job_recorded(rig, client, spec, job)
    assert rig.sleeps == [3.0, 3.0] and rig.creates() == 3


def test_endless_429_on_create_keeps_the_intent_and_a_rerun_makes_one_job(rig, client, spec):
    rig.mock.fail_next(429, retry_after=1, match=rig.create, times=200)
    with pytest.raises(RateLimitError) as info:
        client.jobs.create(spec)
    assert info.value.retry_after == 1.0 and info.value.provider == rig.vendor
    assert_intent_kept(rig, client, spec)
    rig.mock.faults.clear()  # the storm is over: the same intent, run again
    job = client.jobs.create(spec)
    assert_one_job_recorded(rig, client, spec, job)


# -- 500 / 502 / 503 ------------------------------------------------------------------------
def test_5xx_on_reads_is_retried_and_a_wait_rides_it_out(rig, client, spec):
    job = started(rig, client, spec)
    for status in (500, 502, 503):
        rig.mock.fail_next(status, match=r"^GET ")
        assert client.jobs.get(job.id).id == job.id
    assert len(rig.sleeps) == 3
    rig.mock.advance(job.id, JobStatus.SUCCEEDED)
    rig.mock.fail_next(502, match=r"^GET ", times=2)  # mid-wait
    final = client.jobs.wait(job.id, poll_interval=0, progress=False)
    assert final.status is JobStatus.SUCCEEDED and len(rig.sleeps) == 5
    assert client.ledger.get(spec.client_ref).status == "succeeded"


def test_503_on_create_was_refused_before_any_work_so_it_is_sent_again(rig, client, spec):
    rig.mock.fail_next(503, match=rig.create)
    job = client.jobs.create(spec)
    assert_one_job_recorded(rig, client, spec, job)
    assert rig.creates() == 2


@pytest.mark.parametrize("status", [500, 502])
def test_500_or_502_on_create_is_never_resent_blind(rig, client, spec, status):
    """The vendor may have made the job before failing: resend only where it dedupes (a
    client-chosen id); elsewhere look it up over the window, then stop and say so."""
    from finetune_sdk.errors import CreateOutcomeUnknownError
    from finetune_sdk.reconcile import reconcile

    rig.mock.fail_next(status, match=rig.create)
    if client.provider.capabilities.client_chosen_ids:
        job = client.jobs.create(spec)
        assert_one_job_recorded(rig, client, spec, job)
        assert rig.creates() == 2
        return
    with pytest.raises(CreateOutcomeUnknownError, match="finetune reconcile"):
        client.jobs.create(spec)
    assert rig.creates() == 1 and rig.mock.job_count() == 0
    assert client.ledger.get(spec.client_ref).status == "unknown"
    with pytest.raises(CreateOutcomeUnknownError):  # a rerun alone still sends nothing
        client.jobs.create(spec)
    assert rig.creates() == 1
    [settled] = reconcile(client.ledger, lambda name: client.provider, settle_after=0)
    assert settled.outcome == "not_created"
    job = client.jobs.create(spec)
    assert_one_job_recorded(rig, client, spec, job)
    assert rig.creates() == 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_after_the_create_was_processed_is_found_not_resent(rig, client, spec, status):
    def fail(request):
        return httpx2.Response(status, json={"error": {"message": "upstream", "code": status}})

    with after_processing(rig.mock, rig.create, fail) as hits:
        job = client.jobs.create(spec)
    assert hits
    assert_one_job_recorded(rig, client, spec, job)
    assert_sent_once(rig, client)


def test_5xx_storm_on_create_gives_up_with_the_intent_kept(rig, client, spec):
    rig.mock.fail_next(503, match=rig.create, times=200)
    with pytest.raises(InternalServerError) as info:
        client.jobs.create(spec)
    assert info.value.status_code == 503 and info.value.provider == rig.vendor
    assert_intent_kept(rig, client, spec)


def test_wait_gives_up_on_an_outage_and_a_new_client_resumes(rig, client, spec):
    job = started(rig, client, spec)
    rig.mock.advance(job.id, JobStatus.RUNNING)
    rig.mock.fail_next(503, match=r"^GET ", times=200)  # the vendor is down mid-wait
    with pytest.raises(InternalServerError):
        client.jobs.wait(job.id, poll_interval=0, progress=False)
    assert client.ledger.get(spec.client_ref).job_id == job.id
    rig.mock.faults.clear()
    rig.mock.advance(job.id, JobStatus.SUCCEEDED)
    with Client.for_job(job.id, retry=rig.policy(), **rig.wired_kwargs()) as again:
        final = again.jobs.wait(job.id, poll_interval=0, progress=False)
    assert final.status is JobStatus.SUCCEEDED and rig.mock.job_count() == 1
    assert client.ledger.get(spec.client_ref).status == "succeeded"


# -- malformed JSON body ----------------------------------------------------------------------
def test_malformed_body_on_a_read_is_a_response_validation_error(rig, client, spec):
    job = started(rig, client, spec)
    rig.mock.fail_next(malformed=True, match=r"^GET ", times=50)
    with pytest.raises(APIResponseValidationError) as info:
        client.jobs.get(job.id)
    assert info.value.provider == rig.vendor


def test_malformed_body_on_list_is_a_response_validation_error(rig, client):
    rig.mock.fail_next(malformed=True, match=rig.list, times=50)
    with pytest.raises(APIResponseValidationError):
        list(client.jobs.list())


def test_malformed_create_answer_is_looked_up_not_resent(rig, client, spec):
    """A garbled 2xx to a create may hide a made job: it is found by client_ref, never resent."""
    def garbage(request):
        return httpx2.Response(200, content=b"<html>502 Bad Gateway</html>")

    with after_processing(rig.mock, rig.create, garbage) as hits:
        job = client.jobs.create(spec)
    assert hits
    assert_one_job_recorded(rig, client, spec, job)
    assert_sent_once(rig, client)


# -- unknown status string --------------------------------------------------------------------
def test_wait_polls_through_an_unknown_status_to_the_end(rig, client, spec):
    job = started(rig, client, spec)
    rig.mock.set_raw_status(job.id, "JOB_STATE_FROM_THE_FUTURE")
    seen = []

    def on_update(current):
        seen.append((current.status, current.provider_status))
        if current.status is JobStatus.UNKNOWN:
            rig.mock.advance(job.id, JobStatus.SUCCEEDED)

    final = client.jobs.wait(job.id, poll_interval=0, on_update=on_update, progress=False)
    assert (JobStatus.UNKNOWN, "JOB_STATE_FROM_THE_FUTURE") in seen
    assert final.status is JobStatus.SUCCEEDED
    assert client.ledger.get(spec.client_ref).status == "succeeded"


# -- empty pages ------------------------------------------------------------------------------
def test_no_jobs_at_all_is_an_empty_list_and_no_match(rig, client):
    assert list(client.jobs.list()) == []
    assert client.provider.find_job("ftsdk-never-created") is None


def test_an_empty_page_that_points_further_ends_cleanly(rig, client):
    rig.mock.seed_jobs(3)
    with after_processing(rig.mock, rig.list, rig.empty_page_response) as hits:
        jobs = list(client.jobs.list())
    assert hits
    assert len({j.id for j in jobs}) == len(jobs)
    assert len(jobs) == (3 if rig.empty_page_continues else 0)


# -- Together only: the steps before its create ------------------------------------------------
TOGETHER_LIMITS = r"^GET /v1/fine-tunes/models/limits$"
TOGETHER_ESTIMATE = r"^POST /v1/fine-tunes/estimate-price$"


@together_only
def test_together_model_limits_down_means_not_sent_and_the_intent_is_kept(rig, client, spec):
    from finetune_sdk.providers.together.request import CreateNotSentError

    rig.mock.fail_next(500, match=TOGETHER_LIMITS, times=200)
    with pytest.raises(CreateNotSentError, match="not sent"):
        client.jobs.create(spec)
    assert rig.creates() == 0
    assert_intent_kept(rig, client, spec)  # never "unknown": the create never left
    rig.mock.faults.clear()
    assert_one_job_recorded(rig, client, spec, client.jobs.create(spec))


@together_only
def test_together_failing_price_estimate_never_blocks_the_create(rig, client, spec):
    rig.mock.fail_next(500, match=TOGETHER_ESTIMATE, times=200)
    job = client.jobs.create(spec)
    assert rig.creates() == 1 and "price_estimate" not in job.provider_details
    assert_one_job_recorded(rig, client, spec, job)


@together_only
def test_together_estimate_above_max_usd_stops_before_the_create(rig, client, spec):
    from finetune_sdk.errors import BudgetExceededError

    rig.mock.price_per_million = 10_000.0
    pricey = spec.model_copy(update={"max_usd": 5.0})
    with pytest.raises(BudgetExceededError, match="Together estimates this job at"):
        client.provider.create_job(pricey)
    assert rig.creates() == 0 and rig.mock.job_count() == 0
