"""``client.jobs``: create a fine-tuning job once per intent, watch and control it.

Split from ``client.py`` (which re-exports ``Jobs``); every job it sees is written to the
client's ledger, with the actual cost once the vendor reports the tokens it trained
(``cost.actual_cost``).
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from . import lifecycle
from .errors import ConfigurationError, DatasetValidationError
from .provider import Provider
from .types import Checkpoint, DatasetRef, Job, JobEvent, JobSpec, MetricPoint

if TYPE_CHECKING:
    from .client import Client
    from .cost import ActualCost

__all__ = ["Jobs"]

logger = logging.getLogger("finetune_sdk")


class Jobs:
    """``client.jobs``: create, watch and control fine-tuning jobs."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def _provider(self) -> Provider:
        return self._client.provider

    def _record(self, job: Job) -> Job:
        """Write the job to the ledger, with the actual cost its trained tokens imply."""
        ledger = self._client.ledger
        if ledger is not None:
            ledger.update(job, cost=_actual_cost(job))
        return job

    @contextmanager
    def _watching(self, job: Job | str, progress: bool | None,
                  on_update: Callable[[Job], None] | None
                  ) -> Iterator[tuple[str, Callable[[Job], None]]]:
        """(job id, what each poll calls: ledger, progress, the caller's hook) for a wait;
        shared with AsyncJobs.wait, which polls on the event loop instead."""
        from .progress import job_progress

        job_id = job.id if isinstance(job, Job) else job
        with job_progress(job_id, enabled=progress) as show:
            yield job_id, _chain(self._record, show, on_update)

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
        spec = self._provider.prepare(spec)  # options parsed and checked here, once
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
        with self._watching(job, progress, on_update) as (job_id, observe):
            final = lifecycle.wait_for_job(self._provider, job_id, timeout=timeout,
                                           poll_interval=poll_interval, on_update=observe)
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


def _actual_cost(job: Job) -> ActualCost | None:
    """``cost.actual_cost`` for a job with trained tokens; a broken price file must not stop
    the job from being recorded, so it only costs the figure (and a warning)."""
    if not job.trained_tokens:
        return None
    from .cost import actual_cost

    try:
        return actual_cost(job)
    except ConfigurationError as exc:
        logger.warning("actual cost of %s job %s not recorded: %s", job.provider, job.id, exc)
        return None


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
