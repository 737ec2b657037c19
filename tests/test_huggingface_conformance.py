"""The Hugging Face adapter passes the shared conformance suite against the stateful Hub/Jobs mock.

huggingface_hub rides httpx2, so ``httpx2_mock`` routes its requests to the mock; the token is
passed explicitly (never read from disk) and ``namespace`` is set, so no whoami call is made.
"""

from __future__ import annotations

from typing import Any

import pytest

from finetune_sdk.providers.huggingface.adapter import HuggingFaceProvider
from finetune_sdk.testing.conformance import SENTINEL_SECRET, ProviderConformance
from finetune_sdk.testing.mock_servers.huggingface import HuggingFaceMockServer


def mount_hub_mock(httpx2_mock, monkeypatch) -> HuggingFaceMockServer:
    """A fresh mock answering every huggingface_hub request (offline mode lifted: the mock is
    the only thing reachable)."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    server = HuggingFaceMockServer()
    server.mount(httpx2_mock)
    return server


def make_provider(mock: HuggingFaceMockServer, secret: str = SENTINEL_SECRET,
                  **kwargs: Any) -> HuggingFaceProvider:
    """The adapter pointed at ``mock`` (its namespace and endpoint), as every HF test builds it."""
    return HuggingFaceProvider(secret, namespace=mock.namespace, endpoint=mock.base_url, **kwargs)


class TestHuggingFaceConformance(ProviderConformance):
    base_model = "HuggingFaceTB/SmolLM2-135M-Instruct"
    missing_job_id = "0000000000000000deadbeef"
    create_path_pattern = r"^POST /api/jobs/[^/]+$"

    @pytest.fixture
    def mock(self, httpx2_mock, monkeypatch):
        return mount_hub_mock(httpx2_mock, monkeypatch)

    @pytest.fixture
    def provider(self, mock, retry_policy, secret):
        return make_provider(mock, secret, retry=retry_policy)
