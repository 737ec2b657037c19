"""Intent identity: the dedupe key of a job is what the user asked for, not a random number.

Re-running an unchanged script (after a crash, or by mistake) must attach to the job it already
paid for. So unless the caller passes ``client_ref``, the key is derived from the provider, the
base model, the *content* of the training and validation data (never the upload's file id, which
changes on every upload), the method, hyperparameters, output name, labels, options and raw
extra fields. Asking for a deliberate second job is explicit: ``new=True`` / ``finetune train
--new`` adds a random salt.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from .types import DatasetRef, JobSpec

__all__ = [
    "content_digest",
    "derive_client_ref",
    "has_explicit_client_ref",
    "owner_token",
    "token_alive",
    "with_intent_key",
]

_CHUNK = 1 << 20
# (path, size, mtime_ns) -> sha256: a script that builds a spec twice hashes its file once.
_DIGESTS: dict[tuple[str, int, int], str] = {}


def content_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, streamed (a 10 GB file costs no memory)."""
    file = Path(path)
    stat = file.stat()
    key = (str(file.resolve()), stat.st_size, stat.st_mtime_ns)
    cached = _DIGESTS.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    _DIGESTS[key] = value = digest.hexdigest()
    return value


def _data_identity(value: DatasetRef | Path | str | None) -> str | None:
    """The content hash of a local file or of an uploaded dataset (its id when it has none)."""
    if value is None:
        return None
    if isinstance(value, DatasetRef):
        return f"sha256:{value.sha256}" if value.sha256 else f"{value.provider}:{value.id}"
    return f"sha256:{content_digest(value)}"


def has_explicit_client_ref(spec: JobSpec) -> bool:
    """Whether the caller chose ``client_ref`` (else it is the random placeholder default)."""
    return "client_ref" in spec.model_fields_set


def derive_client_ref(provider: str, spec: JobSpec) -> str:
    """The intent key of ``spec`` on ``provider``: ``ftsdk-`` + 24 hex digits."""
    intent: dict[str, Any] = spec.model_dump(
        mode="json",
        include={"base_model", "method", "hyperparameters", "output_name", "labels",
                 "options", "extra_body"},
        serialize_as_any=True,
    )
    # Typed options count by what was set, not by their defaults: a release that adds an option
    # with a default must not turn a rerun of an old script into a new (paid) intent.
    if spec.options is not None and hasattr(spec.options, "model_dump"):
        intent["options"] = spec.options.model_dump(mode="json", exclude_defaults=True)
    intent["provider"] = provider
    intent["training_file"] = _data_identity(spec.training_file)
    intent["validation_file"] = _data_identity(spec.validation_file)
    canonical = json.dumps(intent, sort_keys=True, separators=(",", ":"), default=str)
    return "ftsdk-" + hashlib.sha256(canonical.encode()).hexdigest()[:24]


def with_intent_key(provider: str, spec: JobSpec, *, new: bool = False) -> JobSpec:
    """``spec`` with its dedupe key set: the caller's, else the derived one (salted if ``new``)."""
    if has_explicit_client_ref(spec):
        if new:
            from .errors import ConfigurationError

            raise ConfigurationError(
                "new=True asks for a fresh intent key, but client_ref was given; drop one of them"
            )
        return spec
    key = derive_client_ref(provider, spec)
    if new:
        # Salted so that this run and a later rerun of the same call are different intents.
        key = f"{key}-{uuid.uuid4().hex[:8]}"
    return spec.model_copy(update={"client_ref": key})


def owner_token() -> str:
    """Who holds a claim: ``host:pid:start:thread`` (start tells a reused pid apart; the thread
    keeps two tasks of one process, e.g. an ``asyncio.gather``, from sharing a claim)."""
    import socket
    import threading

    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}:{threading.get_ident()}"


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The fields after the parenthesised command name (which may hold spaces): state, ppid, ...
    return stat.rsplit(")", 1)[1].split()


def _start_time(pid: int) -> str:
    fields = _stat_fields(pid)
    return fields[19] if fields else "0"  # field 22 of stat(5): starttime


def token_alive(token: str) -> bool | None:
    """Whether the owner named by ``token`` still runs; None when it is on another host."""
    import socket
    import threading

    try:
        host, pid_text, start, thread = token.rsplit(":", 3)
        pid = int(pid_text)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    if pid == os.getpid() and start == _start_time(pid):
        return any(str(t.ident) == thread for t in threading.enumerate())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    if fields is None:
        return True  # no /proc (macOS): the pid answered, that is all we can know
    if fields[0] in {"Z", "X"}:
        return False  # a zombie has finished; only its exit status is left
    return start == "0" or fields[19] == start
