"""`finetune eval` and `finetune chat` end to end over the fake provider (a real fake job)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from finetune_sdk.cli import _register_commands
from finetune_sdk.cli.app import app
from finetune_sdk.client import Client

SAMPLE = (Path(__file__).resolve().parents[1] / "finetune_sdk" / "data" / "samples"
          / "health_chats.jsonl")
runner = CliRunner()
_register_commands()


def _tuned_job(tmp_path: Path) -> str:
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(SAMPLE.read_text().splitlines()[:20]) + "\n")
    client = Client("fake")
    job = client.jobs.run(base_model="base", training_file=train, poll_interval=0.0)
    return job.id


def test_eval_prints_table_and_writes_reports(tmp_path):
    job_id = _tuned_job(tmp_path)  # the job id alone: the ledger knows the provider and model
    out = tmp_path / "report"
    result = runner.invoke(app, ["eval", "--base", "base", "--tuned", job_id, "--data",
                                 str(SAMPLE), "--limit", "12", "--out", str(out)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for label in ("BLEU", "ROUGE-L", "Exact match", "Win rate"):
        assert label in result.output
    assert "base 12, tuned 12" in result.output
    data = json.loads((out / "report.json").read_text())
    assert data["n"] == 12 and data["tuned"].startswith("fake:ft-")
    assert (out / "report.md").read_text().startswith("# Evaluation")
    again = runner.invoke(app, ["eval", "--base", "base", "--tuned", job_id, "--data",
                                str(SAMPLE), "--limit", "12", "--out", str(out), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["aggregates"] == data["aggregates"]


def test_eval_bad_data_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "h.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "q"}]}\n')
    result = runner.invoke(app, ["eval", "--base", "base", "--tuned", "fake:ft-1", "--data",
                                 str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "h.jsonl:1:" in result.output and "Traceback" not in result.output


def test_chat_one_message():
    result = runner.invoke(app, ["chat", "fake:ft-abc", "-m", "Is walking after dinner good?"])
    assert result.exit_code == 0, result.output
    assert "walking after dinner good" in result.output


def test_chat_takes_the_question_as_a_second_argument_too():
    positional = runner.invoke(app, ["chat", "fake:ft-abc", "Is walking after dinner good?"])
    flagged = runner.invoke(app, ["chat", "fake:ft-abc", "-m", "Is walking after dinner good?"])
    assert positional.exit_code == 0 and positional.output == flagged.output
    both = runner.invoke(app, ["chat", "fake:ft-abc", "First?", "-m", "Second?"])
    assert both.exit_code == 0 and len(both.output.strip().splitlines()) == 2


def test_chat_unknown_model_needs_provider():
    result = runner.invoke(app, ["chat", "mystery-model", "-m", "hi"])
    assert result.exit_code == 2
    assert "--provider" in result.output


def test_eval_on_two_examples_says_the_interval_is_not_meaningful(tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["eval", "--base", "base", "--tuned", "fake:ft-abc", "--data",
                                 str(SAMPLE), "--limit", "2", "--out", str(out), "--no-cache"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "too few for a meaningful interval" in result.output
    assert "[1.000, 1.000]" not in result.output
    data = json.loads((out / "report.json").read_text())
    assert data["aggregates"]["win_rate"]["ci"] is None and "at least 10" in data["ci_note"]
    as_json = runner.invoke(app, ["eval", "--base", "base", "--tuned", "fake:ft-abc", "--data",
                                  str(SAMPLE), "--limit", "2", "--out", str(out), "--json"])
    assert json.loads(as_json.output)["ci_note"] == data["ci_note"]
