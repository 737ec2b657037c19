"""The Provider interface every adapter implements, and the preflight every spec passes.

Adapters are synchronous and know one vendor's wire format; everything shared (waiting, retry
rules for creates, dedupe, ledger, progress) lives in ``lifecycle.py``, ``waits.py`` and
``client.py``.

Contract for adapter authors (checked by ``finetune_sdk.testing.conformance``):
- ``create_job`` sends the create once (no retries: the lifecycle decides), and stores
  ``spec.client_ref`` where ``find_job`` can find it again (metadata, labels, client-chosen id).
- every other call retries through ``self.retry.call(...)``.
- vendor exceptions are translated to ``finetune_sdk.errors`` at the boundary, secrets redacted.
- an unknown vendor status maps to ``JobStatus.UNKNOWN`` and never raises.
- adapters never sleep: ``upload_dataset(wait=False)`` and ``get_dataset`` answer at once.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import ValidationError

from .errors import ConfigurationError, DatasetError, UnsupportedFeatureError
from .retry import RetryPolicy
from .types import (
    Capabilities,
    Checkpoint,
    DatasetRef,
    Job,
    JobEvent,
    JobSpec,
    JobStatus,
    MetricPoint,
    ModelRef,
    ProviderOptions,
)
from .waits import DATASET_POLL_S, DATASET_WAIT_S

if TYPE_CHECKING:
    from .deployments.model import Deployment, DeploymentSpec

__all__ = ["Provider", "PreflightWarning"]


class PreflightWarning(UserWarning):
    """A spec field the provider will ignore (only with ``JobSpec(strict=False)``)."""


class Provider(ABC):
    """One fine-tuning backend (a vendor API or the local trainer).

    Adapters never sleep: every wait-until-ready lives in the lifecycle (``waits.py``). A vendor
    that checks a file after it arrives answers ``upload_dataset(..., wait=False)`` with a
    ``processing`` ref and overrides ``get_dataset`` (one read) and ``discard_dataset``; the
    lifecycle polls, pausing ``dataset_poll_interval`` seconds at first, for at most
    ``dataset_wait_timeout`` seconds. The defaults fit a provider whose uploads are ready at once.
    """

    name: ClassVar[str]
    """Registry name, e.g. ``"openai"``."""
    capabilities: ClassVar[Capabilities]
    STATUS_MAP: ClassVar[Mapping[str, JobStatus]] = {}
    """Vendor status string -> JobStatus. Missing strings map to UNKNOWN."""
    options_type: ClassVar[type[ProviderOptions] | None] = None
    """The typed options model this provider accepts in ``JobSpec.options``."""
    dataset_poll_interval: float = DATASET_POLL_S
    """First pause (seconds) of the lifecycle's dataset wait; the pauses grow from it."""
    dataset_wait_timeout: float = DATASET_WAIT_S
    """How long the lifecycle waits for a ``processing`` dataset when the caller names no limit."""

    def __init__(self, *, retry: RetryPolicy | None = None) -> None:
        self.retry = retry or RetryPolicy()

    # -- required -------------------------------------------------------------------------
    @abstractmethod
    def upload_dataset(
        self, path: Path, *, purpose: Literal["train", "validation"] = "train", wait: bool = True
    ) -> DatasetRef:
        """Upload a JSONL file (already in our chat/preference format) and return its ref.

        The adapter converts to the vendor's wire format itself. ``wait=False`` (what the
        lifecycle passes) returns as soon as the bytes are sent: the ref may be ``processing``
        and the lifecycle then polls ``get_dataset``. ``wait=True``, for direct callers, may
        hand a processing ref to ``lifecycle.wait_for_dataset``; it never sleeps itself.
        """

    @abstractmethod
    def create_job(self, spec: JobSpec) -> Job:
        """Start a job once. ``spec.training_file`` is a DatasetRef here (the client uploads)."""

    @abstractmethod
    def get_job(self, job_id: str) -> Job:
        """The job as the vendor reports it now."""

    @abstractmethod
    def list_jobs(self, *, limit: int | None = None) -> Iterator[Job]:
        """Newest first, walking every page until ``limit`` jobs were yielded."""

    @abstractmethod
    def cancel_job(self, job_id: str) -> Job:
        """Ask the vendor to stop the job; returns the job as it is after the request."""

    @abstractmethod
    def resolve_model(self, job: Job) -> ModelRef:
        """The servable model of a succeeded job, saying whether it needs a deployment first."""

    # -- optional -------------------------------------------------------------------------
    def get_dataset(self, ref: DatasetRef) -> DatasetRef:
        """``ref`` as the vendor reports it now: one read, no waiting (the lifecycle polls).

        The default is for uploads that are ready at once: ``ref`` comes back unchanged. A
        ``processing`` ref it cannot ask about again is a DatasetError, not a wait that only
        ends at the timeout.
        """
        if ref.status == "processing":
            raise DatasetError(f"{self.name} returned dataset {ref.id} still processing but"
                               " cannot be asked about it again (no get_dataset)",
                               file=ref.filename)
        return ref

    def discard_dataset(self, ref: DatasetRef) -> None:  # noqa: B027 - optional hook
        """Delete a dataset that will never train (vendors bill its storage). Default: the
        provider stores nothing to delete."""

    def list_events(self, job_id: str, *, limit: int | None = None) -> Iterator[JobEvent]:
        """The job's event log, oldest first."""
        raise self.unsupported("events")

    def get_metrics(self, job_id: str) -> list[MetricPoint]:
        """Training metrics (loss curve) reported so far."""
        raise self.unsupported("metrics")

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        """Intermediate checkpoints."""
        raise self.unsupported("checkpoints")

    def pause_job(self, job_id: str) -> Job:
        """Pause a running job."""
        raise self.unsupported("pause/resume")

    def resume_job(self, job_id: str) -> Job:
        """Resume a paused job."""
        raise self.unsupported("pause/resume")

    def find_job(self, client_ref: str) -> Job | None:
        """The job created for ``client_ref``, if the vendor has one (dedupe after a failure).

        The default walks ``list_jobs``; adapters override it with a filtered query.
        """
        for job in self.list_jobs():
            if job.client_ref == client_ref:
                return job
        return None

    def close(self) -> None:  # noqa: B027 - optional hook: most providers hold nothing to close
        """Release HTTP connections."""

    # -- deployments (optional; the vendor code is picked in deployments/backends.py) ------
    @property
    def tracks_deployments(self) -> bool:
        """Whether ``deploy`` creates something billed, which the ledger then tracks."""
        backend = _deployment_backend(self)
        return backend is not None and getattr(backend, "TRACKED", True)

    def deploy(self, model: ModelRef, spec: DeploymentSpec) -> Deployment:
        """Send one create of a deployment keyed by ``spec.name`` (``client.models.deploy``
        claims the intent, retries and waits). Default: serverless, the model answers as it
        is and nothing is created (an unservable model is refused with how to serve it)."""
        backend = _deployment_backend(self)
        if backend is None:
            from .deployments.model import serverless

            return serverless(self.name, model)
        return backend.deploy(self, model, spec)

    def get_deployment(self, deployment_id: str) -> Deployment:
        """The deployment as the vendor reports it now (one read)."""
        return self._deployments().get(self, deployment_id)

    def delete_deployment(self, deployment_id: str) -> Deployment:
        """Ask the vendor to delete it (stops the bill); returns it as it is after the request."""
        return self._deployments().delete(self, deployment_id)

    def list_deployments(self) -> Iterator[Deployment]:
        """The deployments the vendor has (of this account); none where nothing is deployed."""
        backend = _deployment_backend(self)
        return iter(()) if backend is None else backend.list_all(self)

    def pause_deployment(self, deployment_id: str) -> Deployment:
        """Stop it and its bill without deleting it (Hugging Face); ``resume_deployment``."""
        return self._deployment_op("pause", "pausing deployments")(self, deployment_id)

    def resume_deployment(self, deployment_id: str) -> Deployment:
        """Start a paused deployment again (then wait for it to be ready)."""
        return self._deployment_op("resume", "pausing deployments")(self, deployment_id)

    def find_deployment(self, name: str) -> Deployment | None:
        """The deployment whose vendor-side name is ``name`` (dedupe after a lost answer)."""
        return self._deployments().find(self, name)

    def _deployment_op(self, op: str, feature: str) -> Any:
        found = getattr(self._deployments(), op, None)
        if found is None:
            raise self.unsupported(feature)
        return found

    def _deployments(self) -> Any:
        backend = _deployment_backend(self)
        if backend is None:
            raise self.unsupported("deployments", "It serves fine-tunes without one.")
        return backend

    # -- shared behaviour -----------------------------------------------------------------
    def map_status(self, raw: str | None) -> JobStatus:
        """Vendor status -> JobStatus; an unknown string is UNKNOWN, never an exception."""
        if raw is None:
            return JobStatus.UNKNOWN
        return self.STATUS_MAP.get(raw, JobStatus.UNKNOWN)

    def unsupported(self, feature: str, hint: str | None = None) -> UnsupportedFeatureError:
        """The error for an operation or field this provider lacks."""
        return UnsupportedFeatureError(self.name, feature, hint)

    def prepare(self, spec: JobSpec) -> JobSpec:
        """The one place a spec is checked and its options parsed, before anything is uploaded.

        Returns a copy that carries its typed options (``resolve_options`` hands them out
        without parsing again; ``options`` stays as written) and its preflight warnings
        (``spec.preflight_warnings``); ``create_job`` and every later step take it as it is.
        A spec this provider prepared already comes back unchanged.
        """
        if spec._prepared_for == self.name:
            return spec
        prepared = spec.model_copy()
        prepared._typed_options = (spec.options, self.resolve_options(spec))  # the only parse
        warned = self.preflight(prepared)
        prepared._prepared_for = self.name
        prepared._warnings = tuple(warned)
        return prepared

    def is_prepared(self, spec: JobSpec) -> bool:
        """Whether ``prepare`` checked ``spec`` for this provider (adapters skip their checks)."""
        return spec._prepared_for == self.name

    def preflight(self, spec: JobSpec) -> list[str]:
        """Check a spec against Capabilities before anything is uploaded.

        Raises UnsupportedFeatureError / ConfigurationError; returns warnings (strict=False).
        """
        caps = self.capabilities
        found: list[str] = []
        if spec.method not in caps.methods:
            raise self.unsupported(f"method={spec.method!r}", f"Supported: {sorted(caps.methods)}.")
        if spec.validation_file is not None and not caps.validation_file:
            found.append("a validation file")
        for name in spec.hyperparameters.set_fields():
            if name not in caps.hyperparameters:
                found.append(f"the hyperparameter {name!r}")
        hint = f"Supported hyperparameters: {sorted(caps.hyperparameters)}."
        messages: list[str] = []
        for what in found:
            if spec.strict:
                raise self.unsupported(what, hint + " Pass strict=False to ignore such fields.")
            message = f"{self.name} ignores {what}"
            warnings.warn(message, PreflightWarning, stacklevel=3)
            messages.append(message)
        self.resolve_options(spec)
        messages.extend(self.check_spec(spec))
        return messages

    def check_spec(self, spec: JobSpec) -> list[str]:
        """Vendor-specific checks (sunsets, enums, model lists); returns warnings."""
        return []

    def resolve_options(self, spec: JobSpec) -> Any:
        """``spec.options`` as this provider's typed options model (defaults when absent);
        parsed once by ``prepare``, handed out as parsed afterwards."""
        cached = spec._typed_options
        if cached is not None and cached[0] is spec.options:  # same object: not replaced since
            return cached[1]
        if self.options_type is None:
            if spec.options:
                raise ConfigurationError(f"{self.name} takes no options; got {spec.options!r}")
            return None
        raw = spec.options
        if raw is None:
            return self.options_type()
        if isinstance(raw, self.options_type):
            return raw
        if isinstance(raw, ProviderOptions):
            raise ConfigurationError(
                f"{self.name} expects {self.options_type.__name__} in JobSpec.options,"
                f" got {type(raw).__name__}"
            )
        try:
            return self.options_type.model_validate(raw)
        except ValidationError as exc:
            from .types import describe_validation_error

            raise ConfigurationError(describe_validation_error(
                exc, f"{self.name} options", {(): set(self.options_type.model_fields)})) from None

    def poll_interval(self) -> float:
        """Seconds between polls when the server gives no hint."""
        return self.capabilities.default_poll_interval

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _deployment_backend(provider: Provider) -> Any:
    from .deployments.backends import backend_for

    return backend_for(provider)
