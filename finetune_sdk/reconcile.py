"""Settle intents the ledger cannot vouch for: rows with no vendor job id.

A create that got no answer (timeout, 500, a crash mid-send) leaves its row ``sending`` or
``unknown``, and the lifecycle refuses to send it again rather than risk a second paid job.
``reconcile`` asks each row's provider for the job by its intent key: found -> the id is
attached; not found although the create is older than ``settle_after`` seconds (long past any
vendor's listing delay) -> the row is marked ``create_failed`` ("not created"), so the next run
of the same call sends it again. A row whose owner still runs is left alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .errors import FinetuneError
from .ledger import Ledger, LedgerRow
from .provider import Provider

__all__ = ["DEFAULT_SETTLE_S", "Reconciled", "reconcile"]

DEFAULT_SETTLE_S = 120.0
"""A create this old that no lookup finds is taken as never made."""


@dataclass(frozen=True)
class Reconciled:
    """What ``reconcile`` did with one row.

    outcome: ``attached`` (the job exists: ``job_id``), ``not_created`` (marked so the intent may
    be sent again), ``in_progress`` (a live process owns it), ``too_recent`` (not found yet, but
    younger than ``settle_after``: look again later), ``lookup_failed`` (the provider could not be
    asked: ``detail``), ``failed`` (the vendor refused the create earlier; nothing to do).
    """

    client_ref: str
    provider: str
    status: str
    outcome: str
    job_id: str | None = None
    detail: str = ""


def reconcile(
    ledger: Ledger,
    provider_for: Callable[[str], Provider],
    *,
    provider: str | None = None,
    settle_after: float = DEFAULT_SETTLE_S,
    dry_run: bool = False,
    clock: Callable[[], float] = time.time,
) -> list[Reconciled]:
    """Look up every pending row (of ``provider``, or all) and attach or release it."""
    providers: dict[str, Provider] = {}
    results = []
    for row in ledger.pending(provider=provider):
        if row.owner and _lease_holds(row, clock()):
            results.append(_result(row, "in_progress", detail=f"owned by {row.owner}"))
            continue
        if row.status == "create_failed":
            results.append(_result(row, "failed", detail=row.error or ""))
            continue
        try:
            adapter = providers.get(row.provider) or providers.setdefault(
                row.provider, provider_for(row.provider))
            found = adapter.find_job(row.client_ref)
        except FinetuneError as exc:
            results.append(_result(row, "lookup_failed", detail=str(exc)))
            continue
        if found is not None:
            job_id = found.id if dry_run else ledger.attach(row.client_ref, found)
            results.append(_result(row, "attached", job_id=job_id))
            continue
        age = clock() - _timestamp(row.updated_at)
        if age < settle_after:
            results.append(_result(row, "too_recent", detail=(
                f"not found yet; sent {age:.0f} s ago: look again after {settle_after:.0f} s")))
            continue
        if not dry_run:
            ledger.set_state(row.client_ref, "create_failed", release=True, error=(
                f"not created: no {row.provider} job carries this intent key"
                f" ({age:.0f} s after the create); the next run sends it again"))
        results.append(_result(row, "not_created"))
    return results


def _lease_holds(row: LedgerRow, now: float) -> bool:
    from .intent import token_alive

    alive = token_alive(row.owner or "")
    if alive is None:  # another host: only its lease can tell
        return row.lease_until is not None and row.lease_until > now
    return alive


def _timestamp(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return 0.0


def _result(row: LedgerRow, outcome: str, *, job_id: str | None = None,
            detail: str = "") -> Reconciled:
    return Reconciled(client_ref=row.client_ref, provider=row.provider, status=row.status,
                      outcome=outcome, job_id=job_id, detail=detail)
