"""Gemini, Bedrock and Hugging Face walk their paged job lists one way (providers/_hosted.py): a
page is read only while more jobs are wanted, ``limit`` stops the walk mid-page, the vendor's
newest-first order is kept, and ``limit=0`` asks the vendor nothing."""

from __future__ import annotations

import pytest
import test_bedrock_conformance as bedrock
import test_gemini_conformance as gemini
from test_bedrock_conformance import no_ambient_aws  # noqa: F401  (autouse: no real AWS)

from finetune_sdk.testing.conformance import SENTINEL_SECRET
from finetune_sdk.testing.mock_servers.bedrock import BedrockMockServer
from finetune_sdk.testing.mock_servers.vertex import VertexMockServer

LIST_PATHS = {"gemini": r"/tuningJobs$", "bedrock": r"^/model-customization-jobs$",
              "huggingface": r"^/api/jobs/[^/]+$"}


@pytest.fixture(params=["gemini", "bedrock", "huggingface"])
def vendor(request):
    """(name, mock, provider) with 5 jobs on pages of 2."""
    if request.param == "huggingface":
        pytest.importorskip("huggingface_hub")
        from test_huggingface_conformance import make_provider, mount_hub_mock


        mock = mount_hub_mock(request.getfixturevalue("httpx2_mock"),
                              request.getfixturevalue("monkeypatch"))
        provider = make_provider(mock)
    elif request.param == "gemini":
        mock = VertexMockServer()
        provider = gemini.make_provider(mock, SENTINEL_SECRET)
    else:
        mock = BedrockMockServer()
        provider = bedrock.make_provider(mock, SENTINEL_SECRET)
    mock.page_size = 2
    mock.seed_jobs(5)
    return request.param, mock, provider


def list_requests(name, mock):
    return mock.requests_to("GET", LIST_PATHS[name])


def test_limit_zero_sends_no_request_and_yields_nothing(vendor):
    name, mock, provider = vendor
    assert list(provider.list_jobs(limit=0)) == []
    assert list_requests(name, mock) == []


def test_a_limit_stops_mid_page_and_reads_no_further_page(vendor):
    name, mock, provider = vendor
    every = [job.id for job in provider.list_jobs()]
    assert len(every) == 5 and len(list_requests(name, mock)) == 3  # pages of 2, 2, 1
    mock.requests.clear()
    assert [job.id for job in provider.list_jobs(limit=3)] == every[:3]
    assert len(list_requests(name, mock)) == 2
