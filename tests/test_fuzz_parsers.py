"""Hypothesis: whatever JSON a vendor answers, an adapter returns a valid result or our error.

Random bodies (the documented keys with random JSON values, plus random keys and non-object
bodies) are served to the real adapter through its vendor SDK on an in-process transport, so
the whole read path is fuzzed: the SDK's own parsing, then our mapping module. A raw KeyError /
TypeError / AttributeError / pydantic ValidationError escaping is a failure.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from faults_support import SECRET, TODAY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finetune_sdk.errors import FinetuneError
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.types import Job, JobEvent, MetricPoint

pytestmark = [
    pytest.mark.faults,
    pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning"),
]

FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers(-(2**40), 2**40)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)
timestamps = st.sampled_from(["2026-11-23T05:00:00Z", "2026-11-23T05:00:00.123456+00:00",
                              "not a time", "", 1763874000, -1, 10**15])


def body_of(known: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A dict with any subset of the documented keys (plausible or random values), extra
    random keys, or now and then not an object at all."""
    documented = st.fixed_dictionaries(
        {}, optional={k: v | json_values for k, v in known.items()}
    )
    extra = st.dictionaries(st.text(max_size=8), json_values, max_size=2)
    merged = st.builds(lambda a, b: {**b, **a}, documented, extra)
    return merged | st.lists(json_values, max_size=2) | scalars


STATES = st.sampled_from(["running", "succeeded", "failed", "JOB_STATE_RUNNING",
                          "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "COMPLETED", "ERROR",
                          "RUNNING", "weird"])
ERRORS = st.fixed_dictionaries({}, optional={"message": json_values, "code": json_values,
                                             "param": json_values})

OPENAI_JOB = body_of({
    "id": st.just("ftjob-1"), "object": st.just("fine_tuning.job"), "status": STATES,
    "model": st.text(max_size=10), "created_at": timestamps, "finished_at": timestamps,
    "fine_tuned_model": st.text(max_size=10), "trained_tokens": st.integers(0, 10**9),
    "metadata": st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2),
    "method": st.fixed_dictionaries({"type": st.sampled_from(["supervised", "dpo", "x"])},
                                    optional={"supervised": json_values, "dpo": json_values}),
    "hyperparameters": json_values, "error": ERRORS,
})
FIREWORKS_JOB = body_of({
    "name": st.sampled_from(["accounts/a/supervisedFineTuningJobs/j", "j", "accounts/"]),
    "state": STATES, "baseModel": st.text(max_size=10), "outputModel": st.text(max_size=10),
    "createTime": timestamps, "completedTime": timestamps, "status": ERRORS,
    "jobProgress": st.fixed_dictionaries({}, optional={"percent": json_values,
                                                       "inputTokens": json_values}),
    "epochs": json_values, "learningRate": json_values, "loraRank": json_values,
})
VERTEX_JOB = body_of({
    "name": st.just("projects/p/locations/l/tuningJobs/1"), "state": STATES,
    "baseModel": st.text(max_size=10), "createTime": timestamps, "endTime": timestamps,
    "labels": st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2),
    "tunedModel": st.fixed_dictionaries({}, optional={"model": json_values,
                                                      "endpoint": json_values}),
    "error": ERRORS, "tuningJobState": json_values,
    "supervisedTuningSpec": st.fixed_dictionaries(
        {}, optional={"hyperParameters": st.fixed_dictionaries(
            {}, optional={"epochCount": json_values, "learningRateMultiplier": json_values})}),
    "tuningJobMetadata": st.fixed_dictionaries(
        {}, optional={"completedEpochCount": json_values, "completedStepCount": json_values}),
    "tuningDataStats": st.fixed_dictionaries(
        {}, optional={"supervisedTuningDataStats": json_values}),
})
HF_JOB = body_of({
    "id": st.just("abc123"), "createdAt": timestamps, "dockerImage": st.text(max_size=10),
    "spaceId": json_values, "command": st.lists(st.text(max_size=5), max_size=2),
    "arguments": json_values, "environment": json_values, "secrets": json_values,
    "flavor": st.sampled_from(["cpu-basic", "a10g-small", "nope"]),
    "status": st.fixed_dictionaries({}, optional={"stage": STATES, "message": json_values}),
    "owner": st.fixed_dictionaries({}, optional={"id": json_values, "name": json_values,
                                                 "type": json_values}),
    "labels": json_values,
})


class Answer:
    """The body every GET gets (set per example); other requests 404."""

    body: Any = None

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        if request.method != "GET":
            return httpx2.Response(404, json={"error": {"message": "no"}})
        return httpx2.Response(200, json=self.body)


def _provider(vendor: str, answer: Answer) -> Any:
    from finetune_sdk.registry import create_provider

    http = httpx2.Client(transport=httpx2.MockTransport(answer.handle))
    retry = RetryPolicy(max_attempts=1, sleep=lambda s: None)
    if vendor == "openai":
        return create_provider("openai", api_key=SECRET, base_url="https://o.invalid/v1",
                               http_client=http, retry=retry, today=lambda: TODAY)
    if vendor == "fireworks":
        return create_provider("fireworks", api_key=SECRET, account_id="a",
                               base_url="https://f.invalid", http_client=http, retry=retry)
    return create_provider("gemini", project="p", location="l", access_token=SECRET,
                           base_url="https://v.invalid", http_client=http, retry=retry)


def check(call: Any, kind: type) -> None:
    try:
        result = call()
    except FinetuneError:
        return
    for item in result if isinstance(result, list) else [result]:
        assert isinstance(item, kind)


@pytest.fixture(scope="module")
def answer() -> Answer:
    return Answer()


@pytest.fixture(scope="module")
def providers(answer):
    made = {v: _provider(v, answer) for v in ("openai", "fireworks", "gemini")}
    yield made
    for provider in made.values():
        provider.close()


@FUZZ
@given(body=OPENAI_JOB)
def test_openai_job_bodies(providers, answer, body):
    answer.body = body
    check(lambda: providers["openai"].get_job("ftjob-1"), Job)


@FUZZ
@given(page=st.fixed_dictionaries({"object": st.just("list"), "has_more": st.booleans(),
                                   "data": st.lists(body_of({
                                       "id": st.text(min_size=1, max_size=6),
                                       "type": st.sampled_from(["metrics", "message"]),
                                       "level": st.sampled_from(["info", "warn", "error"]),
                                       "message": json_values, "created_at": timestamps,
                                       "data": json_values}), max_size=3)}) | json_values)
def test_openai_event_and_metric_pages(providers, answer, page):
    answer.body = page
    if isinstance(page, dict):
        page["has_more"] = False  # one page, or the walk would re-read the same body forever
    check(lambda: list(providers["openai"].list_events("ftjob-1")), JobEvent)
    check(lambda: providers["openai"].get_metrics("ftjob-1"), MetricPoint)


@FUZZ
@given(body=FIREWORKS_JOB)
def test_fireworks_job_bodies(providers, answer, body):
    answer.body = body
    check(lambda: providers["fireworks"].get_job("j"), Job)


@FUZZ
@given(body=VERTEX_JOB)
def test_vertex_job_and_metric_bodies(providers, answer, body):
    answer.body = body
    check(lambda: providers["gemini"].get_job("1"), Job)
    check(lambda: providers["gemini"].get_metrics("1"), MetricPoint)


@pytest.fixture
def hub(httpx2_mock, monkeypatch, answer):
    """The HF adapter with huggingface_hub's session answered by ``answer``."""
    import huggingface_hub.constants

    from finetune_sdk.providers.huggingface.adapter import HuggingFaceProvider

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    httpx2_mock.add_callback(answer.handle, is_reusable=True, is_optional=True)
    return HuggingFaceProvider(SECRET, namespace="ns", endpoint="https://hub.invalid",
                               retry=RetryPolicy(max_attempts=1, sleep=lambda s: None))


@FUZZ
@given(body=HF_JOB)
def test_huggingface_job_bodies(hub, answer, body):
    from finetune_sdk.providers.huggingface import mapping

    def parse() -> Job:  # a list item, parsed by us
        return mapping.job_from_info(mapping.job_info(body, "https://hub.invalid"))

    check(parse, Job)
    answer.body = body  # the same body from inspect_job, parsed by huggingface_hub first
    check(lambda: hub.get_job("ns/abc123"), Job)
    check(lambda: list(hub.list_jobs(limit=3)), Job)


PLAUSIBLE = {
    "openai": {"id": "ftjob-1", "object": "fine_tuning.job", "status": "succeeded",
               "model": "gpt-4o-mini", "created_at": 1763874000, "fine_tuned_model": "ft:x",
               "metadata": {"ftsdk_client_ref": "ftsdk-1"}},
    "fireworks": {"name": "accounts/a/supervisedFineTuningJobs/j", "state": "JOB_STATE_COMPLETED",
                  "baseModel": "b", "createTime": "2026-11-23T05:00:00Z"},
    "gemini": {"name": "projects/p/locations/l/tuningJobs/1", "state": "JOB_STATE_SUCCEEDED",
               "baseModel": "gemini-2.5-flash", "tunedModel": {"endpoint": "e"}},
}


@pytest.mark.parametrize("vendor", sorted(PLAUSIBLE))
def test_a_plausible_body_still_parses(providers, answer, vendor):
    """The guard did not turn every answer into an error (the fuzz tests accept both)."""
    answer.body = PLAUSIBLE[vendor]
    job = providers[vendor].get_job({"openai": "ftjob-1", "fireworks": "j", "gemini": "1"}[vendor])
    assert job.status.value == "succeeded"


def test_a_plausible_hub_job_still_parses(hub, answer):
    answer.body = {"id": "abc123", "createdAt": "2026-11-23T05:00:00Z",
                   "dockerImage": "img", "flavor": "cpu-basic",
                   "status": {"stage": "COMPLETED", "message": None},
                   "owner": {"id": "1", "name": "ns", "type": "user"}}
    assert hub.get_job("ns/abc123").status.value == "succeeded"


@FUZZ
@given(lines=st.lists(st.text(max_size=60) | st.sampled_from([
    "{'loss': 1.5, 'epoch': 0.5}", "{'loss': nan}", "step 3 loss=0.7", "{'loss': [1]}",
    "{'train_loss': 1e400, 'epoch': 'x'}", "{", "ERROR: Traceback"]), max_size=5))
def test_huggingface_log_lines(lines):
    from finetune_sdk.providers.huggingface import mapping
    from finetune_sdk.providers.huggingface.commands import parse_metrics

    check(lambda: [mapping.event_from_line("j", i, line, [SECRET])
                   for i, line in enumerate(lines, 1)], JobEvent)
    check(lambda: parse_metrics(lines), MetricPoint)
