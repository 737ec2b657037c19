"""The conformance suite every provider adapter passes. Subclass it in a test module.

```python
class TestMyVendor(ProviderConformance):
    base_model = "my-base-model"

    @pytest.fixture
    def mock(self):                      # a MockServer subclass with the neutral hooks
        return MyVendorMockServer()

    @pytest.fixture
    def provider(self, mock, retry_policy, secret):   # wired to the mock, retry sleeps recorded
        http = httpx2.Client(transport=mock.transport())
        return MyVendorProvider(api_key=secret, http_client=http, retry=retry_policy)
```

Fixtures given here: ``secret`` (a sentinel key), ``sleeps`` (the retry sleeps, recorded instead
of slept), ``retry_policy``, ``training_file`` (a small valid chat JSONL). A vendor whose uploads
are processed after they arrive sets ``uploads_process = True`` and may override ``never_ready``
(the default fakes a dataset that never settles at the provider, not at the mock).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from ..errors import (
    APIStatusError,
    AuthenticationError,
    InternalServerError,
    JobFailedError,
    NotFoundError,
    UnsupportedFeatureError,
)
from ..lifecycle import create_job, wait_for_job
from ..retry import RetryPolicy
from ..types import Hyperparameters, JobSpec, JobStatus

__all__ = ["ProviderConformance", "SENTINEL_SECRET", "write_chat_jsonl"]

SENTINEL_SECRET = "sk-SENTINEL-do-not-print-7f3a9c1e5b"


def write_chat_jsonl(path: Path, count: int = 12) -> Path:
    """A small valid chat dataset (every provider's minimum is met)."""
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            example = {
                "messages": [
                    {"role": "system", "content": "You are a careful health coach."},
                    {"role": "user", "content": f"How much water should I drink on day {i}?"},
                    {"role": "assistant", "content": f"About two litres on day {i}; more if hot."},
                ]
            }
            handle.write(json.dumps(example) + "\n")
    return path


class ProviderConformance:
    """Behaviour every adapter must show against its stateful mock server."""

    base_model: str = "base-model"
    """A base model the provider (and its mock) accepts."""

    # -- fixtures subclasses may use ------------------------------------------------------
    @pytest.fixture
    def secret(self) -> str:
        return SENTINEL_SECRET

    @pytest.fixture
    def sleeps(self) -> list[float]:
        return []

    @pytest.fixture
    def retry_policy(self, sleeps: list[float]) -> RetryPolicy:
        return RetryPolicy(max_attempts=3, sleep=sleeps.append)

    @pytest.fixture
    def training_file(self, tmp_path: Path) -> Path:
        return write_chat_jsonl(tmp_path / "train.jsonl")

    @pytest.fixture
    def provider(self, *args: Any) -> Any:  # pragma: no cover - subclasses override
        raise NotImplementedError("subclass must provide the 'provider' fixture")

    @pytest.fixture
    def mock(self) -> Any:  # pragma: no cover - subclasses override
        raise NotImplementedError("subclass must provide the 'mock' fixture")

    uploads_process: bool = False
    """True: an upload answers ``processing`` first (the vendor checks the file after it
    arrives) and ``get_dataset`` later says ``ready``."""

    def never_ready(self, provider: Any, mock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make every dataset ``provider`` uploads stay ``processing``. This default patches the
        provider; vendors with a processing step override it to hold the mock's datasets."""
        upload = provider.upload_dataset

        def held(path: Path, *, purpose: str = "train", wait: bool = True) -> Any:
            return upload(path, purpose=purpose).model_copy(update={"status": "processing"})

        monkeypatch.setattr(provider, "upload_dataset", held)
        monkeypatch.setattr(provider, "get_dataset", lambda ref: ref, raising=False)

    @staticmethod
    def hold_answers(mock: Any, monkeypatch: pytest.MonkeyPatch, pattern: str,
                     fields: dict[str, Any]) -> None:
        """Answer every request matching ``pattern`` ("METHOD /path") with ``fields`` laid over
        the mock's JSON: e.g. a dataset whose state never leaves UPLOADING."""
        import httpx2

        dispatch = mock._dispatch

        def held(request: httpx2.Request) -> httpx2.Response:
            response = dispatch(request)
            if not re.search(pattern, f"{request.method} {request.url.path}"):
                return response
            return httpx2.Response(response.status_code, json={**response.json(), **fields},
                                   headers={"x-request-id": "req_mock"}, request=request)

        monkeypatch.setattr(mock, "_dispatch", held)

    def request_keys(self, mock: Any) -> list[str]:
        """"METHOD /path" of every request the mock has seen, in order."""
        return [f"{r.method} {r.url.path}" for r in mock.requests]

    def count(self, mock: Any, pattern: str) -> int:
        """Logged requests whose "METHOD /path" matches ``pattern``."""
        return sum(1 for key in self.request_keys(mock) if re.search(pattern, key))

    def make_spec(self, provider: Any, training_file: Path, **overrides: Any) -> JobSpec:
        ref = provider.upload_dataset(training_file)
        fields: dict[str, Any] = dict(
            base_model=self.base_model, training_file=ref, output_name="conformance"
        )
        fields.update(overrides)
        return JobSpec(**fields)

    def started_job(self, provider: Any, training_file: Path) -> Any:
        spec = self.make_spec(provider, training_file)
        provider.preflight(spec)
        return provider.create_job(spec)

    # -- the suite --------------------------------------------------------------------------
    def test_repr_shows_no_secret(self, provider: Any, secret: str) -> None:
        assert secret not in repr(provider)
        assert secret not in str(provider)
        assert secret not in repr(vars(provider))

    def test_upload_create_wait_succeeds(self, provider: Any, mock: Any,
                                         training_file: Path) -> None:
        job = self.started_job(provider, training_file)
        assert job.id and job.provider == provider.name
        assert not job.status.is_terminal
        mock.advance(job.id, JobStatus.RUNNING)
        assert provider.get_job(job.id).status is JobStatus.RUNNING
        mock.advance(job.id, JobStatus.SUCCEEDED)
        seen: list[JobStatus] = []
        final = wait_for_job(provider, job.id, poll_interval=0,
                             on_update=lambda j: seen.append(j.status))
        assert final.status is JobStatus.SUCCEEDED
        assert seen[-1] is JobStatus.SUCCEEDED
        model = provider.resolve_model(final)
        assert model.id and model.provider == provider.name and model.job_id == job.id

    def test_cancel(self, provider: Any, mock: Any, training_file: Path) -> None:
        if not provider.capabilities.cancel:
            with pytest.raises(UnsupportedFeatureError):
                provider.cancel_job("any")
            return
        job = self.started_job(provider, training_file)
        provider.cancel_job(job.id)
        final = wait_for_job(provider, job.id, poll_interval=0, timeout=5)
        assert final.status is JobStatus.CANCELLED

    def test_failed_job_carries_vendor_message(
        self, provider: Any, mock: Any, training_file: Path
    ) -> None:
        job = self.started_job(provider, training_file)
        mock.fail_job(job.id, "training file line 3: assistant turn is empty")
        failed = provider.get_job(job.id)
        assert failed.status is JobStatus.FAILED
        assert failed.error is not None
        assert "line 3: assistant turn is empty" in failed.error.message
        with pytest.raises(JobFailedError, match="assistant turn is empty"):
            failed.raise_for_status()

    def test_unknown_status_maps_to_unknown(
        self, provider: Any, mock: Any, training_file: Path
    ) -> None:
        job = self.started_job(provider, training_file)
        mock.set_raw_status(job.id, "SOME_STATUS_FROM_THE_FUTURE")
        seen = provider.get_job(job.id)
        assert seen.status is JobStatus.UNKNOWN
        assert seen.provider_status == "SOME_STATUS_FROM_THE_FUTURE"

    def test_401_is_authentication_error(self, provider: Any, mock: Any, secret: str) -> None:
        mock.fail_next(401)
        with pytest.raises(AuthenticationError) as info:
            list(provider.list_jobs(limit=1))
        assert secret not in str(info.value)

    def test_404_is_not_found(self, provider: Any, mock: Any) -> None:
        with pytest.raises(NotFoundError):
            provider.get_job(self.missing_job_id)

    missing_job_id: str = "job-does-not-exist"

    def test_5xx_retried_then_raised(self, provider: Any, mock: Any, sleeps: list[float]) -> None:
        mock.fail_next(503, times=10)
        with pytest.raises(InternalServerError):
            list(provider.list_jobs(limit=1))
        assert len(sleeps) == provider.retry.max_attempts - 1

    def test_429_with_retry_after_is_retried(
        self, provider: Any, mock: Any, training_file: Path, sleeps: list[float]
    ) -> None:
        job = self.started_job(provider, training_file)
        mock.fail_next(429, retry_after=7)
        assert provider.get_job(job.id).id == job.id
        assert sleeps == [7.0]

    def test_pagination_walks_every_page(self, provider: Any, mock: Any) -> None:
        mock.seed_jobs(mock.page_size * 2 + 1)
        jobs = list(provider.list_jobs())
        assert len(jobs) >= mock.page_size * 2 + 1
        assert len({j.id for j in jobs}) == len(jobs)

    def test_capability_gating(self, provider: Any, training_file: Path) -> None:
        caps = provider.capabilities
        missing = [n for n in Hyperparameters.model_fields if n not in caps.hyperparameters]
        if missing:
            name = missing[0]
            value: Any = {"lora_target_modules": ["q_proj"]}.get(name, 1)
            if name in {"lora_dropout", "warmup_ratio"}:
                value = 0.1
            spec = JobSpec(
                base_model=self.base_model,
                training_file=training_file,
                hyperparameters=Hyperparameters(**{name: value}),
            )
            with pytest.raises(UnsupportedFeatureError, match=provider.name):
                provider.preflight(spec)
        if not caps.pause_resume:
            with pytest.raises(UnsupportedFeatureError, match=provider.name):
                provider.pause_job("any")

    def test_find_job_by_client_ref(self, provider: Any, training_file: Path) -> None:
        spec = self.make_spec(provider, training_file)
        job = provider.create_job(spec)
        found = provider.find_job(spec.client_ref)
        assert found is not None and found.id == job.id
        assert provider.find_job("ftsdk-never-used-ref") is None

    def test_timeout_after_create_reached_server_makes_one_job(
        self, provider: Any, mock: Any, training_file: Path
    ) -> None:
        spec = self.make_spec(provider, training_file)
        before = mock.job_count()
        mock.fail_next(timeout=True, after_processing=True, match=self.create_path_pattern)
        job = create_job(provider, spec)
        assert mock.job_count() == before + 1
        assert job.client_ref == spec.client_ref

    create_path_pattern: str = r"^POST .*jobs"
    """Regex on "METHOD /path" that matches only the vendor's job-create request."""

    # -- one retry owner per call: a refusing vendor sees max_attempts requests, not more ------
    @pytest.mark.parametrize("status", [503, 429])
    def test_a_create_refused_forever_is_sent_at_most_max_attempts(
        self, provider: Any, mock: Any, training_file: Path, sleeps: list[float], tmp_path: Path,
        status: int,
    ) -> None:
        from ..ledger import Ledger

        ledger = Ledger(tmp_path / "ledger.sqlite3")
        spec = self.make_spec(provider, training_file)
        jobs, sent = mock.job_count(), self.count(mock, self.create_path_pattern)
        sleeps.clear()
        mock.fail_next(status, times=1000, match=self.create_path_pattern)
        with pytest.raises(APIStatusError) as info:
            create_job(provider, spec, ledger=ledger)
        assert info.value.status_code == status
        posts = self.count(mock, self.create_path_pattern) - sent
        # The lifecycle alone retries: an adapter retrying inside would make this attempts².
        assert 1 <= posts <= provider.retry.max_attempts
        assert len(sleeps) == posts - 1
        assert mock.job_count() == jobs
        rows = ledger.list()
        assert [r.client_ref for r in rows] == [spec.client_ref] and rows[0].job_id is None
        mock.faults.clear()  # the vendor recovers: the same intent now makes exactly one job
        job = create_job(provider, spec, ledger=ledger)
        assert mock.job_count() == jobs + 1 and len(ledger.list()) == 1
        assert ledger.list()[0].job_id == job.id

    @pytest.mark.parametrize("status", [503, 429])
    def test_a_read_refused_forever_is_sent_at_most_max_attempts(
        self, provider: Any, mock: Any, training_file: Path, sleeps: list[float], status: int
    ) -> None:
        job = self.started_job(provider, training_file)
        sent = len(self.request_keys(mock))
        sleeps.clear()
        mock.fail_next(status, times=1000)
        with pytest.raises(APIStatusError) as info:
            provider.get_job(job.id)
        assert info.value.status_code == status
        requests = len(self.request_keys(mock)) - sent
        assert requests == provider.retry.max_attempts and len(sleeps) == requests - 1

    # -- datasets: processing -> ready, waited for by the client, never by the adapter --------
    def test_upload_reports_processing_until_the_vendor_is_done(
        self, provider: Any, mock: Any, training_file: Path
    ) -> None:
        from ..client import Client

        client = Client(provider, ledger=False)
        ref = client.datasets.upload(training_file, wait=False)
        assert ref.status in (("processing",) if self.uploads_process else ("processing", "ready"))
        ready = client.datasets.wait(ref, poll_interval=0)
        assert ready.status == "ready" and ready.id == ref.id and ready.error is None
        assert client.datasets.upload(training_file, poll_interval=0).status == "ready"

    async def test_cancelling_an_async_job_wait_returns_within_a_second(
        self, provider: Any, mock: Any, training_file: Path
    ) -> None:
        from ..async_client import AsyncClient

        client = AsyncClient(provider, ledger=False)
        job = self.started_job(provider, training_file)  # never advanced: it never finishes
        task = asyncio.ensure_future(client.jobs.wait(job.id, poll_interval=0.02, progress=False))
        await asyncio.sleep(0.3)
        assert not task.done()
        await self._cancel_fast(task)
        seen = len(self.request_keys(mock))
        await asyncio.sleep(0.2)
        assert len(self.request_keys(mock)) == seen  # no thread polls on

    async def test_cancelling_an_async_upload_returns_within_a_second(
        self, provider: Any, mock: Any, training_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from ..async_client import AsyncClient

        self.never_ready(provider, mock, monkeypatch)
        client = AsyncClient(provider, ledger=False)
        task = asyncio.ensure_future(
            client.datasets.upload(training_file, timeout=60, poll_interval=0.02))
        await asyncio.sleep(0.3)
        assert not task.done()
        await self._cancel_fast(task)

    async def test_cancelling_an_async_create_that_uploads_returns_within_a_second(
        self, provider: Any, mock: Any, training_file: Path, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
    ) -> None:
        """``jobs.create`` uploads and waits in one worker thread: the task returns at once,
        and the thread stops at its next pause: no job, no polling left, the intent released."""
        from .. import waits
        from ..async_client import AsyncClient
        from ..ledger import Ledger

        self.never_ready(provider, mock, monkeypatch)
        rules = waits.dataset_wait_state  # poll every 20 ms, so the thread is busy when cancelled
        monkeypatch.setattr(waits, "dataset_wait_state",
                            lambda provider, **kw: rules(provider, **{**kw, "poll_interval": 0.02}))
        client = AsyncClient(provider, ledger=Ledger(tmp_path / "ledger.sqlite3"))
        jobs = mock.job_count()
        task = asyncio.ensure_future(
            client.jobs.create(base_model=self.base_model, training_file=training_file))
        await asyncio.sleep(0.5)
        assert not task.done()
        await self._cancel_fast(task)
        await asyncio.sleep(0.3)  # the abandoned thread wakes from its pause and ends
        seen = len(self.request_keys(mock))
        await asyncio.sleep(0.2)
        assert len(self.request_keys(mock)) == seen and mock.job_count() == jobs
        rows = client.ledger.list() if client.ledger else []
        assert len(rows) == 1 and rows[0].job_id is None and rows[0].owner is None

    @staticmethod
    async def _cancel_fast(task: asyncio.Future[Any]) -> None:
        started = time.monotonic()
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)  # a thread that ignores the cancel fails here
        assert task.cancelled() and time.monotonic() - started < 1.0

    async def test_async_lifecycle(self, provider: Any, mock: Any, training_file: Path) -> None:
        from ..async_client import AsyncClient

        client = AsyncClient(provider, ledger=False)
        ref = await client.datasets.upload(training_file)
        job = await client.jobs.create(base_model=self.base_model, training_file=ref)
        mock.advance(job.id, JobStatus.SUCCEEDED)
        final = await client.jobs.wait(job.id, poll_interval=0, progress=False)
        assert final.status is JobStatus.SUCCEEDED
        model = await client.models.resolve(final)
        assert model.id
