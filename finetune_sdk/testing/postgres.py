"""A throwaway PostgreSQL server on a free loopback port, for ledger tests and benchmarks.

``initdb`` + ``pg_ctl`` of the installed PostgreSQL (on PATH, or the Debian layout
``/usr/lib/postgresql/*/bin``) in a temporary folder, trust auth, ``fsync=off``. As root the
server runs as the ``postgres`` user (PostgreSQL refuses to run as root)::

    with temporary_server() as url:            # postgresql://postgres@127.0.0.1:PORT
        ledger = Ledger(create_database(url))
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["ServerUnavailable", "create_database", "server_binaries", "temporary_server"]


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server can be started here (the message says why)."""


def server_binaries() -> tuple[str, str] | None:
    """(initdb, pg_ctl), or None when PostgreSQL is not installed."""
    found = []
    for name in ("initdb", "pg_ctl"):
        path = shutil.which(name) or next(
            iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
        if path is None:
            return None
        found.append(path)
    return found[0], found[1]


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServerUnavailable("running as root and no runuser to start PostgreSQL as postgres")
    return [runuser, "-u", "postgres", "--", *cmd]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def temporary_server() -> Iterator[str]:
    """Start a server for the duration; yields ``postgresql://postgres@127.0.0.1:PORT``."""
    binaries = server_binaries()
    if binaries is None:
        raise ServerUnavailable("no PostgreSQL server binaries (initdb, pg_ctl): install the"
                                " postgresql package")
    initdb, pg_ctl = binaries
    # Not under a root-only folder (pytest's tmp is one): the server may run as postgres.
    root = Path(tempfile.mkdtemp(prefix="ftsdk-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        for path in (root, sockets):
            shutil.chown(path, "postgres")
    try:
        made = subprocess.run(_as_server_user([initdb, "-D", str(data), "-U", "postgres",
                                               "--auth=trust", "-E", "UTF8"]),
                              capture_output=True, text=True)
        if made.returncode != 0:
            raise ServerUnavailable(f"initdb failed: {(made.stderr or made.stdout).strip()}")
        port = _free_port()
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = root / "server.log"
        started = subprocess.run(_as_server_user(
            [pg_ctl, "-D", str(data), "-o", options, "-w", "-t", "60", "-l", str(log), "start"]),
            capture_output=True, text=True)
        if started.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise ServerUnavailable(f"PostgreSQL did not start: {started.stderr.strip()}\n{tail}")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}"
        finally:
            subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
                           capture_output=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def create_database(server_url: str, name: str | None = None) -> str:
    """Create an empty database on ``server_url``; returns its URL."""
    import psycopg

    name = name or f"ledger_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"
