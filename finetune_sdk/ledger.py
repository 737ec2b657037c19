"""The SQLite job ledger: every job this machine started, across providers and restarts.

One row per intent (``client_ref``), written *before* the vendor create is sent and completed with
the vendor's job id after, so a process killed in between can find its job again. WAL mode and a
busy timeout make concurrent writers from several processes safe. Secrets are never stored.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import LedgerError
from .types import Job, JobFailure, JobSpec, JobStatus

__all__ = ["Ledger", "LedgerRow", "SCHEMA_VERSION", "default_ledger_path"]

SCHEMA_VERSION = 2

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS jobs (
    client_ref TEXT PRIMARY KEY,
    provider   TEXT NOT NULL,
    job_id     TEXT,
    spec_json  TEXT NOT NULL,
    status     TEXT NOT NULL,
    model_id   TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_job_id ON jobs(job_id);
"""
# v2: the spec hash (find "the same training" again) and the vendor's raw status / error.
_MIGRATIONS = {
    2: [
        "ALTER TABLE jobs ADD COLUMN spec_hash TEXT",
        "ALTER TABLE jobs ADD COLUMN provider_status TEXT",
        "ALTER TABLE jobs ADD COLUMN error TEXT",
        "ALTER TABLE jobs ADD COLUMN base_model TEXT",
    ]
}


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
            error=JobFailure(message=self.error) if self.error else None,
        )


class Ledger:
    """A small SQLite file; each method is one short transaction."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_ledger_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA_V1)
            self._migrate(conn)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open the job ledger at {self.path}: {exc}") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.row_factory = sqlite3.Row
            yield conn
        except sqlite3.Error as exc:
            raise LedgerError(f"job ledger {self.path}: {exc}") from None
        finally:
            conn.close()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0] or 1
            columns = {r["name"] for r in conn.execute("PRAGMA table_info(jobs)")}
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target]:
                    column = statement.split("ADD COLUMN ")[1].split()[0]
                    if column not in columns:
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def record_intent(self, provider: str, spec: JobSpec) -> None:
        """Write the intent row before the create is sent (no-op if it exists)."""
        spec_json = spec.model_dump_json(serialize_as_any=True)
        now = _now()
        with self._connect() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO jobs (client_ref, provider, job_id, spec_json, status,"
                " created_at, updated_at, spec_hash, base_model)"
                " VALUES (?, ?, NULL, ?, 'creating', ?, ?, ?, ?)",
                (spec.client_ref, provider, spec_json, now, now, spec.spec_hash(), spec.base_model),
            )

    def attach(self, client_ref: str, job: Job) -> None:
        """Store the vendor id (and current state) of the job created for ``client_ref``."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE jobs SET job_id = ? WHERE client_ref = ?", (job.id, client_ref)
            )
        self.update(job, client_ref=client_ref)

    def update(self, job: Job, *, client_ref: str | None = None) -> None:
        """Refresh status / model id / error from a Job; inserts a row for unknown jobs."""
        error = job.error.message if job.error else None
        values = (job.status.value, job.provider_status, job.output_model, error, _now())
        with self._connect() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET status = ?, provider_status = ?,"
                " model_id = COALESCE(?, model_id), error = ?, updated_at = ?"
                " WHERE provider = ? AND job_id = ?",
                (*values, job.provider, job.id),
            )
            if cursor.rowcount == 0:
                ref = client_ref or job.client_ref or f"adopted-{job.provider}-{job.id}"
                conn.execute(
                    "INSERT OR IGNORE INTO jobs (client_ref, provider, job_id, spec_json, status,"
                    " provider_status, model_id, error, created_at, updated_at, base_model)"
                    " VALUES (?, ?, ?, '{}', ?, ?, ?, ?, ?, ?, ?)",
                    (ref, job.provider, job.id, *values[:4], values[4], values[4], job.base_model),
                )

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
        query, args = "SELECT * FROM jobs WHERE 1=1", []
        if provider:
            query, args = query + " AND provider = ?", [*args, provider]
        if status:
            query, args = query + " AND status = ?", [*args, status]
        query += " ORDER BY created_at DESC, rowid DESC"
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
        return json.loads(row[0]) if row else {}

    @staticmethod
    def _row(row: sqlite3.Row) -> LedgerRow:
        keys = row.keys()
        return LedgerRow(
            **{f: (row[f] if f in keys else None) for f in LedgerRow.__dataclass_fields__}
        )
