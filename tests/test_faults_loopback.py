"""Fault-matrix cells over a real loopback HTTP server, and processes killed mid-job.

The mock runs behind ``MockServer.serve()`` (real sockets, the vendor SDK's own HTTP client and
timeouts). "Killed" cells start a second Python process against that server and the same
FINETUNE_SDK_HOME ledger, SIGKILL it at the worst moment, and then finish the job from a fresh
``Client`` or from ``finetune wait`` in another process, checking that the server holds one job
and the ledger one row. The adapters are test_faults_hosted.py's (Together included); Together's
own cell (a create that lands after the read timeout) closes the file. Table:
docs/reliability.md.
"""

from __future__ import annotations

import json
import uuid

import pytest
from faults_support import (
    SECRET,
    hang_after_processing,
    kill,
    make_rig,
    start_child,
    wait_until,
    write_train,
)
from test_faults_hosted import HOSTED, assert_sent_once, together_only
from typer.testing import CliRunner

from finetune_sdk import Client
from finetune_sdk.errors import APIConnectionError, APIResponseValidationError, APITimeoutError
from finetune_sdk.ledger import Ledger
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.types import JobSpec, JobStatus

pytestmark = [
    pytest.mark.faults,
    pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning"),
]


@pytest.fixture(params=HOSTED)
def rig(request, monkeypatch):
    rig = make_rig(request.param)
    if rig.vendor == "huggingface":
        import huggingface_hub.constants
        from huggingface_hub.utils import close_session

        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        yield rig
        close_session()  # its shared session would keep sockets to a server that is gone
        return
    yield rig


@pytest.fixture
def served(rig, monkeypatch):
    import functools
    import socketserver

    # serve_forever polls for shutdown every 0.5 s; 0.02 s keeps each teardown short.
    fast = functools.partialmethod(socketserver.BaseServer.serve_forever, poll_interval=0.02)
    monkeypatch.setattr(socketserver.BaseServer, "serve_forever", fast)
    with rig.mock.serve() as url:
        yield url


@pytest.fixture
def spec(rig, served, tmp_path):
    provider = rig.provider(served)
    ref = provider.upload_dataset(write_train(tmp_path / "train.jsonl"))
    provider.close()
    rig.sleeps.clear()
    return JobSpec(base_model=rig.base_model, training_file=ref,
                   client_ref=f"loopback-{uuid.uuid4().hex[:12]}")


def fresh_client(rig, url, **overrides):
    """A new Client (new SDK client, new connections) on the same ledger file."""
    kwargs = {**rig.kwargs(url), **overrides}
    from finetune_sdk.registry import create_provider

    return Client(create_provider(rig.vendor, retry=rig.policy(), **kwargs), ledger=Ledger())


def assert_one_job_one_row(rig, spec, job):
    assert rig.mock.job_count() == 1 and job.client_ref == spec.client_ref
    row = Ledger().get(spec.client_ref)
    assert row is not None and row.job_id == job.id


# -- transport faults over real sockets -----------------------------------------------------
def test_connection_dropped_after_the_create_arrived(rig, served, spec):
    rig.mock.fail_next(timeout=True, after_processing=True, match=rig.create)
    with fresh_client(rig, served) as client:
        job = client.jobs.create(spec)
        assert_sent_once(rig, client)
    assert_one_job_one_row(rig, spec, job)


def test_connection_refused_before_send_then_a_rerun_creates_once(rig, served, tmp_path):
    """Nothing listens on the port: the create surely never arrived; the intent is kept."""
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago and is closed now
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    uploader = rig.provider(served)
    ref = uploader.upload_dataset(write_train(tmp_path / "train.jsonl"))
    uploader.close()
    spec = JobSpec(base_model=rig.base_model, training_file=ref, client_ref="refused-once")
    rig.sleeps.clear()
    with fresh_client(rig, dead) as client, pytest.raises(APIConnectionError) as info:
        client.jobs.create(spec)
    assert not isinstance(info.value, APITimeoutError) and rig.creates() == 0
    assert len(rig.sleeps) >= rig.policy().max_attempts - 1  # retried: it was safe to
    row = Ledger().get(spec.client_ref)
    assert row is not None and row.job_id is None
    with fresh_client(rig, served) as client:  # the network is back: run the intent again
        job = client.jobs.create(spec)
    assert_one_job_one_row(rig, spec, job)


def test_real_read_timeout_after_the_create_arrived(rig, served, spec):
    """The answer is held past the adapter's ``timeout``: the vendor SDK's own HTTP client
    gives up after about that long (not its default), and the create is found, not resent."""
    import time

    with hang_after_processing(rig.mock, rig.create) as arrived:
        with fresh_client(rig, served, timeout=0.5) as client:
            started = time.monotonic()
            job = client.jobs.create(spec)
            elapsed = time.monotonic() - started
        assert arrived.is_set()
    assert 0.5 <= elapsed < 5, elapsed
    assert_one_job_one_row(rig, spec, job)


def test_429_storm_5xx_and_malformed_reads_over_sockets(rig, served, spec):
    with fresh_client(rig, served) as client:
        job = client.jobs.create(spec)
        rig.sleeps.clear()
        rig.mock.fail_next(429, retry_after=1, match=r"^GET ", times=2)
        assert client.jobs.get(job.id).id == job.id
        assert rig.sleeps == [1.0, 1.0]  # the Retry-After header, read off a real socket
        rig.mock.fail_next(502, match=r"^GET ")
        assert client.jobs.get(job.id).id == job.id
        rig.mock.fail_next(malformed=True, match=r"^GET ", times=20)
        with pytest.raises(APIResponseValidationError):
            client.jobs.get(job.id)
    assert_one_job_one_row(rig, spec, job)


# -- processes killed -------------------------------------------------------------------------
def test_killed_between_intent_and_create_response(rig, served, spec):
    with hang_after_processing(rig.mock, rig.create) as arrived:
        child = start_child(rig, served, action="create", base_model=spec.base_model,
                            client_ref=spec.client_ref, ref=spec.training_file.model_dump_json())
        wait_until(arrived.is_set, child, "the create request")
        row = Ledger().get(spec.client_ref)
        assert row is not None and row.job_id is None  # the intent is on disk, the id is not
        kill(child)
    assert rig.mock.job_count() == 1  # the vendor did make it
    with fresh_client(rig, served) as client:  # the user runs the same intent again
        job = client.jobs.create(spec)
        assert_one_job_one_row(rig, spec, job)
        rig.mock.advance(job.id, JobStatus.SUCCEEDED)
        assert client.jobs.wait(job.id, poll_interval=0, progress=False).status.is_terminal
    assert Ledger().get(spec.client_ref).status == "succeeded"


def _resume_with_cli(rig, url, job_id, monkeypatch):
    env = {
        "openai": {"OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": f"{url}/v1"},
        "fireworks": {"FIREWORKS_API_KEY": SECRET, "FIREWORKS_BASE_URL": url,
                      "FIREWORKS_ACCOUNT_ID": getattr(rig.mock, "account", "")},
        "huggingface": {"HF_TOKEN": SECRET, "HF_ENDPOINT": url,
                        "HF_NAMESPACE": getattr(rig.mock, "namespace", "")},
        "together": {"TOGETHER_API_KEY": SECRET, "TOGETHER_BASE_URL": url},
    }[rig.vendor]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from finetune_sdk.cli import _register_commands
    from finetune_sdk.cli.app import app

    _register_commands()
    result = CliRunner().invoke(app, ["wait", job_id, "--poll-interval", "0", "--json"])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    return json.loads(result.output)["status"]


def test_killed_mid_wait_then_resumed_from_a_new_process(rig, served, spec, monkeypatch):
    with fresh_client(rig, served) as client:
        job = client.jobs.create(spec)
    rig.mock.advance(job.id, JobStatus.RUNNING)
    before = len(rig.mock.requests)
    child = start_child(rig, served, action="wait", job_id=job.id)
    wait_until(lambda: len(rig.mock.requests) >= before + 3, child, "polling the job")
    kill(child)
    row = Ledger().find_job(job.id)
    assert row is not None and row.client_ref == spec.client_ref
    rig.mock.advance(job.id, JobStatus.SUCCEEDED)
    if rig.vendor == "gemini":  # Vertex needs a token object, so reattach through the API
        extra = {k: v for k, v in rig.kwargs(served).items() if k != "storage_client"}
        with Client.for_job(job.id, retry=rig.policy(), **extra) as resumed:
            status = resumed.jobs.wait(job.id, poll_interval=0, progress=False).status.value
    else:
        status = _resume_with_cli(rig, served, job.id, monkeypatch)
    assert status == "succeeded"
    row = Ledger().find_job(job.id)
    assert row.status == "succeeded" and row.model_id and rig.mock.job_count() == 1
    assert len(Ledger().list()) == 1


# -- Together only --------------------------------------------------------------------------
@together_only
def test_together_create_landing_after_the_read_timeout_is_found_not_sent_twice(rig, served,
                                                                                spec):
    """Together takes 1.5 s, the client waits 0.5 s: the lookups over the window find it."""
    import time

    from finetune_sdk.registry import create_provider

    provider = create_provider("together", retry=RetryPolicy(max_attempts=3, lookup_window=6),
                               **{**rig.kwargs(served), "timeout": 0.5})
    rig.mock.slow_next(1.5, match=rig.create)
    with Client(provider, ledger=Ledger()) as client:
        job = client.jobs.create(spec)
        time.sleep(0.3)  # a resent create (the bug) would land now
    assert rig.mock.job_count() == 1 and rig.creates() == 1
    assert Ledger().get(job.client_ref).job_id == job.id
