"""``finetune train -p bedrock`` and the Bedrock example, configured only through the
environment (as a user's shell would be), against the Bedrock mock on a loopback socket;
``validate``/``convert`` with Bedrock's rules and wire formats."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from test_bedrock_conformance import no_ambient_aws  # noqa: F401
from typer.testing import CliRunner

from finetune_sdk.cli import _register_commands
from finetune_sdk.cli.app import app
from finetune_sdk.data.convert import convert_file
from finetune_sdk.providers.bedrock.adapter import BedrockProvider
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.bedrock import BedrockMockServer

_register_commands()
runner = CliRunner()
NOVA = "amazon.nova-micro-v1:0:128k"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def served(monkeypatch):
    """The mock on a socket, and the environment a Bedrock user sets."""
    mock = BedrockMockServer(auto_advance=True, buckets=("cli-bucket",))
    with mock.serve() as url:
        for name, value in {
            "AWS_ENDPOINT_URL": url, "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "AKIDCLITEST", "AWS_SECRET_ACCESS_KEY": SENTINEL_SECRET,
            "FINETUNE_SDK_BEDROCK_BUCKET": "s3://cli-bucket/tuning",
            "FINETUNE_SDK_BEDROCK_ROLE_ARN": mock.role_arn,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(BedrockProvider, "poll_interval", lambda self: 0.0)
        yield mock


def test_finetune_train_on_bedrock_prints_the_custom_model_arn(served, tmp_path, isolated_home):
    data = write_chat_jsonl(tmp_path / "chats.jsonl", 12)
    result = runner.invoke(app, ["train", str(data), "-p", "bedrock", "-m", NOVA, "--epochs", "2",
                                 "--suffix", "coach"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and SENTINEL_SECRET not in result.output
    [job] = served.jobs.values()
    # the long ARN is printed whole on one line (never wrapped at the terminal width)
    assert f"model id: {job['outputModelArn']}" in result.output.splitlines()
    assert job["hyperParameters"] == {"epochCount": "2"}
    assert job["trainingDataConfig"]["s3Uri"].startswith("s3://cli-bucket/tuning/")
    assert job["jobName"] == job["clientRequestToken"]  # the intent key, shown as "intent ..."
    assert f"intent {job['jobName']}" in result.output
    # The same command again attaches to that job: nothing is uploaded or created twice.
    puts = len(served.requests_to("PUT", "/cli-bucket/"))
    again = runner.invoke(app, ["train", str(data), "-p", "bedrock", "-m", NOVA, "--epochs", "2",
                                "--suffix", "coach"])
    assert again.exit_code == 0, again.output
    assert served.job_count() == 1 and len(served.requests_to("PUT", "/cli-bucket/")) == puts


def test_finetune_train_refuses_a_bad_hyperparameter_before_upload(served, tmp_path,
                                                                   isolated_home):
    data = write_chat_jsonl(tmp_path / "chats.jsonl", 12)
    result = runner.invoke(app, ["train", str(data), "-p", "bedrock", "-m", NOVA,
                                 "--batch-size", "8"])
    assert result.exit_code == 2, result.output
    assert "batch_size" in result.output and served.requests == []


def test_validate_uses_bedrock_rules(tmp_path, isolated_home):
    good = write_chat_jsonl(tmp_path / "good.jsonl", 12)
    assert runner.invoke(app, ["validate", str(good), "-p", "bedrock"]).exit_code == 0
    bad = tmp_path / "tool.jsonl"
    bad.write_text("\n".join(json.dumps({"messages": [
        {"role": "user", "content": "weather?"}, {"role": "tool", "content": "sunny"},
        {"role": "assistant", "content": "Sunny."}]}) for _ in range(10)) + "\n")
    result = runner.invoke(app, ["validate", str(bad), "-p", "bedrock"])
    assert result.exit_code == 2 and "tool" in result.output


@pytest.mark.parametrize("schema, first_key", [("conversation", "schemaVersion"),
                                               ("messages", "system"),
                                               ("prompt_completion", "prompt")])
def test_convert_writes_each_wire_schema(tmp_path, schema, first_key):
    src = write_chat_jsonl(tmp_path / "in.jsonl", 3)
    report = convert_file(src, tmp_path / "out.jsonl", to="bedrock", schema=schema)
    line = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert report.target == "bedrock" and report.examples == 3 and first_key in line
    from finetune_sdk.providers.bedrock.dataset import from_wire

    back = from_wire(line)["messages"]
    assert back[-1] == {"role": "assistant", "content": "About two litres on day 0; more if hot."}


def test_the_example_runs_against_the_mock(served, capsys, isolated_home, monkeypatch):
    monkeypatch.setenv("FINETUNE_PROVIDER", "bedrock")
    spec = importlib.util.spec_from_file_location("bedrock_workflow",
                                                  EXAMPLES / "bedrock_workflow.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main()
    out = capsys.readouterr().out
    [job] = served.jobs.values()
    assert "uploaded: s3://cli-bucket/tuning/" in out
    assert f"custom model: {job['outputModelArn']}" in out
    assert "needs a deployment: True" in out and "create_custom_model_deployment" in out
    assert job["hyperParameters"] == {"epochCount": "2", "learningRate": "0.00001",
                                      "learningRateWarmupSteps": "10"}
    assert job["jobTags"] == [{"key": "app", "value": "diabetes-coach"}]
