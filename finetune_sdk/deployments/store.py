"""The ``deployments`` table of the ledger (schema v4): one row per deployment intent.

The row is written *before* the create is sent (``claim``), completed with the vendor's id after
(``attach``), and kept up to date with every read (``update``), so ``finetune deployments`` in a
fresh process lists what is still billed, since when and at what price, and ``finetune undeploy``
finds the provider again. Claims follow the job ledger's rules exactly (``ledger._decide``): one
owner per intent, a dead owner's claim taken over, a live one waited for. Secrets never get here.

Columns: ``intent_key`` (``ftdep-...``), provider, model_id, name (vendor-side name we chose),
deployment_id (NULL until the create is answered), status (a ``DeploymentStatus`` value, or the
pending states ``creating``/``sending``/``create_failed`` while it has no id), provider_status,
endpoint / base_url (what chat calls), hardware, price_per_hour / price_date / price_source,
spec_json, error, owner / lease_until (the claim), created_at / ready_at / deleted_at /
last_used_at / updated_at (ISO timestamps, UTC).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..ledger import DEFAULT_LEASE_S, Claim, Ledger, _decide
from .model import Deployment, DeploymentSpec, DeploymentStatus

__all__ = ["DeploymentRow", "DeploymentStore"]

_PENDING = ("creating", "sending", "unknown", "create_failed")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


@dataclass(frozen=True)
class DeploymentRow:
    """One deployment intent and what became of it."""

    intent_key: str
    provider: str
    model_id: str
    name: str
    deployment_id: str | None
    status: str
    provider_status: str | None
    endpoint: str | None
    base_url: str | None
    hardware: str | None
    price_per_hour: float | None
    price_date: str | None
    price_source: str | None
    spec_json: str
    error: str | None
    owner: str | None
    lease_until: float | None
    created_at: str
    ready_at: str | None
    deleted_at: str | None
    last_used_at: str | None
    updated_at: str

    @property
    def job_id(self) -> str | None:
        """The vendor id under the name the ledger's claim rules read (``_decide``)."""
        return self.deployment_id

    @property
    def live(self) -> bool:
        """Not known to be gone: it may still be billed."""
        return self.status not in ("deleted", "failed", "create_failed")

    def to_deployment(self) -> Deployment:
        """The deployment as last recorded (``client.models.get_deployment`` refreshes it)."""
        try:
            status = DeploymentStatus(self.status)
        except ValueError:
            status = DeploymentStatus.UNKNOWN if self.deployment_id else DeploymentStatus.CREATING
        # model_validate: price_date and created_at are the database's ISO strings.
        return Deployment.model_validate(dict(
            id=self.deployment_id or self.name, provider=self.provider, status=status,
            provider_status=self.provider_status, model=self.model_id,
            endpoint=self.endpoint or "", base_url=self.base_url, hardware=self.hardware,
            price_per_hour=self.price_per_hour, price_date=self.price_date,
            price_source=self.price_source, created_at=self.created_at,
            intent_key=self.intent_key, error=self.error))

    def spec(self) -> DeploymentSpec:
        return DeploymentSpec.model_validate(json.loads(self.spec_json or "{}"))


class DeploymentStore:
    """Deployment rows in a job ledger's database (SQLite or PostgreSQL, same SQL)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.backend = ledger.backend

    def _connect(self) -> Any:
        return self.backend.session()

    # -- claims ---------------------------------------------------------------------------
    def claim(self, key: str, *, provider: str, model: str, name: str, spec: DeploymentSpec,
              owner: str, lease_s: float = DEFAULT_LEASE_S) -> Claim[DeploymentRow]:
        """Atomically take the intent ``key`` for ``owner``, or say who has it (see Claim)."""
        from ..intent import token_alive

        now = time.time()
        with self._connect() as conn:
            self.backend.begin_claim(conn, key)
            try:
                found = conn.execute("SELECT * FROM deployments WHERE intent_key = ?",
                                     (key,)).fetchone()
                row = self._row(found) if found else None
                claim = _decide(row, owner, now, token_alive)
                if claim.kind in ("new", "recovered") and row is None:
                    stamp = _now()
                    conn.execute(
                        "INSERT INTO deployments (intent_key, provider, model_id, name, status,"
                        " spec_json, owner, lease_until, created_at, updated_at)"
                        " VALUES (?, ?, ?, ?, 'creating', ?, ?, ?, ?, ?)",
                        (key, provider, model, name, spec.model_dump_json(), owner,
                         now + lease_s, stamp, stamp))
                elif claim.kind in ("new", "recovered"):
                    conn.execute(
                        "UPDATE deployments SET owner = ?, lease_until = ?, updated_at = ?,"
                        " status = CASE WHEN status = 'create_failed' THEN 'creating'"
                        " ELSE status END WHERE intent_key = ? AND deployment_id IS NULL",
                        (owner, now + lease_s, _now(), key))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return claim

    def set_state(self, key: str, status: str, *, error: str | None = None,
                  owner: str | None = None, release: bool = False,
                  lease_s: float = DEFAULT_LEASE_S) -> bool:
        """Move a row without a vendor id to a pending state; with ``owner``, only while that
        owner still holds the claim (False: another process took it over, do not send)."""
        assert status in _PENDING, status
        sets = "status = ?, error = ?, updated_at = ?"
        args: list[object] = [status, error, _now()]
        if release:
            sets += ", owner = NULL, lease_until = NULL"
        elif owner is not None:
            sets, args = sets + ", lease_until = ?", [*args, time.time() + lease_s]
        where, keys = "intent_key = ? AND deployment_id IS NULL", [key]
        if owner is not None:
            where, keys = where + " AND owner = ?", [*keys, owner]
        with self._connect() as conn:
            cursor = conn.execute(f"UPDATE deployments SET {sets} WHERE {where}",
                                  (*args, *keys))
            return bool(cursor.rowcount)

    def attach(self, key: str, deployment: Deployment) -> str:
        """Store the vendor id for ``key`` (the first one stored wins) and release the claim."""
        with self._connect() as conn:
            conn.execute("UPDATE deployments SET deployment_id = ?, owner = NULL,"
                         " lease_until = NULL WHERE intent_key = ? AND deployment_id IS NULL",
                         (deployment.id, key))
            row = conn.execute("SELECT deployment_id FROM deployments WHERE intent_key = ?",
                               (key,)).fetchone()
        stored = row["deployment_id"] if row and row["deployment_id"] else deployment.id
        if stored == deployment.id:
            self.update(deployment)
        return stored

    # -- the state as seen --------------------------------------------------------------------
    def update(self, deployment: Deployment) -> None:
        """Refresh a row from what the vendor said (by provider + id); no-op for unknown ids
        and for serverless answers (nothing is deployed, nothing to track)."""
        if deployment.serverless:
            return
        status = deployment.status.value
        now = _now()
        with self._connect() as conn:
            conn.execute(
                "UPDATE deployments SET status = ?, provider_status = ?,"
                " endpoint = COALESCE(?, endpoint), base_url = COALESCE(?, base_url),"
                " hardware = COALESCE(?, hardware), price_per_hour = COALESCE(?, price_per_hour),"
                " price_date = COALESCE(?, price_date), price_source = COALESCE(?, price_source),"
                " error = ?, updated_at = ?,"
                " created_at = COALESCE(?, created_at),"
                " ready_at = CASE WHEN ? = 'ready' THEN COALESCE(ready_at, ?) ELSE ready_at END,"
                " deleted_at = CASE WHEN ? = 'deleted' THEN COALESCE(deleted_at, ?)"
                " ELSE deleted_at END"
                " WHERE provider = ? AND deployment_id = ?",
                (status, deployment.provider_status, deployment.endpoint or None,
                 deployment.base_url, deployment.hardware, deployment.price_per_hour,
                 deployment.price_date.isoformat() if deployment.price_date else None,
                 deployment.price_source, deployment.error, now, _iso(deployment.created_at),
                 status, now, status, now, deployment.provider, deployment.id))

    def mark_used(self, provider: str, deployment_id: str) -> None:
        """Note a chat through the SDK (what the idle warning measures from)."""
        with self._connect() as conn:
            conn.execute("UPDATE deployments SET last_used_at = ? WHERE provider = ? AND"
                         " deployment_id = ?", (_now(), provider, deployment_id))

    # -- reads ----------------------------------------------------------------------------
    def get(self, key: str) -> DeploymentRow | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM deployments WHERE intent_key = ?",
                               (key,)).fetchone()
        return self._row(row) if row else None

    def find(self, ident: str, provider: str | None = None) -> DeploymentRow | None:
        """The row of a vendor id, an intent key or a vendor-side name (newest first)."""
        query = ("SELECT * FROM deployments WHERE (deployment_id = ? OR intent_key = ? OR"
                 " name = ? OR endpoint = ?)")
        args: list[Any] = [ident] * 4
        if provider:
            query, args = query + " AND provider = ?", [*args, provider]
        with self._connect() as conn:
            row = conn.execute(query + " ORDER BY created_at DESC LIMIT 1", args).fetchone()
        return self._row(row) if row else None

    def list(self, *, live: bool = False, provider: str | None = None) -> list[DeploymentRow]:
        """Rows, newest first; ``live``: only those that may still be billed."""
        query, args = "SELECT * FROM deployments WHERE 1=1", []
        if provider:
            query, args = query + " AND provider = ?", [provider]
        with self._connect() as conn:
            rows = [self._row(r) for r in conn.execute(
                query + " ORDER BY created_at DESC, intent_key DESC", args).fetchall()]
        return [r for r in rows if r.live] if live else rows

    @staticmethod
    def _row(row: Any) -> DeploymentRow:
        keys = row.keys()
        values: dict[str, Any] = {f: (row[f] if f in keys else None)
                                  for f in DeploymentRow.__dataclass_fields__}
        return DeploymentRow(**values)
