"""`resume` after a crash continues from the last complete checkpoint, and every message says the
step it really continues from (a job without save_every_steps used to write no checkpoint until
it ended, so a crash restarted it at step 0 while the log said "resumed from its last
checkpoint")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from finetune_sdk.local.jobdir import JobDir
from finetune_sdk.local.resume import DEFAULT_CHECKPOINTS, default_save_period
from finetune_sdk.types import JobStatus

pytest.importorskip("torch")
pytest.importorskip("peft")

from local_support import FAST, client, events_of, make_home, poll_until  # noqa: E402


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return make_home(tmp_path_factory.mktemp("resume-home"))


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def _lost_job(home: Path, monkeypatch, **fields):
    """A job whose "worker" is this test process (nothing trains); ``_kill`` makes it lost."""
    monkeypatch.setattr("finetune_sdk.providers.local.start_worker", lambda *a, **k: os.getpid())
    c = client(home)
    # new=True: the same intent would otherwise attach to an earlier test's job
    job = c.jobs.create(base_model="tiny", training_file=home / "train.jsonl", new=True,
                        **fields)
    return c, job, JobDir(home / "local" / "jobs" / job.id)


def _kill(job_dir: JobDir) -> None:
    job_dir.update_status(pid=_dead_pid())


def _fake_checkpoint(job_dir: JobDir, step: int, *, complete: bool = True) -> None:
    folder = job_dir.checkpoint_dir / f"step-{step}"
    folder.mkdir(parents=True)
    if complete:
        (folder / "checkpoint.json").write_text(json.dumps({"step": step}))


def test_a_job_gets_periodic_checkpoints_by_default(home, monkeypatch):
    _, _, job_dir = _lost_job(home, monkeypatch, hyperparameters=FAST)
    config = job_dir.read_spec()["train_config"]
    # 48 examples, 8 per step, 2 epochs: ~12 steps, so a checkpoint every 2 of them
    assert config["save_every_steps"] == 2 == default_save_period(config, 48)
    _, _, chosen = _lost_job(home, monkeypatch, hyperparameters=FAST,
                             options={"save_every_steps": 5})
    assert chosen.read_spec()["train_config"]["save_every_steps"] == 5  # the user's choice
    assert default_save_period({"batch_size": 4, "epochs": 3, "max_steps": 20}, 1000) == 2
    assert default_save_period({}, 3) == 1
    assert DEFAULT_CHECKPOINTS == 10


def test_without_a_checkpoint_the_messages_say_step_0(home, monkeypatch):
    c, job, job_dir = _lost_job(home, monkeypatch, hyperparameters=FAST)
    _fake_checkpoint(job_dir, 6, complete=False)  # a half-written one is not trusted
    _kill(job_dir)
    failed = c.jobs.get(job.id)
    assert failed.status is JobStatus.FAILED and failed.error.code == "worker_lost"
    assert "no checkpoint was saved" in failed.error.message
    assert "restarts it from step 0" in failed.error.message
    resumed = c.jobs.resume(job.id)
    assert resumed.provider_details["resume_from_step"] == 0
    resume_events = [e for e in events_of(home, job.id) if e["message"].startswith("job resumed")]
    assert resume_events[-1]["message"] == (
        "job resumed with no checkpoint saved: training restarts from step 0")
    assert not any("from its last checkpoint" in e["message"] for e in events_of(home, job.id))


def test_with_checkpoints_the_messages_name_the_newest_complete_one(home, monkeypatch):
    c, job, job_dir = _lost_job(home, monkeypatch, hyperparameters=FAST)
    _fake_checkpoint(job_dir, 2)
    _fake_checkpoint(job_dir, 4)
    _fake_checkpoint(job_dir, 6, complete=False)
    _kill(job_dir)
    failed = c.jobs.get(job.id)
    assert "continue from its checkpoint at step 4" in failed.error.message
    assert [cp.step for cp in c.jobs.checkpoints(job.id)] == [2, 4]
    resumed = c.jobs.resume(job.id)
    assert resumed.provider_details["resume_from_step"] == 4
    resume_events = [e for e in events_of(home, job.id) if e["message"].startswith("job resumed")]
    assert resume_events[-1]["message"] == "job resumed: continuing from the checkpoint at step 4"
    assert resume_events[-1]["data"] == {"from_step": 4}


@pytest.mark.slow
def test_killed_default_job_resumes_past_its_checkpoint(home):
    """No save_every_steps: the default period still leaves a checkpoint to resume from."""
    c = client(home)
    job = c.jobs.create(base_model="tiny", training_file=home / "train.jsonl",
                        hyperparameters={**FAST, "epochs": 6})
    poll_until(lambda: c.jobs.checkpoints(job.id), timeout=240)
    pid = c.jobs.get(job.id).provider_details["pid"]
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    failed = poll_until(lambda: (j := c.jobs.get(job.id)).status.is_terminal and j, timeout=30)
    assert failed.status is JobStatus.FAILED
    kept = c.jobs.checkpoints(job.id)[-1].step
    assert f"checkpoint at step {kept}" in failed.error.message

    job_dir = JobDir(home / "local" / "jobs" / job.id)
    before = len(job_dir.read_metrics())
    c.jobs.resume(job.id)
    done = c.jobs.wait(job.id, timeout=240, progress=False)
    assert done.status is JobStatus.SUCCEEDED, done.error
    after = [m for m in job_dir.read_metrics()[before:] if "train_loss" in m]
    assert after[0]["step"] == kept + 1  # continues past the checkpoint, not from step 1
    assert after[-1]["step"] == done.provider_details["result"]["steps"] > kept
    assert done.provider_details["result"]["resumed_from_step"] == kept
    messages = [e["message"] for e in events_of(home, job.id)]
    assert f"job resumed: continuing from the checkpoint at step {kept}" in messages
    assert any(m.startswith(f"resumed from checkpoint step {kept} ") for m in messages)
