"""``finetune train`` flags: every knob reaches the job, a preference file is never trained as
SFT, ``--option`` values are typed, the intent key is shown and a rerun attaches instead of
paying twice, and forgetting ``-p`` is said out loud."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finetune_sdk.cli import _register_commands
from finetune_sdk.cli._train_flags import parse_options
from finetune_sdk.cli.app import app

_register_commands()
runner = CliRunner()

CHAT = {"messages": [{"role": "user", "content": "How much water?"},
                     {"role": "assistant", "content": "About two litres a day."}]}
PREF = {"messages": [{"role": "user", "content": "How much water?"}],
        "chosen": {"role": "assistant", "content": "About two litres a day."},
        "rejected": {"role": "assistant", "content": "None."}}


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    chat, pref = tmp_path / "chat.jsonl", tmp_path / "pref.jsonl"
    chat.write_text(json.dumps(CHAT) + "\n", encoding="utf-8")
    pref.write_text(json.dumps(PREF) + "\n", encoding="utf-8")
    return {"chat": chat, "pref": pref}


def train(*args: object):
    result = runner.invoke(app, ["train", *(str(a) for a in args)])
    assert "Traceback" not in result.output, result.output
    return result


def fake_jobs(home: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((home / "fake" / "jobs").glob("*.json"))]


def test_hyperparameter_flags_reach_the_job(data, isolated_home) -> None:
    result = train(data["chat"], "-p", "fake", "-m", "base", "--detach",
                   "--learning-rate-multiplier", "1.8", "--lora-target-modules", "q_proj, v_proj",
                   "--seed", "7")
    assert result.exit_code == 0, result.output
    (job,) = fake_jobs(isolated_home)
    assert job["hyperparameters"] == {"learning_rate_multiplier": 1.8, "seed": 7,
                                      "lora_target_modules": ["q_proj", "v_proj"]}
    assert job["method"] == "sft"


@pytest.mark.parametrize("flags, says", [
    (["--lora-target-modules", " , "], "--lora-target-modules"),
    (["--lr-multiplier", "0"], "--learning-rate-multiplier"),
    (["--option", "novalue"], "expected key=value"),
    (["--option", "a=1", "--option", "a=2"], "given twice"),
    (["--option", "labels={oops"], "not valid JSON"),
])
def test_bad_train_flags_are_one_line_exit_2(data, isolated_home, flags, says) -> None:
    result = train(data["chat"], "-p", "fake", "-m", "base", "--detach", *flags)
    assert result.exit_code == 2 and says in " ".join(result.output.split()), result.output
    assert not (isolated_home / "fake" / "jobs").exists() or not fake_jobs(isolated_home)


def test_option_values_are_parsed_into_types() -> None:
    assert parse_options(["flavor=a10g-small", "timeout=7200", "lr=0.5", "peft=true",
                          "merge=no", "chat_template=null", "timeout_s=2h",
                          'extra_args=["--x", "1"]', 'name="42"']) == {
        "flavor": "a10g-small", "timeout": 7200, "lr": 0.5, "peft": True, "merge": False,
        "chat_template": None, "timeout_s": "2h", "extra_args": ["--x", "1"], "name": "42"}
    assert parse_options(None) == {}


def test_option_reaches_the_provider_options(data, isolated_home) -> None:
    result = train(data["chat"], "-p", "fake", "-m", "base", "--detach",
                   "--option", "fail_with=loss is NaN", "--option", "auto_advance=false")
    assert result.exit_code == 0, result.output
    (job,) = fake_jobs(isolated_home)
    assert job["fail_with"] == "loss is NaN" and job["auto_advance"] is False


def test_unknown_option_is_refused_naming_it(data, isolated_home) -> None:
    result = train(data["chat"], "-p", "fake", "-m", "base", "--detach",
                   "--option", "fail_wth=x")
    assert result.exit_code == 2 and "fail_wth" in result.output, result.output


def test_preference_file_is_trained_as_dpo_and_says_so(data, isolated_home) -> None:
    result = train(data["pref"], "-p", "fake", "-m", "base", "--detach", "--beta", "0.2")
    assert result.exit_code == 0, result.output
    assert "method: dpo" in result.stderr
    (job,) = fake_jobs(isolated_home)
    assert job["method"] == "dpo" and job["hyperparameters"] == {"beta": 0.2}


@pytest.mark.parametrize("file, flags, says", [
    ("pref", ["--method", "sft"], "holds preference pairs"),
    ("chat", ["--method", "dpo"], "needs preference pairs"),
    ("chat", ["--beta", "0.1"], "--beta is the DPO temperature"),
    ("chat", ["--method", "ppo"], "expected sft or dpo"),
])
def test_method_mismatch_is_refused_before_anything_is_sent(data, isolated_home, file, flags,
                                                              says) -> None:
    # openai without a key: the refusal must come first, and never become a supervised job.
    result = train(data[file], "-p", "openai", "-m", "gpt-4.1-mini-2025-04-14", *flags)
    assert result.exit_code == 2 and says in " ".join(result.output.split()), result.output
    assert "OPENAI_API_KEY" not in result.output


def test_validation_file_of_the_other_kind_is_refused(data) -> None:
    result = train(data["chat"], "-p", "fake", "-m", "base", "-v", data["pref"], "--detach")
    assert result.exit_code == 2 and "--validation-file" in result.output, result.output


def test_allow_sensitive_lets_a_marked_file_go_to_a_hosted_provider(data, isolated_home) -> None:
    from finetune_sdk.data.privacy import mark_sensitive

    mark_sensitive(data["chat"])
    refused = train(data["chat"], "-p", "fake", "-m", "base", "--detach")
    assert refused.exit_code == 2 and "sensitive" in refused.output, refused.output
    allowed = train(data["chat"], "-p", "fake", "-m", "base", "--detach", "--allow-sensitive")
    assert allowed.exit_code == 0, allowed.output
    assert len(fake_jobs(isolated_home)) == 1


def test_rerun_attaches_to_the_same_intent_and_new_starts_a_second(data, isolated_home) -> None:
    first = train(data["chat"], "-p", "fake", "-m", "base", "--detach")
    assert first.exit_code == 0, first.output
    (job,) = fake_jobs(isolated_home)
    assert f"intent {job['client_ref']}" in first.stdout and "attaching" not in first.stdout

    again = train(data["chat"], "-p", "fake", "-m", "base", "--detach")
    assert again.exit_code == 0, again.output
    assert f"intent {job['client_ref']}" in again.stdout
    assert (f"attaching to existing job {job['id']} (same intent; pass --new for a second job)"
            in again.stdout)
    assert len(fake_jobs(isolated_home)) == 1

    second = train(data["chat"], "-p", "fake", "-m", "base", "--detach", "--new")
    assert second.exit_code == 0, second.output
    jobs = fake_jobs(isolated_home)
    assert len(jobs) == 2 and "attaching" not in second.stdout
    fresh = next(j for j in jobs if j["id"] != job["id"])
    assert f"intent {fresh['client_ref']}" in second.stdout
    assert fresh["client_ref"] != job["client_ref"]


def test_client_ref_is_the_intent_key(data, isolated_home) -> None:
    first = train(data["chat"], "-p", "fake", "-m", "base", "--detach",
                  "--client-ref", "nightly-2026-05-01")
    assert first.exit_code == 0 and "intent nightly-2026-05-01" in first.stdout, first.output
    (job,) = fake_jobs(isolated_home)
    assert job["client_ref"] == "nightly-2026-05-01"
    # Another hyperparameter, same key: still the one job the key names.
    again = train(data["chat"], "-p", "fake", "-m", "base", "--detach", "--epochs", "3",
                  "--client-ref", "nightly-2026-05-01")
    assert again.exit_code == 0 and f"attaching to existing job {job['id']}" in again.stdout
    assert len(fake_jobs(isolated_home)) == 1


def test_client_ref_and_new_together_or_a_bad_ref_are_refused(data) -> None:
    both = train(data["chat"], "-p", "fake", "-m", "base", "--client-ref", "a", "--new")
    assert both.exit_code == 2 and "--new" in both.output and "--client-ref" in both.output
    bad = train(data["chat"], "-p", "fake", "-m", "base", "--client-ref", "has space")
    assert bad.exit_code == 2 and "--client-ref" in bad.output, bad.output


def test_json_output_keeps_stdout_one_document(data) -> None:
    result = train(data["chat"], "-p", "fake", "-m", "base", "--detach", "--json")
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert f"intent {job['client_ref']}" in result.stderr


def test_without_provider_the_default_is_said_on_stderr(data, tmp_path) -> None:
    # An empty folder as the base model stops before anything starts (exit 2).
    empty = tmp_path / "model"
    empty.mkdir()
    result = train(data["chat"], "-m", empty, "--detach")
    assert "provider: local (default; pass -p to choose)" in result.stderr
    assert result.exit_code == 2 and "started" not in result.output


def test_train_prints_plain_progress_lines_when_not_a_terminal(data) -> None:
    result = train(data["chat"], "-p", "fake", "-m", "base")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "ftjob-fake-" in line]
    assert len(lines) >= 2 and lines[-1].endswith("succeeded 100%"), result.stderr
    assert any(" running " in line for line in lines)
    assert "model id: fake:ft-" in result.stdout
