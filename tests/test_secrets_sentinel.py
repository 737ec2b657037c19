"""A sentinel key goes through every adapter and must come out nowhere.

Each hosted adapter (and the fake) is driven through ``Client`` and through the CLI with a
sentinel key, on the happy path and on error paths whose *vendor answers echo the key back*
(401, 403, 500, a transport error quoting it). The sentinel must not appear in any repr/str of
what the SDK hands back, any log record (DEBUG, every logger including httpx2/openai/
huggingface_hub/google_genai), any exception (message, args, attributes, the cause/context chain
a traceback would print), the bytes of the ledger and state files under FINETUNE_SDK_HOME, or
CLI output. Each test also checks the sentinel *was* sent, so a silently unused key cannot pass.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx2
import pytest
from faults_support import SECRET, VENDORS, make_rig, write_train
from typer.testing import CliRunner

from finetune_sdk import Client
from finetune_sdk.errors import FinetuneError
from finetune_sdk.ledger import Ledger
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.types import JobSpec, JobStatus

pytestmark = pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")

SENTINELS = {
    "openai": SECRET,
    "fireworks": "fw-SENTINEL-9f8e7d",
    "gemini": "ya29.SENTINEL-9f8e7d",
    "huggingface": "hf_SENTINEL9f8e7d",
    "fake": SECRET,
}
LOGGERS = ("", "httpx2", "httpcore", "openai", "huggingface_hub", "google_genai", "finetune_sdk")


def echo_body(vendor: str, sentinel: str) -> object:
    """An error body in the vendor's shape that quotes the key back (some APIs do)."""
    message = f"Incorrect API key provided: {sentinel} (Authorization: Bearer {sentinel})"
    if vendor == "fireworks":
        return {"code": "UNAUTHENTICATED", "message": message}
    if vendor == "huggingface":
        return {"error": message}
    return {"error": {"message": message, "code": "invalid_api_key", "status": "UNAUTHENTICATED"}}


# -- where a secret could hide ------------------------------------------------------------------
def printed_chain(exc: BaseException) -> list[BaseException]:
    """The exceptions a traceback of ``exc`` shows (cause, or unsuppressed context)."""
    chain, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    return chain


def assert_clean_exception(exc: BaseException, sentinel: str) -> None:
    assert isinstance(exc, FinetuneError), f"not our error type: {exc!r}"
    for link in printed_chain(exc):
        for text in (str(link), repr(link), repr(link.args), repr(vars(link))):
            assert sentinel not in text, f"{type(link).__name__} leaks the key: {text[:300]}"


def assert_clean_logs(caplog: pytest.LogCaptureFixture, sentinel: str) -> None:
    for record in caplog.records:
        assert sentinel not in record.getMessage(), f"log {record.name}: {record.getMessage()}"
        assert sentinel not in repr(record.args)
    assert sentinel not in caplog.text


def assert_clean_home(sentinel: str) -> None:
    """No file under FINETUNE_SDK_HOME (ledger + WAL, fake state) holds the key's bytes."""
    from finetune_sdk.config import home_dir

    files = [p for p in Path(home_dir()).rglob("*") if p.is_file()]
    assert any(p.name.startswith("ledger.sqlite3") for p in files)
    for path in files:
        assert sentinel.encode() not in path.read_bytes(), f"{path} holds the key"


def assert_clean(objects: list[object], sentinel: str) -> None:
    for obj in objects:
        assert sentinel not in repr(obj) and sentinel not in str(obj), type(obj).__name__
        dump = getattr(obj, "model_dump_json", None)
        if dump is not None:
            assert sentinel not in dump()


@pytest.fixture
def debug_logs(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def hosted_rig(vendor, request, monkeypatch):
    rig = make_rig(vendor)
    if vendor == "huggingface":
        import huggingface_hub.constants

        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        rig.mock.mount(request.getfixturevalue("httpx2_mock"))
    return rig


def credentials(rig, sentinel: str) -> dict:
    kwargs = {k: (sentinel if v == SECRET else v) for k, v in rig.kwargs().items()}
    if rig.vendor != "huggingface":
        kwargs["http_client"] = httpx2.Client(transport=rig.mock.transport())
    return kwargs


def drop_quoting(mock, sentinel: str) -> None:
    """The next request fails in the transport with an error message quoting the key."""
    real = mock.handle

    def handle(request):
        mock.handle = real
        raise httpx2.ConnectError(f"proxy refused 'Authorization: Bearer {sentinel}'",
                                  request=request)

    mock.handle = handle


def sent_the_key(mock, sentinel: str) -> bool:
    return any(sentinel in (r.headers.get("authorization") or "") for r in mock.requests)


# -- through Client -----------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_hosted_adapter_never_leaks_the_key(vendor, request, monkeypatch, tmp_path, debug_logs):
    sentinel = SENTINELS[vendor]
    rig = hosted_rig(vendor, request, monkeypatch)
    client = Client(vendor, retry=rig.policy(), **credentials(rig, sentinel))
    ref = client.datasets.upload(write_train(tmp_path / "train.jsonl"))
    job = client.jobs.create(JobSpec(base_model=rig.base_model, training_file=ref,
                                     labels={"app": "coach"}))
    rig.mock.advance(job.id, JobStatus.SUCCEEDED)
    final = client.jobs.wait(job.id, poll_interval=0, progress=False)
    seen = [client, client.provider, vars(client.provider), ref, job, final,
            list(client.jobs.list()), client.models.resolve(final)]
    if client.provider.capabilities.events:
        seen.append(list(client.jobs.events(job.id)))

    errors = []
    for status in (401, 403, 500):
        rig.mock.fail_next(status, body=echo_body(vendor, sentinel), times=10)
        with pytest.raises(Exception) as info:
            client.jobs.get(job.id)
        errors.append(info.value)
        rig.mock.faults.clear()
    drop_quoting(rig.mock, sentinel)
    rig.mock.fail_next(timeout=True, times=10)  # and the retries find the server unreachable
    with pytest.raises(Exception) as info:
        client.jobs.get(job.id)
    errors.append(info.value)
    rig.mock.faults.clear()

    assert sent_the_key(rig.mock, sentinel), "the key was never sent"
    assert [e.status_code for e in errors[:3]] == [401, 403, 500]
    for error in errors:
        assert_clean_exception(error, sentinel)
    assert_clean(seen, sentinel)
    # The log check proves something only if the chatty loggers were captured.
    names = {record.name for record in debug_logs.records}
    assert "httpx2" in names, names
    if vendor == "openai":
        assert any(name.startswith("openai") for name in names), names
    assert_clean_logs(debug_logs, sentinel)
    assert_clean_home(sentinel)


def test_fake_provider_never_leaks_the_key(debug_logs, tmp_path):
    client = Client("fake", api_key=SECRET, retry=RetryPolicy(sleep=lambda s: None))
    job = client.jobs.run(base_model="base", training_file=write_train(tmp_path / "t.jsonl"),
                          poll_interval=0, progress=False)
    seen = [client, client.provider, vars(client.provider), job, client.models.resolve(job)]
    errors = []
    for kwargs in (dict(status=401), dict(status=500, times=10), dict(timeout=True, times=10)):
        client.provider.control.fail_next(**kwargs)
        with pytest.raises(FinetuneError) as info:
            client.jobs.get(job.id)
        errors.append(info.value)
    for error in errors:
        assert_clean_exception(error, SECRET)
    assert_clean(seen, SECRET)
    assert_clean_logs(debug_logs, SECRET)
    assert_clean_home(SECRET)


# -- through the CLI ----------------------------------------------------------------------------
CLI_ENV = {
    "openai": lambda rig, s: {"OPENAI_API_KEY": s, "OPENAI_BASE_URL": rig.mock.base_url},
    "fireworks": lambda rig, s: {"FIREWORKS_API_KEY": s, "FIREWORKS_BASE_URL": rig.mock.base_url,
                                 "FIREWORKS_ACCOUNT_ID": rig.mock.account},
    "huggingface": lambda rig, s: {"HF_TOKEN": s, "HF_ENDPOINT": rig.mock.base_url,
                                   "HF_NAMESPACE": rig.mock.namespace},
}


def cli(*args: str):
    from finetune_sdk.cli import _register_commands
    from finetune_sdk.cli.app import app

    _register_commands()
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("vendor", sorted(CLI_ENV))
def test_cli_never_prints_the_key(vendor, httpx2_mock, monkeypatch, tmp_path, debug_logs):
    sentinel = SENTINELS[vendor]
    rig = make_rig(vendor)
    if vendor == "huggingface":
        import huggingface_hub.constants

        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    rig.mock.mount(httpx2_mock)  # every httpx2 client the CLI builds answers from the mock
    for name, value in CLI_ENV[vendor](rig, sentinel).items():
        monkeypatch.setenv(name, value)
    fast = {"openai": {"file_poll_interval": 0}, "fireworks": {"dataset_poll_interval": 0}}
    client = Client(vendor, **fast.get(vendor, {}))  # the rest from the environment, like the CLI
    ref = client.datasets.upload(write_train(tmp_path / "train.jsonl"))
    job = client.jobs.create(JobSpec(base_model=rig.base_model, training_file=ref))

    outputs = [cli("list", "--provider", vendor), cli("status", job.id), cli("list")]
    assert all(r.exit_code == 0 for r in outputs), [r.output for r in outputs]
    for status in (401, 403):  # not retried, so the CLI answers at once
        rig.mock.fail_next(status, body=echo_body(vendor, sentinel))
        failed = cli("status", job.id)
        assert failed.exit_code == 3 and str(status) in failed.output
        outputs.append(failed)
    assert sent_the_key(rig.mock, sentinel)
    for result in outputs:
        assert sentinel not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert_clean_logs(debug_logs, sentinel)
    assert_clean_home(sentinel)


def test_cli_gemini_api_key_refusal_does_not_echo_the_key(monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", SENTINELS["gemini"])
    result = cli("list", "--provider", "gemini")
    assert result.exit_code == 2 and "Vertex" in result.output
    assert SENTINELS["gemini"] not in result.output


def test_ledger_file_never_holds_the_key_even_in_the_spec(tmp_path):
    """The intent row stores the whole JobSpec; a key pasted into labels/options is the
    caller's choice, but the adapter's own credentials must never reach it."""
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    client = Client("fake", api_key=SECRET, ledger=ledger)
    client.jobs.run(base_model="base", training_file=write_train(tmp_path / "t.jsonl"),
                    poll_interval=0, progress=False)
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.sqlite3*"))
    assert b"ftsdk-" in raw and SECRET.encode() not in raw
