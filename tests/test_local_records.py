"""The local provider's datasets and job records, without torch: no worker runs.

``start_worker`` is replaced by a pid (this process: alive; a finished child: dead), and the
test writes what a worker would (status, metrics, checkpoints) through ``JobDir``. The trainer
tests in test_local_provider.py cover the same reads end to end where torch is installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import finetune_sdk
from finetune_sdk.errors import LocalTrainerError, NotFoundError
from finetune_sdk.local.jobdir import JobDir
from finetune_sdk.providers.local import LocalProvider
from finetune_sdk.types import JobSpec, JobStatus
from finetune_sdk.waits import start_upload

SAMPLE = Path(finetune_sdk.__file__).parent / "data" / "samples" / "health_chats.jsonl"


@pytest.fixture
def train(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(SAMPLE.read_text(encoding="utf-8").splitlines()[:20]) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture
def provider(tmp_path: Path) -> LocalProvider:
    return LocalProvider(root=tmp_path / "local")


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def _started(provider: LocalProvider, train: Path, monkeypatch, pid: int) -> JobDir:
    monkeypatch.setattr("finetune_sdk.providers.local.start_worker", lambda *a, **k: pid)
    job = provider.create_job(JobSpec(base_model="tiny", training_file=train))
    return JobDir(provider.root / "jobs" / job.id)


def test_upload_takes_wait_and_is_ready_either_way(provider, train) -> None:
    waited = provider.upload_dataset(train, wait=True)
    sent = provider.upload_dataset(train, purpose="validation", wait=False)
    # The lifecycle's own path: it always passes wait=False and polls only a processing ref.
    started = start_upload(provider, train)
    assert waited.status == sent.status == started.status == "ready"
    assert waited.id == sent.id == started.id  # stored by content hash
    assert sent.provider_details["purpose"] == "validation"
    assert Path(sent.uri).is_file()


def test_a_running_job_reads_back_from_its_directory(provider, train, monkeypatch) -> None:
    job_dir = _started(provider, train, monkeypatch, os.getpid())
    job_dir.update_status(status="running", step=4, started_at="2026-01-02T03:04:05+00:00")
    job_dir.append_metric({"step": 2, "epoch": 0.5, "train_loss": 1.5, "grad_norm": 3})
    job_dir.append_metric({"step": 2, "valid_loss": 1.75})
    job_dir.append_metric({"step": 4, "train_loss": 1.25})
    for step in (2, 4, 6):
        (job_dir.checkpoint_dir / f"step-{step}").mkdir(parents=True)
    for step in (2, 4):  # step-6 has no marker: a checkpoint still being written
        (job_dir.checkpoint_dir / f"step-{step}" / "checkpoint.json").write_text("{}")

    job = provider.get_job(job_dir.job_id)
    assert job.status is JobStatus.RUNNING and job.provider_status == "running"
    assert job.provider_details["pid"] == os.getpid() and job.provider_details["step"] == 4
    assert job.started_at is not None and job.started_at.year == 2026
    assert job.poll_after == 1.0

    messages = [e.message for e in provider.list_events(job_dir.job_id)]
    assert messages[0] == "job created" and messages[1].startswith("worker launched")
    assert [e.message for e in provider.list_events(job_dir.job_id, limit=1)] == ["job created"]

    points = provider.get_metrics(job_dir.job_id)
    assert [p.step for p in points] == [2, 4]
    assert (points[0].train_loss, points[0].valid_loss) == (1.5, 1.75)  # one point per step
    assert points[0].extra == {"grad_norm": 3.0}

    checkpoints = provider.list_checkpoints(job_dir.job_id)
    assert [c.step for c in checkpoints] == [2, 4]
    assert checkpoints[-1].model_id.endswith(str(Path("step-4") / "adapter"))


def test_a_vanished_worker_is_failed_and_says_what_resume_does(provider, train,
                                                                monkeypatch) -> None:
    job_dir = _started(provider, train, monkeypatch, _dead_pid())

    job = provider.get_job(job_dir.job_id)
    assert job.status is JobStatus.FAILED and job.error.code == "worker_lost"
    assert "restarts it from step 0" in job.error.message
    assert job.poll_after is None
    assert job_dir.read_status()["status"] == "failed"  # recorded, not only reported
    assert job_dir.read_events()[-1]["level"] == "error"


def test_an_unreadable_status_is_unknown_only_while_a_worker_lives(provider, train,
                                                                  monkeypatch) -> None:
    alive = _started(provider, train, monkeypatch, os.getpid())
    alive.status_file.write_text("{not json")
    job = provider.get_job(alive.job_id)
    assert job.status is JobStatus.UNKNOWN and job.provider_status == "status-unreadable"

    dead = _started(provider, train, monkeypatch, _dead_pid())
    dead.status_file.write_text("{not json")
    with pytest.raises(LocalTrainerError, match="the worker is not running"):
        provider.get_job(dead.job_id)


def test_an_unknown_job_is_not_found(provider) -> None:
    with pytest.raises(NotFoundError):
        provider.list_events("ftjob-local-000000000000")


def test_a_job_whose_creator_died_before_the_launch_is_adopted_not_lost(provider, train,
                                                                         monkeypatch) -> None:
    # The creator wrote the job and was SIGKILLed before starting its worker (a killed
    # `finetune bakeoff`): the rerun that finds the job launches it, exactly once.
    launches: list[str] = []

    def start(job, **_kw):
        launches.append(job.job_id)
        return os.getpid()

    monkeypatch.setattr("finetune_sdk.providers.local.start_worker", start)
    class Killed(BaseException):
        pass

    def killed(self, job):
        raise Killed

    original = LocalProvider._launch
    monkeypatch.setattr(LocalProvider, "_launch", killed)
    spec = JobSpec(base_model="tiny", training_file=train)
    with pytest.raises(Killed):
        provider.create_job(spec)
    monkeypatch.setattr(LocalProvider, "_launch", original)
    assert launches == []
    found = provider.find_job(spec.client_ref)  # what a rerun's lookup does
    assert found is not None and found.status is JobStatus.QUEUED
    assert launches == [found.id]
    assert provider.get_job(found.id).status is JobStatus.QUEUED and launches == [found.id]
    # a second adopter (another process reading the job) starts nothing more
    assert LocalProvider(root=provider.root).get_job(found.id).status is JobStatus.QUEUED
    assert launches == [found.id]


def test_a_launch_that_failed_can_be_resumed(provider, train, monkeypatch) -> None:
    # The launch marker is per attempt; a worker that never started must not block the resume.
    def refuse(*_a, **_k):
        raise OSError("no such python")

    monkeypatch.setattr("finetune_sdk.providers.local.start_worker", refuse)
    spec = JobSpec(base_model="tiny", training_file=train)
    with pytest.raises(LocalTrainerError, match="could not start the worker"):
        provider.create_job(spec)
    failed = provider.find_job(spec.client_ref)
    assert failed is not None and failed.status is JobStatus.FAILED
    launches: list[str] = []
    monkeypatch.setattr("finetune_sdk.providers.local.start_worker",
                        lambda job, **_k: launches.append(job.job_id) or os.getpid())
    assert provider.resume_job(failed.id).status is JobStatus.QUEUED
    assert launches == [failed.id]
