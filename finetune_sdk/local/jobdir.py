"""A local job is a directory; this module is the only code that knows its layout.

::

    <root>/jobs/<job_id>/
        spec.json          what to train (written once by create_job)
        status.json        current state, replaced atomically (tmp + os.replace) under a lock
        events.jsonl       one JSON object per line, appended
        metrics.jsonl      one JSON object per training/eval step, appended
        worker.log         stdout + stderr of the worker (and of torchrun)
        checkpoints/       step-N/ directories (see _checkpoint.py)
        output/            the trained adapter + tokenizer + manifest
        cancel.requested   present when a cancel was asked for; pause.requested likewise

It is plain stdlib on purpose: the provider (in the user's process) reads it without importing
torch, and the worker (a detached process) writes it. Readers never see half a status file; a
status file that is unreadable anyway (disk trouble, a hand edit) is reported, never crashes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["JobDir", "CorruptStatusError", "now_iso"]

_JOB_ID = re.compile(r"^ftjob-local-[0-9a-f]{12}$")


class CorruptStatusError(ValueError):
    """status.json exists but is not a JSON object."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class JobDir:
    """Paths and atomic reads/writes of one job directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @staticmethod
    def valid_id(job_id: str) -> bool:
        return bool(_JOB_ID.match(job_id))

    @property
    def job_id(self) -> str:
        return self.path.name

    # -- paths -----------------------------------------------------------------------------
    spec_file = property(lambda self: self.path / "spec.json")
    status_file = property(lambda self: self.path / "status.json")
    events_file = property(lambda self: self.path / "events.jsonl")
    metrics_file = property(lambda self: self.path / "metrics.jsonl")
    log_file = property(lambda self: self.path / "worker.log")
    checkpoint_dir = property(lambda self: self.path / "checkpoints")
    output_dir = property(lambda self: self.path / "output")
    cancel_flag = property(lambda self: self.path / "cancel.requested")
    pause_flag = property(lambda self: self.path / "pause.requested")

    def exists(self) -> bool:
        return self.spec_file.is_file()

    # -- spec ------------------------------------------------------------------------------
    def write_spec(self, spec: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.spec_file, json.dumps(spec, indent=2, default=str))

    def read_spec(self) -> dict[str, Any]:
        return json.loads(self.spec_file.read_text(encoding="utf-8"))

    # -- status ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Provider and worker both update status.json; the lock makes read-modify-write whole.
        with open(self.path / ".status.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def read_status(self) -> dict[str, Any]:
        """The status record; raises CorruptStatusError when the file cannot be understood."""
        try:
            text = self.status_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise CorruptStatusError(f"{self.status_file}: unreadable ({exc})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CorruptStatusError(f"{self.status_file}: not JSON ({exc.msg} at line"
                                     f" {exc.lineno})") from None
        if not isinstance(data, dict):
            raise CorruptStatusError(f"{self.status_file}: expected a JSON object")
        return data

    def update_status(self, *, if_corrupt: dict[str, Any] | None = None,
                      **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into status.json atomically. A corrupt file is replaced, starting
        from ``if_corrupt`` (what the caller knows to be true) plus a repair stamp."""
        with self._locked():
            try:
                current = self.read_status()
            except CorruptStatusError:
                current = {**(if_corrupt or {}), "status_file_repaired_at": now_iso()}
            current.update(fields)
            current["updated_at"] = now_iso()
            # A state change must survive a crash; per-step progress and heartbeats are
            # rewritten within seconds, so they skip the fsync on the training loop's path.
            _atomic_write(self.status_file, json.dumps(current, indent=2, default=str),
                          durable="status" in fields)
            return current

    def heartbeat(self, pid: int) -> None:
        """Stamp liveness. ``pid`` is the process group leader (the worker, or torchrun); it is
        written again each time so that a status file repaired after corruption names it too."""
        self.update_status(if_corrupt={"status": "running"}, heartbeat_at=time.time(), pid=pid)

    # -- streams ---------------------------------------------------------------------------
    def append_event(self, message: str, *, level: str = "info", type: str | None = None,
                     data: dict[str, Any] | None = None) -> None:
        record: dict[str, Any] = {"created_at": now_iso(), "level": level, "message": message}
        if type:
            record["type"] = type
        if data:
            record["data"] = data
        _append_line(self.events_file, record)

    def append_metric(self, point: dict[str, Any]) -> None:
        _append_line(self.metrics_file, {**point, "at": now_iso()})

    def read_events(self) -> list[dict[str, Any]]:
        return list(_read_lines(self.events_file))

    def read_metrics(self) -> list[dict[str, Any]]:
        return list(_read_lines(self.metrics_file))

    def checkpoint_steps(self) -> list[int]:
        """Steps of the complete checkpoints (``step-N`` holding its ``checkpoint.json``
        marker, the test the trainer's resume applies), oldest first."""
        folder = self.checkpoint_dir
        if not folder.is_dir():
            return []
        return sorted(int(path.name[5:]) for path in folder.glob("step-*")
                      if path.name[5:].isdigit() and (path / "checkpoint.json").is_file())

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of worker.log (what a user needs to see why a worker died)."""
        try:
            with open(self.log_file, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - 16384))
                text = handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        kept = [line for line in text.splitlines() if line.strip()]
        return "\n".join(kept[-lines:])


def _atomic_write(path: Path, text: str, *, durable: bool = True) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp, path)  # readers see the old file or the new one, fsync or not


def _append_line(path: Path, record: dict[str, Any]) -> None:
    # One write() of a whole line in append mode: readers see whole lines or nothing new.
    line = (json.dumps(record, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            if not line.endswith("\n"):
                break  # a line still being written
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn line after a crash: skip it, the rest is still readable
            if isinstance(record, dict):
                yield record
