"""Start a detached worker for a job directory, and tell whether it is still alive.

One GPU (or CPU): ``python -m finetune_sdk.local.worker JOB_DIR``. Several GPUs: the same module
under ``torchrun --standalone --nproc_per_node=N`` (``python -m torch.distributed.run``), so the
trainer runs DDP or FSDP2 with torch's own launcher and rendezvous; rank 0 writes the job
directory. Several nodes: each node starts its own job, whose torchrun gets ``--nnodes=M
--node_rank=R --master_addr=HOST --master_port=P`` instead of ``--standalone`` (torchrun's static
rendezvous: node 0's agent hosts the store at HOST:P, the others connect to it).

The process starts in its own session (``start_new_session``): closing the terminal or ending the
Python program that created the job does not stop training, and a later process reattaches
through the job directory. Its stdout/stderr go to ``worker.log``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .jobdir import JobDir

__all__ = ["HEARTBEAT_TIMEOUT_S", "heartbeat_timeout", "pid_alive", "signal_worker", "start_worker",
           "worker_command", "worker_gone"]

#: A worker whose heartbeat is older than this is considered gone even if its pid exists (the pid
#: may have been reused after a reboot). The heartbeat thread beats every few seconds, even while
#: a model loads or compiles. Override with FINETUNE_SDK_HEARTBEAT_TIMEOUT.
HEARTBEAT_TIMEOUT_S = 120.0

# Popen objects of workers this process started: polling them reaps the exited child, which
# would otherwise linger as a zombie whose pid still "exists".
_CHILDREN: dict[int, subprocess.Popen] = {}


def worker_command(job_dir: Path, *, gpus: int | None = None, python: str | None = None,
                   nodes: int | None = None, node_rank: int | None = None,
                   master_addr: str | None = None, master_port: int | None = None) -> list[str]:
    """The command line; ``gpus`` is processes per node, ``nodes`` > 1 needs ``master_addr``."""
    interpreter = python or sys.executable
    module = ["-m", "finetune_sdk.local.worker", str(job_dir)]
    if nodes and nodes > 1:
        if not master_addr:
            raise ValueError("a run over several nodes needs master_addr (node 0's address)")
        port = [f"--master_port={master_port}"] if master_port else []  # torchrun's: 29500
        return [interpreter, "-m", "torch.distributed.run", f"--nnodes={nodes}",
                f"--node_rank={node_rank or 0}", f"--master_addr={master_addr}", *port,
                f"--nproc_per_node={gpus or 1}", *module]
    if gpus and gpus > 1:
        return [interpreter, "-m", "torch.distributed.run", "--standalone",
                f"--nproc_per_node={gpus}", *module]
    return [interpreter, *module]


def start_worker(job: JobDir, *, gpus: int | None = None, python: str | None = None,
                 env: dict[str, str] | None = None, **multinode: Any) -> int:
    """Launch the worker detached; returns its pid (the process-group leader).

    ``multinode``: ``nodes``, ``node_rank``, ``master_addr``, ``master_port`` of
    ``worker_command``.
    """
    command = worker_command(job.path, gpus=gpus, python=python, **multinode)
    child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    with open(job.log_file, "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, env=child_env, cwd=str(job.path),
        )
    _CHILDREN[process.pid] = process
    return process.pid


def pid_alive(pid: int | None) -> bool:
    """True while ``pid`` runs (a zombie counts as dead)."""
    if not pid:
        return False
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:  # Linux: a zombie's state letter is Z
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0] != "Z"
    except (OSError, IndexError):
        return True


def heartbeat_timeout() -> float:
    return float(os.environ.get("FINETUNE_SDK_HEARTBEAT_TIMEOUT", HEARTBEAT_TIMEOUT_S))


def worker_gone(status: dict) -> bool:
    """Dead pid, or a heartbeat so old that the pid cannot be ours any more."""
    if not pid_alive(status.get("pid")):
        return True
    beat = status.get("heartbeat_at")
    return isinstance(beat, (int, float)) and time.time() - beat > heartbeat_timeout()


def signal_worker(pid: int | None, sig: int = signal.SIGTERM) -> bool:
    """Signal the worker's whole process group (torchrun and its ranks); False if none."""
    if pid is None or not pid_alive(pid):
        return False
    try:
        os.killpg(os.getpgid(pid), sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True
