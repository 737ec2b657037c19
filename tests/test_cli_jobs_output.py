"""What the job commands print: plain progress lines off a terminal, a timeout that is not a
failed job (exit 4), job ids never cut in ``finetune list``, and intents without a vendor id
listed and flagged."""

from __future__ import annotations

import io
import json

from typer.testing import CliRunner

from finetune_sdk import Client
from finetune_sdk.cli import _register_commands
from finetune_sdk.cli.app import EXIT_TIMEOUT, app
from finetune_sdk.ledger import Ledger
from finetune_sdk.progress import plain_progress
from finetune_sdk.providers.fake import FakeOptions
from finetune_sdk.types import DatasetRef, Job, JobSpec

_register_commands()
runner = CliRunner()


def _create(**options) -> str:
    spec = JobSpec(base_model="base", training_file=DatasetRef(id="file-1", provider="fake"),
                   options=FakeOptions(**options) if options else None)
    return Client("fake").jobs.create(spec).id


def test_wait_prints_one_plain_line_per_change_when_not_a_terminal() -> None:
    job_id = _create()
    result = runner.invoke(app, ["wait", job_id, "--poll-interval", "0"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert lines and all(job_id in line for line in lines), result.stderr
    assert len(lines) == len(set(line.split("] ", 1)[1] for line in lines))  # no repeats
    assert lines[-1].endswith(f"{job_id} succeeded 100%")
    assert "\x1b[" not in result.stderr  # no redrawn bar, no escape codes


def test_wait_json_prints_no_progress_lines() -> None:
    job_id = _create()
    result = runner.invoke(app, ["wait", job_id, "--poll-interval", "0", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] == "succeeded"
    assert job_id not in result.stderr


def test_plain_progress_prints_only_changes() -> None:
    out = io.StringIO()
    ticks = iter([0.0, 3.2, 9.0, 20.0])
    show = plain_progress("J", stream=out, clock=lambda: next(ticks))
    running = Job(id="J", provider="p", status="running", provider_status="RUNNING",
                  progress=0.254)
    show(running)
    show(running)  # a poll that learnt nothing: no line
    show(running.model_copy(update={"progress": 0.5}))
    assert out.getvalue().splitlines() == ["[    3s] J running (RUNNING) 25%",
                                           "[    9s] J running (RUNNING) 50%"]


def test_wait_timeout_has_its_own_exit_code() -> None:
    job_id = _create(auto_advance=False)
    result = runner.invoke(app, ["wait", job_id, "--timeout", "0.1", "--poll-interval", "0.02"])
    assert result.exit_code == EXIT_TIMEOUT == 4, result.output
    assert "keeps running" in result.output
    failed = runner.invoke(app, ["wait", _create(fail_with="boom"), "--poll-interval", "0"])
    assert failed.exit_code == 1


def test_help_lists_every_exit_code() -> None:
    text = " ".join(runner.invoke(app, ["--help"]).output.split())
    for code in ("0 ok", "1 the job failed", "2 usage", "3 API", "4 gave up waiting",
                 "130 interrupted"):
        assert code in text, text


LONG_ID = "ftjob-" + "0123456789abcdef" * 4 + "-end"


def test_list_never_cuts_a_job_id() -> None:
    Ledger().update(Job(id=LONG_ID, provider="fake", status="running",
                        base_model="accounts/fireworks/models/llama-v3p1-8b-instruct",
                        output_model=f"fake:ft-{LONG_ID}"))
    Ledger().update(Job(id="ftjob-short", provider="fake", status="succeeded"))
    for width in (80, 300):
        result = runner.invoke(app, ["list"], env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        assert LONG_ID in result.output and f"fake:ft-{LONG_ID}" in result.output, result.output
        assert "ftjob-short" in result.output and "…" not in result.output


def test_short_ids_still_get_a_table() -> None:
    Ledger().update(Job(id="ftjob-short", provider="fake", status="succeeded"))
    result = runner.invoke(app, ["list"], env={"COLUMNS": "100"})
    assert "┃ job" in result.output and "ftjob-short" in result.output, result.output


def _pending(ref: str, provider: str, status: str, error: str | None = None) -> None:
    ledger = Ledger()
    spec = JobSpec(base_model="gpt-4.1-mini-2025-04-14", client_ref=ref,
                   training_file=DatasetRef(id="file-1", provider=provider))
    ledger.record_intent(provider, spec)
    if status != "creating":
        ledger.set_state(ref, status, error=error, release=True)


def test_list_shows_intents_without_a_vendor_id() -> None:
    job_id = _create()
    _pending("ref-in-doubt", "openai", "unknown", "create timed out")
    _pending("ref-refused", "fake", "create_failed", "HTTP 400 bad file")
    result = runner.invoke(app, ["list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "(none: unknown — run finetune reconcile)" in text
    assert "(none: create_failed — run finetune reconcile)" in text
    assert "intent ref-in-doubt; create timed out" in text and job_id in text

    listed = json.loads(runner.invoke(app, ["list", "--json"]).stdout)
    pending = {row["client_ref"]: row for row in listed if row.get("pending")}
    assert set(pending) == {"ref-in-doubt", "ref-refused"}
    assert pending["ref-in-doubt"]["id"] is None and pending["ref-in-doubt"]["status"] == "unknown"
    assert any(row["id"] == job_id for row in listed)


def test_list_of_one_provider_adds_its_pending_intents_only() -> None:
    _create()
    _pending("ref-fake", "fake", "sending")
    _pending("ref-openai", "openai", "unknown")
    listed = json.loads(runner.invoke(app, ["list", "-p", "fake", "--json"]).stdout)
    refs = {row["client_ref"] for row in listed if row.get("pending")}
    assert refs == {"ref-fake"}
