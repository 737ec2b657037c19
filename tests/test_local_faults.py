"""Local provider under faults: killed worker, full disk, corrupt status, concurrent waiters."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from local_support import FAST, client, events_of, make_home, poll_until, start_cli  # noqa: E402

from finetune_sdk.errors import LocalTrainerError  # noqa: E402
from finetune_sdk.local import worker  # noqa: E402
from finetune_sdk.local.jobdir import JobDir  # noqa: E402
from finetune_sdk.types import JobStatus  # noqa: E402

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return make_home(tmp_path_factory.mktemp("faults-home"))


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def _job_without_worker(home: Path, monkeypatch, pid: int, **fields):
    """A job whose 'worker' is ``pid`` (nothing is trained unless the test runs it)."""
    monkeypatch.setattr("finetune_sdk.providers.local.start_worker", lambda *a, **k: pid)
    c = client(home)
    # new=True: tests make several such jobs from the same request, each a deliberate new one
    job = c.jobs.create(base_model="tiny", training_file=home / "train.jsonl", new=True, **fields)
    return c, job, JobDir(home / "local" / "jobs" / job.id)


@pytest.mark.slow
def test_killed_worker_is_failed_then_resumes(home):
    c = client(home)
    job = c.jobs.create(base_model="tiny", training_file=home / "train.jsonl",
                        hyperparameters={**FAST, "epochs": 6}, options={"save_every_steps": 2})
    poll_until(lambda: c.jobs.checkpoints(job.id))
    pid = c.jobs.get(job.id).provider_details["pid"]
    os.killpg(os.getpgid(pid), signal.SIGKILL)

    failed = poll_until(lambda: (j := c.jobs.get(job.id)).status.is_terminal and j, timeout=30)
    assert failed.status is JobStatus.FAILED and failed.error.code == "worker_lost"
    assert "resume" in failed.error.message
    kept = c.jobs.checkpoints(job.id)[-1].step

    c.jobs.resume(job.id)
    done = c.jobs.wait(job.id, timeout=240, progress=False)
    assert done.status is JobStatus.SUCCEEDED, done.error
    assert done.provider_details["result"]["resumed_from_step"] >= kept
    assert done.provider_details["attempts"] == 2
    assert any(f"resumed from checkpoint step {kept}" in e["message"]
               for e in events_of(home, job.id))


def test_disk_full_checkpoint_fails_cleanly(home, monkeypatch):
    _, job, job_dir = _job_without_worker(home, monkeypatch, os.getpid(),
                                          hyperparameters=FAST,
                                          options={"save_every_steps": 1, "max_steps": 3})

    def no_space(obj, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(torch, "save", no_space)
    assert worker.run_job(job_dir.path) == 1  # trained in this process, as the worker would

    status = job_dir.read_status()
    assert status["status"] == "failed"
    assert status["error"]["message"].startswith("no space left on device while writing")
    assert "resume" in status["error"]["message"]
    leftovers = list(job_dir.checkpoint_dir.iterdir()) if job_dir.checkpoint_dir.exists() else []
    assert leftovers == []  # no half-written checkpoint that resume could trust


def test_corrupt_status_file_is_reported(home, monkeypatch):
    c, job, job_dir = _job_without_worker(home, monkeypatch, _dead_pid())
    job_dir.status_file.write_text("{not json")
    with pytest.raises(LocalTrainerError) as info:
        c.jobs.get(job.id)
    assert "status.json" in str(info.value) and "not JSON" in str(info.value)
    assert "resume" in str(info.value)
    assert job.id not in {j.id for j in c.jobs.list()}  # listing skips it instead of crashing

    # With a live worker the job is UNKNOWN until the worker rewrites the file.
    c2, job2, job_dir2 = _job_without_worker(home, monkeypatch, os.getpid())
    job_dir2.status_file.write_bytes(b"\xff\xfe garbage")
    assert c2.jobs.get(job2.id).status is JobStatus.UNKNOWN
    job_dir2.heartbeat(os.getpid())  # what the worker's heartbeat thread does every 5 s
    assert c2.jobs.get(job2.id).status is JobStatus.RUNNING


def test_stale_heartbeat_means_gone_even_if_the_pid_exists(home, monkeypatch):
    c, job, job_dir = _job_without_worker(home, monkeypatch, os.getpid())
    job_dir.update_status(status="running", heartbeat_at=time.time() - 3600)
    lost = c.jobs.get(job.id)
    assert lost.status is JobStatus.FAILED and lost.error.code == "worker_lost"
    job_dir.update_status(status="running", heartbeat_at=time.time(), error=None)
    assert c.jobs.get(job.id).status is JobStatus.RUNNING  # fresh beat + live pid: still running


@pytest.mark.slow
def test_two_waiters_see_the_same_end(home):
    c = client(home)
    job = c.jobs.create(base_model="tiny", training_file=home / "train.jsonl",
                        hyperparameters=FAST)
    waiters = [start_cli(home, "wait", job.id, "--json") for _ in range(2)]
    for waiter in waiters:
        out, err = waiter.communicate(timeout=240)
        assert waiter.returncode == 0, err
        seen = json.loads(out)
        assert seen["status"] == "succeeded" and seen["id"] == job.id
    mine = c.jobs.wait(job.id, timeout=60, progress=False)
    assert mine.output_model == seen["output_model"]
