"""The job CLI: exit codes, one-line errors, reattach from another process, .env writing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from finetune_sdk import Client
from finetune_sdk.cli import _register_commands
from finetune_sdk.cli.app import app
from finetune_sdk.providers.fake import FakeOptions
from finetune_sdk.types import DatasetRef, JobSpec

_register_commands()
runner = CliRunner()


def _create(**options) -> str:
    client = Client("fake")
    spec = JobSpec(base_model="base", training_file=DatasetRef(id="file-1", provider="fake"),
                   options=FakeOptions(**options) if options else None)
    return client.jobs.create(spec).id


def test_wait_exit_0_on_success_and_ledger_finds_the_provider() -> None:
    job_id = _create()
    result = runner.invoke(app, ["wait", job_id, "--poll-interval", "0"])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output


def test_wait_exit_1_on_failure_with_reason() -> None:
    job_id = _create(fail_with="training loss is NaN")
    result = runner.invoke(app, ["wait", job_id, "--poll-interval", "0", "--json"])
    assert result.exit_code == 1
    assert "training loss is NaN" in result.output


def test_unknown_job_is_one_line_exit_2() -> None:
    result = runner.invoke(app, ["status", "ftjob-nope"])
    assert result.exit_code == 2
    assert "not in the ledger" in result.output
    assert "Traceback" not in result.output


def test_unknown_provider_is_usage_error() -> None:
    result = runner.invoke(app, ["list", "--provider", "opnai"])
    assert result.exit_code == 2 and "Did you mean 'openai'" in result.output


def test_api_error_exit_3() -> None:
    result = runner.invoke(app, ["status", "ftjob-fake-0000000000000000", "--provider", "fake"])
    assert result.exit_code == 3 and "HTTP 404" in result.output


def test_model_writes_env_file_without_clobbering(tmp_path) -> None:
    job_id = _create()
    runner.invoke(app, ["wait", job_id, "--poll-interval", "0"])
    env = tmp_path / ".env"
    env.write_text("# app settings\nDATABASE_URL=postgres://x\nFINETUNED_MODEL=old\n")
    result = runner.invoke(app, ["model", job_id, "--env-file", str(env)])
    assert result.exit_code == 0, result.output
    lines = env.read_text().splitlines()
    assert lines[:2] == ["# app settings", "DATABASE_URL=postgres://x"]
    assert lines[2] == f"FINETUNED_MODEL=fake:ft-{job_id}"
    assert len(lines) == 3


def test_model_of_unfinished_job_is_a_clear_error() -> None:
    job_id = _create(auto_advance=False)
    result = runner.invoke(app, ["model", job_id])
    assert result.exit_code == 1 and "has not finished" in result.output


def test_list_events_metrics_and_providers() -> None:
    job_id = _create()
    runner.invoke(app, ["wait", job_id, "--poll-interval", "0"])
    listed = runner.invoke(app, ["list", "--json"])
    assert listed.exit_code == 0 and job_id in listed.output
    events = runner.invoke(app, ["events", job_id])
    assert "Status changed to succeeded" in events.output
    metrics = runner.invoke(app, ["metrics", job_id, "--json"])
    assert metrics.exit_code == 0 and '"train_loss"' in metrics.output
    table = runner.invoke(app, ["providers"])
    assert table.exit_code == 0 and "fake" in table.output
    matrix = runner.invoke(app, ["providers", "--json"])
    assert matrix.exit_code == 0
    for name in ("fake", "local", "openai", "fireworks", "gemini", "huggingface"):
        assert f'"{name}"' in matrix.output


def test_cancel_then_wait_is_exit_1() -> None:
    job_id = _create(auto_advance=False)
    assert runner.invoke(app, ["cancel", job_id]).exit_code == 0
    assert runner.invoke(app, ["wait", job_id, "--poll-interval", "0"]).exit_code == 1


@pytest.mark.faults
def test_wait_reattaches_from_another_process() -> None:
    job_id = _create()
    env = {**os.environ}
    code = "from finetune_sdk.cli import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "wait", job_id, "--poll-interval", "0", "--json"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"status": "succeeded"' in proc.stdout
