"""The Fireworks adapter passes the shared conformance suite against the stateful Fireworks mock."""

from __future__ import annotations

import httpx2
import pytest

from finetune_sdk.providers.fireworks.adapter import FireworksProvider
from finetune_sdk.testing.conformance import ProviderConformance
from finetune_sdk.testing.mock_servers.fireworks import FireworksMockServer


def make_provider(mock: FireworksMockServer, secret: str, retry_policy=None, **overrides):
    kwargs = dict(
        api_key=secret,
        account_id=mock.account,
        base_url=mock.base_url,
        http_client=httpx2.Client(transport=mock.transport()),
        retry=retry_policy,
        dataset_poll_interval=0,
    )
    kwargs.update(overrides)
    return FireworksProvider(**kwargs)


class TestFireworksConformance(ProviderConformance):
    base_model = "accounts/fireworks/models/gpt-oss-20b"
    missing_job_id = "job-does-not-exist"
    create_path_pattern = r"^POST /v1/accounts/[^/]+/supervisedFineTuningJobs$"

    uploads_process = True

    def never_ready(self, provider, mock, monkeypatch):
        self.hold_answers(mock, monkeypatch, r"^GET /v1/accounts/[^/]+/datasets/[^/:]+$",
                          {"state": "UPLOADING"})

    @pytest.fixture
    def mock(self):
        return FireworksMockServer()

    @pytest.fixture
    def provider(self, mock, retry_policy, secret):
        return make_provider(mock, secret, retry_policy)
