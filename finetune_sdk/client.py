"""``Client``: pick a provider by name, then datasets / jobs / models.

```python
from finetune_sdk import Client
client = Client("fake")           # or "openai", "fireworks", "together", "bedrock", "azure-openai",
                                  # "gemini", "huggingface", "local" (`finetune providers`)
job = client.jobs.run(base_model="base", training_file="chats.jsonl")
print(client.models.resolve(job).id)
```

Every job goes through the ledger (intent before create, vendor id after), so a crashed process
can reattach with ``Client.for_job(job_id)`` or ``finetune wait <id>``. The awaitable twin,
``AsyncClient``, is in ``async_client.py``.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from . import lifecycle
from .errors import ConfigurationError, DatasetValidationError, JobError, LedgerError
from .ledger import Ledger
from .provider import Provider
from .registry import create_provider
from .retry import RetryPolicy
from .types import (
    Checkpoint,
    DatasetRef,
    Job,
    JobEvent,
    JobSpec,
    JobStatus,
    MetricPoint,
    ModelRef,
)

if TYPE_CHECKING:
    from .deployments import Deployment, DeploymentSpec

__all__ = ["Client"]

logger = logging.getLogger("finetune_sdk")

LedgerArg = Ledger | str | Path | Literal[False] | None


class Datasets:
    """``client.datasets``: upload training data (with the sensitive-data gate), wait for it."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def upload(
        self,
        path: str | Path,
        *,
        purpose: Literal["train", "validation"] = "train",
        sensitive: bool | None = None,
        allow_sensitive: bool = False,
        wait: bool = True,
        timeout: float | None = None,
        poll_interval: float | None = None,
    ) -> DatasetRef:
        """Upload a JSONL file. Refuses unscrubbed sensitive data for hosted providers.

        Returns once the vendor has processed it (``status="ready"``; see ``wait``).
        ``wait=False`` returns as soon as the bytes are sent, ``status`` maybe ``"processing"``.
        """
        ref = self._start(path, purpose=purpose, sensitive=sensitive,
                          allow_sensitive=allow_sensitive)
        return self.wait(ref, timeout=timeout, poll_interval=poll_interval) if wait else ref

    def wait(
        self, ref: DatasetRef, *, timeout: float | None = None, poll_interval: float | None = None
    ) -> DatasetRef:
        """Poll until the vendor has processed ``ref``; returns it ``ready``.

        Raises DatasetError when the vendor rejects the file (it is deleted where the vendor
        bills storage), WaitTimeoutError (``.last``: the ref) after ``timeout`` seconds
        (default: the provider's ``dataset_wait_timeout``, else 600). ``poll_interval``: the
        first pause (default: the provider's ``dataset_poll_interval``, else 2 s; it grows).
        """
        return lifecycle.wait_for_dataset(self._client.provider, ref, timeout=timeout,
                                          poll_interval=poll_interval)

    def _start(self, path: str | Path, *, purpose: Literal["train", "validation"],
               sensitive: bool | None, allow_sensitive: bool) -> DatasetRef:
        """The gate, then the upload without the wait (shared with AsyncDatasets)."""
        from .data._lines import require_file
        from .data.privacy import check_upload_allowed

        file = require_file(path)
        provider = self._client.provider
        check_upload_allowed(
            file,
            provider=provider.name,
            hosted=provider.capabilities.hosted,
            sensitive=sensitive,
            allow_sensitive=allow_sensitive,
        )
        return lifecycle.start_upload(provider, file, purpose=purpose)


class Jobs:
    """``client.jobs``: create, watch and control fine-tuning jobs."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _provider(self) -> Provider:
        return self._client.provider

    def _record(self, job: Job) -> Job:
        if self._client.ledger is not None:
            self._client.ledger.update(job)
        return job

    def create(
        self, spec: JobSpec | None = None, *, new: bool = False, validate: bool = True,
        **fields: Any,
    ) -> Job:
        """Create the job for this intent at most once, and return it.

        The intent key (``client_ref``) is derived from what is asked (provider, base model, the
        data's content, method, hyperparameters, output name, options) unless given, so running
        the same call again attaches to the job it already started: nothing is uploaded or paid
        twice. ``new=True`` asks for a deliberate second job. Local files are validated with
        the provider's rules first (``validate=False`` skips it), then preflight and the budget
        check run, and the uploads happen only once the intent is ours (see lifecycle).
        """
        from .intent import with_intent_key

        spec = with_intent_key(self._provider.name, _as_spec(spec, fields), new=new)
        ledger = self._client.ledger
        if ledger is not None:
            row = ledger.get(spec.client_ref)
            if row is not None and row.job_id:
                logger.info("intent %s already has job %s: attaching", spec.client_ref,
                            row.job_id)
                return self.get(row.job_id)
        self._provider.preflight(spec)
        if validate:
            self._validate_local_files(spec)
        if spec.max_usd is not None:
            from .cost import enforce_budget

            local = spec.training_file if isinstance(spec.training_file, (str, Path)) else None
            enforce_budget(spec, self._provider.name, Path(local) if local else None)
        return self._record(lifecycle.create_job(
            self._provider, spec, ledger=ledger, prepare=self._upload_local_files))

    def _upload_local_files(self, spec: JobSpec) -> JobSpec:
        updates: dict[str, Any] = {}
        files: tuple[tuple[str, Literal["train", "validation"]], ...] = (
            ("training_file", "train"), ("validation_file", "validation"))
        for name, purpose in files:
            value = getattr(spec, name)
            if isinstance(value, (str, Path)):
                updates[name] = self._client.datasets.upload(
                    value, purpose=purpose, allow_sensitive=spec.allow_sensitive
                )
            elif isinstance(value, DatasetRef) and value.status == "processing":
                # From upload(wait=False): vendors refuse a job on data they have not checked.
                updates[name] = self._client.datasets.wait(value)
        return spec.model_copy(update=updates) if updates else spec

    def _validate_local_files(self, spec: JobSpec) -> None:
        """Refuse data ``finetune validate -p <provider>`` would refuse, before any upload."""
        from .data.validate import validate_file

        train = spec.training_file
        if not isinstance(train, (str, Path)):
            return
        extra = spec.validation_file
        report = validate_file(
            train, provider=self._provider.name, base_model=spec.base_model,
            validation_path=extra if isinstance(extra, (str, Path)) else None,
        )
        if not report.ok:
            errors = report.errors
            shown = "; ".join(str(f) for f in errors[:3])
            more = f" (+{report.error_count - 3} more)" if report.error_count > 3 else ""
            raise DatasetValidationError(
                f"{report.error_count} error(s) in the data, nothing was uploaded: {shown}{more}."
                f" Fix them (`finetune validate {train} -p {self._provider.name}`) or pass"
                " validate=False", errors, file=str(train))

    def get(self, job_id: str) -> Job:
        """The job now (and the ledger row refreshed)."""
        return self._record(self._provider.get_job(job_id))

    def list(self, *, limit: int | None = None, all_providers: bool = False) -> Iterator[Job]:
        """Jobs of this provider (live), or with ``all_providers=True`` every job in the ledger."""
        if not all_providers:
            yield from self._provider.list_jobs(limit=limit)
            return
        if self._client.ledger is None:
            raise ConfigurationError("all_providers=True reads the ledger, which is disabled")
        for row in self._client.ledger.list(limit=limit):
            if row.job_id:
                yield row.to_job()

    def cancel(self, job_id: str) -> Job:
        """Ask the provider to stop the job."""
        return self._record(self._provider.cancel_job(job_id))

    def pause(self, job_id: str) -> Job:
        """Pause a running job (providers with pause/resume)."""
        return self._record(self._provider.pause_job(job_id))

    def resume(self, job_id: str) -> Job:
        """Resume a paused job."""
        return self._record(self._provider.resume_job(job_id))

    def events(self, job_id: str, *, limit: int | None = None) -> Iterator[JobEvent]:
        """The job's event log, oldest first."""
        return self._provider.list_events(job_id, limit=limit)

    def metrics(self, job_id: str) -> builtins.list[MetricPoint]:
        """The loss curve and other metrics reported so far."""
        from .display import MetricSeries

        return MetricSeries(self._provider.get_metrics(job_id))

    def checkpoints(self, job_id: str) -> builtins.list[Checkpoint]:
        """Intermediate checkpoints."""
        return self._provider.list_checkpoints(job_id)

    def wait(
        self,
        job: Job | str,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        on_update: Callable[[Job], None] | None = None,
        progress: bool | None = None,
    ) -> Job:
        """Poll until the job finishes and return it, whatever the outcome.

        Raises WaitTimeoutError (with ``.last``) after ``timeout`` seconds. ``progress=None``
        shows a progress bar only when stderr is a terminal.
        """
        from .progress import job_progress

        job_id = job.id if isinstance(job, Job) else job
        with job_progress(job_id, enabled=progress) as show:
            final = lifecycle.wait_for_job(
                self._provider,
                job_id,
                timeout=timeout,
                poll_interval=poll_interval,
                on_update=_chain(self._record, show, on_update),
            )
        return self._record(final)

    def run(
        self,
        spec: JobSpec | None = None,
        *,
        timeout: float | None = None,
        poll_interval: float | None = None,
        on_update: Callable[[Job], None] | None = None,
        progress: bool | None = None,
        new: bool = False,
        validate: bool = True,
        **fields: Any,
    ) -> Job:
        """Create (see ``create``), wait, and raise JobFailedError / JobCancelledError unless it
        succeeded. Run again after a crash, it attaches to the job the first run started."""
        job = self.create(spec, new=new, validate=validate, **fields)
        final = self.wait(
            job, timeout=timeout, poll_interval=poll_interval, on_update=on_update,
            progress=progress,
        )
        return final.raise_for_status()


class Models:
    """``client.models``: the servable model of a finished job."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def resolve(self, job: Job | str) -> ModelRef:
        """ModelRef of a succeeded job; says whether it needs a deployment before inference."""
        current = self._client.jobs.get(job) if isinstance(job, str) else job
        current.raise_for_status()
        if current.status is not JobStatus.SUCCEEDED:
            raise JobError(
                f"{current.provider} job {current.id} has not finished (status"
                f" {current.status.value}); wait for it first",
                current,
            )
        return self._client.provider.resolve_model(current)

    def deploy(self, model: ModelRef | Job | str, spec: DeploymentSpec | None = None, *,
               wait: bool = False, timeout: float | None = None, new: bool = False,
               **fields: Any) -> Deployment:
        """Serve ``model`` (ModelRef, Job, job or model id), at most once per intent (provider
        + model + spec; ``new=True`` for a second): the ledger row comes before the create.
        Billed while it exists; serverless providers answer at once. ``fields``: DeploymentSpec
        fields. Returns at once (``wait=True``: once ready). See docs/serving.md."""
        from .deployments import api

        return api.deploy(self._client, model, spec, wait=wait, timeout=timeout, new=new,
                          **fields)

    def wait_ready(self, deployment: Deployment, *, timeout: float | None = None,
                   poll_interval: float | None = None) -> Deployment:
        """Poll until it serves; DeploymentError if it failed, WaitTimeoutError after
        ``timeout`` s (default 30 min)."""
        from .deployments import api

        return api.wait_ready(self._client, deployment, timeout=timeout,
                              poll_interval=poll_interval)

    def undeploy(self, deployment: Deployment | str, *, wait: bool = False) -> Deployment:
        """Delete it (the bill stops); ``wait=True`` polls until it is gone. Idempotent."""
        from .deployments import api

        return api.undeploy(self._client, deployment, wait=wait)

    def list_deployments(self, *, all_providers: bool = False,
                         live: bool = True) -> list[Deployment]:
        """This provider's deployments, or the ledger's of every provider (``all_providers``)."""
        from .deployments import api

        return api.list_deployments(self._client, all_providers=all_providers, live=live)


class Client:
    """One provider, plus the ledger, behind ``datasets`` / ``jobs`` / ``models``."""

    def __init__(
        self,
        provider: str | Provider = "fake",
        *,
        ledger: LedgerArg = None,
        retry: RetryPolicy | None = None,
        **credentials: Any,
    ) -> None:
        """Args:
        provider: a registered name ("openai", "local", ...) or a Provider instance.
        ledger: None for the default ledger file, a path, a Ledger, or False for none.
        retry: the retry policy for the provider's API calls.
        credentials: the adapter's keyword arguments (api_key=..., project=..., ...).
        """
        if isinstance(provider, Provider):
            if credentials or retry is not None:
                raise ConfigurationError("pass credentials/retry to the Provider, not the Client")
            self.provider = provider
        else:
            if retry is not None:
                credentials["retry"] = retry
            self.provider = create_provider(provider, **credentials)
        self.ledger: Ledger | None = _open_ledger(ledger)
        self.datasets = Datasets(self)
        self.jobs = Jobs(self)
        self.models = Models(self)

    @classmethod
    def for_job(cls, job_id: str, *, ledger: LedgerArg = None, **credentials: Any) -> Client:
        """A client for the provider that ran ``job_id``, found in the ledger (reattach)."""
        opened = _open_ledger(ledger)
        if opened is None:
            raise ConfigurationError("for_job() needs the ledger")
        row = opened.find_job(job_id)
        if row is None:
            raise LedgerError(
                f"job {job_id} is not in the ledger at {opened.path}; pass --provider to look it up"
            )
        return cls(row.provider, ledger=opened, **credentials)

    def migrate(self, source: str, to: Sequence[Any], **options: Any) -> Any:
        """Move the fine-tune ``source`` to the providers ``to`` (``"fireworks"``,
        ``"local:MODEL"``...): plan, train, compare with the source, one report. This client's
        ledger and provider are used. Options: ``finetune_sdk.migrate.migrate``."""
        from .migrate import migrate

        options.setdefault("ledger", self.ledger if self.ledger is not None else False)
        options.setdefault("clients", {self.provider.name: self})
        return migrate(source, to, **options)

    def bakeoff(self, dataset: str | Path, targets: Sequence[Any], **options: Any) -> Any:
        """Train ``dataset`` on every target in parallel and compare them on one held-out set
        (resumable; one report). Options: ``finetune_sdk.bakeoff.bakeoff``."""
        from .bakeoff import bakeoff

        options.setdefault("ledger", self.ledger if self.ledger is not None else False)
        options.setdefault("clients", {self.provider.name: self})
        return bakeoff(dataset, targets, **options)

    def close(self) -> None:
        """Release the provider's connections."""
        self.provider.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(provider={self.provider!r})"


def _open_ledger(ledger: LedgerArg) -> Ledger | None:
    if ledger is False:
        return None
    if isinstance(ledger, Ledger):
        return ledger
    return Ledger(ledger)


def _as_spec(spec: JobSpec | None, fields: dict[str, Any]) -> JobSpec:
    from pydantic import ValidationError

    if spec is not None and not fields:
        return spec
    # Only the fields the caller set travel: a copied default client_ref would look chosen.
    given = {k: getattr(spec, k) for k in spec.model_fields_set} if spec is not None else {}
    try:
        return JobSpec(**{**given, **fields})
    except ValidationError as exc:
        from .types import Hyperparameters, describe_validation_error

        names = {(): set(JobSpec.model_fields),
                 ("hyperparameters",): set(Hyperparameters.model_fields)}
        raise ConfigurationError(describe_validation_error(exc, "job spec", names)) from None


def _chain(*callbacks: Callable[[Job], Any] | None) -> Callable[[Job], None]:
    def call(job: Job) -> None:
        for callback in callbacks:
            if callback is not None:
                callback(job)

    return call
