"""The Gemini/Vertex adapter passes the shared conformance suite against the stateful Vertex mock.

google-genai is given an httpx2 client on the mock's transport and a static access token, so no
application-default-credentials lookup and no network happen.
"""

from __future__ import annotations

import httpx2
import pytest

from finetune_sdk.providers.gemini.adapter import GeminiProvider
from finetune_sdk.testing.conformance import ProviderConformance
from finetune_sdk.testing.mock_servers.vertex import VertexMockServer


def make_provider(mock: VertexMockServer, secret: str, retry_policy=None, **overrides):
    kwargs = dict(
        project=mock.project,
        location=mock.location,
        bucket="gs://ftsdk-test-bucket/tuning-data",
        access_token=secret,
        base_url=mock.base_url,
        http_client=httpx2.Client(transport=mock.transport()),
        storage_client=mock.storage_client(),
        retry=retry_policy,
    )
    kwargs.update(overrides)
    return GeminiProvider(**kwargs)


class TestGeminiConformance(ProviderConformance):
    base_model = "gemini-3.5-flash"
    missing_job_id = "projects/mock-project/locations/us-central1/tuningJobs/999"
    create_path_pattern = r"^POST /v1beta1/projects/[^/]+/locations/[^/]+/tuningJobs$"

    @pytest.fixture
    def mock(self):
        return VertexMockServer()

    @pytest.fixture
    def provider(self, mock, retry_policy, secret):
        return make_provider(mock, secret, retry_policy)
