"""One intent, at most one paid job: slow creates, crashes, reruns and races, over real sockets.

Each hosted cell serves the vendor's stateful mock on a loopback socket (the official SDK's own
HTTP client and timeouts) and ends by counting the jobs on the server and the rows in the
ledger. "Script" cells run the user's code in fresh processes, as a rerun after a crash would:
no ``client_ref`` is passed, so the intent key must come from the request itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from faults_support import (
    SECRET,
    VENDORS,
    child_kwargs,
    kill,
    make_rig,
    start_child,
    wait_until,
    write_train,
)

from finetune_sdk import Client
from finetune_sdk.errors import CreateOutcomeUnknownError, DatasetValidationError
from finetune_sdk.ledger import Ledger
from finetune_sdk.registry import create_provider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.types import JobSpec

pytestmark = [
    pytest.mark.faults,
    pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning"),
]

# The user's script: no client_ref, the same call every run. ``crash`` ends the process right
# after the create returned (before anything else could record it); ``slow`` makes the fake
# and local creates take a while, to widen a race.
SCRIPT = textwrap.dedent(
    r"""
    import json, os, sys, time
    from datetime import date
    from finetune_sdk import Client
    from finetune_sdk.registry import create_provider
    from finetune_sdk.types import DatasetRef

    cfg = json.loads(sys.argv[1])
    vendor, kwargs = cfg["vendor"], cfg.get("kwargs", {})
    if vendor == "openai":
        kwargs["today"] = lambda: date(2026, 11, 23)
    provider = create_provider(vendor, **kwargs)
    real_create = provider.create_job

    def create_job(spec):
        if cfg.get("slow"):
            time.sleep(cfg["slow"])
        job = real_create(spec)
        if cfg.get("crash"):
            os._exit(9)  # the vendor has the job; the process dies before it is recorded
        return job

    provider.create_job = create_job
    train = cfg["train"]
    if train.startswith("{"):
        train = DatasetRef.model_validate_json(train)
    job = Client(provider).jobs.create(base_model=cfg["base_model"], training_file=train,
                                       options=cfg.get("options"))
    print("created", job.id, job.client_ref, flush=True)
    """
)


def start_script(**cfg) -> subprocess.Popen[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(cfg)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[str, str]:
    """(job id, intent key) the script printed; fails with its output otherwise."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"rc={proc.returncode}\n{out}\n{err}"
    assert SECRET not in out + err
    _, job_id, ref = out.split()[-3:]
    return job_id, ref


# -- fixtures: a hosted mock on a socket ------------------------------------------------------
@pytest.fixture(params=VENDORS)
def rig(request, monkeypatch):
    rig = make_rig(request.param)
    if rig.vendor == "huggingface":
        import huggingface_hub.constants
        from huggingface_hub.utils import close_session

        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        yield rig
        close_session()
        return
    yield rig


@pytest.fixture
def served(rig, monkeypatch):
    import functools
    import socketserver

    fast = functools.partialmethod(socketserver.BaseServer.serve_forever, poll_interval=0.02)
    monkeypatch.setattr(socketserver.BaseServer, "serve_forever", fast)
    with rig.mock.serve() as url:
        yield url


@pytest.fixture
def train(tmp_path):
    return write_train(tmp_path / "train.jsonl")


def uploaded(rig, url, train):
    provider = rig.provider(url)
    ref = provider.upload_dataset(train)
    provider.close()
    return ref


def script_cfg(rig, url, train) -> dict:
    """What a script run needs; Vertex's bucket client lives in this process, so a gemini script
    trains from a file uploaded here (still no client_ref: the key comes from the dataset)."""
    source = uploaded(rig, url, train).model_dump_json() if rig.vendor == "gemini" else str(train)
    return dict(vendor=rig.vendor, kwargs=child_kwargs(rig, url), base_model=rig.base_model,
                train=source)


def real_sleep_client(rig, url, *, window: float, timeout: float | None = None) -> Client:
    """A fresh client whose retries and lookups really wait (the vendor is slow in real time)."""
    kwargs = rig.kwargs(url)
    if timeout is not None:
        kwargs["timeout"] = timeout
    policy = RetryPolicy(max_attempts=3, initial_delay=0.2, lookup_window=window)
    return Client(create_provider(rig.vendor, retry=policy, **kwargs), ledger=Ledger())


def assert_one_job_one_row(rig, job_id: str) -> None:
    assert rig.mock.job_count() == 1
    rows = Ledger().list()
    assert len(rows) == 1 and rows[0].job_id == job_id, rows


# -- slow creates ------------------------------------------------------------------------------
def test_a_create_that_lands_after_the_read_timeout_is_found_not_sent_twice(rig, served, train):
    """The vendor takes 1.5 s, the client gives up after 0.5 s: the job appears only after the
    first lookups. It is found by looking again over the window, not created a second time."""
    ref = uploaded(rig, served, train)
    rig.mock.slow_next(1.5, match=rig.create)
    with real_sleep_client(rig, served, window=6, timeout=0.5) as client:
        job = client.jobs.create(base_model=rig.base_model, training_file=ref)
    time.sleep(0.3)  # let a resent create (the bug) land before counting
    assert_one_job_one_row(rig, job.id)
    if not client.provider.capabilities.client_chosen_ids:
        assert rig.creates() == 1  # looked up, never resent


def test_a_create_still_unseen_after_the_window_stops_and_reconcile_attaches_it(
        rig, served, train, monkeypatch):
    """The job lands after every lookup: the run stops saying so (nothing resent), the row is
    listed as unknown, and ``finetune reconcile`` attaches the job later."""
    from typer.testing import CliRunner

    from finetune_sdk.cli import _register_commands
    from finetune_sdk.cli.app import app
    from finetune_sdk.reconcile import reconcile

    ref = uploaded(rig, served, train)
    spec = JobSpec(base_model=rig.base_model, training_file=ref)
    rig.mock.slow_next(2.5, match=rig.create)
    with real_sleep_client(rig, served, window=0.6, timeout=0.5) as client:
        if client.provider.capabilities.client_chosen_ids:
            pytest.skip("a client-chosen id makes the resend safe: nothing is left in doubt")
        with pytest.raises(CreateOutcomeUnknownError, match="finetune reconcile") as info:
            client.jobs.create(spec)
        key = info.value.client_ref
        row = Ledger().get(key)
        assert row.status == "unknown" and row.job_id is None
        wait_until(lambda: rig.mock.job_count() == 1, _NoProcess(), "the slow create")
        if rig.vendor == "openai":  # the CLI, as a user would run it
            monkeypatch.setenv("OPENAI_API_KEY", SECRET)
            monkeypatch.setenv("OPENAI_BASE_URL", f"{served}/v1")
            _register_commands()
            result = CliRunner().invoke(app, ["reconcile", "--json"])
            assert result.exit_code == 0, result.output
            assert SECRET not in result.output
            [settled] = json.loads(result.output)
            assert settled["outcome"] == "attached" and settled["client_ref"] == key
        else:
            [settled] = reconcile(Ledger(), lambda name: client.provider)
            assert settled.outcome == "attached"
        job = client.jobs.create(spec)  # the same call again: attached, not created
    assert job.client_ref == key and rig.creates() == 1
    assert_one_job_one_row(rig, job.id)


class _NoProcess:
    """``wait_until`` with nothing to watch but the condition."""

    returncode = None

    def poll(self):
        return None

    def kill(self):
        pass

    def communicate(self):
        return "", ""


# -- killed mid-create, then run again ----------------------------------------------------------
def test_killed_while_its_create_is_in_flight_then_rerun_at_once(rig, served, train):
    """The first process dies while the vendor is still making the job; the rerun starts at
    once, finds the dead owner's claim, and waits for the job instead of sending another."""
    ref = uploaded(rig, served, train)
    rig.mock.slow_next(2.0, match=rig.create)
    child = start_child(rig, served, action="create", base_model=rig.base_model,
                        client_ref="killed-in-flight", ref=ref.model_dump_json())
    wait_until(lambda: rig.creates() >= 1, child, "the create request")
    kill(child)
    assert Ledger().get("killed-in-flight").status == "sending"
    spec = JobSpec(base_model=rig.base_model, training_file=ref, client_ref="killed-in-flight")
    with real_sleep_client(rig, served, window=6) as client:
        job = client.jobs.create(spec)
    time.sleep(0.3)
    assert_one_job_one_row(rig, job.id)


def test_rerun_of_an_unchanged_script_after_a_crash_attaches(rig, served, train):
    """No client_ref anywhere: the script is killed mid-create and simply started again."""
    cfg = script_cfg(rig, served, train)
    rig.mock.slow_next(2.0, match=rig.create)
    first = start_script(**cfg)
    wait_until(lambda: rig.creates() >= 1, first, "the create request")
    kill(first)
    job_id, key = finish(start_script(**cfg))
    assert key.startswith("ftsdk-")
    assert_one_job_one_row(rig, job_id)
    uploads = len(rig.mock.requests)
    again_id, again_key = finish(start_script(**cfg))  # a third run: pure attach
    assert (again_id, again_key) == (job_id, key)
    assert_one_job_one_row(rig, job_id)
    assert not [r for r in rig.mock.requests[uploads:] if r.method != "GET"]  # nothing sent


def test_eight_processes_racing_on_one_intent_make_one_job(rig, served, train):
    cfg = script_cfg(rig, served, train)
    rig.mock.slow_next(1.0, match=rig.create)  # the winner's create is slow: the race is wide
    racers = [start_script(**cfg) for _ in range(8)]
    results = {finish(proc) for proc in racers}
    assert len(results) == 1, results
    [(job_id, _)] = results
    time.sleep(0.3)
    assert_one_job_one_row(rig, job_id)
    if rig.vendor != "fireworks":
        assert rig.creates() == 1


# -- the offline providers: fake and local ------------------------------------------------------
@pytest.fixture(params=["fake", "local"])
def offline(request, tmp_path, monkeypatch):
    """(cfg for SCRIPT, count of jobs) for the fake provider or the local trainer."""
    home = tmp_path / "home"
    if request.param == "local":
        from local_support import make_home

        make_home(home, train_examples=12)
        cfg = dict(vendor="local", base_model="tiny", train=str(home / "train.jsonl"),
                   options={"max_steps": 1})

        def count() -> int:
            return len(list((home / "local" / "jobs").glob("*/spec.json")))
    else:
        home.mkdir()
        cfg = dict(vendor="fake", base_model="base", train=str(write_train(home / "t.jsonl")))

        def count() -> int:
            return len(list((home / "fake" / "jobs").glob("ftjob-fake-*.json")))
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(home))
    yield cfg, count
    if request.param == "local":
        from finetune_sdk.providers.local import LocalProvider

        local = LocalProvider(root=home / "local")
        for job in local.list_jobs():
            if not job.status.is_terminal:
                local.cancel_job(job.id)


def test_offline_rerun_after_a_crash_attaches(offline):
    cfg, count = offline
    crashed = start_script(**cfg, crash=True)
    crashed.communicate(timeout=120)
    assert crashed.returncode == 9 and count() == 1
    job_id, _ = finish(start_script(**cfg))
    assert count() == 1
    rows = Ledger().list()
    assert len(rows) == 1 and rows[0].job_id == job_id


def test_offline_eight_processes_racing_make_one_job(offline):
    cfg, count = offline
    racers = [start_script(**cfg, slow=0.5) for _ in range(8)]
    results = {finish(proc) for proc in racers}
    assert len(results) == 1, results
    assert count() == 1
    rows = Ledger().list()
    assert len(rows) == 1 and rows[0].job_id == next(iter(results))[0]


# -- bad data never reaches a paid job ----------------------------------------------------------
def test_run_refuses_data_validate_rejects_before_any_upload(rig, served, tmp_path):
    good = write_train(tmp_path / "train.jsonl").read_text().splitlines()
    bad = json.loads(good[4])
    bad["messages"][0]["role"] = "robot"
    good[4] = json.dumps(bad)
    data = tmp_path / "bad.jsonl"
    data.write_text("\n".join(good) + "\n")
    with real_sleep_client(rig, served, window=0) as client:
        with pytest.raises(DatasetValidationError, match=r"bad.jsonl:5.*nothing was uploaded|"
                                                         r"nothing was uploaded.*bad.jsonl:5"):
            client.jobs.run(base_model=rig.base_model, training_file=data, poll_interval=0)
    assert rig.mock.requests == [] and rig.mock.job_count() == 0
    assert Ledger().list() == []
