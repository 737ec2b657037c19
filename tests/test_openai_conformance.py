"""The OpenAI adapter passes the shared conformance suite against the stateful OpenAI mock.

The official ``openai`` SDK is given an httpx2 client on the mock's transport, so every request
goes through the real SDK code (serialisation, pagination, error classes) with no network.
"""

from __future__ import annotations

from datetime import date

import httpx2
import pytest

from finetune_sdk.providers.openai.adapter import OpenAIProvider
from finetune_sdk.testing.conformance import ProviderConformance
from finetune_sdk.testing.mock_servers.openai import OpenAIMockServer


def make_provider(mock: OpenAIMockServer, secret: str, retry_policy=None, **overrides):
    kwargs = dict(
        api_key=secret,
        base_url=mock.base_url,
        http_client=httpx2.Client(transport=mock.transport()),
        retry=retry_policy,
        file_poll_interval=0,
        today=lambda: date(2026, 11, 23),
    )
    kwargs.update(overrides)
    return OpenAIProvider(**kwargs)


@pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")
class TestOpenAIConformance(ProviderConformance):
    base_model = "gpt-4o-mini-2024-07-18"
    missing_job_id = "ftjob-does-not-exist"
    create_path_pattern = r"^POST /v1/fine_tuning/jobs$"

    uploads_process = True

    def never_ready(self, provider, mock, monkeypatch):
        self.hold_answers(mock, monkeypatch, r"^GET /v1/files/[^/]+$", {"status": "uploaded"})

    @pytest.fixture
    def mock(self):
        return OpenAIMockServer()

    @pytest.fixture
    def provider(self, mock, retry_policy, secret):
        return make_provider(mock, secret, retry_policy)
