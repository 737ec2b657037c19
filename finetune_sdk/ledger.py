"""The SQLite job ledger: every job this machine started, across providers and restarts.

One row per intent (``client_ref``), written *before* the vendor create is sent and completed with
the vendor's job id after, so a process killed in between can find its job again. WAL mode and a
busy timeout make concurrent writers from several processes safe. Secrets are never stored.

Claiming an intent is one ``BEGIN IMMEDIATE`` transaction, so of N processes racing on one key
exactly one becomes its owner (``owner`` = host:pid:start, ``lease_until`` for owners this host
cannot see); the others wait for the owner's vendor id. Rows without a vendor id say how far the
create got: ``creating`` (claimed, not sent yet), ``sending`` (in flight), ``unknown`` (sent, and
no lookup could tell whether the job exists: see ``finetune reconcile``), ``create_failed`` (the
vendor refused it; the intent may be tried again).

A finished job's ``trained_tokens`` are kept with the **actual cost** they imply
(``actual_usd``, from ``cost.actual_cost``: tokens x the per-token price) and that figure's
``actual_cost_basis`` (the tokens, the rate, the price's date and source); ``actual_usd`` stays
NULL, never 0, where the price is unknown or per hour.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ._ledger_db import SCHEMA_VERSION
from .types import Job, JobFailure, JobSpec, JobStatus

if TYPE_CHECKING:
    from .cost import ActualCost

__all__ = [
    "Claim", "Ledger", "LedgerRow", "PENDING_STATES", "SCHEMA_VERSION", "default_ledger_path",
]

PENDING_STATES = ("creating", "sending", "unknown", "create_failed")
"""Row states without a vendor job id (see the module docstring)."""
DEFAULT_LEASE_S = 900.0
"""How long a claim holds for owners on another host, whose pid cannot be checked."""


def default_ledger_path() -> Path:
    """``$FINETUNE_SDK_HOME/ledger.sqlite3`` (default home ``~/.finetune_sdk``)."""
    from .config import home_dir

    return home_dir() / "ledger.sqlite3"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class LedgerRow:
    """One job intent and what became of it."""

    client_ref: str
    provider: str
    job_id: str | None
    status: str
    model_id: str | None
    base_model: str | None
    spec_hash: str | None
    provider_status: str | None
    error: str | None
    created_at: str
    updated_at: str
    owner: str | None = None
    lease_until: float | None = None
    trained_tokens: int | None = None
    actual_usd: float | None = None
    """Trained tokens x the per-token price (None: unknown, not free)."""
    actual_cost_basis: str | None = None
    """How ``actual_usd`` was reached: tokens, rate, the price's date and source."""

    @property
    def pending(self) -> bool:
        """No vendor id yet: the create is under way, in doubt, or was refused."""
        return not self.job_id

    def to_job(self) -> Job:
        """The job as last recorded (status may be stale; ``client.jobs.get`` refreshes it)."""
        try:
            status = JobStatus(self.status)
        except ValueError:
            status = JobStatus.UNKNOWN
        return Job(
            id=self.job_id or "",
            provider=self.provider,
            status=status,
            provider_status=self.provider_status,
            base_model=self.base_model,
            output_model=self.model_id,
            client_ref=self.client_ref,
            trained_tokens=self.trained_tokens,
            error=JobFailure(message=self.error) if self.error else None,
        )


class Ledger:
    """The job ledger; each method is one short transaction.

    ``Ledger()`` opens ``$FINETUNE_SDK_LEDGER_URL`` when set, else the SQLite file
    ``default_ledger_path()``; ``Ledger("postgresql://user@host/db")`` opens a PostgreSQL ledger
    shared by many workers and hosts (extra ``[postgres]``); any other string or path is a file.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        from ._ledger_db import (
            MIGRATIONS,
            SCHEMA,
            PostgresBackend,
            SqliteBackend,
            is_database_url,
        )

        if path is None:
            path = os.environ.get("FINETUNE_SDK_LEDGER_URL") or default_ledger_path()
        self.backend: PostgresBackend | SqliteBackend
        if is_database_url(path):
            self.backend = PostgresBackend(str(path))
            self.path: Path | None = None
        else:
            self.path = Path(path)
            self.backend = SqliteBackend(self.path)
        with self._connect() as conn:
            self.backend.migrate(conn, SCHEMA, MIGRATIONS, SCHEMA_VERSION)

    @property
    def location(self) -> str:
        """Where the ledger is (a file path, or the database URL without its password)."""
        return self.backend.location

    def _connect(self) -> Any:
        return self.backend.session()

    def __repr__(self) -> str:
        return f"Ledger({self.location!r})"

    def record_intent(self, provider: str, spec: JobSpec) -> None:
        """Write the intent row before the create is sent (no-op if it exists)."""
        spec_json = spec.model_dump_json(serialize_as_any=True)
        now = _now()
        with self._connect() as conn:
            conn.execute(
                f"{self.backend.insert_ignore} jobs (client_ref, provider, job_id, spec_json,"
                " status, created_at, updated_at, spec_hash, base_model)"
                f" VALUES (?, ?, NULL, ?, 'creating', ?, ?, ?, ?){self.backend.on_conflict}",
                (spec.client_ref, provider, spec_json, now, now, spec.spec_hash(), spec.base_model),
            )

    def attach(self, client_ref: str, job: Job) -> str:
        """Store the vendor id of the job created for ``client_ref`` and release the claim.

        The first id stored wins and is returned: a later one never overwrites it.
        """
        with self._connect() as conn:
            conn.execute(
                "UPDATE jobs SET job_id = ?, owner = NULL, lease_until = NULL"
                " WHERE client_ref = ? AND job_id IS NULL",
                (job.id, client_ref),
            )
            row = conn.execute(
                "SELECT job_id FROM jobs WHERE client_ref = ?", (client_ref,)
            ).fetchone()
        stored = row["job_id"] if row and row["job_id"] else job.id
        if stored == job.id:
            self.update(job, client_ref=client_ref)
        return stored

    def update(self, job: Job, *, client_ref: str | None = None,
               cost: ActualCost | None = None) -> None:
        """Refresh status / model id / error / trained tokens from a Job, and the actual cost
        when given (``cost.actual_cost(job)``; the first one recorded is kept); inserts a row
        for unknown jobs."""
        error = job.error.message if job.error else None
        values = (job.status.value, job.provider_status, job.output_model, error, _now())
        spent = (job.trained_tokens, cost.usd if cost else None, cost.basis if cost else None)
        with self._connect() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = ?, provider_status = ?,"
                " model_id = COALESCE(?, model_id), error = ?, updated_at = ?,"
                " trained_tokens = COALESCE(?, trained_tokens),"
                # The first figure stays: it is what the prices said when the job ended.
                " actual_usd = COALESCE(actual_usd, ?),"
                " actual_cost_basis = CASE WHEN actual_usd IS NULL THEN ?"
                " ELSE actual_cost_basis END"
                " WHERE provider = ? AND job_id = ?",
                (*values, *spent, job.provider, job.id),
            )
            if cursor.rowcount == 0:
                ref = client_ref or job.client_ref or f"adopted-{job.provider}-{job.id}"
                conn.execute(
                    f"{self.backend.insert_ignore} jobs (client_ref, provider, job_id, spec_json,"
                    " status, provider_status, model_id, error, created_at, updated_at,"
                    " base_model, trained_tokens, actual_usd, actual_cost_basis)"
                    f" VALUES (?, ?, ?, '{{}}', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    f"{self.backend.on_conflict}",
                    (ref, job.provider, job.id, *values[:4], values[4], values[4], job.base_model,
                     *spent),
                )

    # -- claims: one owner per intent ----------------------------------------------------
    def claim(
        self, provider: str, spec: JobSpec, *, owner: str, lease_s: float = DEFAULT_LEASE_S
    ) -> Claim[LedgerRow]:
        """Atomically take the intent ``spec.client_ref`` for ``owner``, or say who has it."""
        import time

        from .intent import token_alive

        now = time.time()
        with self._connect() as conn:
            self.backend.begin_claim(conn, spec.client_ref)
            try:
                found = conn.execute(
                    "SELECT * FROM jobs WHERE client_ref = ?", (spec.client_ref,)
                ).fetchone()
                row = self._row(found) if found else None
                claim = _decide(row, owner, now, token_alive)
                if claim.kind in ("new", "recovered"):
                    self._take(conn, provider, spec, owner, now + lease_s, insert=row is None)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return claim

    def _take(self, conn: Any, provider: str, spec: JobSpec, owner: str,
              lease_until: float, *, insert: bool) -> None:
        now = _now()
        if insert:
            conn.execute(
                "INSERT INTO jobs (client_ref, provider, job_id, spec_json, status, created_at,"
                " updated_at, spec_hash, base_model, owner, lease_until)"
                " VALUES (?, ?, NULL, ?, 'creating', ?, ?, ?, ?, ?, ?)",
                (spec.client_ref, provider, spec.model_dump_json(serialize_as_any=True), now, now,
                 spec.spec_hash(), spec.base_model, owner, lease_until),
            )
            return
        # A recovered row keeps its status: "sending"/"unknown" still mean "may have been sent".
        conn.execute(
            "UPDATE jobs SET owner = ?, lease_until = ?, updated_at = ?,"
            " status = CASE WHEN status = 'create_failed' THEN 'creating' ELSE status END,"
            " error = CASE WHEN status = 'create_failed' THEN NULL ELSE error END"
            " WHERE client_ref = ? AND job_id IS NULL",
            (owner, lease_until, now, spec.client_ref),
        )

    def set_state(self, client_ref: str, status: str, *, error: str | None = None,
                  release: bool = False, owner: str | None = None,
                  lease_s: float = DEFAULT_LEASE_S) -> bool:
        """Move a pending row to ``status`` (one of PENDING_STATES); ``release`` drops the owner.

        With ``owner``, only while that owner still holds the claim (its lease is renewed):
        False means another process took the intent over, so the caller must not send.
        """
        import time

        assert status in PENDING_STATES, status
        sets = "status = ?, error = ?, updated_at = ?"
        args: list[object] = [status, error, _now()]
        if release:
            sets += ", owner = NULL, lease_until = NULL"
        elif owner is not None:
            sets, args = sets + ", lease_until = ?", [*args, time.time() + lease_s]
        where, keys = "client_ref = ? AND job_id IS NULL", [client_ref]
        if owner is not None:
            where, keys = where + " AND owner = ?", [*keys, owner]
        with self._connect() as conn:
            cursor = conn.execute(f"UPDATE jobs SET {sets} WHERE {where}", (*args, *keys))
            return bool(cursor.rowcount)

    def pending(self, *, provider: str | None = None) -> list[LedgerRow]:
        """Rows with no vendor id (newest first): what ``finetune reconcile`` looks at."""
        return [r for r in self.list(provider=provider) if r.pending]

    def get(self, client_ref: str) -> LedgerRow | None:
        """The row for one intent."""
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE client_ref = ?", (client_ref,)).fetchone()
        return self._row(row) if row else None

    def find_job(self, job_id: str, provider: str | None = None) -> LedgerRow | None:
        """The row of a vendor job id (newest first when ids collide across providers)."""
        query = "SELECT * FROM jobs WHERE job_id = ?"
        args: tuple[str, ...] = (job_id,)
        if provider:
            query += " AND provider = ?"
            args += (provider,)
        with self._connect() as conn:
            row = conn.execute(query + " ORDER BY created_at DESC LIMIT 1", args).fetchone()
        return self._row(row) if row else None

    def list(
        self, *, provider: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[LedgerRow]:
        """Rows, newest first, optionally filtered."""
        query = "SELECT * FROM jobs WHERE 1=1"
        args: list[str] = []
        if provider:
            query, args = query + " AND provider = ?", [*args, provider]
        if status:
            query, args = query + " AND status = ?", [*args, status]
        query += f" ORDER BY created_at DESC, {self.backend.tiebreak} DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        with self._connect() as conn:
            return [self._row(r) for r in conn.execute(query, args).fetchall()]

    def spec(self, client_ref: str) -> dict[str, object]:
        """The JobSpec as recorded with the intent (a dict; {} for adopted jobs)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT spec_json FROM jobs WHERE client_ref = ?", (client_ref,)
            ).fetchone()
        return json.loads(row["spec_json"]) if row else {}

    @staticmethod
    def _row(row: Any) -> LedgerRow:
        keys = row.keys()
        values: dict[str, Any] = {f: (row[f] if f in keys else None)
                                  for f in LedgerRow.__dataclass_fields__}
        return LedgerRow(**values)


class ClaimRow(Protocol):
    """What the claim rules read off a row: a LedgerRow, or a deployments DeploymentRow."""

    @property
    def job_id(self) -> str | None: ...
    @property
    def owner(self) -> str | None: ...
    @property
    def lease_until(self) -> float | None: ...
    @property
    def status(self) -> str: ...


RowT = TypeVar("RowT", bound=ClaimRow)


@dataclass(frozen=True)
class Claim(Generic[RowT]):
    """The outcome of ``Ledger.claim``.

    kind: ``new`` (ours, nothing was sent before), ``recovered`` (ours, taken from an owner that
    died; ``maybe_sent`` says whether its create may have left), ``attached`` (the row has a
    vendor id), ``busy`` (a live owner is creating it now), ``in_doubt`` (a create was sent and no
    lookup could tell whether the job exists: reconcile first).
    """

    kind: str
    row: RowT | None = None
    maybe_sent: bool = False


def _decide(row: RowT | None, owner: str, now: float, alive: Any) -> Claim[RowT]:
    if row is None:
        return Claim("new")
    if row.job_id:
        return Claim("attached", row)
    if row.owner and row.owner != owner:
        living = alive(row.owner)
        if living is None:  # another host: trust its lease
            living = row.lease_until is not None and row.lease_until > now
        if living:
            return Claim("busy", row)
    if row.status == "create_failed":
        return Claim("recovered", row, maybe_sent=False)
    if row.status == "unknown" and not row.owner:
        return Claim("in_doubt", row, maybe_sent=True)
    # "creating" was never sent; "sending" (or a pre-v3 row with no owner) may have been.
    never_sent = row.status == "creating" and row.owner is not None
    return Claim("recovered", row, maybe_sent=not never_sent)
