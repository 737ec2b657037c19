"""The detached training process: ``python -m finetune_sdk.local.worker JOB_DIR``.

It reads ``spec.json``, runs the trainer and reports through the job directory only (status,
events, metrics), so any process can follow the job. Stopping is cooperative: SIGTERM or a
``cancel.requested``/``pause.requested`` file makes the trainer save a checkpoint at the end of the
current step and return; the job then ends CANCELLED (or PAUSED). Any error ends it FAILED with a
one-line reason in the status and the traceback in ``worker.log``. A heartbeat thread stamps the
status every few seconds so a frozen or vanished worker can be told from a slow one.

Under torchrun every rank runs this module; only the node leader (local rank 0) touches the job
directory. With several nodes each node runs its own job (``nodes``/``node_rank`` in its spec) and
its leader reports into that job's directory. When a rank dies, the others fail in their next
collective: the leader then records a failure that says so, with the tail of ``worker.log``.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from .jobdir import JobDir, now_iso
from .resume import lost_hint

HEARTBEAT_EVERY_S = 5.0


class _JobHooks:
    """TrainerHooks that write the job directory."""

    def __init__(self, job: JobDir, epochs: int, max_steps: int | None) -> None:
        self.job, self.epochs, self.max_steps = job, epochs, max_steps
        self.signalled = threading.Event()

    def on_metric(self, point: dict) -> None:
        self.job.append_metric(point)
        if "train_loss" not in point:
            return
        progress = point.get("epoch", 0) / max(1, self.epochs)
        if self.max_steps:
            progress = max(progress, point["step"] / self.max_steps)
        self.job.update_status(step=point["step"], progress=round(min(1.0, progress), 4),
                               train_loss=point["train_loss"],
                               trained_tokens=point.get("trained_tokens"))

    def on_event(self, message: str, level: str = "info") -> None:
        self.job.append_event(message, level=level)

    def should_stop(self) -> bool:
        return (self.signalled.is_set() or self.job.cancel_flag.exists()
                or self.job.pause_flag.exists())

    def on_checkpoint(self, path: Path, step: int) -> None:
        self.job.append_event(f"checkpoint saved at step {step}", type="checkpoint",
                              data={"step": step, "path": str(path)})
        self.job.update_status(last_checkpoint=str(path), last_checkpoint_step=step)


def _limit_cpu_threads() -> int:
    """On CPU, leave one core to the rest of the machine (FINETUNE_SDK_CPU_THREADS overrides).

    torch's default (one thread per core) stalls badly as soon as anything else runs: each
    parallel region waits for its slowest thread. Measured on 2 shared cores with the tiny
    model: 39 s with one thread against 239 s with two.
    """
    import torch

    previous = torch.get_num_threads()
    if torch.cuda.is_available():
        return previous
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wanted = os.environ.get("FINETUNE_SDK_CPU_THREADS")
    torch.set_num_threads(int(wanted) if wanted else max(1, (cores or 2) - 1))
    return previous


def _train_config(spec: dict[str, Any], job: JobDir) -> Any:
    from .tiny import resolve_base_model
    from .trainer import TrainConfig

    return TrainConfig(
        base_model=resolve_base_model(spec["base_model"]),
        train_file=Path(spec["training_file"]),
        validation_file=Path(spec["validation_file"]) if spec.get("validation_file") else None,
        output_dir=job.output_dir,
        checkpoint_dir=job.checkpoint_dir,
        **spec.get("train_config", {}),
    )


def _peer_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed collective (most often: another rank went away)."""
    import torch.distributed as dist

    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    text = str(exc).lower()
    return any(s in text for s in ("connection closed by peer", "connection reset by peer",
                                   "broken pipe"))


def describe_failure(exc: BaseException, distributed: bool = False) -> str:
    """One line a user can act on."""
    if distributed and _peer_lost(exc):
        return ("a collective between the job's processes failed, usually because another one"
                " stopped (killed, out of memory or crashed; the torchrun summary at the end of"
                f" worker.log names its rank): {_first_line(exc)}")
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = f" while writing {exc.filename}" if exc.filename else ""
        return f"no space left on device{where}; free disk space and resume the job"
    if isinstance(exc, MemoryError):
        return "out of memory; lower batch_size or max_seq_length and resume the job"
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _beat(job: JobDir, stop: threading.Event) -> None:
    leader = os.getpgid(0)  # the launcher made the worker (or torchrun) a session leader
    while not stop.wait(HEARTBEAT_EVERY_S):
        try:
            job.heartbeat(leader)
        except OSError:
            pass  # a full disk must not kill the heartbeat thread; the trainer will report it


def run_job(job_dir: str | Path) -> int:
    """Train the job in ``job_dir`` in this process; returns the exit code."""
    job = JobDir(job_dir)
    main_rank = int(os.environ.get("LOCAL_RANK", "0")) == 0  # this node's leader
    spec = job.read_spec()
    train_config = spec.get("train_config", {})
    hooks = _JobHooks(job, train_config.get("epochs", 1), train_config.get("max_steps"))
    previous_handler = None
    if threading.current_thread() is threading.main_thread():
        previous_handler = signal.signal(signal.SIGTERM, lambda *_: hooks.signalled.set())
    try:
        return _run(job, spec, hooks, main_rank)
    finally:
        if previous_handler is not None:  # run in-process (tests): leave the caller as it was
            signal.signal(signal.SIGTERM, previous_handler)


def _run(job: JobDir, spec: dict[str, Any], hooks: _JobHooks, main_rank: bool) -> int:
    from ..errors import redact
    from .trainer import train

    stop_beat = threading.Event()
    if main_rank:
        job.update_status(status="running", worker_pid=os.getpid(), started_at=now_iso(),
                          heartbeat_at=time.time(), error=None)
        job.append_event(f"worker started (pid {os.getpid()})", type="status")
        threading.Thread(target=_beat, args=(job, stop_beat), daemon=True).start()
    threads = None
    try:
        threads = _limit_cpu_threads()
        result = train(_train_config(spec, job), hooks)
    except BaseException as exc:  # noqa: BLE001 - every failure must end in a FAILED status
        traceback.print_exc(file=sys.stderr)
        stop_beat.set()
        if main_rank:
            distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
            message = redact(describe_failure(exc, distributed))
            error = {"message": message, "code": type(exc).__name__}
            if distributed:  # the cause may be another rank's output, not this traceback
                steps = job.checkpoint_steps()
                error.update(message=f"{message}; {lost_hint(steps[-1] if steps else None)}",
                             code="rank_failed", log_tail=redact(job.log_tail()))
            job.update_status(status="failed", finished_at=now_iso(), error=error)
            job.append_event(error["message"], level="error", type="status")
        return 1
    finally:
        if threads is not None:  # matters only when run in-process (tests)
            import torch

            torch.set_num_threads(threads)
    stop_beat.set()
    if not main_rank:
        return 0
    metrics = {"steps": result.steps, "trained_tokens": result.trained_tokens,
               "first_loss": result.first_loss, "final_loss": result.final_loss,
               "eval_loss": result.eval_loss, "resumed_from_step": result.resumed_from_step}
    if result.stopped:
        paused = job.pause_flag.exists() and not job.cancel_flag.exists()
        final = "paused" if paused else "cancelled"
        job.update_status(status=final, finished_at=None if final == "paused" else now_iso(),
                          result=metrics)
        job.append_event(f"job {final} at step {result.steps}", type="status")
        return 0
    if result.output_dir is not None:  # the job spec travels with the adapter it produced
        shutil.copyfile(job.spec_file, Path(result.output_dir) / "job_spec.json")
    job.update_status(status="succeeded", finished_at=now_iso(), progress=1.0,
                      output_model=f"local:{result.output_dir}", result=metrics,
                      trained_tokens=result.trained_tokens)
    job.append_event(f"job succeeded: model local:{result.output_dir}", type="status")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python -m finetune_sdk.local.worker JOB_DIR", file=sys.stderr)
        return 2
    return run_job(args[0])


if __name__ == "__main__":
    sys.exit(main())
