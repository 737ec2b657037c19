"""``finetune`` with ``-p together``: train against the Together mock served on a real loopback
socket (the SDK builds its own httpx client from TOGETHER_API_KEY / TOGETHER_BASE_URL, as for a
user), then status, list, a rerun that attaches, and the together rule pack in validate/convert.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

pytest.importorskip("together")

from finetune_sdk.cli import _register_commands  # noqa: E402
from finetune_sdk.cli.app import app  # noqa: E402
from finetune_sdk.providers.together.adapter import TogetherProvider  # noqa: E402
from finetune_sdk.testing.conformance import write_chat_jsonl  # noqa: E402
from finetune_sdk.testing.mock_servers.together import TogetherMockServer  # noqa: E402

BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
KEY = "tgp-SENTINEL-cli-5a1b"

_register_commands()


def cli(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def served(monkeypatch):
    mock = TogetherMockServer(auto_advance=True)
    with mock.serve() as url:
        monkeypatch.setenv("TOGETHER_API_KEY", KEY)
        monkeypatch.setenv("TOGETHER_BASE_URL", url)
        monkeypatch.delenv("TOGETHER_PROJECT_ID", raising=False)
        monkeypatch.delenv("WANDB_API_KEY", raising=False)
        # The CLI waits with the provider's own interval (30 s): poll at once here.
        monkeypatch.setattr(TogetherProvider, "poll_interval", lambda self: 0.0)
        yield mock


def test_train_waits_for_the_model_id_and_a_rerun_attaches(served, tmp_path):
    data = write_chat_jsonl(tmp_path / "chats.jsonl", 12)
    result = cli("train", data, "-p", "together", "-m", BASE, "--epochs", "2",
                 "--lora-rank", "8", "--suffix", "coach")
    assert result.exit_code == 0, result.output
    [job_id] = list(served.jobs)
    model = served.jobs[job_id]["model_output_name"]
    flat = result.output.replace("\n", "")  # rich wraps the long id at the terminal width
    assert f"model id: {model}" in flat and served.jobs[job_id]["suffix"] in model
    body = served.creates[-1]
    assert body["n_epochs"] == 2 and body["training_type"]["lora_r"] == 8
    assert body["suffix"].startswith("coach-ftsdk-")

    again = cli("train", data, "-p", "together", "-m", BASE, "--epochs", "2",
                "--lora-rank", "8", "--suffix", "coach")
    assert again.exit_code == 0, again.output
    assert "attaching" in again.output and served.job_count() == 1

    status = cli("status", job_id, "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["status"] == "succeeded"
    listed = cli("list", "--provider", "together")
    assert listed.exit_code == 0 and job_id in listed.output
    for output in (result.output, again.output, status.output, listed.output):
        assert KEY not in output


def test_a_failed_job_exits_with_the_job_code_and_its_reason(served, tmp_path):
    data = write_chat_jsonl(tmp_path / "chats.jsonl", 12)
    started = cli("train", data, "-p", "together", "-m", BASE, "--detach")
    assert started.exit_code == 0, started.output
    [job_id] = list(served.jobs)
    served.fail_job(job_id, "line 3: the assistant turn is empty")
    waited = cli("wait", job_id)
    assert waited.exit_code != 0 and "assistant turn is empty" in waited.output


def test_validate_and_convert_know_the_together_format(tmp_path):
    data = write_chat_jsonl(tmp_path / "chats.jsonl", 3)
    checked = cli("validate", data, "-p", "together", "--json")
    assert checked.exit_code == 0, checked.output
    out = tmp_path / "wire.jsonl"
    converted = cli("convert", data, "--to", "together", "-o", out)
    assert converted.exit_code == 0, converted.output
    line = json.loads(out.read_text().splitlines()[0])
    assert set(line) == {"messages"} and line["messages"][-1]["role"] == "assistant"
