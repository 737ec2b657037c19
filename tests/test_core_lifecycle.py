"""Create-at-most-once, wait backoff/timeout, run(), through the fake provider."""

from __future__ import annotations

import pytest

from finetune_sdk.errors import (
    APIConnectionError,
    APIStatusError,
    BadRequestError,
    JobFailedError,
    WaitTimeoutError,
)
from finetune_sdk.lifecycle import WaitState, create_job, wait_for_job
from finetune_sdk.providers.fake import FakeOptions, FakeProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.types import DatasetRef, Job, JobSpec, JobStatus


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def fake(tmp_path, sleeps) -> FakeProvider:
    return FakeProvider(root=tmp_path, retry=RetryPolicy(max_attempts=3, sleep=sleeps.append))


def _spec(**kw) -> JobSpec:
    ref = DatasetRef(id="file-1", provider="fake", num_examples=10)
    return JobSpec(base_model="base", training_file=ref, **kw)


def test_timeout_after_processing_finds_the_job_instead_of_resending(fake) -> None:
    fake.control.fail_next(timeout=True, after_processing=True, match="^POST /jobs$")
    spec = _spec()
    job = create_job(fake, spec)
    assert fake.control.job_count() == 1
    assert job.client_ref == spec.client_ref


def test_garbled_answer_after_processing_finds_the_job_instead_of_resending(fake) -> None:
    """A 2xx we cannot parse (a proxy's HTML page) may hide a created job: look it up."""
    fake.control.fail_next(malformed=True, after_processing=True, match="^POST /jobs$")
    spec = _spec()
    job = create_job(fake, spec)
    assert fake.control.job_count() == 1
    assert job.client_ref == spec.client_ref


def test_500_is_ambiguous_so_the_create_is_looked_up_over_the_window_and_never_resent(
        fake, sleeps, tmp_path) -> None:
    """A 500 may come after the vendor made the job: resending it could pay twice."""
    from finetune_sdk.errors import CreateOutcomeUnknownError
    from finetune_sdk.ledger import Ledger

    ledger = Ledger(tmp_path / "l.sqlite3")
    fake.control.fail_next(500, match="^POST /jobs$")
    spec = _spec()
    with pytest.raises(CreateOutcomeUnknownError, match="finetune reconcile") as info:
        create_job(fake, spec, ledger=ledger)
    assert fake.control.job_count() == 0
    assert info.value.client_ref == spec.client_ref
    # the lookups were spread over the policy's window, not one immediate look
    assert sum(sleeps) == pytest.approx(fake.retry.lookup_window, abs=0.01)
    row = ledger.get(spec.client_ref)
    assert row.status == "unknown" and row.job_id is None and row.owner is None
    # calling again does not send either: the intent stays in doubt until reconciled
    with pytest.raises(CreateOutcomeUnknownError):
        create_job(fake, spec, ledger=ledger)
    assert fake.control.job_count() == 0


def test_500_without_a_ledger_raises_the_500_after_the_lookups(fake) -> None:
    fake.control.fail_next(500, match="^POST /jobs$")
    with pytest.raises(APIStatusError):
        create_job(fake, _spec())
    assert fake.control.job_count() == 0


def test_a_job_that_becomes_visible_late_is_found_by_a_later_lookup(fake, sleeps) -> None:
    """The vendor made the job but lists it a few seconds late: the window finds it."""
    spec = _spec()
    real_find = fake.find_job
    looks: list[str] = []

    def late_find(ref: str):
        looks.append(ref)
        return real_find(ref) if len(looks) >= 3 else None

    fake.find_job = late_find  # type: ignore[method-assign]
    fake.control.fail_next(timeout=True, after_processing=True, match="^POST /jobs$")
    job = create_job(fake, spec)
    assert job.client_ref == spec.client_ref and len(looks) == 3
    assert fake.control.job_count() == 1


@pytest.mark.parametrize("status", [503, 429, 408])
def test_refused_before_any_work_is_sent_again(fake, sleeps, status) -> None:
    fake.control.fail_next(status, match="^POST /jobs$")
    create_job(fake, _spec())
    assert fake.control.job_count() == 1
    assert len(sleeps) == 1


def test_client_chosen_ids_make_an_ambiguous_create_safe_to_resend(fake, sleeps) -> None:
    """Where the vendor dedupes by our id (Fireworks), a 500 is simply sent again."""
    caps = fake.capabilities.model_copy(update={"client_chosen_ids": True})
    fake.capabilities = caps  # type: ignore[misc]
    fake.control.fail_next(500, match="^POST /jobs$")
    create_job(fake, _spec())
    assert fake.control.job_count() == 1 and len(sleeps) == 1


def test_connect_error_is_retried(fake) -> None:
    fake.control.fail_next(timeout=True, match="^POST /jobs$", times=2)
    create_job(fake, _spec())
    assert fake.control.job_count() == 1


def test_connect_errors_exhaust_attempts(fake) -> None:
    fake.control.fail_next(timeout=True, match="^POST /jobs$", times=5)
    with pytest.raises(APIConnectionError):
        create_job(fake, _spec())
    assert fake.control.job_count() == 0


def test_400_is_not_retried(fake, sleeps) -> None:
    fake.control.fail_next(400, match="^POST /jobs$")
    with pytest.raises(BadRequestError):
        create_job(fake, _spec())
    assert sleeps == [] and fake.control.job_count() == 0


def test_wait_walks_the_timeline_and_reports_changes(fake) -> None:
    job = fake.create_job(_spec())
    seen: list[JobStatus] = []
    final = wait_for_job(fake, job.id, poll_interval=0, sleep=lambda s: None,
                         on_update=lambda j: seen.append(j.status))
    assert final.status is JobStatus.SUCCEEDED
    # one update per change of status or progress: three polls while running
    assert seen == [JobStatus.QUEUED] + [JobStatus.RUNNING] * 3 + [JobStatus.SUCCEEDED]


def test_wait_backs_off_to_the_cap_and_honours_server_hints() -> None:
    state = WaitState(interval=10, max_interval=20, clock=lambda: 0.0)
    running = Job(id="j", provider="p", status=JobStatus.RUNNING)
    delays = [state.observe(running) for _ in range(4)]
    assert delays == [10, 15, 20, 20]
    hinted = running.model_copy(update={"poll_after": 2.5})
    assert state.observe(hinted) == 2.5
    assert state.observe(running.model_copy(update={"status": JobStatus.FAILED})) is None


def test_wait_timeout_carries_the_last_job(fake) -> None:
    job = fake.create_job(_spec(options=FakeOptions(auto_advance=False)))
    with pytest.raises(WaitTimeoutError) as info:
        wait_for_job(fake, job.id, timeout=0.05, poll_interval=0.01)
    assert info.value.last.id == job.id
    assert info.value.last.status is JobStatus.VALIDATING


def test_scripted_failure_raises_on_run(tmp_path) -> None:
    from finetune_sdk import Client

    client = Client(FakeProvider(root=tmp_path), ledger=tmp_path / "l.sqlite3")
    data = tmp_path / "d.jsonl"
    data.write_text('{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}\n')
    with pytest.raises(JobFailedError, match="loss diverged") as info:
        client.jobs.run(base_model="b", training_file=data, poll_interval=0,
                        options=FakeOptions(fail_with="loss diverged"))
    assert info.value.job.status is JobStatus.FAILED
