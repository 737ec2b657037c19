"""``client.models.deploy / wait_ready / undeploy / list_deployments``, written once here so the
``Client`` facade stays a list of one-line methods.

Every deployment the SDK creates is a row in the client's ledger (``store.py``), written before
the create; a ``Client(ledger=False)`` still deploys at most once per call, but nothing remembers
it for ``finetune deployments`` (a warning says so).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, LedgerError
from ..types import Job, ModelRef
from . import lifecycle
from .model import Deployment, DeploymentSpec, DeploymentStatus
from .store import DeploymentStore

if TYPE_CHECKING:
    from ..client import Client
    from ..ledger import Ledger

__all__ = ["deploy", "list_deployments", "note_use", "store_of", "undeploy", "wait_ready"]

logger = logging.getLogger("finetune_sdk")


def store_of(ledger: Ledger | None) -> DeploymentStore | None:
    """The deployments table of ``ledger`` (None without a ledger)."""
    return DeploymentStore(ledger) if ledger is not None else None


def _tagged(client: Client, deployment: Deployment) -> Deployment:
    """``deployment`` knowing the client's ledger (where a chat through it is noted)."""
    deployment._ledger = client.ledger
    return deployment


def _model_ref(client: Client, model: ModelRef | Job | str) -> ModelRef:
    if isinstance(model, ModelRef):
        return model
    if isinstance(model, Job):
        return client.models.resolve(model)
    ledger = client.ledger
    if ledger is not None and ledger.find_job(model, client.provider.name) is not None:
        return client.models.resolve(model)
    caps = client.provider.capabilities
    return ModelRef(id=model, provider=client.provider.name,
                    ready_for_inference=not caps.needs_deployment,
                    needs_deployment=caps.needs_deployment)


def deploy(client: Client, model: ModelRef | Job | str, spec: DeploymentSpec | None = None, *,
           wait: bool = False, timeout: float | None = None, new: bool = False,
           **fields: Any) -> Deployment:
    """See ``Models.deploy``."""
    from pydantic import ValidationError

    ref = _model_ref(client, model)
    if ref.provider != client.provider.name:
        raise ConfigurationError(f"model {ref.id} belongs to {ref.provider}, not"
                                 f" {client.provider.name}")
    try:
        given = spec.model_dump(exclude_unset=True) if spec is not None else {}
        spec = DeploymentSpec(**{**given, **fields})
    except ValidationError as exc:
        from ..types import describe_validation_error

        raise ConfigurationError(describe_validation_error(
            exc, "deployment spec", {(): set(DeploymentSpec.model_fields)})) from None
    store = store_of(client.ledger)
    if store is None and client.provider.tracks_deployments:
        logger.warning("deploying without a ledger: `finetune deployments` will not list it;"
                       " keep its id to tear it down")
    created = lifecycle.create_deployment(client.provider, ref, spec, store=store, new=new)
    if created.price_per_hour:
        logger.warning("%s deployment %s is billed about $%.2f/h while it exists (price of %s);"
                       " tear it down with client.models.undeploy or `finetune undeploy %s`",
                       created.provider, created.id, created.price_per_hour,
                       created.price_date or "unknown date", created.id)
    return wait_ready(client, created, timeout=timeout) if wait else _tagged(client, created)


def wait_ready(client: Client, deployment: Deployment, *, timeout: float | None = None,
               poll_interval: float | None = None,
               on_update: Callable[[Deployment], None] | None = None) -> Deployment:
    """See ``Models.wait_ready``."""
    store = store_of(client.ledger)

    def record(dep: Deployment) -> None:
        if store is not None:
            store.update(dep)
        if on_update is not None:
            on_update(dep)

    try:
        final = lifecycle.wait_ready(client.provider, deployment, timeout=timeout,
                                     poll_interval=poll_interval, on_update=record)
    except Exception as exc:
        last = getattr(exc, "deployment", None) or getattr(exc, "last", None)
        if store is not None and isinstance(last, Deployment):
            store.update(last)
        raise
    record(final)
    return _tagged(client, final)


def undeploy(client: Client, deployment: Deployment | str, *, wait: bool = False,
             timeout: float | None = 600.0) -> Deployment:
    """See ``Models.undeploy``."""
    store = store_of(client.ledger)
    ident = deployment.id if isinstance(deployment, Deployment) else deployment
    if isinstance(deployment, Deployment) and deployment.serverless:
        return deployment  # nothing was created: nothing to tear down
    row = store.find(ident, client.provider.name) if store is not None else None
    if row is not None and not row.deployment_id:
        raise ConfigurationError(
            f"deployment intent {row.intent_key} has no vendor id yet (status {row.status});"
            " look it up with `finetune deployments --refresh` first")
    target = row.deployment_id if row is not None and row.deployment_id else ident
    final = lifecycle.delete_deployment(client.provider, target, wait=wait, timeout=timeout)
    if store is not None:
        store.update(final)
    return final


def list_deployments(client: Client, *, all_providers: bool = False,
                     live: bool = True) -> list[Deployment]:
    """See ``Models.list_deployments``."""
    store = store_of(client.ledger)
    if all_providers:
        if store is None:
            raise ConfigurationError("all_providers=True reads the ledger, which is disabled")
        return [_tagged(client, r.to_deployment()) for r in store.list(live=live)]
    found = list(client.provider.list_deployments())
    if store is not None:
        for dep in found:
            store.update(dep)
    return [_tagged(client, d) for d in found if d.status.is_live or not live]


# -- usage, for the idle warning -----------------------------------------------------------
_last_noted: dict[tuple[str, str], float] = {}
_note_lock = threading.Lock()
NOTE_EVERY_S = 60.0
"""An evaluation chats hundreds of times: the ledger hears of it at most once a minute."""


def note_use(deployment: Deployment) -> None:
    """Best effort: stamp ``last_used_at`` in the default ledger (never fails the chat)."""
    if deployment.serverless or deployment.status is DeploymentStatus.DELETED:
        return
    key = (deployment.provider, deployment.id)
    with _note_lock:
        if time.monotonic() - _last_noted.get(key, -NOTE_EVERY_S) < NOTE_EVERY_S:
            return
        _last_noted[key] = time.monotonic()
    try:
        from ..ledger import Ledger

        DeploymentStore(deployment._ledger or Ledger()).mark_used(*key)
    except (LedgerError, ConfigurationError, OSError) as exc:
        logger.debug("could not note the use of %s: %s", deployment.id, exc)
