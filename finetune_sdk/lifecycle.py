"""Behaviour shared by every provider, written once: safe create (dedupe), and every wait.

The create path is where paid jobs get duplicated, so it follows three rules: one process owns an
intent at a time (an atomic ledger claim); a create is sent again only when it surely never
arrived, or when the vendor dedupes by a client-chosen id; after an ambiguous failure the job is
looked up over a bounded window, and if it is still not seen the call stops with
CreateOutcomeUnknownError (``finetune reconcile`` settles it) instead of paying twice.

Waiting (a job until it ends, a dataset until the vendor has processed it) is the lifecycle's
too, never an adapter's: it lives in ``waits.py`` and is re-exported here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from . import _cancel
from .errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    CreateOutcomeUnknownError,
    FinetuneError,
    IntentBusyError,
    RateLimitError,
)
from .types import Job, JobSpec
from .waits import (
    MAX_POLL_INTERVAL,
    DatasetWaitState,
    WaitState,
    dataset_wait_state,
    discard_dataset,
    refresh_dataset,
    settle_dataset,
    start_upload,
    wait_for_dataset,
    wait_for_job,
    wait_until,
)

if TYPE_CHECKING:
    from .ledger import Ledger
    from .provider import Provider

# The waits' names are re-exported: the lifecycle is one place to import from.
__all__ = ["MAX_POLL_INTERVAL", "DatasetWaitState", "WaitState", "classify_create_failure",
           "create_job", "dataset_wait_state", "discard_dataset", "refresh_dataset",
           "settle_dataset", "start_upload", "wait_for_dataset", "wait_for_job", "wait_until"]

logger = logging.getLogger("finetune_sdk")

CLAIM_POLL_S = 0.2
"""How often a process waiting on another's claim looks at the ledger again."""
DEFAULT_CLAIM_WAIT_S = 600.0
"""How long to wait for a live owner of the same intent before IntentBusyError."""


def classify_create_failure(exc: BaseException) -> str:
    """``not_sent`` (safe to send again), ``refused``, ``ambiguous`` (the job may exist) or
    ``final``.

    Not sent: the connection never opened, or the server refused before any work (408, 429).
    Refused: a 503 (overloaded): almost always before any work, but a gateway may send it after
    the vendor acted, so the job is looked up once before the create is sent again. Ambiguous:
    no complete answer after sending (read timeout, dropped connection), a 500, 502 or 504, or a
    2xx we cannot parse. Anything else (400, 401, 403, 404, 409, 422) is final.
    """
    if isinstance(exc, APITimeoutError):
        return "ambiguous"
    if isinstance(exc, (APIConnectionError, RateLimitError)):
        return "not_sent"
    if isinstance(exc, APIResponseValidationError):
        return "ambiguous"
    if isinstance(exc, APIStatusError):
        if exc.status_code in (408, 429):
            return "not_sent"
        if exc.status_code == 503:
            return "refused"
        if exc.status_code >= 500:
            return "ambiguous"
    return "final"


def create_job(
    provider: Provider,
    spec: JobSpec,
    *,
    ledger: Ledger | None = None,
    prepare: Callable[[JobSpec], JobSpec] | None = None,
    claim_wait: float = DEFAULT_CLAIM_WAIT_S,
) -> Job:
    """Create the job for ``spec`` at most once per intent (``spec.client_ref``).

    With a ledger the intent is claimed atomically first: a row with a vendor id is returned
    as is (nothing uploaded, nothing sent); a live owner elsewhere is waited for; a dead
    owner's claim is taken over, looking the job up first when its create may have left.
    ``prepare`` (the uploads) runs only once the intent is ours. See ``classify_create_failure``
    for what happens after a failed send. An unprepared spec is prepared first
    (``Provider.prepare``: preflight and the one parse of its options).
    """
    spec = provider.prepare(spec)
    if ledger is None:
        return _send(provider, prepare(spec) if prepare else spec, None, None)
    from .intent import owner_token

    owner = owner_token()
    deadline = time.monotonic() + claim_wait
    while True:
        claim = ledger.claim(provider.name, spec, owner=owner)
        if claim.kind == "attached":
            assert claim.row is not None and claim.row.job_id
            logger.info("intent %s already has job %s: attaching", spec.client_ref,
                        claim.row.job_id)
            return provider.get_job(claim.row.job_id)
        if claim.kind != "busy":
            break
        if time.monotonic() >= deadline:
            raise IntentBusyError(
                f"another process ({claim.row.owner if claim.row else '?'}) has been creating"
                f" the job for intent {spec.client_ref} for over {claim_wait:.0f} s; wait for"
                " it, or check `finetune list`", client_ref=spec.client_ref)
        _cancel.sleep(CLAIM_POLL_S)
    if claim.maybe_sent:
        # An earlier create for this intent may have reached the vendor: find it before
        # sending anything, and never send blind when the vendor cannot dedupe.
        found = _look_up(provider, spec.client_ref)
        if found is not None:
            return _attach(provider, ledger, spec.client_ref, found)
        if claim.kind == "in_doubt" or not provider.capabilities.client_chosen_ids:
            _give_up_unknown(provider, ledger, spec.client_ref, "an earlier create")
    try:
        prepared = prepare(spec) if prepare else spec
    except BaseException as exc:
        ledger.set_state(spec.client_ref, "create_failed", error=_short(exc), release=True)
        raise
    return _send(provider, prepared, ledger, owner)


def _send(provider: Provider, spec: JobSpec, ledger: Ledger | None, owner: str | None) -> Job:
    policy = provider.retry
    # Resending is safe only where the vendor dedupes by an id we chose.
    idempotent = provider.capabilities.client_chosen_ids
    ref = spec.client_ref
    attempt = 0
    while True:
        attempt += 1
        if ledger is not None and not ledger.set_state(ref, "sending", owner=owner):
            # Our claim lapsed (a lease that ran out on a shared ledger) and another worker
            # owns the intent now: sending too could pay twice.
            raise IntentBusyError(
                f"the claim on intent {ref} was taken over by another process before the create"
                " was sent; nothing was sent. Run the call again to attach to its job",
                client_ref=ref)
        try:
            job = provider.create_job(spec)
        except Exception as exc:
            kind = classify_create_failure(exc)
            if kind == "refused" and not idempotent:
                found = _look_up(provider, ref, once=True)
                if found is not None:
                    return _attach(provider, ledger, ref, found)
            if kind == "ambiguous" and not idempotent:
                found = _look_up(provider, ref)
                if found is not None:
                    return _attach(provider, ledger, ref, found)
                if ledger is None:
                    raise
                _give_up_unknown(provider, ledger, ref, "the create", exc)
            retry = kind != "final" and attempt < policy.max_attempts
            if not retry:
                if kind == "ambiguous":  # idempotent vendor, attempts spent: look once more
                    found = _look_up(provider, ref, once=True)
                    if found is not None:
                        return _attach(provider, ledger, ref, found)
                if ledger is not None:
                    ledger.set_state(ref, "create_failed", error=_short(exc), release=True)
                raise
            if ledger is not None:
                ledger.set_state(ref, "creating")
            policy.sleep(policy.delay_for(exc, attempt))
            continue
        return _attach(provider, ledger, ref, job)


def _look_up(provider: Provider, client_ref: str, *, once: bool = False) -> Job | None:
    """``find_job`` over the policy's lookup window (a vendor may list a new job late)."""
    delays = [0.0] if once else provider.retry.lookup_delays()
    for delay in delays:
        if delay:
            provider.retry.sleep(delay)
        try:
            found = provider.find_job(client_ref)
        except FinetuneError as exc:  # a failed lookup is "not seen yet", never "absent"
            logger.info("lookup of intent %s failed: %s", client_ref, exc)
            continue
        if found is not None:
            return found
    return None


def _attach(provider: Provider, ledger: Ledger | None, client_ref: str, job: Job) -> Job:
    if ledger is None:
        return job
    stored = ledger.attach(client_ref, job)
    # The first id stored for an intent wins; a different one here would be a second job.
    return job if stored == job.id else provider.get_job(stored)


def _give_up_unknown(provider: Provider, ledger: Ledger, client_ref: str, what: str,
                     exc: BaseException | None = None) -> NoReturn:
    window = provider.retry.lookup_window
    reason = f" ({_short(exc)})" if exc is not None else ""
    message = (
        f"{what} for intent {client_ref} on {provider.name} may have created a job{reason}, and"
        f" no lookup over {window:.0f} s found it. Nothing was sent again, to avoid paying"
        f" twice. Run `finetune reconcile` (or this call again later) to attach the job or"
        f" confirm it was never made."
    )
    ledger.set_state(client_ref, "unknown", error=message, release=True)
    raise CreateOutcomeUnknownError(message, provider=provider.name, client_ref=client_ref)


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
