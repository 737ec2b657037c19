"""A sentinel Together key (and a W&B key) goes through the adapter and comes out nowhere: not in
any repr/str of what the SDK hands back, any log record (the together SDK's and httpx's loggers
included, at DEBUG), any exception on the printed chain, the ledger and state files, or CLI
output — on the happy path and on error answers that quote the key back. Each test also checks
the key *was* sent, so an unused key cannot pass. Same checks as tests/test_secrets_sentinel.py.
"""

from __future__ import annotations

import logging

import httpx2
import pytest
from test_secrets_sentinel import (
    assert_clean,
    assert_clean_exception,
    assert_clean_home,
    assert_clean_logs,
    cli,
    drop_quoting,
    echo_body,
    sent_the_key,
)

pytest.importorskip("together")

from finetune_sdk import Client  # noqa: E402
from finetune_sdk.retry import RetryPolicy  # noqa: E402
from finetune_sdk.testing.conformance import write_chat_jsonl  # noqa: E402
from finetune_sdk.testing.mock_servers.together import TogetherMockServer  # noqa: E402
from finetune_sdk.types import JobSpec, JobStatus  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")

KEY = "tgp-SENTINEL-9f8e7d"
WANDB = "wandb-SENTINEL-3c2b1a"
BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
LOGGERS = ("", "httpx", "httpx2", "httpcore", "together", "finetune_sdk")


@pytest.fixture(autouse=True)
def _no_together_env(monkeypatch):
    for name in ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "TOGETHER_PROJECT_ID", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def debug_logs(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_client_never_leaks_the_key(debug_logs, tmp_path):
    mock = TogetherMockServer()
    client = Client("together", api_key=KEY, wandb_api_key=WANDB, base_url=mock.base_url,
                    http_client=httpx2.Client(transport=mock.transport()),
                    retry=RetryPolicy(max_attempts=3, sleep=lambda s: None))
    ref = client.datasets.upload(write_chat_jsonl(tmp_path / "train.jsonl"))
    job = client.jobs.create(JobSpec(base_model=BASE, training_file=ref, labels={"app": "c"},
                                     options={"wandb_project_name": "coach"}))
    mock.advance(job.id, JobStatus.RUNNING)
    mock.advance(job.id, JobStatus.SUCCEEDED)
    final = client.jobs.wait(job.id, poll_interval=0, progress=False)
    seen = [client, client.provider, vars(client.provider), ref, job, final,
            list(client.jobs.list()), client.models.resolve(final),
            list(client.jobs.events(job.id)), client.jobs.metrics(job.id),
            client.jobs.checkpoints(job.id)]

    errors = []
    for status in (401, 403, 500):
        mock.fail_next(status, body=echo_body("together", KEY), times=10)
        with pytest.raises(Exception) as info:
            client.jobs.get(job.id)
        errors.append(info.value)
        mock.faults.clear()
    drop_quoting(mock, KEY)
    mock.fail_next(timeout=True, times=10)
    with pytest.raises(Exception) as info:
        client.jobs.get(job.id)
    errors.append(info.value)
    mock.faults.clear()
    # A create refused with the W&B key quoted back (it travels in that request's body).
    mock.fail_next(400, body=echo_body("together", WANDB), match=r"^POST /v1/fine-tunes$")
    with pytest.raises(Exception) as info:
        client.provider.create_job(JobSpec(base_model=BASE, training_file=ref,
                                           options={"wandb_project_name": "coach"}))
    errors.append(info.value)

    assert sent_the_key(mock, KEY), "the key was never sent"
    assert mock.creates[0]["wandb_key"] == WANDB  # and the W&B key went where it belongs
    assert [e.status_code for e in errors[:3]] == [401, 403, 500]
    for error in errors:
        assert_clean_exception(error, KEY)
        assert_clean_exception(error, WANDB)
    assert_clean(seen, KEY)
    assert_clean(seen, WANDB)
    names = {record.name for record in debug_logs.records}
    assert "httpx2" in names and any(n.startswith("together") for n in names), names
    assert_clean_logs(debug_logs, KEY)
    assert_clean_logs(debug_logs, WANDB)
    assert_clean_home(KEY)
    assert_clean_home(WANDB)


def test_cli_never_prints_the_key(monkeypatch, tmp_path, debug_logs):
    mock = TogetherMockServer()
    with mock.serve() as url:
        monkeypatch.setenv("TOGETHER_API_KEY", KEY)
        monkeypatch.setenv("TOGETHER_BASE_URL", url)
        client = Client("together")  # from the environment, like the CLI
        ref = client.datasets.upload(write_chat_jsonl(tmp_path / "train.jsonl"))
        job = client.jobs.create(JobSpec(base_model=BASE, training_file=ref))
        outputs = [cli("list", "--provider", "together"), cli("status", job.id), cli("list")]
        assert all(r.exit_code == 0 for r in outputs), [r.output for r in outputs]
        for status in (401, 403):  # not retried, so the CLI answers at once
            mock.fail_next(status, body=echo_body("together", KEY))
            failed = cli("status", job.id)
            assert failed.exit_code == 3 and str(status) in failed.output
            outputs.append(failed)
    assert sent_the_key(mock, KEY)
    for result in outputs:
        assert KEY not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert_clean_logs(debug_logs, KEY)
    assert_clean_home(KEY)
