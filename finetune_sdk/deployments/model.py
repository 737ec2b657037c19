"""What a deployment is: the request (``DeploymentSpec``), the answer (``Deployment``), its
states, and the intent key that makes "deploy this model on this hardware" happen at most once.

A deployment is billed while it exists (Fireworks, Hugging Face, Azure bill by the hour), so
every field a person needs to stop paying is on the object: where it is, what it costs per hour
and since when, and how to tear it down.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from ..errors import ConfigurationError, FinetuneError
from ..types import ModelRef

__all__ = ["Deployment", "DeploymentError", "DeploymentSpec", "DeploymentStatus",
           "deployment_key", "deployment_name", "serverless"]


class DeploymentError(FinetuneError):
    """A deployment failed on the vendor's side (``.deployment`` holds the last state)."""

    def __init__(self, message: str, deployment: Deployment | None = None) -> None:
        super().__init__(message)
        self.deployment = deployment


class DeploymentStatus(str, Enum):  # noqa: UP042 - values live in the ledger
    """Where a deployment is in its life. Vendor strings map here; unknown ones to UNKNOWN."""

    CREATING = "creating"
    READY = "ready"
    PAUSED = "paused"
    """Stopped on purpose (Hugging Face pause): not serving, not billed, resumable."""
    FAILED = "failed"
    DELETING = "deleting"
    DELETED = "deleted"
    UNKNOWN = "unknown"

    @property
    def is_live(self) -> bool:
        """It still exists at the vendor (and may be billed): anything but deleted or failed."""
        return self not in (DeploymentStatus.DELETED, DeploymentStatus.FAILED)

    def __str__(self) -> str:
        return self.value


class DeploymentSpec(BaseModel):
    """How to serve a model. ``None`` means the vendor's (or our backend's) default."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    hardware: str | None = None
    """The vendor's accelerator or instance name (Fireworks ``NVIDIA_H100_80GB``, Hugging Face
    ``nvidia-a10g``, Azure sku ``standard``...)."""
    accelerator_count: int | None = Field(None, ge=1)
    min_replicas: int | None = Field(None, ge=0)
    """0 lets the deployment scale to zero where the vendor offers it (no bill while idle)."""
    max_replicas: int | None = Field(None, ge=1)
    scale_to_zero_after: float | None = Field(None, gt=0)
    """Seconds without traffic before it scales to zero (Fireworks, Hugging Face)."""
    region: str | None = None
    name: str | None = None
    """The vendor-side name; default ``ftsdk-<hash of the intent>`` (so a resend dedupes)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Raw vendor fields merged into the create request (escape hatch)."""


class Deployment(BaseModel):
    """A model being served, as the vendor reports it (or as the ledger last saw it)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    """The vendor's id (Fireworks ``accounts/a/deployments/d``, a Bedrock ARN, ``ns/name``...)."""
    provider: str
    status: DeploymentStatus
    provider_status: str | None = None
    model: str
    """The model that is deployed (a ModelRef id)."""
    endpoint: str
    """The string to pass to chat (``model#deployment``, an endpoint URL, a deployment name)."""
    base_url: str | None = None
    hardware: str | None = None
    price_per_hour: float | None = None
    """USD per hour while one replica runs, where known (None: unknown or not billed hourly)."""
    price_date: date | None = None
    price_source: str | None = None
    created_at: datetime | None = None
    serverless: bool = False
    """True: nothing was created (the vendor serves the model as it is); nothing to tear down."""
    intent_key: str | None = None
    note: str | None = None
    """What a person should know: billing, scale to zero, how to tear it down."""
    error: str | None = None
    poll_after: float | None = None
    provider_details: dict[str, Any] = Field(default_factory=dict, repr=False)
    _ledger: Any = PrivateAttr(default=None)
    """The ledger that tracks it (set by ``client.models``): chat notes its use there."""

    @property
    def ready(self) -> bool:
        """Whether it answers chat now."""
        return self.status is DeploymentStatus.READY

    def model_ref(self) -> ModelRef:
        """The ModelRef ``inference.chat`` calls (the endpoint string and its base URL)."""
        return ModelRef(id=self.endpoint, provider=self.provider, ready_for_inference=self.ready,
                        needs_deployment=False, endpoint=self.endpoint, base_url=self.base_url,
                        how_to_serve=self.note)

    def raise_for_status(self) -> Deployment:
        """DeploymentError when it failed; otherwise self."""
        if self.status is DeploymentStatus.FAILED:
            raise DeploymentError(f"{self.provider} deployment {self.id} failed:"
                                  f" {self.error or 'no reason given'}", self)
        return self

    def accrued_usd(self, until: datetime | None = None) -> float | None:
        """Price x hours since ``created_at`` (an upper bound: scale-to-zero time is not billed);
        None when the price or the start is unknown."""
        if self.serverless:
            return 0.0
        if self.price_per_hour is None or self.created_at is None:
            return None
        end = until or datetime.now(UTC)
        start = self.created_at if self.created_at.tzinfo else self.created_at.replace(tzinfo=UTC)
        return max(0.0, (end - start).total_seconds()) / 3600 * self.price_per_hour

    def _repr_html_(self) -> str:
        from ..display import html_table

        price = (f"${self.price_per_hour:.2f}/h" if self.price_per_hour is not None
                 else "unknown")
        rows = [("status", self.status.value), ("model", self.model), ("chat with", self.endpoint),
                ("hardware", self.hardware), ("price", price), ("note", self.note)]
        return html_table([r for r in rows if r[1] is not None],
                          title=f"{self.provider} deployment {self.id}")


def deployment_key(provider: str, model: str, spec: DeploymentSpec, *, new: bool = False) -> str:
    """The intent key: ``ftdep-`` + 24 hex digits of provider, model and every spec field.

    The same request twice is one deployment; ``new=True`` salts it for a deliberate second.
    """
    intent = {"provider": provider, "model": model,
              **spec.model_dump(mode="json", exclude={"name"}), "name": spec.name}
    canonical = json.dumps(intent, sort_keys=True, separators=(",", ":"), default=str)
    key = "ftdep-" + hashlib.sha256(canonical.encode()).hexdigest()[:24]
    return f"{key}-{uuid.uuid4().hex[:8]}" if new else key


def deployment_name(key: str, spec: DeploymentSpec) -> str:
    """The vendor-side name: the caller's, else ``ftsdk-`` + 16 hex digits of the key (valid at
    every vendor: lowercase, starts with a letter, at most 32 characters)."""
    if spec.name:
        return spec.name
    return "ftsdk-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def serverless(provider: str, model: ModelRef, note: str | None = None) -> Deployment:
    """The answer of a provider that serves fine-tunes as they are: ready at once, no bill."""
    if not model.ready_for_inference:
        raise ConfigurationError(
            f"{provider} model {model.id} is not servable yet and {provider} has no deployment"
            f" API here: {model.how_to_serve or 'see the provider docs'}")
    return Deployment(
        id=model.id, provider=provider, status=DeploymentStatus.READY, model=model.id,
        endpoint=model.id, base_url=model.base_url, serverless=True,
        note=note or f"serverless: no deployment needed; {provider} serves {model.id} as it is"
                     " (billed per token, nothing to tear down)")
