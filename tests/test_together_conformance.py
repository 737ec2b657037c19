"""The Together adapter passes the shared conformance suite against the stateful Together mock.

The official ``together`` SDK is given an httpx client bridged onto the mock's httpx2 transport,
so every request goes through the real SDK code (request building, the 302 upload, error
classes) with no network.
"""

from __future__ import annotations

import httpx2
import pytest

pytest.importorskip("together")

from finetune_sdk.providers.together.adapter import TogetherProvider  # noqa: E402
from finetune_sdk.testing.conformance import ProviderConformance  # noqa: E402
from finetune_sdk.testing.mock_servers.together import TogetherMockServer  # noqa: E402

BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


@pytest.fixture(autouse=True)
def _no_together_env(monkeypatch):
    for name in ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "TOGETHER_PROJECT_ID", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")
class TestTogetherConformance(ProviderConformance):
    base_model = BASE
    missing_job_id = "ft-does-not-exist"
    create_path_pattern = r"^POST /v1/fine-tunes$"
    uploads_process = True  # Together validates a file after /preprocess (processing_status)

    @pytest.fixture
    def mock(self):
        mock = TogetherMockServer()
        mock.processing_reads = 1  # one read shows RUNNING, the next COMPLETED
        return mock

    def never_ready(self, provider, mock, monkeypatch):
        monkeypatch.setattr(mock, "processing_reads", 10**9)

    @pytest.fixture
    def provider(self, mock, retry_policy, secret):
        return TogetherProvider(api_key=secret, base_url=mock.base_url, retry=retry_policy,
                                http_client=httpx2.Client(transport=mock.transport()),
                                dataset_poll_interval=0)
