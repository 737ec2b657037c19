"""The local provider end to end: real detached workers training the tiny model on CPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from local_support import FAST, client, env_for, events_of, make_home, poll_until  # noqa: E402

from finetune_sdk.client import Client  # noqa: E402
from finetune_sdk.errors import DatasetError, NotFoundError, UnsupportedFeatureError  # noqa: E402
from finetune_sdk.inference import chat  # noqa: E402
from finetune_sdk.ledger import Ledger  # noqa: E402
from finetune_sdk.local.launcher import worker_command  # noqa: E402
from finetune_sdk.providers.local import LocalOptions, LocalProvider  # noqa: E402
from finetune_sdk.types import JobSpec, JobStatus  # noqa: E402


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return make_home(tmp_path_factory.mktemp("local-home"))


@pytest.fixture(scope="module")
def finished(home):
    c = client(home)
    job = c.jobs.create(base_model="tiny", training_file=home / "train.jsonl",
                        validation_file=home / "val.jsonl", hyperparameters=FAST,
                        options={"merge": True})
    assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING)  # create returned at once
    return c, c.jobs.wait(job.id, timeout=240, progress=False)


def test_create_wait_succeeds_and_the_loss_falls(finished, home, monkeypatch):
    c, job = finished
    assert job.status is JobStatus.SUCCEEDED, job.error
    metrics = c.jobs.metrics(job.id)
    losses = [m.train_loss for m in metrics if m.train_loss is not None]
    assert [m.step for m in metrics] == list(range(1, len(metrics) + 1))
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.5
    assert metrics[-1].valid_loss is not None and metrics[-1].tokens_per_second > 0
    messages = [e.message for e in c.jobs.events(job.id)]
    assert messages[0] == "job created" and messages[-1].startswith("job succeeded")

    model = c.models.resolve(job)
    out = Path(model.id.removeprefix("local:"))
    assert model.provider == "local" and model.ready_for_inference
    assert {"adapter_config.json", "trainer_manifest.json", "tokenizer.json"} <= {
        p.name for p in out.iterdir()}
    manifest = json.loads((out / "trainer_manifest.json").read_text())
    assert manifest["datasets"]["train"]["sha256"] and manifest["metrics"]["steps"] == len(losses)
    assert {"torch", "transformers", "peft", "finetune_sdk"} <= set(manifest["versions"])
    assert json.loads((out / "job_spec.json").read_text())["client_ref"] == job.client_ref
    assert c.jobs.checkpoints(job.id)[-1].step == len(losses)
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(home))  # "tiny" resolves inside this home
    answer = chat(model, "How do I count carbs?", max_tokens=8)
    merged = out / "merged"  # options={"merge": True}: a plain model folder, same answers
    assert (merged / "config.json").is_file() and not (merged / "adapter_config.json").exists()
    assert chat(f"local:{merged}", "How do I count carbs?", max_tokens=8) == answer

    row = Ledger(home / "ledger.sqlite3").find_job(job.id, "local")
    assert row is not None and row.to_job().status is JobStatus.SUCCEEDED


def test_creator_exits_and_another_process_reattaches(home):
    """The job outlives the process that created it; `finetune wait` from elsewhere finishes."""
    creator = subprocess.run(
        [sys.executable, "-c",
         "from finetune_sdk import Client; import sys;"
         f"job = Client('local').jobs.create(base_model='tiny', hyperparameters={FAST!r},"
         f" training_file={str(home / 'train.jsonl')!r}); print(job.id)"],
        env=env_for(home), capture_output=True, text=True, timeout=120)
    assert creator.returncode == 0, creator.stderr
    job_id = creator.stdout.strip().splitlines()[-1]
    waiter = subprocess.run(
        [sys.executable, "-c", "from finetune_sdk.cli import main; main()", "wait", job_id,
         "--json"], env=env_for(home), capture_output=True, text=True, timeout=240)
    assert waiter.returncode == 0, waiter.stderr
    assert json.loads(waiter.stdout)["status"] == "succeeded"
    assert json.loads(waiter.stdout)["output_model"].startswith("local:")


def test_pause_resume_then_cancel_keeps_checkpoints(home):
    c = client(home)
    job = c.jobs.create(base_model="tiny", training_file=home / "train.jsonl",
                        hyperparameters={**FAST, "epochs": 40})
    poll_until(lambda: len(c.jobs.metrics(job.id)) >= 2)
    c.jobs.pause(job.id)
    # wait() does not return on PAUSED (the job is not over), so poll
    paused = poll_until(lambda: (j := c.jobs.get(job.id)).status is JobStatus.PAUSED and j)
    first_stop = c.jobs.checkpoints(job.id)[-1].step
    assert paused.error is None and first_stop >= 2

    c.jobs.resume(job.id)
    poll_until(lambda: any("resumed from checkpoint step" in e["message"]
                           for e in events_of(home, job.id)))
    poll_until(lambda: c.jobs.metrics(job.id)[-1].step > first_stop + 1)
    requested = c.jobs.cancel(job.id)
    assert not requested.status.is_terminal or requested.status is JobStatus.CANCELLED
    final = c.jobs.wait(job.id, timeout=120, progress=False)
    assert final.status is JobStatus.CANCELLED
    assert c.jobs.checkpoints(job.id)[-1].step > first_stop
    assert final.output_model is None


def test_bad_input_is_refused_before_any_worker_starts(home, tmp_path):
    c = client(home)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": 3}\n')
    with pytest.raises(DatasetError) as info:
        c.jobs.create(base_model="tiny", training_file=bad)
    assert "bad.jsonl" in str(info.value) and "2" in str(info.value)

    pref = tmp_path / "pref.jsonl"
    pref.write_text(json.dumps({"input": {"messages": [{"role": "user", "content": "q"}]},
                                "preferred_output": [{"role": "assistant", "content": "a"}],
                                "non_preferred_output": [{"role": "assistant", "content": "b"}]})
                    + "\n")
    with pytest.raises(UnsupportedFeatureError, match="local"):
        c.datasets.upload(pref)
    with pytest.raises(UnsupportedFeatureError, match="beta"):
        c.jobs.create(base_model="tiny", training_file=home / "train.jsonl",
                      hyperparameters={"beta": 0.1})
    with pytest.raises(NotFoundError):
        c.jobs.get("ftjob-local-000000000000")


def test_several_gpus_run_the_worker_under_torchrun(tmp_path):
    command = worker_command(tmp_path, gpus=4, python="/usr/bin/python3")
    assert command[:3] == ["/usr/bin/python3", "-m", "torch.distributed.run"]
    assert "--nproc_per_node=4" in command and "--standalone" in command
    assert command[-3:] == ["-m", "finetune_sdk.local.worker", str(tmp_path)]
    assert worker_command(tmp_path)[1:] == ["-m", "finetune_sdk.local.worker", str(tmp_path)]
    spec = JobSpec(base_model="tiny", training_file="x.jsonl", options={"gpus": 2})
    assert LocalProvider(root=tmp_path).resolve_options(spec) == LocalOptions(gpus=2)


@pytest.mark.slow
def test_two_process_torchrun_job_trains_and_writes_one_output(home):
    """gpus=2 on a CPU machine: torchrun starts two ranks (gloo); rank 0 alone reports."""
    c = client(home)
    job = c.jobs.create(base_model="tiny", training_file=home / "train.jsonl",
                        hyperparameters={**FAST, "epochs": 1},
                        options={"gpus": 2, "device": "cpu"})
    done = c.jobs.wait(job.id, timeout=240, progress=False)
    assert done.status is JobStatus.SUCCEEDED, done.error
    log = (home / "local" / "jobs" / job.id / "worker.log").read_text()
    steps = [m.step for m in c.jobs.metrics(job.id)]
    assert steps == sorted(set(steps)), "each step reported once (rank 0 only)"
    started = [e for e in events_of(home, job.id) if e["message"].startswith("worker started")]
    assert len(started) == 1 and "Traceback" not in log
    manifest = json.loads((Path(done.output_model.removeprefix("local:")) /
                           "trainer_manifest.json").read_text())
    assert manifest["details"]["world_size"] == 2


def test_sensitive_data_stays_allowed_locally_and_leaves_no_stray_files(home, tmp_path):
    from finetune_sdk.data.privacy import mark_sensitive

    data = tmp_path / "patients.jsonl"
    data.write_text((home / "train.jsonl").read_text())
    mark_sensitive(data)
    provider = LocalProvider(root=tmp_path / "root")
    ref = Client(provider, ledger=False).datasets.upload(data)  # hosted=False: allowed
    stored = sorted(p.name for p in (tmp_path / "root" / "datasets").iterdir())
    assert stored == [Path(ref.uri).name] and ref.num_examples == 48
