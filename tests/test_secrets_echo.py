"""A vendor or proxy that echoes the caller's key in a body we cannot parse must not leak it.

Each hosted adapter is driven with a sentinel key against its mock, wrapped so that the chosen
requests are answered with an *echo*: an HTML error page (502, or 200 where JSON belongs) that
quotes the request's ``Authorization: Bearer <key>`` header and the key on its own, or a JSON body
cut off in the middle of the key. The key, and any cut-off head of it of 8 characters or more,
must appear nowhere: the exception's str/repr/args/attributes, every exception reachable through
``__cause__`` / ``__context__`` (walked whole, suppressed or not: anyone can read them), DEBUG
logs of every logger, and the CLI's output for the same failure. Each test also checks the key
was really sent in the Authorization header, so an unused key cannot pass. A failed
``inference.chat`` (echo or dropped connection) must leave no vendor exception on the chain at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from faults_support import VENDORS, make_rig, write_train
from typer.testing import CliRunner

from finetune_sdk import Client
from finetune_sdk.errors import MIN_SECRET_PREFIX, FinetuneError, redact, redact_body
from finetune_sdk.types import JobSpec

pytestmark = pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")

SENTINELS = {
    "openai": "sk-SENTINEL-echo-4c3b2a",
    "fireworks": "fw-SENTINEL-echo-4c3b2a",
    "gemini": "ya29.SENTINEL-echo-4c3b2a",
    "huggingface": "hf_SENTINELecho4c3b2a",
}
LOGGERS = ("", "httpx2", "httpcore", "openai", "huggingface_hub", "google_genai", "finetune_sdk")
MODES = ("html-502", "html-200", "cut-200", "cut-502")


# -- the echoing server -------------------------------------------------------------------------
def echo_response(mode: str, request: httpx2.Request) -> httpx2.Response:
    """What an echoing proxy sends back for ``request`` (the key taken from what it was sent)."""
    header = request.headers.get("authorization") or ""
    key = header.removeprefix("Bearer ").strip()
    status = 502 if mode.endswith("502") else 200
    if mode.startswith("html"):
        page = (f"<html><body><h1>{status} Bad Gateway</h1><p>Incorrect API key provided: {key}"
                f"</p><pre>{request.method} {request.url.path}\nAuthorization: {header}\n"
                f"x-api-key={key}</pre></body></html>")
        return httpx2.Response(status, content=page.encode(), request=request,
                               headers={"content-type": "text/html; charset=utf-8"})
    # Cut four characters before the end of the key: what a proxy's length limit leaves.
    cut = f'{{"error": {{"message": "Incorrect API key provided: {key[:-4]}'
    return httpx2.Response(status, content=cut.encode(), request=request,
                           headers={"content-type": "application/json"})


class Echo:
    """Wraps a mock's ``handle``: while armed, matching requests get ``echo_response``."""

    def __init__(self, mock: Any) -> None:
        self.mock, self.real = mock, mock.handle
        self.mode: str | None = None
        self.pattern = r"^GET "
        self.echoed: list[httpx2.Request] = []
        mock.handle = self.handle

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        if self.mode and re.search(self.pattern, f"{request.method} {request.url.path}"):
            self.echoed.append(request)
            return echo_response(self.mode, request)
        return self.real(request)

    def arm(self, mode: str, pattern: str = r"^GET ") -> None:
        self.mode, self.pattern = mode, pattern

    def disarm(self) -> None:
        self.mode = None


# -- where the key could hide -------------------------------------------------------------------
def leaks(text: str, sentinel: str) -> bool:
    """The whole key or a head of it long enough to matter."""
    return sentinel[:MIN_SECRET_PREFIX] in text


def whole_chain(exc: BaseException) -> Iterator[BaseException]:
    """Every exception reachable from ``exc`` through __cause__ and __context__ (suppressed
    ones included: ``from None`` hides them from tracebacks, not from code)."""
    todo, seen = [exc], set()
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]


def assert_clean_exception(exc: BaseException, sentinel: str) -> None:
    assert isinstance(exc, FinetuneError), f"not our error type: {exc!r}"
    chain = list(whole_chain(exc))
    assert all(isinstance(link, FinetuneError) for link in chain), [type(e) for e in chain]
    for link in chain:
        texts = [str(link), repr(link), repr(link.args)]
        texts += [f"{name}={value!r}" for name, value in vars(link).items()]
        for name in ("body", "response", "message", "request"):
            texts.append(repr(getattr(link, name, None)))
        for text in texts:
            assert not leaks(text, sentinel), f"{type(link).__name__} leaks the key: {text[:400]}"


def assert_clean_logs(caplog: pytest.LogCaptureFixture, sentinel: str) -> None:
    for record in caplog.records:
        assert not leaks(record.getMessage(), sentinel), f"{record.name}: {record.getMessage()}"
    assert not leaks(caplog.text, sentinel)


@pytest.fixture
def debug_logs(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


# -- rigging ------------------------------------------------------------------------------------
def rigged(vendor: str, httpx2_mock: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Echo]:
    """The vendor's mock behind an Echo, mounted for every httpx2 client (SDKs and the CLI's)."""
    rig = make_rig(vendor)
    if vendor == "huggingface":
        import huggingface_hub.constants

        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    echo = Echo(rig.mock)
    httpx2_mock.add_callback(lambda request: rig.mock.handle(request), is_reusable=True,
                             is_optional=True)
    return rig, echo


def client_for(rig: Any, sentinel: str) -> Client:
    kwargs = rig.kwargs()
    for name in ("api_key", "token", "access_token"):
        if name in kwargs:
            kwargs[name] = sentinel
    return Client(rig.vendor, retry=rig.policy(), **kwargs)


def cli_env(rig: Any, sentinel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's environment for ``rig``'s mock (gemini: ADC answering with the sentinel)."""
    mock = rig.mock
    env = {
        "openai": {"OPENAI_API_KEY": sentinel, "OPENAI_BASE_URL": mock.base_url},
        "fireworks": {"FIREWORKS_API_KEY": sentinel, "FIREWORKS_BASE_URL": mock.base_url,
                      "FIREWORKS_ACCOUNT_ID": getattr(mock, "account", "")},
        "huggingface": {"HF_TOKEN": sentinel, "HF_ENDPOINT": mock.base_url,
                        "HF_NAMESPACE": getattr(mock, "namespace", "")},
        "gemini": {"GOOGLE_CLOUD_PROJECT": getattr(mock, "project", ""),
                   "GOOGLE_CLOUD_LOCATION": getattr(mock, "location", ""),
                   "GOOGLE_VERTEX_BASE_URL": mock.base_url},
    }[rig.vendor]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if rig.vendor == "gemini":
        import google.auth
        from google.oauth2.credentials import Credentials

        far = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=3650)
        creds = Credentials(token=sentinel, expiry=far)
        monkeypatch.setattr(google.auth, "default", lambda *a, **k: (creds, mock.project))


def cli(*args: str):
    from finetune_sdk.cli import _register_commands
    from finetune_sdk.cli.app import app

    _register_commands()
    return CliRunner().invoke(app, list(args))


# -- the redaction helpers themselves -----------------------------------------------------------
def test_redact_masks_a_key_cut_off_at_the_end_and_its_escaped_forms():
    key = SENTINELS["openai"]
    for text in (f"provided: {key[:-4]}", f"provided: {key[:MIN_SECRET_PREFIX]}",
                 f"<pre>{key[:12]}</pre>", f'"{key}"', f"x={key}&y=1"):
        assert not leaks(redact(text, [key]), key), text
    assert redact(f"provided: {key[:5]}", [key]) == f"provided: {key[:5]}"  # too short to tell
    assert redact("keys look like sk-", [key]) == "keys look like sk-"
    assert not leaks(repr(redact_body({"m": f"cut {key[:-3]}"}, [key])), key)
    assert not leaks(repr(redact_body(f"<b>{key}</b>".encode(), [key])), key)


# -- through Client -----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", VENDORS)
def test_echoed_key_in_an_unparsable_body_stays_hidden(
    vendor, mode, httpx2_mock, monkeypatch, tmp_path, debug_logs
):
    sentinel = SENTINELS[vendor]
    rig, echo = rigged(vendor, httpx2_mock, monkeypatch)
    client = client_for(rig, sentinel)
    ref = client.datasets.upload(write_train(tmp_path / "train.jsonl"))
    job = client.jobs.create(JobSpec(base_model=rig.base_model, training_file=ref))

    errors = []
    echo.arm(mode)
    for read in (lambda: client.jobs.get(job.id), lambda: list(client.jobs.list())):
        with pytest.raises(Exception) as info:
            read()
        errors.append(info.value)
    echo.disarm()

    assert echo.echoed, "no request was answered with the echo"
    assert all(sentinel in (r.headers.get("authorization") or "") for r in echo.echoed), \
        "the key was never sent"
    for error in errors:
        assert_clean_exception(error, sentinel)
    assert_clean_logs(debug_logs, sentinel)


# -- through the CLI ----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ("html-502", "cut-200"))
@pytest.mark.parametrize("vendor", VENDORS)
def test_cli_never_prints_an_echoed_key(
    vendor, mode, httpx2_mock, monkeypatch, tmp_path, debug_logs
):
    sentinel = SENTINELS[vendor]
    rig, echo = rigged(vendor, httpx2_mock, monkeypatch)
    job = client_for(rig, sentinel).jobs.create(JobSpec(
        base_model=rig.base_model,
        training_file=client_for(rig, sentinel).datasets.upload(write_train(tmp_path / "t.jsonl")),
    ))
    cli_env(rig, sentinel, monkeypatch)
    echo.arm(mode)
    outputs = [cli("status", job.id, "--provider", vendor), cli("list", "--provider", vendor)]
    echo.disarm()

    assert echo.echoed and all(
        sentinel in (r.headers.get("authorization") or "") for r in echo.echoed
    ), "the CLI never sent the key"
    for result in outputs:
        assert result.exit_code not in (0, 1), result.output  # an API error, not a crash
        assert not leaks(result.output, sentinel), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert_clean_logs(debug_logs, sentinel)


# -- Cloud Storage (google-cloud-storage speaks requests, not httpx2) ---------------------------
class EchoingStorage:
    """A storage client whose upload fails the way an echoing GCS front end would."""

    def __init__(self, error: Exception) -> None:
        self.error, self.calls = error, 0

    def bucket(self, name: str) -> Any:
        return self

    def blob(self, name: str) -> Any:
        return self

    def upload_from_filename(self, filename: str, content_type: str | None = None) -> None:
        self.calls += 1
        raise self.error


def storage_errors(sentinel: str) -> list[Exception]:
    import requests
    from google.api_core import exceptions as core_errors

    page = f"<html><pre>Authorization: Bearer {sentinel}</pre>key={sentinel}</html>"
    return [
        core_errors.BadGateway(page),
        core_errors.Unauthorized(f"Invalid Credentials: {sentinel[:-4]}"),
        requests.exceptions.ConnectionError(f"proxy refused token {sentinel[:-3]}"),
    ]


@pytest.mark.parametrize("which", range(3))
def test_echoed_key_in_a_cloud_storage_failure_stays_hidden(which, httpx2_mock, monkeypatch,
                                                           tmp_path, debug_logs):
    sentinel = SENTINELS["gemini"]
    rig, _ = rigged("gemini", httpx2_mock, monkeypatch)
    storage = EchoingStorage(storage_errors(sentinel)[which])
    kwargs = {**rig.kwargs(), "access_token": sentinel, "storage_client": storage}
    client = Client("gemini", retry=rig.policy(), **kwargs)
    with pytest.raises(FinetuneError) as info:
        client.datasets.upload(write_train(tmp_path / "train.jsonl"))
    assert storage.calls >= 1
    assert_clean_exception(info.value, sentinel)
    assert_clean_logs(debug_logs, sentinel)


# -- inference.chat -----------------------------------------------------------------------------
def chat_call(vendor: str, sentinel: str) -> Any:
    """``inference.chat`` for ``vendor`` with ``sentinel`` as the key, one attempt only."""
    from finetune_sdk import inference
    from finetune_sdk.retry import RetryPolicy
    from finetune_sdk.types import ModelRef

    once = RetryPolicy(max_attempts=1)
    refs = {
        "openai": (ModelRef(id="ft:gpt-4o-mini:org::x", provider="openai"), "api_key"),
        "fireworks": (ModelRef(id="accounts/a/models/m#accounts/a/deployments/d",
                               provider="fireworks"), "api_key"),
        "gemini": (ModelRef(id="projects/p/locations/us-central1/endpoints/7",
                            provider="gemini", endpoint="projects/p/locations/us-central1/"
                                                        "endpoints/7"), "access_token"),
        "huggingface": (ModelRef(id="me/tuned", provider="huggingface",
                                 endpoint="https://abc.endpoints.huggingface.cloud"), "token"),
    }
    ref, key_arg = refs[vendor]
    return lambda: inference.chat(ref, "hi", retry=once, **{key_arg: sentinel})


@pytest.mark.parametrize("mode", ("html-502", "cut-200", "connect"))
@pytest.mark.parametrize("vendor", VENDORS)
def test_chat_error_keeps_the_vendor_exception_off_the_chain(vendor, mode, httpx2_mock,
                                                             monkeypatch, debug_logs):
    """A chat failure raised inside ``except`` would carry the vendor's exception (and its
    request, Authorization header included) on ``__context__``: the chain must be ours alone."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    sentinel = SENTINELS[vendor]
    sent: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET":  # huggingface_hub's own metadata lookups
            return httpx2.Response(200, json={"standardEnvVars": [], "harnesses": {}})
        sent.append(request)
        if mode == "connect":  # the transport error holds the request, key and all
            raise httpx2.ConnectError(f"refused for {request.headers.get('authorization')}",
                                      request=request)
        return echo_response(mode, request)

    httpx2_mock.add_callback(answer, is_reusable=True)
    with pytest.raises(FinetuneError) as info:
        chat_call(vendor, sentinel)()
    assert sent and all(sentinel in (r.headers.get("authorization") or "") for r in sent), \
        "the key was never sent"
    assert info.value.__context__ is None, repr(info.value.__context__)
    assert_clean_exception(info.value, sentinel)
    assert_clean_logs(debug_logs, sentinel)
