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


# -- datasets: the lifecycle waits, adapters only answer get_dataset ---------------------------
class _Processing(FakeProvider):
    """A provider whose uploads are checked after they arrive: ``get_dataset`` answers from a
    script (one state per read), ``discard_dataset`` is recorded."""

    dataset_poll_interval = 0.0  # the lifecycle's waits read it (tests never really wait)

    def __init__(self, root, states, **kw) -> None:
        super().__init__(root=root, **kw)
        self.states, self.reads, self.discarded = list(states), 0, []

    def upload_dataset(self, path, *, purpose="train", wait=True):
        ref = super().upload_dataset(path, purpose=purpose)
        return ref.model_copy(update={"status": "processing"})

    def get_dataset(self, ref: DatasetRef) -> DatasetRef:
        self.reads += 1
        state = self.states.pop(0) if self.states else "processing"
        if isinstance(state, Exception):
            raise state
        error = "line 2: no assistant turn" if state == "failed" else None
        return ref.model_copy(update={"status": state, "error": error})

    def discard_dataset(self, ref: DatasetRef) -> None:
        self.discarded.append(ref.id)


@pytest.fixture
def data(tmp_path):
    from finetune_sdk.testing.conformance import write_chat_jsonl

    return write_chat_jsonl(tmp_path / "d.jsonl", 4)


def test_upload_waits_through_processing_with_backoff(tmp_path, data) -> None:
    from finetune_sdk import Client
    from finetune_sdk.lifecycle import wait_for_dataset

    provider = _Processing(tmp_path / "p", ["processing", "processing", "ready"])
    started = Client(provider, ledger=False).datasets.upload(data, wait=False)
    assert started.status == "processing" and provider.reads == 0
    pauses, seen = [], []
    ready = wait_for_dataset(provider, started, poll_interval=1, sleep=pauses.append,
                             on_update=lambda ref: seen.append(ref.status))
    assert ready.status == "ready" and ready.id == started.id and provider.reads == 3
    assert pauses == [1, 1.5, 2.25]
    assert seen == ["processing", "ready"] and provider.discarded == []


def test_client_upload_returns_a_ready_ref_and_create_waits_for_a_processing_one(tmp_path,
                                                                               data) -> None:
    from finetune_sdk import Client

    provider = _Processing(tmp_path / "p", ["ready", "processing", "ready"])
    client = Client(provider, ledger=False)
    assert client.datasets.upload(data, poll_interval=0).status == "ready"
    later = client.datasets.upload(data, wait=False)
    job = client.jobs.create(base_model="b", training_file=later)  # waits before the create
    assert job.id and provider.reads == 3 and provider.states == []


def test_a_rejected_dataset_is_discarded_and_raised_with_the_vendors_reason(tmp_path, data):
    from finetune_sdk import Client, DatasetError

    provider = _Processing(tmp_path / "p", ["processing", "failed"])
    with pytest.raises(DatasetError, match="line 2: no assistant turn"):
        Client(provider, ledger=False).datasets.upload(data, poll_interval=0)
    assert len(provider.discarded) == 1


def test_a_dataset_that_cannot_be_read_is_discarded_a_slow_one_is_kept(tmp_path, data):
    from finetune_sdk import Client
    from finetune_sdk.errors import InternalServerError

    broken = _Processing(tmp_path / "b", [InternalServerError("down", provider="p")])
    with pytest.raises(InternalServerError):
        Client(broken, ledger=False).datasets.upload(data, poll_interval=0)
    assert len(broken.discarded) == 1
    slow = _Processing(tmp_path / "s", [])
    with pytest.raises(WaitTimeoutError, match="still processing") as info:
        Client(slow, ledger=False).datasets.upload(data, timeout=0.05, poll_interval=0.01)
    assert info.value.last.status == "processing" and slow.discarded == []


def test_a_cancelled_async_call_wakes_its_threads_sleep_at_once() -> None:
    import threading
    import time

    from finetune_sdk import _cancel

    event, outcome = threading.Event(), []

    def worker() -> None:
        with _cancel.cancel_with(event):
            try:
                _cancel.sleep(30)
            except _cancel.Cancelled:
                outcome.append(time.monotonic())

    thread = threading.Thread(target=worker)
    thread.start()
    time.sleep(0.05)
    cancelled = time.monotonic()
    event.set()
    thread.join(2)
    assert outcome and outcome[0] - cancelled < 0.5
    _cancel.sleep(0)  # outside a cancellable call it is time.sleep
