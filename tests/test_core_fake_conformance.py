"""The fake provider passes the same conformance suite as the vendor adapters."""

from __future__ import annotations

import pytest

from finetune_sdk.providers.fake import FakeProvider
from finetune_sdk.testing.conformance import ProviderConformance


class TestFakeConformance(ProviderConformance):
    base_model = "fake-base"
    missing_job_id = "ftjob-fake-0000000000000000"
    create_path_pattern = r"^POST /jobs$"

    @pytest.fixture
    def provider(self, tmp_path, retry_policy, secret):
        return FakeProvider(root=tmp_path / "fake", api_key=secret, auto_advance=False,
                            retry=retry_policy)

    @pytest.fixture
    def mock(self, provider, monkeypatch):
        control = provider.control
        control.requests = []  # FakeControl keeps no request log: record every pretend request
        send = provider._request
        monkeypatch.setattr(provider, "_request",
                            lambda key: (control.requests.append(key), send(key))[1])
        return control

    def request_keys(self, mock):
        return list(mock.requests)
