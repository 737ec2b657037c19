"""Shared rigging of the fault-matrix tests: one ``Rig`` per hosted adapter and its mock server.

A rig builds the adapter either on the mock's in-process transport (fast) or against the mock
served on a real loopback socket (``MockServer.serve()``), and knows the vendor's request
patterns (create, list) so a test can aim a fault at exactly one kind of request. The mock keeps
its state in this process, so a *second* process (``run_child``) or a fresh ``Client`` sees the
same jobs: that is how "killed, then resumed" is tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx2

from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.mock_servers.base import MockServer

SECRET = "sk-SENTINEL-9f8e7d"
VENDORS = ("openai", "fireworks", "gemini", "huggingface")
TODAY = date(2026, 11, 23)


@dataclass
class Rig:
    """One hosted adapter wired to its stateful mock."""

    vendor: str
    mock: MockServer
    base_model: str
    create: str
    """Regex on "METHOD /path" matching only the job-create request."""
    list: str
    """Regex on "METHOD /path" matching only the job-list request."""
    empty_page: Any
    """The body of an empty list page that still points at a next page (huggingface: the
    ``Link`` header does, see ``empty_page_response``)."""
    empty_page_continues: bool
    """Whether the vendor's cursor lets a client go on after an empty page (token vs last id)."""
    sleeps: list[float] = field(default_factory=list)

    def policy(self, max_attempts: int = 3) -> RetryPolicy:
        return RetryPolicy(max_attempts=max_attempts, sleep=self.sleeps.append)

    def kwargs(self, url: str | None = None) -> dict[str, Any]:
        """Constructor keywords (registry names) for the mock, in-process or at ``url``."""
        mock: Any = self.mock
        local = url is None
        if self.vendor == "openai":
            return dict(api_key=SECRET, base_url=mock.base_url if local else f"{url}/v1",
                        timeout=5, file_poll_interval=0, today=lambda: TODAY)
        if self.vendor == "fireworks":
            return dict(api_key=SECRET, account_id=mock.account, timeout=5,
                        base_url=mock.base_url if local else url, dataset_poll_interval=0)
        if self.vendor == "gemini":
            return dict(project=mock.project, location=mock.location, access_token=SECRET,
                        bucket="gs://ftsdk-test-bucket/tuning-data",
                        base_url=mock.base_url if local else url,
                        storage_client=mock.storage_client())
        if self.vendor == "together":
            return dict(api_key=SECRET, base_url=mock.base_url if local else url, timeout=5,
                        dataset_poll_interval=0)
        return dict(token=SECRET, namespace=mock.namespace,
                    endpoint=mock.base_url if local else url)

    def wired_kwargs(self, url: str | None = None) -> dict[str, Any]:
        """``kwargs`` plus the in-process HTTP client when no ``url`` is given."""
        kwargs = self.kwargs(url)
        if url is None and self.vendor != "huggingface":  # huggingface rides httpx2_mock
            # Late-bound so faults that wrap ``mock.handle`` (after_processing) apply.
            transport = httpx2.MockTransport(lambda request: self.mock.handle(request))
            kwargs["http_client"] = httpx2.Client(transport=transport)
        return kwargs

    def provider(self, url: str | None = None, *, retry: RetryPolicy | None = None) -> Any:
        """The adapter; in-process transport unless ``url`` (a loopback server) is given."""
        from finetune_sdk.registry import create_provider

        return create_provider(self.vendor, retry=retry or self.policy(), **self.wired_kwargs(url))

    def empty_page_response(self, request: httpx2.Request) -> httpx2.Response:
        """An empty page whose "next" is the first page again."""
        if self.vendor == "huggingface":
            return httpx2.Response(200, json=[], headers={"link": f'<{request.url}>; rel="next"'})
        return httpx2.Response(200, json=self.empty_page)

    def creates(self) -> int:
        method, _, path = self.create.partition(" ")
        return len(self.mock.requests_to(method.lstrip("^"), path))


def make_rig(vendor: str) -> Rig:
    """A fresh mock and rig for ``vendor``."""
    if vendor == "openai":
        from finetune_sdk.testing.mock_servers.openai import OpenAIMockServer

        return Rig(vendor, OpenAIMockServer(), "gpt-4o-mini-2024-07-18",
                   r"^POST /v1/fine_tuning/jobs$", r"^GET /v1/fine_tuning/jobs$",
                   {"object": "list", "data": [], "has_more": True}, False)
    if vendor == "fireworks":
        from finetune_sdk.testing.mock_servers.fireworks import FireworksMockServer

        return Rig(vendor, FireworksMockServer(), "accounts/fireworks/models/gpt-oss-20b",
                   r"^POST .*/supervisedFineTuningJobs$", r"^GET .*/supervisedFineTuningJobs$",
                   {"supervisedFineTuningJobs": [], "nextPageToken": "0"}, True)
    if vendor == "gemini":
        from finetune_sdk.testing.mock_servers.vertex import VertexMockServer

        return Rig(vendor, VertexMockServer(), "gemini-3.5-flash",
                   r"^POST .*/tuningJobs$", r"^GET .*/tuningJobs$",
                   {"tuningJobs": [], "nextPageToken": "0"}, True)
    if vendor == "together":  # one list answer holds every job: no page to go on to
        from finetune_sdk.testing.mock_servers.together import TogetherMockServer

        return Rig(vendor, TogetherMockServer(), "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
                   r"^POST /v1/fine-tunes$", r"^GET /v1/fine-tunes$", {"data": []}, False)
    from finetune_sdk.testing.mock_servers.huggingface import HuggingFaceMockServer

    return Rig(vendor, HuggingFaceMockServer(), "HuggingFaceTB/SmolLM2-135M-Instruct",
               r"^POST /api/jobs/[^/]+$", r"^GET /api/jobs/[^/]+$", [], True)


def write_train(path: Path, count: int = 12) -> Path:
    from finetune_sdk.testing.conformance import write_chat_jsonl

    return write_chat_jsonl(path, count)


# -- server-side faults the base Fault cannot express ---------------------------------------
@contextmanager
def after_processing(mock: MockServer, pattern: str, answer: Callable[[httpx2.Request], Any],
                     *, times: int = 1) -> Iterator[list[httpx2.Request]]:
    """Let the server act on the next ``times`` matching requests, then answer ``answer(req)``
    instead of the real response (a 5xx, a broken body, or raise to drop the connection)."""
    import re

    real = mock.handle
    hits: list[httpx2.Request] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        key = f"{request.method} {request.url.path}"
        if len(hits) < times and re.search(pattern, key):
            hits.append(request)
            real(request)  # the vendor did the work (the job exists now)
            return answer(request)
        return real(request)

    mock.handle = handle  # type: ignore[method-assign]
    try:
        yield hits
    finally:
        mock.handle = real  # type: ignore[method-assign]


@contextmanager
def hang_after_processing(mock: MockServer, pattern: str) -> Iterator[threading.Event]:
    """The matching request is processed, then its answer never comes (until the context
    ends); the yielded event is set once the server has acted on it."""
    import re

    real = mock.handle
    arrived, release = threading.Event(), threading.Event()

    def handle(request: httpx2.Request) -> httpx2.Response:
        if not arrived.is_set() and re.search(pattern, f"{request.method} {request.url.path}"):
            real(request)
            arrived.set()
            release.wait(60)
            raise httpx2.ReadTimeout("mock: answer withheld", request=request)
        return real(request)

    mock.handle = handle  # type: ignore[method-assign]
    try:
        yield arrived
    finally:
        release.set()
        mock.handle = real  # type: ignore[method-assign]


# -- a second process -------------------------------------------------------------------------
_CHILD = r"""
import json, sys
from datetime import date
from finetune_sdk import Client
from finetune_sdk.registry import create_provider
from finetune_sdk.types import DatasetRef, JobSpec

cfg = json.loads(sys.argv[1])
kwargs = cfg["kwargs"]
if cfg["vendor"] == "openai":
    kwargs["today"] = lambda: date(2026, 11, 23)
client = Client(create_provider(cfg["vendor"], **kwargs))
if cfg["action"] == "create":
    spec = JobSpec(base_model=cfg["base_model"], client_ref=cfg["client_ref"],
                   training_file=DatasetRef.model_validate_json(cfg["ref"]))
    print("created", client.jobs.create(spec).id, flush=True)
else:
    print("waited", client.jobs.wait(cfg["job_id"], poll_interval=0.05, progress=False).status,
          flush=True)
"""


def child_kwargs(rig: Rig, url: str) -> dict[str, Any]:
    """The rig's keywords that survive JSON (callables and clients are rebuilt in the child)."""
    return {k: v for k, v in rig.kwargs(url).items() if k not in {"today", "storage_client"}}


def start_child(rig: Rig, url: str, **cfg: Any) -> subprocess.Popen[str]:
    """``python -c _CHILD`` against the loopback mock at ``url``, same FINETUNE_SDK_HOME."""
    payload = json.dumps({"vendor": rig.vendor, "kwargs": child_kwargs(rig, url), **cfg})
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-c", _CHILD, payload], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str], what: str,
               timeout: float = 60.0) -> None:
    """Block until ``condition()``; fail with the child's output if it died or time ran out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"child never reached {what!r} (rc={proc.returncode})\n{out}{err}")
        time.sleep(0.02)


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL: no cleanup, no atexit, no finally blocks in the child."""
    proc.kill()
    proc.communicate(timeout=30)
    assert proc.returncode != 0
