"""The ``finetune`` CLI used carelessly: every mistake is one line naming the file, flag or field
and what was expected, the documented exit code (2 usage/data, 3 API, 130 Ctrl-C), no traceback,
no secret, and no half-written or replaced output file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finetune_sdk import Client
from finetune_sdk.cli import _register_commands
from finetune_sdk.cli.app import app
from finetune_sdk.providers.fake import FakeOptions
from finetune_sdk.types import DatasetRef, JobSpec

_register_commands()
runner = CliRunner()

GOOD = {"messages": [{"role": "user", "content": "How much water?"},
                     {"role": "assistant", "content": "About two litres a day."}]}


def run(*args: str, **kwargs) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args], **kwargs)
    assert "Traceback" not in result.output, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), repr(result.exception)
    return result.exit_code, " ".join(result.output.split())  # rich may wrap long lines


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(GOOD) + "\n", encoding="utf-8")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n", encoding="utf-8")
    binary = tmp_path / "photo.jsonl"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\xed\x9f")
    csv = tmp_path / "export.csv"
    csv.write_text("user_message,assistant_reply,rating\nhi,hello,5\nq,a,oops\n", encoding="utf-8")
    folder = tmp_path / "folder"
    folder.mkdir()
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(GOOD) + "\n" + '{"messages": [\n', encoding="utf-8")
    return {"good": good, "empty": empty, "binary": binary, "csv": csv, "folder": folder,
            "missing": tmp_path / "missing.jsonl", "broken": broken}


def _create(**options) -> str:
    spec = JobSpec(base_model="base", training_file=DatasetRef(id="file-1", provider="fake"),
                   options=FakeOptions(**options) if options else None)
    return Client("fake").jobs.create(spec).id


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()
                  if ".tmp" in p.name or p.name.startswith(".env."))


# --- input files ------------------------------------------------------------------------------

DATA_COMMANDS = {
    "validate": ["validate", "{f}"],
    "stats": ["stats", "{f}"],
    "convert": ["convert", "{f}", "--to", "openai", "-o", "{out}"],
    "split": ["split", "{f}"],
    "scrub": ["scrub", "{f}"],
    "estimate": ["estimate", "{f}", "-p", "fake"],
    "train": ["train", "{f}", "-p", "fake", "-m", "base", "--detach"],
    "eval": ["eval", "--base", "fake:base", "--tuned", "fake:ft-x", "--data", "{f}",
             "--out", "{out}.report"],
}


def _argv(command: str, file: Path) -> list[str]:
    out = file.parent / "out.jsonl"
    return [a.format(f=file, out=out) for a in DATA_COMMANDS[command]]


@pytest.mark.parametrize("command", sorted(DATA_COMMANDS))
def test_missing_file_and_folder_say_what_was_expected(command, files) -> None:
    code, out = run(*_argv(command, files["missing"]))
    assert code == 2 and "missing.jsonl" in out and "no such file" in out, out
    code, out = run(*_argv(command, files["folder"]))
    assert code == 2 and "is a folder" in out and "expected" in out, out


@pytest.mark.parametrize("command", ["validate", "stats", "convert", "split", "scrub", "estimate",
                                     "eval"])
def test_binary_file_names_the_file_and_line(command, files) -> None:
    code, out = run(*_argv(command, files["binary"]))
    assert code == 2 and "photo.jsonl" in out, out
    assert "UTF-8" in out or "cannot tell the format" in out, out


@pytest.mark.parametrize("command", ["validate", "stats", "convert", "split", "scrub", "estimate",
                                     "eval"])
def test_csv_where_jsonl_is_expected_points_at_export_records(command, files) -> None:
    code, out = run(*_argv(command, files["csv"]))
    assert code == 2 and "export.csv" in out, out
    assert "finetune export-records" in out and "JSONL" in out, out


@pytest.mark.parametrize("command", ["validate", "stats", "convert", "split", "eval"])
def test_empty_file_is_an_error_not_an_empty_result(command, files) -> None:
    code, out = run(*_argv(command, files["empty"]))
    assert code == 2 and "empty.jsonl" in out, out
    assert not (files["empty"].parent / "empty.train.jsonl").exists()


def test_mark_sensitive_on_a_folder_or_missing_file(files) -> None:
    code, out = run("mark-sensitive", files["folder"])
    assert code == 2 and "is a folder" in out
    code, out = run("mark-sensitive", files["missing"])
    assert code == 2 and "no such file" in out


def test_scrub_invalid_json_line_names_the_line_and_writes_nothing(files) -> None:
    code, out = run("scrub", files["broken"])
    assert code == 2 and "broken.jsonl:2" in out and "not valid" in out and "JSON" in out, out
    assert not (files["broken"].parent / "broken.scrubbed.jsonl").exists()
    assert _leftovers(files["broken"].parent) == []


def test_scrub_names_file_not_utf8(files) -> None:
    code, out = run("scrub", files["good"], "--names-file", files["binary"])
    assert code == 2 and "--names-file" in out and "UTF-8" in out, out


# --- output paths -----------------------------------------------------------------------------

def test_output_under_a_file_is_refused_before_any_work(files) -> None:
    good = files["good"]
    for argv in (["convert", good, "--to", "openai", "-o", f"{good}/x.jsonl"],
                 ["validate", good, "--fix", "-o", f"{good}/sub/x.jsonl"],
                 ["scrub", good, "-o", f"{good}/x.jsonl"],
                 ["split", good, "--train-out", f"{good}/t.jsonl"],
                 ["export-records", files["csv"], "-o", f"{good}/x.jsonl"],
                 ["eval", "--base", "fake:b", "--tuned", "fake:t", "--data", good, "--out",
                  f"{good}/report"],
                 ["quickstart", "--workdir", good]):
        code, out = run(*argv)
        assert code == 2 and "good.jsonl" in out, (argv, out)
        assert "not a folder" in out or "is a file" in out, (argv, out)
    assert good.read_text(encoding="utf-8") == json.dumps(GOOD) + "\n"
    assert _leftovers(good.parent) == []


def test_output_that_is_a_folder_names_the_flag(files) -> None:
    code, out = run("convert", files["good"], "--to", "openai", "-o", files["folder"])
    assert code == 2 and "--output" in out and "is a folder" in out and ".tmp" not in out, out
    assert list(files["folder"].iterdir()) == []


def test_output_that_is_the_input_is_refused(files) -> None:
    before = files["good"].read_bytes()
    for argv in (["convert", files["good"], "--to", "openai", "-o", files["good"]],
                 ["scrub", files["good"], "-o", files["good"]]):
        code, out = run(*argv)
        assert code == 2 and "is also the input file" in out, out
    assert files["good"].read_bytes() == before
    assert not Path(f"{files['good']}.finetune.json").exists()  # not marked scrubbed either


def test_split_outputs_must_differ(files) -> None:
    same = files["good"].parent / "same.jsonl"
    code, out = run("split", files["good"], "--train-out", same, "--val-out", same)
    assert code == 2 and "--val-out" in out and "is also the output" in out, out
    assert not same.exists()


def test_convert_to_unknown_target_lists_providers_and_formats(files) -> None:
    code, out = run("convert", files["good"], "--to", "prompt_complet", "-o", "x.jsonl")
    assert code == 2 and "--to 'prompt_complet'" in out and "openai" in out, out
    assert "Did you mean 'prompt_completion'" in out


def test_read_only_folder_is_named(files, monkeypatch) -> None:
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode & os.W_OK and str(p) == str(
        files["folder"]) else real_access(p, mode))
    code, out = run("convert", files["good"], "--to", "openai", "-o", files["folder"] / "o.jsonl")
    assert code == 2 and "cannot write in" in out and "permission denied" in out, out


def test_a_failed_env_write_leaves_no_temp_file(tmp_path, monkeypatch) -> None:
    job_id = _create()
    assert run("wait", job_id, "--poll-interval", "0")[0] == 0
    env = tmp_path / ".env"
    env.write_text("KEEP=1\n")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", full_disk)
    code, out = run("model", job_id, "--env-file", env)
    assert code == 2 and "no space left" in out and ".env" in out, out
    assert env.read_text() == "KEEP=1\n"
    assert _leftovers(tmp_path) == []


def test_bad_env_var_name(tmp_path) -> None:
    job_id = _create()
    code, out = run("model", job_id, "--env-file", tmp_path / ".env", "--env-var", "MY MODEL")
    assert code == 2 and "--env-var" in out and "variable name" in out
    assert not (tmp_path / ".env").exists()


def test_home_that_is_a_file(files, monkeypatch) -> None:
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(files["good"]))
    code, out = run("list")
    assert code == 2 and "FINETUNE_SDK_HOME" in out and "not a folder" in out, out


# --- providers and credentials ----------------------------------------------------------------

def test_provider_typos_suggest_the_right_name(files) -> None:
    for argv, right in ((["train", files["good"], "-m", "base", "-p", "fak"], "fake"),
                        (["convert", files["good"], "--to", "opnai", "-o", "x.jsonl"], "openai"),
                        (["estimate", files["good"], "-p", "firewroks", "-m", "x"], "fireworks"),
                        (["chat", "some-model", "-p", "fak", "-m", "hi"], "fake"),
                        (["status", "ftjob-1", "-p", "huggingfase"], "huggingface")):
        code, out = run(*argv)
        assert code == 2 and f"Did you mean '{right}'" in out, (argv, out)


@pytest.mark.parametrize("provider, env_var", [
    ("openai", "OPENAI_API_KEY"), ("fireworks", "FIREWORKS_API_KEY"),
    ("gemini", "GOOGLE_CLOUD_PROJECT"), ("huggingface", "HF_TOKEN")])
def test_missing_credentials_name_the_env_var(provider, env_var) -> None:
    code, out = run("list", "-p", provider)
    assert code == 2 and env_var in out, out


def test_partial_credentials_never_print_the_secret(files, monkeypatch) -> None:
    secret = "fw-SECRET-do-not-print-123456"
    monkeypatch.setenv("FIREWORKS_API_KEY", secret)
    code, out = run("list", "-p", "fireworks")
    assert code == 2 and "FIREWORKS_ACCOUNT_ID" in out and secret not in out, out


def test_api_errors_say_what_to_do(monkeypatch) -> None:
    from finetune_sdk.errors import APIConnectionError, AuthenticationError
    from finetune_sdk.providers.fake import FakeProvider

    def refuse(self, *, limit=None):
        raise AuthenticationError("HTTP 401: invalid key", provider="fake", status_code=401)

    monkeypatch.setattr(FakeProvider, "list_jobs", refuse)
    code, out = run("list", "-p", "fake")
    assert code == 3 and "401" in out and "check the API key or token for fake" in out, out

    def offline(self, *, limit=None):
        raise APIConnectionError("could not connect (ConnectError)", provider="fake")

    monkeypatch.setattr(FakeProvider, "list_jobs", offline)
    code, out = run("list", "-p", "fake")
    assert code == 3 and "check the network" in out, out


# --- jobs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["status", "wait", "cancel", "events", "metrics", "model",
                                     "manifest"])
def test_unknown_job_id(command) -> None:
    code, out = run(command, "ftjob-nope")
    assert code == 2 and "not in the ledger" in out and "--provider" in out, out
    code, out = run(command, "ftjob-nope", "--provider", "fake")
    assert code == 3 and "[fake]" in out and "404" in out and "finetune list -p fake" in out, out


def test_wait_timeout_says_how_to_follow_again() -> None:
    job_id = _create(auto_advance=False)
    code, out = run("wait", job_id, "--timeout", "0.2", "--poll-interval", "0.05")
    assert code == 4 and "timed out" in out and f"finetune wait {job_id}" in out, out


@pytest.mark.parametrize("command", ["pause", "resume"])
def test_unknown_local_job_id(command) -> None:
    code, out = run(command, "ftjob-nope")
    assert code == 3 and "[local]" in out and "ftjob-nope" in out and "finetune list" in out, out


@pytest.mark.parametrize("argv, flag", [
    (["wait", "J", "--poll-interval", "-1"], "--poll-interval"),
    (["wait", "J", "--timeout", "-5"], "--timeout"),
    (["list", "--limit", "0"], "--limit"),
    (["events", "J", "--limit", "-1"], "--limit"),
    (["chat", "fake:m", "-m", "hi", "--max-tokens", "0"], "--max-tokens"),
    (["chat", "fake:m", "-m", "hi", "--temperature", "-1"], "--temperature"),
    (["validate", "x.jsonl", "--show", "-1"], "--show"),
])
def test_out_of_range_flags_are_usage_errors(argv, flag) -> None:
    code, out = run(*argv)
    assert code == 2 and flag in out, out


# --- hyperparameters and budget ---------------------------------------------------------------

@pytest.mark.parametrize("flags, names", [
    (["--epochs", "-1"], ["--epochs"]),
    (["--lr", "0"], ["--learning-rate", "greater than 0"]),
    (["--learning-rate", "-0.1"], ["--learning-rate", "greater than 0", "-0.1"]),
    (["--lr", "abc"], ["--lr", "number"]),
    (["--lr", "nan"], ["--learning-rate", "nan"]),
    (["--lora-dropout", "2"], ["--lora-dropout", "less than 1"]),
    (["--batch-size", "0"], ["--batch-size"]),
    (["--max-usd", "-1"], ["--max-usd", ">= 0"]),
    (["--max-usd", "nan"], ["--max-usd", ">= 0"]),
])
def test_bad_hyperparameters_name_the_flag(flags, names, files) -> None:
    code, out = run("train", files["good"], "-p", "fake", "-m", "base", "--detach", *flags)
    assert code == 2, out
    for name in names:
        assert name in out, (name, out)
    assert "Client(" not in out and "JobSpec" not in out


def test_train_flag_mistakes_before_any_credentials_are_needed(files) -> None:
    code, out = run("train", files["good"], "-p", "openai", "-m", "gpt-4o-mini", "--gpus", "2")
    assert code == 2 and "--gpus" in out and "local only" in out, out
    code, out = run("train", files["good"], "-p", "local", "-m", files["folder"])
    assert code == 2 and "config.json" in out and "started" not in out, out


def test_max_usd_with_unknown_price_says_how_to_add_one(files, monkeypatch) -> None:
    # A made-up id: OpenAI preflight only warns about it (the catalog may be stale) and no
    # price table knows it, so --max-usd has nothing to check against.
    unpriced = "gpt-9-mini-2099-01-01"
    code, out = run("estimate", files["good"], "-p", "openai", "-m", unpriced, "--max-usd", "5")
    assert code == 2 and "cannot be checked" in out and "FINETUNE_SDK_PRICES" in out, out
    secret = "sk-SECRET-do-not-print-0000"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    enough = files["good"].with_name("ten.jsonl")  # past OpenAI's 10-example minimum
    enough.write_text((json.dumps(GOOD) + "\n") * 10, encoding="utf-8")
    code, out = run("train", enough, "-p", "openai", "-m", unpriced, "--max-usd", "5")
    assert code == 2 and "cannot be checked" in out and "FINETUNE_SDK_PRICES" in out, out
    assert unpriced in out and "not in the list of tunable" in out  # warned, not refused
    assert secret not in out
    assert "adapter.py" not in out  # the vendor's shutdown warning is one line, no source path


def test_bad_price_file(files, tmp_path, monkeypatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text('{"prices": [{"provider": "openai"}]}')
    monkeypatch.setenv("FINETUNE_SDK_PRICES", str(prices))
    code, out = run("estimate", files["good"], "-p", "openai", "-m", "gpt-4o-mini")
    assert code == 2 and "prices.json" in out and "missing field 'unit'" in out, out
    monkeypatch.setenv("FINETUNE_SDK_PRICES", str(files["binary"]))
    code, out = run("estimate", files["good"], "-p", "openai", "-m", "gpt-4o-mini")
    assert code == 2 and "FINETUNE_SDK_PRICES" in out and "UTF-8" in out, out


# --- chat and eval ------------------------------------------------------------------------------

def test_chat_with_a_model_nobody_serves(files) -> None:
    for model in ("gpt-4o-mini", "ftjob-nope"):
        code, out = run("chat", model, "-m", "hi")
        assert code == 2 and model in out and "--provider" in out, out
    code, out = run("chat", files["folder"], "-m", "hi")
    assert code == 2 and "config.json" in out and "folder" in out, out
    code, out = run("chat", f"local:{files['missing']}", "-m", "hi")
    assert code == 2 and "no such folder" in out, out


def test_eval_with_bad_models_and_files(files) -> None:
    code, out = run("eval", "--base", "fake:b", "--tuned", "ftjob-nope", "--data", files["good"],
                    "--out", files["good"].parent / "r")
    assert code == 2 and "ftjob-nope" in out and "--provider" in out, out
    code, out = run("eval", "--base", f"local:{files['folder']}", "--tuned", "fake:t", "--data",
                    files["good"], "--out", files["good"].parent / "r")
    assert code == 2 and "config.json" in out, out
    code, out = run("eval", "--base", "fake:b", "--tuned", "fake:t", "--data", files["good"],
                    "--out", files["good"])
    assert code == 2 and "--out" in out and "is a file" in out, out


def test_manifest_with_missing_inputs(files) -> None:
    job_id = _create()
    code, out = run("manifest", job_id, "--data", files["missing"], "--out",
                    files["good"].parent / "m.json")
    assert code == 2 and "--data" in out and "missing.jsonl" in out, out
    code, out = run("manifest", job_id, "--eval", files["missing"])
    assert code == 2 and "--eval" in out and "report.json" in out, out
    assert not (files["good"].parent / "m.json").exists()


# --- export-records -----------------------------------------------------------------------------

def test_export_records_column_typo_suggests_the_column(files) -> None:
    out_file = files["csv"].parent / "chat.jsonl"
    code, out = run("export-records", files["csv"], "-o", out_file, "--user-field", "user")
    assert code == 2 and "--user-field 'user'" in out and "no such column" in out, out
    assert "Did you mean --user-field 'user_message'" in out
    code, out = run("export-records", files["csv"], "-o", out_file, "--rating-field", "stars",
                    "--min-rating", "3")
    assert code == 2 and "--rating-field 'stars'" in out and "rating" in out, out
    code, out = run("export-records", files["csv"], "-o", out_file, "--multi-turn")
    assert code == 2 and "--conversation-field" in out, out
    assert not out_file.exists()


def test_export_records_keeping_nothing_does_not_replace_the_output(files) -> None:
    out_file = files["csv"].parent / "chat.jsonl"
    out_file.write_text("previous good export\n")
    code, out = run("export-records", files["csv"], "-o", out_file, "--min-rating", "9")
    assert code == 2 and "no examples" in out and "rating_below_9" in out, out
    assert out_file.read_text() == "previous good export\n"
    assert _leftovers(out_file.parent) == []
    empty = files["csv"].parent / "empty.csv"
    empty.write_text("")
    code, out = run("export-records", empty, "-o", out_file)
    assert code == 2 and "no records" in out, out


def test_export_records_bad_inputs(files) -> None:
    code, out = run("export-records", files["folder"], "-o", "x.jsonl")
    assert code == 2 and "is a folder" in out and ".csv" in out, out
    code, out = run("export-records", files["binary"], "-o", files["folder"] / "x.jsonl")
    assert code == 2 and "photo.jsonl:1" in out and "UTF-8" in out, out


def test_brackets_in_paths_and_events_are_shown_not_eaten_as_markup(files, monkeypatch) -> None:
    monkeypatch.chdir(files["good"].parent)  # short relative paths: the stats table fits
    code, out = run("convert", "good.jsonl", "--to", "openai", "-o", "[v2].jsonl")
    assert code == 0 and "[v2].jsonl" in out, out
    code, out = run("stats", "[v2].jsonl")
    assert code == 0 and "[v2].jsonl" in out, out
    job_id = _create()
    run("wait", job_id, "--poll-interval", "0")
    code, out = run("events", job_id)
    assert code == 0 and "[info]" in out, out


# --- the last resort and Ctrl-C -------------------------------------------------------------------

def test_an_unforeseen_bug_is_one_line_with_how_to_see_more(monkeypatch) -> None:
    import finetune_sdk.registry as registry

    def broken() -> list[str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(registry, "available_providers", broken)
    code, out = run("providers")
    assert code == 1 and "RuntimeError: boom" in out and "FINETUNE_DEBUG=1" in out, out
    monkeypatch.setenv("FINETUNE_DEBUG", "1")
    result = runner.invoke(app, ["providers"])
    assert isinstance(result.exception, RuntimeError)


@pytest.mark.faults
def test_ctrl_c_during_wait_is_a_clean_exit_130() -> None:
    job_id = _create(auto_advance=False)
    code = ("import sys; from finetune_sdk.cli import _register_commands, main;"
            " _register_commands(); print('ready', file=sys.stderr, flush=True); main()")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "wait", job_id, "--poll-interval", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ},
        # A shell that runs the suite in the background passes SIGINT on as ignored, and
        # Python then never raises KeyboardInterrupt: give the child the default disposition.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stderr is not None and proc.stderr.readline().strip() == "ready"
        # The command says when it starts waiting; Ctrl-C then lands in the polling loop
        # however slowly this machine imported everything.
        assert proc.stderr.readline().startswith(f"waiting for {job_id}")
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        # Longer than the ledger's 30 s busy timeout: a slow poll may finish first.
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in out + err
    assert "interrupted" in err and f"finetune wait {job_id}" in err
    assert f"finetune cancel {job_id}" in err
    assert Client("fake").jobs.get(job_id).status.value != "cancelled"  # Ctrl-C only stops waiting
