"""The two databases a ledger can live in: a SQLite file (default) or PostgreSQL (``[postgres]``).

The ledger's schema (``SCHEMA``, v1) and its numbered ``MIGRATIONS`` are written once for both, as
is its SQL, with ``?`` placeholders; a backend supplies what differs: how to connect, the
placeholder, how a claim transaction serialises the claimers of one intent, the schema-version
bookkeeping, and the tie-break column for "newest first".

Why the claim lock differs: SQLite's ``BEGIN IMMEDIATE`` takes the file's one write lock, so claims
are serial by construction. PostgreSQL takes a transaction-scoped **advisory lock** keyed on the
intent (``pg_advisory_xact_lock(hashtextextended(client_ref, 0))``) rather than a row lock: the
first claim of an intent has no row to lock yet, and the advisory lock serialises exactly the
workers racing on that intent (others proceed), and is released by COMMIT/ROLLBACK even when the
worker dies.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import LedgerError

__all__ = ["MIGRATIONS", "SCHEMA", "SCHEMA_VERSION", "Backend", "PostgresBackend",
           "SqliteBackend", "is_database_url"]

SCHEMA_VERSION = 5
"""The ledger's schema version: ``SCHEMA`` (v1) plus every step of ``MIGRATIONS``."""

SCHEMA = """
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
MIGRATIONS = {
    2: [
        "ALTER TABLE jobs ADD COLUMN spec_hash TEXT",
        "ALTER TABLE jobs ADD COLUMN provider_status TEXT",
        "ALTER TABLE jobs ADD COLUMN error TEXT",
        "ALTER TABLE jobs ADD COLUMN base_model TEXT",
    ],
    # v3: who owns an intent while its create is in flight (atomic claims, dead-owner recovery).
    3: [
        "ALTER TABLE jobs ADD COLUMN owner TEXT",
        "ALTER TABLE jobs ADD COLUMN lease_until REAL",
    ],
    # v4: deployments (billed while they exist), one row per deployment intent; the columns
    # and their use are in finetune_sdk/deployments/store.py.
    4: [
        "CREATE TABLE IF NOT EXISTS deployments (intent_key TEXT PRIMARY KEY,"
        " provider TEXT NOT NULL, model_id TEXT NOT NULL, name TEXT NOT NULL,"
        " deployment_id TEXT, status TEXT NOT NULL, provider_status TEXT, endpoint TEXT,"
        " base_url TEXT, hardware TEXT, price_per_hour REAL, price_date TEXT,"
        " price_source TEXT, spec_json TEXT NOT NULL, error TEXT, owner TEXT, lease_until REAL,"
        " created_at TEXT NOT NULL, ready_at TEXT, deleted_at TEXT, last_used_at TEXT,"
        " updated_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS deployments_id ON deployments(deployment_id)",
    ],
    # v5: what a finished job trained and most likely cost (cost.actual_cost). BIGINT: a
    # PostgreSQL INTEGER stops at 2.1e9 tokens; SQLite reads it as INTEGER.
    5: [
        "ALTER TABLE jobs ADD COLUMN trained_tokens BIGINT",
        "ALTER TABLE jobs ADD COLUMN actual_usd REAL",
        "ALTER TABLE jobs ADD COLUMN actual_cost_basis TEXT",
    ],
}


def is_database_url(value: object) -> bool:
    """Whether a ledger argument names a PostgreSQL database rather than a file."""
    return isinstance(value, str) and re.match(r"^postgres(ql)?(\+\w+)?://", value) is not None


class Backend:
    """What the ledger needs from a database (see the module docstring)."""

    tiebreak = "rowid"
    insert_ignore = "INSERT OR IGNORE INTO"
    on_conflict = ""
    """Appended to an INSERT that must not fail when the intent row already exists."""

    location: str
    """Where the ledger is, safe to print (no password)."""

    def connect(self) -> Any:
        raise NotImplementedError

    def begin_claim(self, conn: Connection, client_ref: str) -> None:
        raise NotImplementedError

    def migrate(self, conn: Connection, schema: str, migrations: dict[int, list[str]],
                version: int) -> None:
        raise NotImplementedError


class Connection:
    """One connection: ``execute`` with ``?`` placeholders, errors as LedgerError."""

    def __init__(self, raw: Any, backend: Backend) -> None:
        self.raw = raw
        self.backend = backend

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if isinstance(self.backend, PostgresBackend):
            sql = sql.replace("?", "%s").replace(" REAL", " DOUBLE PRECISION")  # float4 is too
            # coarse for epoch seconds; no parameters -> the simple protocol (several statements)
            return self.raw.execute(sql, tuple(params) or None)
        return self.raw.execute(sql, tuple(params))


class SqliteBackend(Backend):
    """A SQLite file in WAL mode with a busy timeout: safe for several processes on one host."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def session(self) -> Iterator[Connection]:
        try:
            raw = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open the job ledger at {self.location}: {exc}") from None
        try:
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA busy_timeout=30000")
            raw.row_factory = sqlite3.Row
            yield Connection(raw, self)
        except sqlite3.Error as exc:
            raise LedgerError(f"job ledger {self.location}: {exc}") from None
        finally:
            raw.close()

    def begin_claim(self, conn: Connection, client_ref: str) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def migrate(self, conn: Connection, schema: str, migrations: dict[int, list[str]],
                version: int) -> None:
        conn.raw.executescript(schema)
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0] or 1
            columns = {r["name"] for r in conn.execute("PRAGMA table_info(jobs)")}
            _apply(conn, migrations, current, version, columns)
            conn.execute(f"PRAGMA user_version={version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


class PostgresBackend(Backend):
    """PostgreSQL through psycopg 3: one ledger shared by every worker on every host."""

    tiebreak = "seq"
    insert_ignore = "INSERT INTO"
    on_conflict = " ON CONFLICT (client_ref) DO NOTHING"

    def __init__(self, url: str) -> None:
        self.url = url
        self.location = _safe_url(url)
        # One open connection per (process, thread): a connect costs more than the ledger's
        # statements, and a forked child or another thread must never share one.
        self._local = threading.local()

    def _open(self) -> Any:
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:
            raise LedgerError(
                "a postgresql:// ledger needs psycopg 3: pip install 'finetune-sdk[postgres]'"
            ) from None
        cached = getattr(self._local, "conn", None)
        if cached is not None and cached[0] == os.getpid() and not cached[1].closed:
            return cached[1]
        try:
            raw = psycopg.connect(self.url, autocommit=True, row_factory=dict_row,
                                  connect_timeout=10)
        except psycopg.Error as exc:
            raise LedgerError(
                f"cannot open the job ledger at {self.location}: {_first_line(exc)}") from None
        self._local.conn = (os.getpid(), raw)
        return raw

    @contextmanager
    def session(self) -> Iterator[Connection]:
        raw = self._open()  # first: it says how to install psycopg when it is missing
        import psycopg

        try:
            yield Connection(raw, self)
        except psycopg.Error as exc:
            self._local.conn = None  # a broken connection is not reused
            raw.close()
            raise LedgerError(f"job ledger {self.location}: {_first_line(exc)}") from None

    def begin_claim(self, conn: Connection, client_ref: str) -> None:
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (client_ref,))

    def migrate(self, conn: Connection, schema: str, migrations: dict[int, list[str]],
                version: int) -> None:
        conn.execute("BEGIN")
        try:
            # One migrator at a time across hosts; the key is any fixed number of ours.
            conn.execute("SELECT pg_advisory_xact_lock(?)", (0x66747364,))
            conn.execute(schema.replace("rowid", "seq").replace(
                "client_ref TEXT PRIMARY KEY,", "seq BIGSERIAL,\n    client_ref TEXT PRIMARY KEY,"))
            conn.execute("CREATE TABLE IF NOT EXISTS ledger_meta (schema_version INTEGER NOT NULL)")
            row = conn.execute("SELECT schema_version FROM ledger_meta").fetchone()
            current = row["schema_version"] if row else 1
            columns = {r["column_name"] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'jobs'"
                " AND table_schema = current_schema()")}
            _apply(conn, migrations, current, version, columns)
            conn.execute("DELETE FROM ledger_meta")
            conn.execute("INSERT INTO ledger_meta (schema_version) VALUES (?)", (version,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _apply(conn: Connection, migrations: dict[int, list[str]], current: int, version: int,
           columns: set[str]) -> None:
    for target in range(current + 1, version + 1):
        for statement in migrations[target]:
            if "ADD COLUMN " not in statement:  # CREATE ... IF NOT EXISTS: safe to run again
                conn.execute(statement)
                continue
            column = statement.split("ADD COLUMN ")[1].split()[0]
            if column not in columns:
                conn.execute(statement)


def _safe_url(url: str) -> str:
    """The URL without its password (it would end up in errors and logs)."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
