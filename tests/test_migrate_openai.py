"""`finetune migrate ftjob-...` from a job on the OpenAI mock to Fireworks (mock) and the local
trainer (tiny model): the source's file is downloaded, the dry run sends no POST, --yes trains
each target once (a re-run attaches), and the report compares every new model with the source."""

from __future__ import annotations

import json
import warnings

import pytest
from migrate_support import mount_vendors, small_data
from typer.testing import CliRunner

from finetune_sdk.cli import _register_commands
from finetune_sdk.cli.app import app
from finetune_sdk.client import Client
from finetune_sdk.provider import PreflightWarning

pytest.importorskip("torch")
pytest.importorskip("peft")

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")]
runner = CliRunner()
_register_commands()


@pytest.fixture
def source(httpx2_mock, monkeypatch, tmp_path):
    """(vendors, the OpenAI source job) trained on 32 chats; the local file is deleted after,
    so migrate can only get the data by downloading OpenAI's copy."""
    vendors = mount_vendors(httpx2_mock, monkeypatch)
    data = small_data(tmp_path / "coach.jsonl", 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreflightWarning)
        job = Client("openai").jobs.run(
            base_model="gpt-4.1-mini-2025-04-14", training_file=data, output_name="coach",
            hyperparameters={"epochs": 2, "batch_size": 4, "learning_rate_multiplier": 2.0},
            poll_interval=0, progress=False)
    data.unlink()
    return vendors, job


def _local_jobs(home):
    return sorted((home / "local" / "jobs").glob("ftjob-local-*"))


def test_migrate_dry_run_then_yes_then_rerun(source, tmp_path, isolated_home):
    vendors, job = source
    out = tmp_path / "mig"
    args = ["migrate", job.id, "--to", "fireworks", "--to", "local:tiny", "--out", str(out),
            "--val", "0.25", "--limit", "4", "--max-tokens", "6"]
    posts = vendors.posts()
    plan = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert plan.exit_code == 0, plan.output
    assert vendors.posts() == posts  # the dry run sent no POST at all: nothing that costs
    assert "Run again with --yes to start 2 job(s)" in plan.output
    assert "accounts/fireworks/models/gpt-oss-20b" in plan.output  # the equivalence table
    assert "2027-01-06" in plan.output and "2027-01-14" in plan.output  # the deadlines
    assert "learning_rate=0.0002" in plan.output  # multiplier 2 x the Fireworks default
    assert "learning_rate=0.02" in plan.output  # multiplier 2 x the tiny model's default
    assert vendors.openai.requests_to("GET", r"/v1/files/.+/content")
    assert len(vendors.fireworks.jobs) == 0 and _local_jobs(isolated_home) == []
    plan_data = json.loads((out / "plan.json").read_text())
    assert plan_data["source"]["data_from"].startswith("downloaded from openai")

    done = runner.invoke(app, [*args, "--yes", "--deploy-for-eval"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    (fw_job,) = vendors.fireworks.jobs.values()
    assert fw_job["baseModel"] == "accounts/fireworks/models/gpt-oss-20b"
    assert (fw_job["epochs"], fw_job["learningRate"], fw_job["batchSizeSamples"]) == (2, 2e-4, 4)
    assert fw_job["outputModel"].rsplit("/", 1)[-1].startswith("coach-")  # suffix carries over
    (local_job,) = _local_jobs(isolated_home)
    spec = json.loads((local_job / "spec.json").read_text())
    assert spec["train_config"]["learning_rate"] == 0.02 and spec["train_config"]["epochs"] == 2
    assert spec["labels"] == {"ftsdk_migrated_from": f"openai-{job.id}".lower()}
    report = json.loads((out / "report.json").read_text())
    assert report["kind"] == "migration" and report["source"]["job_id"] == job.id
    for row in report["targets"]:
        assert row["status"] == "succeeded", row
        assert row["eval"]["baseline"] == job.output_model, row  # compared with the source
        assert row["eval"]["n"] == 4 and "gained" in row["eval"]["flips"]
    assert "deployed as" in report["targets"][0]["eval_note"]  # and deleted after
    assert all(d["state"] != "READY" for d in vendors.fireworks.deployments.values())
    state = json.loads((out / "state.json").read_text())
    assert {t["migrated_from"] for t in state["targets"].values()} == {f"openai:{job.id}"}
    for name in ("report.md", "report.html"):
        assert job.output_model in (out / name).read_text()

    again = runner.invoke(app, [*args, "--yes", "--deploy-for-eval", "--json"])
    assert again.exit_code == 0, again.output
    assert len(vendors.fireworks.jobs) == 1 and len(_local_jobs(isolated_home)) == 1
    rows = json.loads(again.stdout)["targets"]
    assert all(r["attached"] for r in rows)
    assert len(vendors.openai.jobs) == 1  # the source was only read


def test_a_source_whose_data_cannot_be_had_says_to_pass_data(source, tmp_path):
    vendors, job = source
    vendors.openai.files.clear()  # OpenAI no longer has the file
    vendors.openai.file_bytes.clear()
    result = runner.invoke(app, ["migrate", job.id, "--to", "local:tiny", "--out",
                                 str(tmp_path / "m")])
    assert result.exit_code != 0
    assert "No such File object" in result.output or "--data" in result.output
