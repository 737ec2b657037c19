"""The OpenAI adapter's profiles pass the shared conformance suite, each against the OpenAI mock
configured as that service, through the official ``openai`` SDK:

- ``azure-openai`` at ``https://<resource>.openai.azure.com/openai/v1`` (Azure's prefix, model
  ids, 18-character suffix, no Uploads API);
- ``openai-compatible`` pointed at Nebius's base URL, and the ``nebius`` preset itself;
- ``openai-compatible`` against a server of no known vendor.
"""

from __future__ import annotations

from datetime import date

import httpx2
import pytest

from finetune_sdk.providers.openai_compatible.adapter import (
    AzureOpenAIProvider,
    NebiusProvider,
    OpenAICompatibleProvider,
)
from finetune_sdk.testing.conformance import ProviderConformance
from finetune_sdk.testing.mock_servers.openai_compatible import OpenAICompatibleMockServer

TODAY = date(2026, 11, 23)


class _Processing:
    """Files are ``uploaded`` first and ``processed`` on a later read, as on OpenAI."""

    uploads_process = True

    def never_ready(self, provider, mock, monkeypatch):
        self.hold_answers(mock, monkeypatch, r"^GET /.*v1/files/[^/]+$", {"status": "uploaded"})


def wired(mock: OpenAICompatibleMockServer, cls: type, secret: str, retry_policy=None, **kw):
    return cls(api_key=secret, http_client=httpx2.Client(transport=mock.transport()),
               retry=retry_policy, file_poll_interval=0, today=lambda: TODAY, **kw)


@pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")
class TestAzureOpenAIConformance(_Processing, ProviderConformance):
    base_model = "gpt-4.1-mini-2025-04-14"
    missing_job_id = "ftjob-does-not-exist"
    create_path_pattern = r"^POST /openai/v1/fine_tuning/jobs$"

    @pytest.fixture
    def mock(self):
        return OpenAICompatibleMockServer.azure(resource="contoso-ft")

    @pytest.fixture
    def provider(self, mock, retry_policy, secret):
        return wired(mock, AzureOpenAIProvider, secret, retry_policy, resource="contoso-ft")

    def test_requests_go_to_the_azure_v1_route(self, provider, mock, training_file):
        job = self.started_job(provider, training_file)
        assert provider.base_url == "https://contoso-ft.openai.azure.com/openai/v1"
        paths = {r.url.path for r in mock.requests}
        assert "/openai/v1/fine_tuning/jobs" in paths and "/openai/v1/files" in paths
        assert all(p.startswith("/openai/v1/") for p in paths)
        assert job.provider == "azure-openai"


@pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")
class TestGenericAtNebiusConformance(_Processing, ProviderConformance):
    """``Client("openai-compatible", base_url=<nebius>)``: the generic profile, Nebius's URL."""

    base_model = "meta-llama/Llama-3.1-8B-Instruct"
    missing_job_id = "ftjob-does-not-exist"
    create_path_pattern = r"^POST /v1/fine_tuning/jobs$"

    @pytest.fixture
    def mock(self):
        return OpenAICompatibleMockServer.nebius()

    @pytest.fixture
    def provider(self, mock, retry_policy, secret):
        return wired(mock, OpenAICompatibleProvider, secret, retry_policy,
                     base_url="https://api.tokenfactory.nebius.com/v1/")


@pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")
class TestNebiusConformance(TestGenericAtNebiusConformance):
    @pytest.fixture
    def provider(self, mock, retry_policy, secret):
        return wired(mock, NebiusProvider, secret, retry_policy)  # Nebius's URL by default


class TestUnknownServerConformance(_Processing, ProviderConformance):
    """No catalog, no ranges: any base model passes preflight without a warning."""

    base_model = "acme/tiny-chat-1b"
    missing_job_id = "ftjob-does-not-exist"
    create_path_pattern = r"^POST /api/v1/fine_tuning/jobs$"

    @pytest.fixture
    def mock(self):
        return OpenAICompatibleMockServer(base_url="http://ft.acme.invalid/api/v1",
                                          route_prefix="/api/v1")

    @pytest.fixture
    def provider(self, mock, retry_policy, secret):
        return wired(mock, OpenAICompatibleProvider, secret, retry_policy,
                     base_url=mock.base_url)
