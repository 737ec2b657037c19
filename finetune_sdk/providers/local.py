"""The ``local`` provider: fine-tune on this machine's GPUs (or CPU) as a detached job.

Same contract as the hosted adapters: ``create_job`` returns at once with a job id, the job runs in
its own process (``finetune_sdk.local.worker``), and ``get_job``/``wait``/``events``/``metrics``/
``cancel`` read or touch its job directory under ``$FINETUNE_SDK_HOME/local/jobs/<id>`` — from this
process or any later one. A worker that died (killed, OOM-killed, machine rebooted) is detected
from its pid and heartbeat and reported FAILED with the tail of its log; ``resume_job`` restarts it
from the last checkpoint. ``gpus=N`` in ``LocalOptions`` runs it under torchrun (DDP).

The job directory's layout is ``local/jobdir.py``'s, the worker process ``local/launcher.py``'s;
``local/records.py`` reads a directory back as Job, events, metrics and checkpoints. Nothing here
imports torch: the user's process stays light; only the worker loads the trainer.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from ..errors import (
    ConfigurationError,
    LocalTrainerError,
    ProviderNotInstalledError,
    status_error,
)
from ..local.jobdir import CorruptStatusError, JobDir, now_iso
from ..local.launcher import pid_alive, start_worker, worker_gone
from ..local.records import (
    checkpoints_of,
    events_of,
    job_from_record,
    mark_lost,
    metric_points,
    unreadable_job,
)
from ..local.resume import count_examples, default_save_period, resume_event
from ..provider import Provider
from ..retry import RetryPolicy
from ..types import (
    Capabilities,
    Checkpoint,
    DatasetRef,
    Job,
    JobEvent,
    JobSpec,
    JobStatus,
    MetricPoint,
    ModelRef,
    ProviderOptions,
)

__all__ = ["LocalOptions", "LocalProvider", "TINY_DEFAULTS"]

#: Hyperparameters the ``tiny`` test model needs to learn visibly in seconds (used when unset).
TINY_DEFAULTS = {"epochs": 2, "learning_rate": 1e-2, "batch_size": 8}
_TRAINER_HYPERPARAMETERS = ("epochs", "learning_rate", "batch_size", "lora_rank", "lora_alpha",
                            "lora_dropout", "lora_target_modules", "warmup_ratio",
                            "max_seq_length", "seed")


_MULTINODE = ("nodes", "node_rank", "master_addr", "master_port")


class LocalOptions(ProviderOptions):
    """How and where the local trainer runs."""

    gpus: int | None = Field(None, ge=1)
    """GPUs to use; more than one runs the worker under torchrun with DDP."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    gradient_accumulation_steps: int = Field(1, ge=1)
    max_steps: int | None = Field(None, ge=1)
    """Stop after this many optimizer steps (smoke tests, budgets)."""
    save_every_steps: int | None = Field(None, ge=1)
    """Checkpoint period; a checkpoint is always written at the end and when stopped. None:
    about every tenth of the run (``local.resume.DEFAULT_CHECKPOINTS``), so a crash loses
    ~10 % of it."""
    eval_every_steps: int | None = Field(None, ge=1)
    merge: bool = False
    """Also write a merged (base + LoRA) model to ``output/merged``."""
    quantization: Literal["nf4"] | None = None
    """``"nf4"`` trains QLoRA: base weights in 4-bit NF4 (bitsandbytes, ``pip install
    'finetune-sdk[qlora]'``), LoRA in full precision on top. The adapter loads on the
    full-precision base like any other; ``merge`` reloads the base in full precision."""
    python: str | None = None
    """Interpreter for the worker (default: this one)."""
    sharding: Literal["auto", "ddp", "fsdp"] = "auto"
    """With several processes: ``"ddp"`` keeps a whole copy of the model per GPU, ``"fsdp"``
    shards base and LoRA weights and optimizer state over them (FSDP2), ``"auto"`` shards when
    the base would not fit one GPU (never on CPU). See docs/scale.md."""
    nodes: int = Field(1, ge=1)
    """Machines in the run; each starts its own job with its ``node_rank`` (``gpus`` per node)."""
    node_rank: int | None = Field(None, ge=0)
    master_addr: str | None = None
    """Address of node 0, reachable from every node (with ``nodes`` > 1)."""
    master_port: int | None = Field(None, ge=1, le=65535)
    """Port on node 0 for torchrun's rendezvous (default 29500)."""

    @model_validator(mode="after")
    def _check_spread(self) -> LocalOptions:
        if self.nodes > 1 and not self.master_addr:
            raise ValueError("nodes > 1 needs master_addr, the address of node 0")
        if self.nodes == 1 and (self.node_rank or self.master_addr or self.master_port):
            raise ValueError("node_rank, master_addr and master_port apply to nodes > 1 only")
        if self.node_rank is not None and self.node_rank >= self.nodes:
            raise ValueError(f"node_rank must be below nodes={self.nodes}")
        if self.sharding == "fsdp" and self.quantization:
            raise ValueError("sharding='fsdp' cannot shard a 4-bit base (quantization='nf4')")
        if self.sharding == "fsdp" and (self.gpus or 1) * self.nodes < 2:
            raise ValueError("sharding='fsdp' needs several processes: gpus > 1 or nodes > 1")
        return self


class LocalProvider(Provider):
    """Own-hardware LoRA fine-tuning with the same Job lifecycle as a hosted service."""

    name: ClassVar[str] = "local"
    capabilities: ClassVar[Capabilities] = Capabilities(
        methods=frozenset({"sft"}),
        hyperparameters=frozenset(_TRAINER_HYPERPARAMETERS),
        cancel=True,
        pause_resume=True,
        events=True,
        metrics=True,
        checkpoints=True,
        validation_file=True,
        client_chosen_ids=True,
        hosted=False,
        default_poll_interval=0.5,
    )
    STATUS_MAP: ClassVar[dict[str, JobStatus]] = {
        "queued": JobStatus.QUEUED,
        "running": JobStatus.RUNNING,
        "paused": JobStatus.PAUSED,
        "succeeded": JobStatus.SUCCEEDED,
        "failed": JobStatus.FAILED,
        "cancelled": JobStatus.CANCELLED,
    }
    options_type = LocalOptions

    def __init__(self, *, root: str | Path | None = None,
                 retry: RetryPolicy | None = None) -> None:
        """Args:
        root: where datasets and job directories live (default ``$FINETUNE_SDK_HOME/local``).
        """
        super().__init__(retry=retry)
        from ..config import home_dir

        self.root = Path(root) if root is not None else home_dir() / "local"
        (self.root / "jobs").mkdir(parents=True, exist_ok=True)

    # -- datasets ---------------------------------------------------------------------------
    def upload_dataset(self, path: Path, *, purpose: Literal["train", "validation"] = "train",
                       wait: bool = True) -> DatasetRef:
        """Check and convert ``path`` to the trainer's chat format, stored by content hash.

        ``wait`` is accepted for the Provider signature and changes nothing: the conversion
        happens here, before returning, so the ref is always ``ready`` (never ``processing``).
        """
        from ..data.convert import convert_file

        src = Path(path)
        store = self.root / "datasets"
        store.mkdir(parents=True, exist_ok=True)
        tmp = store / f".incoming-{uuid.uuid4().hex}.jsonl"
        try:
            # carry_mark=False: the temporary name must not get a sensitivity sidecar (the
            # local provider accepts sensitive data: nothing leaves the machine)
            report = convert_file(src, tmp, to="local", method="auto", carry_mark=False)
            if report.method != "sft":
                raise self.unsupported("preference data (method='dpo')",
                                       "The local trainer does SFT on chat examples.")
            final = store / f"{report.sha256[:16]}-{src.stem}.jsonl"
            tmp.replace(final)
        finally:
            tmp.unlink(missing_ok=True)
        return DatasetRef(id=f"file-local-{report.sha256[:16]}", provider=self.name,
                          uri=str(final), filename=src.name, bytes=final.stat().st_size,
                          num_examples=report.examples, kind="chat",
                          provider_details={"sha256": report.sha256, "purpose": purpose})

    # -- jobs -------------------------------------------------------------------------------
    def check_spec(self, spec: JobSpec) -> list[str]:
        missing = [m for m in ("torch", "transformers", "peft")
                   if importlib.util.find_spec(m) is None]
        if missing:
            raise ProviderNotInstalledError(
                f"the local trainer needs {', '.join(missing)}: pip install 'finetune-sdk[local]'")
        options: LocalOptions = self.resolve_options(spec)
        if options.quantization and options.python is None and \
                importlib.util.find_spec("bitsandbytes") is None:
            raise ProviderNotInstalledError(
                "QLoRA (quantization='nf4') needs bitsandbytes: pip install 'finetune-sdk[qlora]'")
        return []

    def _job_dir(self, job_id: str) -> JobDir:
        job = JobDir(self.root / "jobs" / job_id)
        if not JobDir.valid_id(job_id) or not job.exists():
            raise status_error(404, f"no local job {job_id!r} under {self.root / 'jobs'}",
                               provider=self.name)
        return job

    def _dataset_path(self, ref: DatasetRef | Path | str | None,
                      purpose: Literal["train", "validation"]) -> str | None:
        if ref is None:
            return None
        if not isinstance(ref, DatasetRef):
            ref = self.upload_dataset(Path(ref), purpose=purpose)
        if ref.provider != self.name or not ref.uri or not Path(ref.uri).is_file():
            raise ConfigurationError(f"dataset {ref.id} is not a local dataset on this machine;"
                                     " pass the JSONL path instead")
        return ref.uri

    def _train_config(self, spec: JobSpec, options: LocalOptions,
                      examples: int | None = None) -> dict[str, Any]:
        """The worker's TrainConfig fields; ``examples`` (training lines) sets the default
        checkpoint period."""
        chosen = spec.hyperparameters.model_dump(exclude_none=True)
        config = {k: chosen[k] for k in _TRAINER_HYPERPARAMETERS if k in chosen}
        if spec.base_model == "tiny":
            config = {**TINY_DEFAULTS, **config}
        config.update(device=options.device, merge=options.merge,
                      gradient_accumulation_steps=options.gradient_accumulation_steps)
        for key in ("max_steps", "save_every_steps", "eval_every_steps", "quantization",
                    "sharding"):
            if getattr(options, key) is not None:
                config[key] = getattr(options, key)
        if "save_every_steps" not in config and examples:
            config["save_every_steps"] = default_save_period(config, examples)
        return config

    def create_job(self, spec: JobSpec) -> Job:
        options: LocalOptions = self.resolve_options(spec)
        job = JobDir(self.root / "jobs" / f"ftjob-local-{uuid.uuid4().hex[:12]}")
        train_path = self._dataset_path(spec.training_file, "train")
        job.write_spec({
            "job_id": job.job_id,
            "client_ref": spec.client_ref,
            "base_model": spec.base_model,
            "method": spec.method,
            "training_file": train_path,
            "validation_file": self._dataset_path(spec.validation_file, "validation"),
            "train_config": self._train_config(spec, options, count_examples(train_path)),
            "labels": spec.labels,
            "output_name": spec.output_name,
            "gpus": options.gpus,
            "python": options.python,
            **options.model_dump(include=set(_MULTINODE)),
            "created_at": now_iso(),
        })
        job.update_status(status="queued", created_at=now_iso(), attempts=0)
        job.append_event("job created", type="status")
        self._launch(job)
        return self.get_job(job.job_id)

    def _launch(self, job: JobDir) -> bool:
        """Start the worker for the job's next attempt, exactly once per attempt (an atomic
        marker: the creator and a process adopting its orphan may both try)."""
        attempt = int(job.read_status().get("attempts") or 0)
        marker = job.path / f".launch-{attempt}"
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        spec = job.read_spec()
        try:
            pid = start_worker(job, gpus=spec.get("gpus"), python=spec.get("python"),
                               **{k: spec.get(k) for k in _MULTINODE})
        except OSError as exc:
            marker.unlink(missing_ok=True)  # nothing started: a resume may try this attempt again
            job.update_status(status="failed", finished_at=now_iso(),
                              error={"message": f"could not start the worker: {exc}",
                                     "code": "launch_failed"})
            raise LocalTrainerError(f"could not start the worker for {job.job_id}: {exc}") from None
        job.update_status(pid=pid, attempts=attempt + 1)
        job.append_event(f"worker launched (pid {pid})", type="launch", data={"pid": pid})
        return True

    def _adopt_unlaunched(self, job: JobDir, status: dict[str, Any]) -> dict[str, Any]:
        """Launch a queued job whose creator died between recording it and starting its worker
        (a killed ``finetune bakeoff``/``train``): the rerun that finds it gets it trained,
        not reported lost. Racing a creator still inside ``create_job`` is harmless: the
        launch marker lets one of them start the worker."""
        if status.get("pid") or status.get("attempts") or status.get("status") != "queued":
            return status
        if self._launch(job):
            job.append_event("adopted: its creator stopped before starting the worker",
                             type="status")
        return job.read_status()

    def get_job(self, job_id: str) -> Job:
        job = self._job_dir(job_id)
        spec = job.read_spec()
        try:
            status = job.read_status()
        except CorruptStatusError as exc:
            return unreadable_job(job, spec, str(exc), provider=self.name)
        status = self._adopt_unlaunched(job, status)
        raw = status.get("status", "queued")
        if raw in ("queued", "running") and worker_gone(status):
            status = mark_lost(job, status)
        return job_from_record(job, spec, status, provider=self.name,
                               mapped=self.map_status(status.get("status", "queued")))

    def _job_dirs(self) -> list[JobDir]:
        return [job for job in map(JobDir, (self.root / "jobs").iterdir())
                if JobDir.valid_id(job.job_id) and job.exists()]

    def list_jobs(self, *, limit: int | None = None) -> Iterator[Job]:
        dirs = self._job_dirs()
        dirs.sort(key=lambda d: d.read_spec().get("created_at", ""), reverse=True)
        for count, job in enumerate(dirs):
            if limit is not None and count >= limit:
                return
            try:
                yield self.get_job(job.job_id)
            except LocalTrainerError:
                continue  # listing shows what can be read; get_job names the broken one

    def find_job(self, client_ref: str) -> Job | None:
        for job in self._job_dirs():
            if job.read_spec().get("client_ref") == client_ref:
                return self.get_job(job.job_id)
        return None

    def cancel_job(self, job_id: str) -> Job:
        """Ask the worker to stop; it saves a checkpoint and ends CANCELLED."""
        job = self._job_dir(job_id)
        current = self.get_job(job_id)
        if current.status.is_terminal:
            return current
        if current.status == JobStatus.PAUSED or not pid_alive(current.provider_details["pid"]):
            job.update_status(status="cancelled", finished_at=now_iso())
            job.append_event("job cancelled", type="status")
        else:
            job.cancel_flag.touch()
            job.append_event("cancel requested; the worker stops after the current step")
        return self.get_job(job_id)

    def pause_job(self, job_id: str) -> Job:
        """Stop at the end of the current step with a checkpoint; ``resume_job`` continues."""
        job = self._job_dir(job_id)
        current = self.get_job(job_id)
        if current.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            raise status_error(409, f"job {job_id} is {current.status}; only a queued or running"
                               " job can be paused", provider=self.name)
        job.pause_flag.touch()
        job.append_event("pause requested; the worker stops after the current step")
        return self.get_job(job_id)

    def resume_job(self, job_id: str) -> Job:
        """Restart a paused, failed or cancelled job from its last checkpoint."""
        job = self._job_dir(job_id)
        try:
            current = self.get_job(job_id)
            raw = current.provider_status
        except LocalTrainerError:
            raw = "status-unreadable"
        if raw not in ("paused", "failed", "cancelled", "status-unreadable"):
            raise status_error(409, f"job {job_id} is {raw}; only a paused, failed or cancelled"
                               " job can be resumed", provider=self.name)
        job.cancel_flag.unlink(missing_ok=True)
        job.pause_flag.unlink(missing_ok=True)
        # Say what the worker will really do: it continues from the newest complete checkpoint
        # (the same marker test as the trainer's latest_checkpoint), or from step 0 without one.
        steps = job.checkpoint_steps()
        step = steps[-1] if steps else None
        job.update_status(status="queued", error=None, finished_at=None, output_model=None,
                          resume_from_step=step or 0)
        job.append_event(resume_event(step), type="status", data={"from_step": step or 0})
        self._launch(job)
        return self.get_job(job_id)

    # -- results (read from the job directory by local/records.py) ------------------------
    def list_events(self, job_id: str, *, limit: int | None = None) -> Iterator[JobEvent]:
        return events_of(self._job_dir(job_id), limit=limit)

    def get_metrics(self, job_id: str) -> list[MetricPoint]:
        return metric_points(self._job_dir(job_id))

    def list_checkpoints(self, job_id: str) -> list[Checkpoint]:
        return checkpoints_of(self._job_dir(job_id))

    def resolve_model(self, job: Job) -> ModelRef:
        if job.status != JobStatus.SUCCEEDED or not job.output_model:
            raise ConfigurationError(f"job {job.id} is {job.status}: it has no model yet")
        folder = job.output_model.removeprefix("local:")
        return ModelRef(
            id=job.output_model, provider=self.name, base_model=job.base_model, job_id=job.id,
            ready_for_inference=True, needs_deployment=False,
            how_to_serve=(f"finetune chat {job.output_model}  |  or in Python: "
                          f"PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base),"
                          f" {folder!r})"),
            provider_details={"adapter_dir": folder},
        )

