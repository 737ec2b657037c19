"""The Bedrock adapter passes the shared conformance suite against the stateful Bedrock mock.

boto3 runs for real (signing, rest-json serialisation, error parsing); a botocore ``before-send``
hook answers each request from the mock in process, so no socket and no AWS account is used.
"""

from __future__ import annotations

import pytest

from finetune_sdk.providers.bedrock.adapter import BedrockProvider
from finetune_sdk.testing.conformance import ProviderConformance
from finetune_sdk.testing.mock_servers.bedrock import BedrockMockServer

BUCKET = "s3://ftsdk-test-bucket/tuning-data"


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch):
    """The developer's own AWS settings must not leak into the tests."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
                 "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                 "AWS_ENDPOINT_URL_BEDROCK", "AWS_BEARER_TOKEN_BEDROCK", "AWS_MAX_ATTEMPTS",
                 "AWS_RETRY_MODE", "FINETUNE_SDK_BEDROCK_BUCKET",
                 "FINETUNE_SDK_BEDROCK_ROLE_ARN", "FINETUNE_SDK_BEDROCK_OUTPUT_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def make_provider(mock: BedrockMockServer, secret: str, retry_policy=None, **overrides):
    kwargs = dict(region=mock.region, bucket=BUCKET, role_arn=mock.role_arn,
                  session=mock.session(secret_key=secret, token=secret),
                  endpoint_url=mock.base_url, retry=retry_policy)
    kwargs.update(overrides)
    return BedrockProvider(**kwargs)


class TestBedrockConformance(ProviderConformance):
    base_model = "amazon.nova-micro-v1:0:128k"
    create_path_pattern = r"^POST /model-customization-jobs$"

    @pytest.fixture
    def mock(self):
        return BedrockMockServer()

    @pytest.fixture
    def provider(self, mock, retry_policy, secret):
        return make_provider(mock, secret, retry_policy)
