"""Amazon Bedrock model customization (fine-tuning) through boto3: data in S3, then one
``create_model_customization_job``.

The create carries ``clientRequestToken`` derived from ``client_ref``, and Bedrock ignores a
request whose token it has seen: resending is safe, so ``client_chosen_ids`` is True and the
lifecycle may send again after a dropped answer (the job name is derived from the same ref, so
``find_job`` finds it by name too). botocore's own retries are off (see ``aws.py``).

The data schema depends on the base model while ``upload_dataset`` does not know the base model,
so an upload writes the data once per schema it converts to (content-addressed, a few small
objects) and ``create_job`` picks the base model's; preflight converts a local file in that
schema first, so a multi-turn file for Llama 3.1 is refused before anything is uploaded.
A finished job yields a custom model ARN that needs a deployment before inference.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field, SecretStr

from ..._http import call_translated
from ...config import setting
from ...data.rules import GB
from ...errors import (
    APIResponseValidationError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    ProviderNotInstalledError,
)
from ...facts import preflight_catalog
from ...provider import PreflightWarning, Provider
from ...retry import RetryPolicy
from ...types import (
    Capabilities,
    DatasetRef,
    Hyperparameters,
    Job,
    JobSpec,
    JobStatus,
    ModelRef,
    ProviderOptions,
)
from .._hosted import request_timeout
from . import aws, files, mapping, models
from .reads import BedrockReads

__all__ = ["BUCKET_ENV", "ROLE_ENV", "BedrockOptions", "BedrockProvider"]

T = TypeVar("T")

BUCKET_ENV = "FINETUNE_SDK_BEDROCK_BUCKET"
ROLE_ENV = "FINETUNE_SDK_BEDROCK_ROLE_ARN"
OUTPUT_ENV = "FINETUNE_SDK_BEDROCK_OUTPUT_URI"
_ROLE = r"arn:aws(-[^:]+)?:iam::\d{12}:role/.+"


class BedrockOptions(ProviderOptions):
    """Bedrock-only knobs (``JobSpec.options``)."""

    hyper_parameters: dict[str, float | int | str] = Field(default_factory=dict)
    """Model-specific names not in Hyperparameters, e.g. ``learningRateWarmupSteps`` (Nova),
    ``earlyStoppingPatience`` (Claude 3 Haiku)."""
    custom_model_name: str | None = None
    """The exact ``customModelName`` (default: output_name plus a short hash of the intent)."""
    role_arn: str | None = None
    """This job's service role (default: the provider's)."""
    output_uri: str | None = None
    """Where Bedrock writes the job's metrics (default: the provider's)."""
    custom_model_kms_key_id: str | None = None
    vpc_config: dict[str, list[str]] | None = None
    """``{"subnetIds": [...], "securityGroupIds": [...]}``."""


class BedrockProvider(BedrockReads, Provider):
    """Supervised fine-tuning of Nova, Claude 3 Haiku and Llama models on Amazon Bedrock (the
    reads: ``reads.py``)."""

    name: ClassVar[str] = "bedrock"
    capabilities: ClassVar[Capabilities] = Capabilities(
        methods=frozenset({"sft"}),
        hyperparameters=frozenset({"epochs", "learning_rate", "learning_rate_multiplier",
                                   "batch_size"}),
        cancel=True,
        pause_resume=False,
        events=False,
        metrics=True,
        checkpoints=False,
        validation_file=True,
        client_chosen_ids=True,
        hosted=True,
        max_upload_bytes=10 * GB,  # Claude 3 Haiku's training-file limit; others undocumented
        needs_deployment=True,
        default_poll_interval=60.0,
    )
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = mapping.STATUS_MAP
    options_type: ClassVar[type[ProviderOptions]] = BedrockOptions

    def __init__(
        self,
        *,
        region: str | None = None,
        bucket: str | None = None,
        role_arn: str | None = None,
        output_uri: str | None = None,
        profile: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | SecretStr | None = None,
        aws_session_token: str | SecretStr | None = None,
        session: Any = None,
        endpoint_url: str | None = None,
        timeout: float | None = 60.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        """Args:
        region: the AWS region (else AWS_REGION / AWS_DEFAULT_REGION / the profile's). Nova
            tunes in us-east-1; Claude 3 Haiku and Llama in us-west-2.
        bucket: where training data goes: ``my-bucket``, ``my-bucket/prefix`` or
            ``s3://my-bucket/prefix`` (FINETUNE_SDK_BEDROCK_BUCKET).
        role_arn: the service role Bedrock assumes to read the data and write the outputs
            (FINETUNE_SDK_BEDROCK_ROLE_ARN).
        output_uri: ``s3://...`` for the job outputs (FINETUNE_SDK_BEDROCK_OUTPUT_URI; default
            ``<bucket>/<prefix>/outputs/``).
        profile / aws_access_key_id / aws_secret_access_key / aws_session_token / session:
            credentials; default: boto3's chain (env, shared config, SSO, instance role).
        endpoint_url: one endpoint for S3 and Bedrock (an emulator, a VPC endpoint); boto3
            also reads AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_BEDROCK.
        timeout: connect and read timeout per request, seconds (None: botocore's 60).
        """
        super().__init__(retry=retry)
        if importlib.util.find_spec("boto3") is None:
            raise ProviderNotInstalledError(
                'the bedrock provider needs boto3: pip install "finetune-sdk[aws]"')
        self.timeout = request_timeout(self.name, timeout)
        self._region = setting(region, "AWS_REGION", "AWS_DEFAULT_REGION")
        where = setting(bucket, BUCKET_ENV)
        self.bucket: str | None
        self.bucket, self.prefix = aws.parse_s3(where) if where else (None, "")
        self.role_arn = setting(role_arn, ROLE_ENV)
        self.output_uri = setting(output_uri, OUTPUT_ENV)
        self.profile = profile
        self.endpoint_url = endpoint_url
        self._key_id = aws_access_key_id
        self._secret = _secret(aws_secret_access_key)
        self._token = _secret(aws_session_token)
        self._session = session
        self._clients: dict[str, Any] = {}

    # -- plumbing -------------------------------------------------------------------------
    @property
    def region(self) -> str:
        """The region every call goes to (ConfigurationError when none is configured)."""
        if not self._region:
            self._region = getattr(self._boto_session(), "region_name", None)
        if not self._region:
            raise ConfigurationError(
                "bedrock: no AWS region. Pass region=... or set AWS_REGION (Nova tunes in"
                " us-east-1; Claude 3 Haiku and Llama in us-west-2).")
        return self._region

    def _boto_session(self) -> Any:
        if self._session is None:
            import boto3

            self._session = self._translated(lambda: boto3.Session(
                aws_access_key_id=self._key_id,
                aws_secret_access_key=self._secret.get_secret_value() if self._secret else None,
                aws_session_token=self._token.get_secret_value() if self._token else None,
                profile_name=self.profile, region_name=self._region))
        return self._session

    def _secrets(self) -> list[str]:
        explicit = [s.get_secret_value() for s in (self._secret, self._token) if s]
        return aws.credential_secrets(self._session, explicit)

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            path_style = bool(self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
                              or os.environ.get("AWS_ENDPOINT_URL_S3"))
            config = aws.client_config(timeout=self.timeout, s3=service == "s3",
                                       path_style=path_style)
            region, session = self.region, self._boto_session()
            self._clients[service] = self._translated(lambda: session.client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=config))
        return self._clients[service]

    def _translated(self, fn: Callable[[], T]) -> T:
        return call_translated(fn, lambda exc: aws.translate_error(exc, self._secrets()))

    def _call(self, service: str, operation: str, *, retry: bool = True, **params: Any) -> Any:
        """One API call, translated; retried under the policy unless ``retry=False``."""
        def send() -> Any:
            client = self._client(service)
            return self._translated(lambda: getattr(client, operation)(**params))

        return self.retry.call(send, idempotent=True) if retry else send()

    # -- datasets -------------------------------------------------------------------------
    def upload_dataset(
        self, path: Path, *, purpose: Literal["train", "validation"] = "train", wait: bool = True
    ) -> DatasetRef:
        """Convert to each Bedrock schema the data fits and put them under one S3 folder.

        An object in the bucket is ready once written: ``wait`` has nothing to wait for.
        """
        if not self.bucket:
            raise ConfigurationError(
                f"bedrock: no S3 bucket for training data. Pass bucket='my-bucket' (or"
                f" 's3://my-bucket/prefix') or set {BUCKET_ENV}; Bedrock reads data only from S3.")
        bucket = self.bucket

        def put(key: str, data: bytes) -> None:
            # Content-addressed key: a retried or repeated upload writes the same object.
            self._call("s3", "put_object", Bucket=bucket, Key=key, Body=data,
                       ContentType="application/jsonl")

        return files.upload_variants(Path(path), bucket=bucket, prefix=self.prefix,
                                     purpose=purpose, put=put, unsupported=self.unsupported)

    # -- jobs -----------------------------------------------------------------------------
    def check_spec(self, spec: JobSpec) -> list[str]:
        """Role, output, hyperparameters and data schema for this base model, region, catalog."""
        options: BedrockOptions = self.resolve_options(spec)
        self._role(options)
        self._output(options)
        family = models.family_for(spec.base_model)
        _, found = self._hyper_parameters(spec, options, family)
        if spec.validation_file is not None and not family.validation_file:
            if spec.strict:
                raise self.unsupported(f"a validation file for {family.name}",
                                       "Pass strict=False to train without it.")
            found.append(f"{family.name} ignores the validation file")
        for field in ("training_file", "validation_file"):
            value = getattr(spec, field)
            if value is not None:
                files.check_data(value, family, field)
        regions = models.regions_for(spec.base_model)
        if regions and self.region not in regions:
            found.append(f"{models.model_id(spec.base_model)} is tuned in {', '.join(regions)}"
                         f" (catalog), not in {self.region}: the create will likely be refused")
        for message in found:
            warnings.warn(message, PreflightWarning, stacklevel=3)
        return found + preflight_catalog(self.name, spec, models.model_id(spec.base_model))

    def _hyper_parameters(self, spec: JobSpec, options: BedrockOptions,
                          family: models.Family) -> tuple[dict[str, str], list[str]]:
        hp = spec.hyperparameters
        if not spec.strict:  # fields no Bedrock model takes were already warned about
            known = self.capabilities.hyperparameters
            hp = Hyperparameters(**{k: v for k, v in hp.set_fields().items() if k in known})
        return models.hyper_parameters(hp, options.hyper_parameters, family, self.unsupported,
                                       strict=spec.strict)

    def _role(self, options: BedrockOptions) -> str:
        import re

        role = options.role_arn or self.role_arn
        if not role:
            raise ConfigurationError(
                f"bedrock: no service role. Pass role_arn=... or set {ROLE_ENV}: an IAM role"
                " Bedrock can assume, with read access to the data bucket and write access to"
                " the output location.")
        if not re.fullmatch(_ROLE, role):
            raise ConfigurationError(f"bedrock: {role!r} is not an IAM role ARN"
                                     " (arn:aws:iam::123456789012:role/NAME)")
        return role

    def _output(self, options: BedrockOptions) -> str:
        uri = options.output_uri or self.output_uri
        if uri is None and self.bucket:
            uri = "s3://" + "/".join(p for p in (self.bucket, self.prefix, "outputs") if p) + "/"
        if not uri or not uri.startswith("s3://"):
            raise ConfigurationError(
                f"bedrock: no S3 output location. Pass bucket=... or output_uri='s3://...'"
                f" (or set {BUCKET_ENV} / {OUTPUT_ENV}).")
        return uri

    def create_job(self, spec: JobSpec) -> Job:
        """One CreateModelCustomizationJob, sent once here (the lifecycle may resend: the
        token makes it idempotent). A 409 means the name (our intent) exists: attach to it."""
        options: BedrockOptions = self.resolve_options(spec)
        family = models.family_for(spec.base_model)
        ref = spec.client_ref
        body: dict[str, Any] = {
            "jobName": mapping.job_name(ref),
            "customModelName": options.custom_model_name
            or mapping.custom_model_name(ref, spec.output_name),
            "roleArn": self._role(options),
            "clientRequestToken": mapping.request_token(ref),
            "baseModelIdentifier": spec.base_model,
            "customizationType": "FINE_TUNING",
            "trainingDataConfig": {
                "s3Uri": files.s3_uri(spec.training_file, family, "training_file")},
            "outputDataConfig": {"s3Uri": self._output(options)},
            "hyperParameters": self._hyper_parameters(spec, options, family)[0],
        }
        if spec.validation_file is not None and family.validation_file:
            body["validationDataConfig"] = {"validators": [
                {"s3Uri": files.s3_uri(spec.validation_file, family, "validation_file")}]}
        if spec.labels:
            tags = [{"key": k, "value": v} for k, v in spec.labels.items()]
            body["jobTags"], body["customModelTags"] = tags, tags
        if options.custom_model_kms_key_id:
            body["customModelKmsKeyId"] = options.custom_model_kms_key_id
        if options.vpc_config:
            body["vpcConfig"] = options.vpc_config
        body.update(spec.extra_body)
        try:
            answer = self._call("bedrock", "create_model_customization_job", retry=False, **body)
        except ConflictError:
            found = self.find_job(ref)
            if found is None:
                raise
            return found
        arn = answer.get("jobArn") if isinstance(answer, dict) else None
        if not isinstance(arn, str) or not arn:
            raise APIResponseValidationError("the create answer has no jobArn",
                                             provider=self.name)
        return Job(id=arn, provider=self.name, status=JobStatus.VALIDATING,
                   provider_status="InProgress", base_model=models.model_id(spec.base_model),
                   method="sft", client_ref=ref, hyperparameters=body["hyperParameters"],
                   provider_details={"jobName": body["jobName"],
                                     "customModelName": body["customModelName"]})

    def cancel_job(self, job_id: str) -> Job:
        self._call("bedrock", "stop_model_customization_job", jobIdentifier=job_id)
        return self.get_job(job_id)

    def resolve_model(self, job: Job) -> ModelRef:
        """The custom model ARN; on-demand inference needs a custom model deployment (or
        Provisioned Throughput) first."""
        arn = job.output_model or self._get(job.id).get("outputModelArn")
        if not arn:
            raise NotFoundError(f"Bedrock job {job.id} reports no custom model yet (status"
                                f" {job.provider_status})", provider=self.name)
        return ModelRef(
            id=arn, provider=self.name, base_model=job.base_model, job_id=job.id,
            ready_for_inference=False, needs_deployment=True,
            how_to_serve=(
                f"boto3.client('bedrock', region_name={self.region!r})"
                f".create_custom_model_deployment(modelDeploymentName=..., modelArn={arn!r}),"
                " then call bedrock-runtime converse(modelId=<deployment ARN>); or buy"
                " Provisioned Throughput for it"),
            provider_details={"region": self.region,
                              "custom_model_name": job.provider_details.get("outputModelName")
                              or job.provider_details.get("customModelName")})

    def close(self) -> None:
        for client in self._clients.values():
            close = getattr(client, "close", None)
            if close is not None:
                close()
        self._clients.clear()

    def __repr__(self) -> str:
        return (f"BedrockProvider(region={self._region!r}, bucket={self.bucket!r},"
                f" role_arn={self.role_arn!r})")


def _secret(value: str | SecretStr | None) -> SecretStr | None:
    if isinstance(value, SecretStr):
        return value if value.get_secret_value() else None
    return SecretStr(value) if value else None
