"""AsyncClient: lazy async iterators for lists and events, cancellation of threaded calls."""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest

from finetune_sdk import AsyncClient
from finetune_sdk.providers.fireworks.adapter import FireworksProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET
from finetune_sdk.testing.mock_servers.fireworks import FireworksMockServer

LIST = r"^/v1/accounts/[^/]+/supervisedFineTuningJobs$"


@pytest.fixture
def mock():
    server = FireworksMockServer()
    server.seed_jobs(9)  # five pages of two
    return server


@pytest.fixture
def client(mock):
    provider = FireworksProvider(SENTINEL_SECRET, account_id=mock.account, base_url=mock.base_url,
                                 http_client=httpx2.Client(transport=mock.transport()),
                                 retry=RetryPolicy(max_attempts=2, sleep=lambda s: None))
    return AsyncClient(provider, ledger=False)


async def test_jobs_list_is_lazy_one_page_at_a_time(client, mock):
    pages = client.jobs.list()
    assert mock.requests_to("GET", LIST) == []  # nothing fetched before iterating
    first = await anext(aiter(pages))
    assert first.id and len(mock.requests_to("GET", LIST)) == 1
    seen = [first.id]
    async for job in pages:
        seen.append(job.id)
        if len(seen) == 3:
            break
    assert len(mock.requests_to("GET", LIST)) == 2  # three jobs: two pages of two
    everything = [job.id async for job in client.jobs.list()]
    assert len(everything) == 9 and everything[:3] == seen


async def test_awaiting_a_list_still_gives_the_whole_list(client, mock):
    jobs = await client.jobs.list(limit=5)
    assert isinstance(jobs, list) and len(jobs) == 5
    assert len(mock.requests_to("GET", LIST)) == 3


async def test_a_failing_page_raises_from_the_iteration(client, mock):
    pages = client.jobs.list()
    await anext(aiter(pages))
    await anext(aiter(pages))
    mock.fail_next(400, match=r"^GET .*supervisedFineTuningJobs$")
    from finetune_sdk.errors import BadRequestError

    with pytest.raises(BadRequestError):
        await anext(aiter(pages))


async def test_fake_events_iterate_lazily_and_await_to_a_list():
    from finetune_sdk.types import DatasetRef

    client = AsyncClient("fake", ledger=False)
    ref = DatasetRef(id="file-1", provider="fake", num_examples=10)
    job = await client.jobs.run(base_model="b", training_file=ref, poll_interval=0)
    messages = [event.message async for event in client.jobs.events(job.id)]
    assert messages == [e.message for e in await client.jobs.events(job.id)]
    assert messages[-1] == "Status changed to succeeded"


async def test_a_cancelled_threaded_call_returns_at_once_and_its_thread_stops(tmp_path):
    """A threaded call (here a create that waits on another process's claim) is abandoned on
    cancellation, and its thread's next pause raises: it stops polling the ledger."""
    from finetune_sdk.ledger import Ledger
    from finetune_sdk.types import DatasetRef, JobSpec

    ledger = Ledger(tmp_path / "l.sqlite3")
    client = AsyncClient("fake", ledger=ledger)
    spec = JobSpec(base_model="b", client_ref="ftsdk-busy-intent",
                   training_file=DatasetRef(id="file-1", provider="fake", num_examples=10))
    # A live owner on another host (its lease trusted) is creating this intent: we wait.
    assert ledger.claim("fake", spec, owner="elsewhere:1:1:1").kind == "new"
    polls = []
    claim = ledger.claim
    ledger.claim = lambda *a, **k: polls.append(1) or claim(*a, **k)  # type: ignore[method-assign]
    task = asyncio.ensure_future(client.jobs.create(spec))
    await asyncio.sleep(0.5)
    assert polls and not task.done()  # waiting for the other owner
    started = time.monotonic()
    task.cancel()
    await asyncio.wait({task}, timeout=1)  # never blocks past the second, whatever the code
    assert task.cancelled() and time.monotonic() - started < 1
    await asyncio.sleep(0.3)
    seen = len(polls)
    await asyncio.sleep(0.5)  # CLAIM_POLL_S is 0.2: a live thread would have polled again
    assert len(polls) == seen


async def test_cancelling_a_call_stuck_in_retry_backoff_returns_and_stops_retrying(mock):
    """A vendor that answers 503 forever, a policy that backs off 1 s, 2 s, ...: cancelling the
    awaiting task returns at once, and the abandoned thread sends nothing more."""
    provider = FireworksProvider(SENTINEL_SECRET, account_id=mock.account, base_url=mock.base_url,
                                 http_client=httpx2.Client(transport=mock.transport()),
                                 retry=RetryPolicy(max_attempts=5, initial_delay=1.0))
    client = AsyncClient(provider, ledger=False)
    [job] = [j async for j in client.jobs.list(limit=1)]
    mock.fail_next(503, match=r"^GET .*supervisedFineTuningJobs/", times=50)
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(client.jobs.get(job.id), 0.5)
    assert time.monotonic() - started < 1.5
    await asyncio.sleep(2.5)  # past the first backoffs: a thread still retrying would have sent
    assert len(mock.requests) == 2  # one list page, one GET: no retry after the cancel
