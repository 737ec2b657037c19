"""Deploy at most once per intent, wait until ready, tear down: the rules jobs follow, for
deployments.

A deployment bills by the hour, so a duplicate is as costly as a duplicate job. The create is
claimed in the ledger first (``store.claim``: one owner per intent key, a dead owner's claim taken
over), the vendor-side name is derived from the key, and every backend sends its create keyed by
that name (a client-chosen id, an idempotency token, a PUT by name), so a create resent after an
ambiguous failure answers the same deployment. A dropped answer is looked up by name before
anything is sent again. Waiting is ours too (``wait_ready``; ``AsyncClient`` has its own loop).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import _cancel
from ..errors import FinetuneError, IntentBusyError, NotFoundError, WaitTimeoutError
from ..lifecycle import classify_create_failure
from ..types import ModelRef
from ..waits import _Polling
from .model import (
    Deployment,
    DeploymentSpec,
    DeploymentStatus,
    deployment_key,
    deployment_name,
)

if TYPE_CHECKING:
    from ..provider import Provider
    from .store import DeploymentStore

__all__ = ["DEFAULT_READY_TIMEOUT", "ReadyState", "create_deployment", "delete_deployment",
           "wait_ready"]

logger = logging.getLogger("finetune_sdk")

DEFAULT_READY_TIMEOUT = 1800.0
"""GPU deployments take minutes (a cold 70B takes tens): half an hour before giving up."""
CLAIM_POLL_S = 0.2


def create_deployment(provider: Provider, model: ModelRef, spec: DeploymentSpec, *,
                      store: DeploymentStore | None, new: bool = False,
                      claim_wait: float = 600.0) -> Deployment:
    """The deployment of ``model`` as ``spec`` asks, created at most once per intent."""
    if not provider.tracks_deployments:
        return provider.deploy(model, spec)  # serverless: nothing is created or billed
    key = deployment_key(provider.name, model.id, spec, new=new)
    spec = spec.model_copy(update={"name": deployment_name(key, spec)})
    if store is None:
        return _send(provider, model, spec, key, None, None)
    from ..intent import owner_token

    owner = owner_token()
    deadline = time.monotonic() + claim_wait
    while True:
        claim = store.claim(key, provider=provider.name, model=model.id, name=spec.name or "",
                            spec=spec, owner=owner)
        if claim.kind == "attached":
            assert claim.row is not None and claim.row.job_id
            logger.info("deployment intent %s already has %s: attaching", key, claim.row.job_id)
            found = provider.get_deployment(claim.row.job_id)
            store.update(found)
            return found
        if claim.kind != "busy":
            break
        if time.monotonic() >= deadline:
            raise IntentBusyError(f"another process has been creating deployment {spec.name}"
                                  f" for over {claim_wait:.0f} s; see `finetune deployments`",
                                  client_ref=key)
        _cancel.sleep(CLAIM_POLL_S)
    if claim.maybe_sent:  # an earlier create may have arrived: find it before sending
        earlier = _look_up(provider, spec.name or "")
        if earlier is not None:
            return _attach(provider, store, key, earlier)
    return _send(provider, model, spec, key, store, owner)


def _send(provider: Provider, model: ModelRef, spec: DeploymentSpec, key: str,
          store: DeploymentStore | None, owner: str | None) -> Deployment:
    policy = provider.retry
    attempt = 0
    while True:
        attempt += 1
        if store is not None and not store.set_state(key, "sending", owner=owner):
            raise IntentBusyError(f"the claim on deployment intent {key} was taken over by"
                                  " another process; nothing was sent", client_ref=key)
        try:
            created = provider.deploy(model, spec)
        except Exception as exc:
            kind = classify_create_failure(exc)
            if kind in ("ambiguous", "refused"):  # it may exist: look before sending again
                found = _look_up(provider, spec.name or "")
                if found is not None:
                    return _attach(provider, store, key, found)
            # Resending is safe: the create is keyed by our name (see the module docstring).
            if kind == "final" or attempt >= policy.max_attempts:
                if store is not None:
                    store.set_state(key, "create_failed", error=f"{type(exc).__name__}: {exc}"[
                        :500], release=True)
                raise
            if store is not None:
                store.set_state(key, "creating", owner=owner)
            policy.sleep(policy.delay_for(exc, attempt))
            continue
        return _attach(provider, store, key, created)


def _look_up(provider: Provider, name: str) -> Deployment | None:
    try:
        return provider.find_deployment(name)
    except FinetuneError as exc:  # a failed lookup is "not seen", never "absent"
        logger.info("lookup of deployment %s failed: %s", name, exc)
        return None


def _attach(provider: Provider, store: DeploymentStore | None, key: str,
            deployment: Deployment) -> Deployment:
    deployment = deployment.model_copy(update={"intent_key": key})
    if store is None:
        return deployment
    stored = store.attach(key, deployment)
    # The first id stored for an intent wins; another one here would be a second deployment.
    return deployment if stored == deployment.id else provider.get_deployment(stored)


class ReadyState(_Polling[Deployment]):
    """The polling rules of a deployment wait (sync and async loops): done once it is ready,
    failed, or gone; the vendor's ``poll_after`` wins over the backoff."""

    def _settled(self, item: Deployment) -> bool:
        return item.status in (DeploymentStatus.READY, DeploymentStatus.FAILED,
                               DeploymentStatus.DELETED, DeploymentStatus.PAUSED)

    def _key(self, item: Deployment) -> object:
        return item.status

    def _hint(self, item: Deployment) -> float | None:
        return item.poll_after

    def _timed_out(self, item: Deployment) -> str:
        return (f"{item.provider} deployment {item.id} still {item.status.value} when the wait"
                " timed out (it keeps starting, and may be billed: wait again, or undeploy it)")


def ready_state(provider: Provider, *, timeout: float | None, poll_interval: float | None,
                on_update: Callable[[Deployment], None] | None = None) -> ReadyState:
    """The polling rules for one wait; None picks the provider's pace (its
    ``deployment_poll_interval``, else its job poll interval) and half an hour."""
    interval = poll_interval if poll_interval is not None else getattr(
        provider, "deployment_poll_interval", None) or provider.poll_interval()
    return ReadyState(interval=interval, timeout=DEFAULT_READY_TIMEOUT if timeout is None
                      else timeout, max_interval=max(30.0, interval), on_update=on_update)


def settle(deployment: Deployment) -> Deployment:
    """The end of a wait: a failed or deleted deployment raises, anything else is returned."""
    deployment.raise_for_status()
    if deployment.status is DeploymentStatus.DELETED:
        from .model import DeploymentError

        raise DeploymentError(f"{deployment.provider} deployment {deployment.id} was deleted",
                              deployment)
    return deployment


def wait_ready(provider: Provider, deployment: Deployment, *, timeout: float | None = None,
               poll_interval: float | None = None,
               on_update: Callable[[Deployment], None] | None = None,
               sleep: Callable[[float], None] = _cancel.sleep) -> Deployment:
    """Poll until ``deployment`` is ready; DeploymentError when it fails, WaitTimeoutError
    (``.last``) after ``timeout`` seconds (default 30 min)."""
    if deployment.serverless:
        return deployment
    state = ready_state(provider, timeout=timeout, poll_interval=poll_interval,
                        on_update=on_update)
    current = deployment
    while (delay := state.observe(current)) is not None:
        sleep(delay)
        current = provider.get_deployment(current.id).model_copy(
            update={"intent_key": deployment.intent_key})
    return settle(current)


def delete_deployment(provider: Provider, deployment_id: str, *, wait: bool = False,
                      timeout: float | None = 600.0,
                      sleep: Callable[[float], None] = _cancel.sleep) -> Deployment:
    """Ask the vendor to delete it; ``wait``: poll until it is gone. One already gone (404) is
    reported as deleted: tearing down twice is not an error."""
    try:
        current = provider.delete_deployment(deployment_id)
    except NotFoundError:
        return _gone(provider, deployment_id)
    if not wait or current.status is DeploymentStatus.DELETED:
        return current
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 1.0
    while current.status is not DeploymentStatus.DELETED:
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeoutError(f"{provider.name} deployment {deployment_id} still"
                                   f" {current.status.value} after {timeout:.0f} s", current)
        sleep(delay)
        delay = min(delay * 1.5, 15.0)
        try:
            current = provider.get_deployment(deployment_id)
        except NotFoundError:
            return _gone(provider, deployment_id, current)
    return current


def _gone(provider: Provider, deployment_id: str,
          last: Deployment | None = None) -> Deployment:
    if last is not None:
        return last.model_copy(update={"status": DeploymentStatus.DELETED})
    return Deployment(id=deployment_id, provider=provider.name, status=DeploymentStatus.DELETED,
                      model="", endpoint="")
