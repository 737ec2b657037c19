"""The fake provider's fault injection is the mock servers' (one ``FaultQueue``): the same
``fail_next`` arguments, the vendor ``body`` honoured instead of dropped."""

from __future__ import annotations

import pytest

from finetune_sdk.errors import PermissionDeniedError, RateLimitError
from finetune_sdk.providers.fake import FakeProvider
from finetune_sdk.testing.faults import Fault, FaultQueue
from finetune_sdk.testing.mock_servers.base import MockServer


def test_fake_and_mock_servers_share_one_fault_queue(tmp_path):
    fake = FakeProvider(root=tmp_path / "fake")
    assert isinstance(fake.control.faults, FaultQueue)
    assert isinstance(MockServer().faults, FaultQueue)


def test_the_fault_body_becomes_the_error(tmp_path):
    fake = FakeProvider(root=tmp_path / "fake")
    fake.control.fail_next(403, body={"error": {"message": "org not allowed to fine-tune"}})
    with pytest.raises(PermissionDeniedError, match="org not allowed to fine-tune") as caught:
        fake.get_job("ftjob-fake-0123456789abcdef")
    assert caught.value.body == {"error": {"message": "org not allowed to fine-tune"}}


def test_a_fault_waits_for_its_match_and_its_moment():
    queue = FaultQueue()

    queue.add(Fault(429, match=r"^POST /jobs$", after_processing=True), times=2)
    assert queue.take("GET /jobs/x") is None
    assert queue.take("POST /jobs", after_processing=False) is None
    assert queue.take("POST /jobs", after_processing=True).status == 429
    assert len(queue) == 1
    queue.clear()
    assert len(queue) == 0


def test_retry_after_reaches_the_error(tmp_path):
    fake = FakeProvider(root=tmp_path / "fake")
    fake.control.fail_next(429, retry_after=3, times=1)
    with pytest.raises(RateLimitError) as caught:
        fake._request("GET /jobs/x")
    assert caught.value.retry_after == 3
