"""Run the planned targets in parallel, each provider under its concurrency cap, resumably.

Every target is one thread: create (through ``client.jobs.create``, so the ledger claims the
intent key first), wait with progress events, resolve the model, read the loss curve. A killed
run started again makes the same plans with the same intent keys, so each create attaches to the
job the first run started (a local worker even kept training meanwhile): nothing is trained
twice. One target failing (a refused create, a failed job, a missing key) is recorded with why,
and the others go on. ``state.json`` in the output folder keeps when each job was first and last
seen, so wall times survive a restart.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _cancel
from ..errors import FinetuneError
from ..types import Job, JobStatus, MetricPoint, ModelRef
from .plan import TargetPlan

if TYPE_CHECKING:
    from ..client import Client
    from ..evaluate import EvalReport

__all__ = ["ClientPool", "RunState", "TargetRun", "run_plans"]

Event = Callable[[str, str], None]
"""on_event(target label, message): what the CLI prints as progress."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunState:
    """``state.json``: per target its intent key, job id, first and final sighting (atomic
    writes under a lock: the target threads update it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self.data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.data = {}
        self.data.setdefault("targets", {})

    def get(self, label: str) -> dict[str, Any]:
        with self._lock:
            return dict(self.data["targets"].get(label, {}))

    def update(self, label: str, **values: Any) -> dict[str, Any]:
        with self._lock:
            entry = self.data["targets"].setdefault(label, {})
            for key, value in values.items():
                if key in ("first_seen", "finished_seen") and entry.get(key):
                    continue  # a restart keeps the first sighting of each
                entry[key] = value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.data, handle, indent=1, sort_keys=True, default=str)
            os.replace(tmp, self.path)
            return dict(entry)


@dataclass
class TargetRun:
    """What became of one target."""

    plan: TargetPlan
    status: str = "planned"
    """planned, blocked, succeeded, failed, cancelled, error (no job, or the wait broke)."""
    job: Job | None = None
    model: ModelRef | None = None
    error: str | None = None
    wall_s: float | None = None
    metrics: list[MetricPoint] = field(default_factory=list)
    actual_usd: float | None = None
    actual_usd_basis: str | None = None
    attached: bool = False
    """The job existed before this run (a re-run attached to it)."""
    eval: EvalReport | None = None
    eval_note: str | None = None

    @property
    def label(self) -> str:
        return self.plan.label


class ClientPool:
    """One Client per provider, sharing one ledger; a provider that cannot be set up (no key,
    no extra installed) is remembered as its error, which blocks only its own targets."""

    def __init__(self, ledger: Any, given: Any = None) -> None:
        self.ledger = ledger
        self._given = given
        self._made: dict[str, Client | BaseException] = {}

    def get(self, provider: str) -> Client | BaseException:
        if provider not in self._made:
            from ..client import Client

            try:
                if callable(self._given):
                    self._made[provider] = self._given(provider)
                elif isinstance(self._given, dict) and provider in self._given:
                    self._made[provider] = self._given[provider]
                else:
                    self._made[provider] = Client(provider, ledger=self.ledger)
            except FinetuneError as exc:
                self._made[provider] = exc
        return self._made[provider]

    def __call__(self, provider: str) -> Client:
        found = self.get(provider)
        if isinstance(found, BaseException):
            raise found
        return found

    def close(self) -> None:
        """Close the clients this pool made (the caller's own stay open)."""
        for name, client in self._made.items():
            own = not callable(self._given) and name not in (self._given or {})
            if own and not isinstance(client, BaseException):
                client.close()


def _actual_cost(run: TargetRun) -> None:
    """Trained tokens x the estimate's per-token price: what the vendor most likely billed."""
    est = run.plan.estimate or {}
    price, unit = est.get("price_usd"), est.get("price_unit")
    job = run.job
    if price == 0:
        run.actual_usd, run.actual_usd_basis = 0.0, "no charge (the provider never bills)"
    elif job is not None and job.trained_tokens and price is not None and unit == "1M_tokens":
        run.actual_usd = round(job.trained_tokens / 1e6 * price, 6)
        run.actual_usd_basis = (f"{job.trained_tokens:,} trained tokens x {price:g} USD per 1M"
                                f" (price of {est.get('price_date') or 'unknown date'})")


def _wall(run: TargetRun, seen: dict[str, Any]) -> float | None:
    job = run.job
    if job is not None and job.created_at and job.finished_at:
        return max(0.0, (job.finished_at - job.created_at).total_seconds())
    if seen.get("first_seen") and seen.get("finished_seen"):
        first = datetime.fromisoformat(seen["first_seen"])
        return max(0.0, (datetime.fromisoformat(seen["finished_seen"]) - first).total_seconds())
    return None


def _watch(label: str, on_event: Event | None) -> Callable[[Job], None]:
    last: list[Any] = [None]

    def show(job: Job) -> None:
        percent = 100 if job.status is JobStatus.SUCCEEDED else (
            int(job.progress * 100) if job.progress is not None else None)
        now = (job.status.value, percent)
        if on_event is None or now == last[0]:
            return
        last[0] = now
        on_event(label, f"{job.status.value}" + (f" {percent}%" if percent is not None else ""))

    return show


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _run_one(run: TargetRun, client: Client, state: RunState, on_event: Event | None,
             poll_interval: float | None, timeout: float | None) -> None:
    plan, label = run.plan, run.label
    assert plan.spec is not None and client.ledger is not None
    row = client.ledger.get(plan.spec.client_ref)
    started = datetime.now(UTC)
    job = client.jobs.create(plan.spec, validate=False)  # validated in the plan
    # A run killed between sending the create and recording the id leaves a row without one;
    # the resent create then finds that job (client-chosen ids), made before this run started.
    run.attached = row is not None and (bool(row.job_id) or (
        job.created_at is not None and _aware(job.created_at) < started))
    state.update(label, client_ref=plan.client_ref, job_id=job.id, provider=job.provider,
                 first_seen=_now())
    if on_event:
        on_event(label, f"{'attached to' if run.attached else 'created'} job {job.id}")
    final = client.jobs.wait(job, poll_interval=poll_interval, timeout=timeout,
                             on_update=_watch(label, on_event), progress=False)
    run.job = final
    run.status = final.status.value if final.status.is_terminal else "error"
    seen = state.update(label, status=run.status, finished_seen=_now())
    run.wall_s = _wall(run, seen)
    if final.status is JobStatus.SUCCEEDED:
        run.model = client.models.resolve(final)
    elif final.error is not None:
        run.error = final.error.message
    try:  # a failed job's curve helps to see why, too
        run.metrics = list(client.jobs.metrics(final.id))
    except FinetuneError:
        run.metrics = []  # no loss curve from this provider: the report says so
    _actual_cost(run)


def run_plans(plans: list[TargetPlan], client_for: Callable[[str], Client], *,
              state: RunState, caps: dict[str, int], on_event: Event | None = None,
              poll_interval: float | None = None,
              timeout: float | None = None) -> list[TargetRun]:
    """Start every runnable plan at once (``caps[provider]`` at a time per provider, else
    ``caps["default"]``), wait for all, and return one TargetRun per plan, in order."""
    runs = [TargetRun(plan=p, status="blocked" if p.blocked else "planned",
                      error=p.blocked) for p in plans]
    gates: dict[str, threading.Semaphore] = {}
    for run in runs:
        name = run.plan.target.provider
        gates.setdefault(name, threading.Semaphore(caps.get(name, caps.get("default", 2))))
    cancel = threading.Event()
    if on_event is not None:  # the target threads report through one lock: whole lines
        said, lock = on_event, threading.Lock()

        def on_event(label: str, message: str) -> None:
            with lock:
                said(label, message)

    def work(run: TargetRun) -> None:
        gate = gates[run.plan.target.provider]
        with _cancel.cancel_with(cancel):
            if not gate.acquire(blocking=False):
                if on_event:
                    on_event(run.label, f"waiting: {run.plan.target.provider} runs its cap of"
                             " jobs at once")
                while not gate.acquire(timeout=0.5):
                    _cancel.check()
            try:
                _cancel.check()
                started = time.monotonic()
                try:
                    _run_one(run, client_for(run.plan.target.provider), state, on_event,
                             poll_interval, timeout)
                except Exception as exc:  # one target failing never stops the others
                    run.status, run.error = "error", f"{type(exc).__name__}: {exc}"
                    state.update(run.label, status="error", error=run.error)
                    if run.wall_s is None and run.job is None:
                        run.wall_s = round(time.monotonic() - started, 3)
                if on_event:
                    on_event(run.label, run.status + (f": {run.error}" if run.error else ""))
            finally:
                gate.release()

    todo = [r for r in runs if r.status == "planned"]
    pool = ThreadPoolExecutor(max_workers=max(1, len(todo)), thread_name_prefix="bakeoff")
    try:
        futures = [pool.submit(work, r) for r in todo]
        for future in futures:
            while True:
                try:
                    future.result(timeout=0.5)  # short waits: Ctrl-C reaches this thread
                    break
                except TimeoutError:
                    continue
    except BaseException:
        cancel.set()  # the workers' next pause raises Cancelled; the jobs keep running
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return runs
