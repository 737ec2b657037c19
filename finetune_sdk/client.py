"""``Client``: pick a provider by name, then datasets / jobs / models.

```python
from finetune_sdk import Client
client = Client("fake")           # or "openai", "fireworks", "together", "bedrock", "azure-openai",
                                  # "gemini", "huggingface", "local" (`finetune providers`)
job = client.jobs.run(base_model="base", training_file="chats.jsonl")
print(client.models.resolve(job).id)
```

Every job goes through the ledger (intent before create, vendor id after), so a crashed process
can reattach with ``Client.for_job(job_id)`` or ``finetune wait <id>``. ``client.jobs`` (the
``Jobs`` namespace) lives in ``client_jobs.py``; the awaitable twin, ``AsyncClient``, is in
``async_client.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from . import lifecycle
from .client_jobs import Jobs
from .errors import ConfigurationError, JobError, LedgerError
from .ledger import Ledger
from .provider import Provider
from .registry import create_provider
from .retry import RetryPolicy
from .types import DatasetRef, Job, JobStatus, ModelRef

if TYPE_CHECKING:
    from .deployments import Deployment, DeploymentSpec

__all__ = ["Client", "Datasets", "Jobs", "Models"]

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
