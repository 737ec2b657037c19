"""The forms of SOURCE `migrate` reads (a ledger job, a manifest, a JobSpec JSON), where the data
comes from, and the errors when it cannot be had. Offline, on the fake provider."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from finetune_sdk.client import Client
from finetune_sdk.errors import ConfigurationError, DatasetError
from finetune_sdk.manifest import build_manifest, write_manifest
from finetune_sdk.migrate import migrate
from finetune_sdk.types import JobSpec

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "health_chats.jsonl"


@pytest.fixture
def fake_job(tmp_path):
    data = tmp_path / "coach.jsonl"
    shutil.copyfile(SAMPLE, data)
    spec = JobSpec(base_model="gpt-4.1-mini-2025-04-14", training_file=data,
                   output_name="coach", hyperparameters={"epochs": 2, "batch_size": 8})
    client = Client("fake")
    job = client.jobs.run(spec, poll_interval=0, progress=False)
    return client, job, spec, data


def test_migrate_a_fake_job_reads_the_ledger_file_and_compares_with_the_source(fake_job,
                                                                                tmp_path):
    client, job, _, data = fake_job
    report = migrate(job.id, ["fake", "fake:other-base"], out=tmp_path / "m", poll_interval=0,
                     eval_limit=12)
    assert report.source["data_from"] == "the local file recorded when the job was created"
    assert not any("no longer matches" in n for n in report.notes)  # checked, unchanged
    assert report.source["hyperparameters"] == {"epochs": 2, "batch_size": 8}
    rows = {r["target"]: r for r in report.rows}
    assert rows["fake"]["base_model"] == "gpt-4.1-mini-2025-04-14"  # fake: the same id
    for row in rows.values():
        assert row["status"] == "succeeded"
        assert row["eval"]["baseline"] == f"fake:ft-{job.id}"  # the source fine-tune
        assert row["hyperparameters"]["epochs"] == 2
        assert row["client_ref"].startswith("ftsdk-mig-")
    assert "ftsdk_migrated_from" in client.ledger.spec(rows["fake"]["client_ref"])["labels"]
    again = migrate(job.id, ["fake", "fake:other-base"], out=tmp_path / "m", poll_interval=0,
                    eval_limit=12)
    assert [r["job_id"] for r in again.rows] == [r["job_id"] for r in report.rows]
    # A different source trains anew: the intent key is per (source, target).
    other = client.jobs.run(JobSpec(base_model="gpt-4.1-mini-2025-04-14", training_file=data,
                                    hyperparameters={"epochs": 2, "batch_size": 8}),
                            poll_interval=0, progress=False, new=True)
    third = migrate(other.id, ["fake"], out=tmp_path / "m2", poll_interval=0, evaluate=False)
    assert third.rows[0]["job_id"] != rows["fake"]["job_id"]


def test_a_manifest_or_an_intent_key_names_the_same_source(fake_job, tmp_path):
    client, job, spec, _ = fake_job
    path = write_manifest(tmp_path / "manifest.json", build_manifest(job, spec=spec))
    by_manifest = migrate(str(path), ["fake"], out=tmp_path / "a", dry_run=True)
    by_key = migrate(job.client_ref, ["fake"], out=tmp_path / "b", dry_run=True)
    assert by_manifest.source["job_id"] == by_key.source["job_id"] == job.id
    assert by_manifest.targets[0].client_ref == by_key.targets[0].client_ref


def test_a_jobspec_file_migrates_a_job_that_never_ran(tmp_path):
    data = tmp_path / "d.jsonl"
    shutil.copyfile(SAMPLE, data)
    saved = tmp_path / "spec.json"
    saved.write_text(json.dumps({"base_model": "gpt-4.1-mini-2025-04-14",
                                 "training_file": str(data),
                                 "hyperparameters": {"learning_rate_multiplier": 0.5}}))
    with pytest.raises(ConfigurationError, match="--from PROVIDER"):  # in two catalogs
        migrate(str(saved), ["fake"], out=tmp_path / "x", dry_run=True)
    report = migrate(str(saved), ["fake"], out=tmp_path / "x", source_provider="openai",
                     poll_interval=0)
    row = report.rows[0]
    assert row["status"] == "succeeded" and row["hyperparameters"] == {
        "learning_rate_multiplier": 0.5}
    assert "no source model" in row["eval_note"]


def test_missing_data_says_to_pass_it_and_data_wins(fake_job, tmp_path):
    _, job, _, data = fake_job
    moved = tmp_path / "elsewhere.jsonl"
    data.rename(moved)
    with pytest.raises(DatasetError, match="pass --data FILE"):
        migrate(job.id, ["fake"], out=tmp_path / "m", dry_run=True)
    plan = migrate(job.id, ["fake"], out=tmp_path / "m", dry_run=True, data=moved)
    assert plan.source["data_from"] == "given (--data)"


def test_a_changed_file_is_reported(fake_job, tmp_path):
    _, job, _, data = fake_job
    data.write_text("\n".join(data.read_text().splitlines()[:50]) + "\n")
    plan = migrate(job.id, ["fake"], out=tmp_path / "m", dry_run=True)
    assert any("no longer matches the job's intent key" in n for n in plan.notes)


def test_unknown_source_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigurationError, match="--from PROVIDER"):
        migrate("not-a-job", ["fake"], out=tmp_path, dry_run=True)
