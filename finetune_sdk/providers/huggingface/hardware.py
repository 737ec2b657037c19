"""Which HF Jobs flavor a training job needs, and how long to let it run.

Before any paid job starts, the GPU memory a run needs is estimated from the model's size (the
catalog, the id such as ``Llama-3.1-8B`` / ``SmolLM2-135M``, the Hub's safetensors count, or
``HuggingFaceOptions(model_params_b=...)``) and the method:

========================  ======================================================================
full fine-tune            16 bytes per parameter: 16-bit weights and gradients plus AdamW's fp32
                          master weights, momentum and variance (the ZeRO paper's count); DPO
                          adds a 16-bit frozen reference copy (2 bytes)
LoRA                      2 bytes per (frozen, 16-bit) parameter, plus 16 per trainable one
QLoRA int4 / LoRA int8    0.55 / 1.05 bytes per parameter (quantization constants included),
                          plus 16 per trainable one
========================  ======================================================================

Trainable LoRA parameters are taken as ``0.05 % x rank`` of the model (0.8 % at rank 16: a
little above LoRA on every linear layer of a Llama-style model), and activations, CUDA context
and the logits get a margin of 15 % plus 1.5 GB. The result is compared with 92 % of one GPU's
memory (the rest goes to the driver and fragmentation); data-parallel training copies the model
to every GPU, so a multi-GPU flavor only adds memory with DeepSpeed (``--distributed-backend
deepspeed`` in ``extra_args``), which shards the training state. These are estimates, not
measurements: ``check_memory=False`` skips the refusal when you know better.

With no flavor given, the smallest of the file's ``auto_flavors`` that fits is used. With no
timeout given, the job may run for 1.5 x the training time at the slowest throughput assumed
for the flavor (``facts.json``, scaled down for models above 8B), plus 30 minutes for the image,
the model download and the push, and never less than an hour.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ...errors import ConfigurationError
from ...types import DatasetRef, JobSpec

__all__ = ["Flavor", "MemoryEstimate", "Plan", "estimate_memory", "flavor_info", "plan_job",
           "timeout_seconds"]

GB = 1e9
USABLE = 0.92
"""Share of a GPU's memory a training process can count on."""
MARGIN, FIXED_GB = 0.15, 1.5
"""Activations (gradient checkpointing on, AutoTrain's default), CUDA context, logits."""
BYTES_FULL, BYTES_TRAINABLE = 16.0, 16.0
BYTES_FROZEN = {None: 2.0, "int8": 1.05, "int4": 0.55}
LORA_SHARE_PER_RANK = 0.0005
DEFAULT_RANK = 16  # AutoTrain's and our trainer's default lora_r
MIN_TIMEOUT_S, STARTUP_S, SLACK = 3600, 1800, 1.5
BYTES_PER_TOKEN = 4  # chat JSONL with its JSON keys: this overcounts tokens, a safe side
REFERENCE_B = 8.0  # the throughput rows were measured on 7-8B models


@dataclass(frozen=True)
class Flavor:
    name: str
    gpus: int
    gpu: str
    gpu_memory_gb: float
    """Per GPU."""


@dataclass(frozen=True)
class MemoryEstimate:
    params_b: float
    params_from: str
    method: str
    """``full``, ``LoRA``, ``QLoRA (int4)`` or ``LoRA on int8 weights``."""
    state_gb: float
    """Weights, gradients and optimizer state."""
    total_gb: float
    """With the activation margin, before any sharding."""
    shardable_gb: float
    """The part DeepSpeed ZeRO-3 splits across GPUs (all of the state)."""

    def per_gpu(self, flavor: Flavor, sharded: bool) -> float:
        if not sharded or flavor.gpus == 1:
            return self.total_gb
        return self.total_gb - self.shardable_gb * (1 - 1 / flavor.gpus)

    def fits(self, flavor: Flavor, sharded: bool) -> bool:
        return self.per_gpu(flavor, sharded) <= flavor.gpu_memory_gb * USABLE

    def describe(self) -> str:
        return (f"{self.params_b:g}B parameters (from {self.params_from}), {self.method}: about"
                f" {self.total_gb:.1f} GB of GPU memory ({self.state_gb:.1f} GB weights,"
                f" gradients and optimizer state + {MARGIN:.0%} + {FIXED_GB:g} GB for"
                " activations)")


@dataclass(frozen=True)
class Plan:
    """What the job will ask HF Jobs for, and why (for errors, warnings and tests)."""

    flavor: str
    timeout: str | int
    memory: MemoryEstimate | None
    notes: list[str]
    """Warnings for the user (an unknown size, a tight timeout...)."""


@cache
def _raw_facts() -> dict[str, Any]:
    # facts.py's ProviderFacts does not carry `hardware` / `auto_flavors` (yet): read them here.
    text = resources.files("finetune_sdk.providers").joinpath(
        "huggingface", "facts.json").read_text(encoding="utf-8")
    return json.loads(text)


def flavor_info(name: str) -> Flavor | None:
    """GPU count and per-GPU memory of an HF Jobs flavor (None: CPU or unknown)."""
    for row in _raw_facts().get("hardware", []):
        if row["flavor"] == name:
            return Flavor(row["flavor"], int(row["gpus"]), row["gpu"],
                          float(row["gpu_memory_gb"]))
    return None


def _method(spec: JobSpec, options: Any) -> tuple[str, str | None]:
    """("full" | "lora", quantization) as the job will train."""
    if options.backend == "sdk":
        return "lora", None  # our trainer always trains LoRA, in 16-bit
    hp = spec.hyperparameters
    lora = [hp.lora_rank, hp.lora_alpha, hp.lora_dropout, hp.lora_target_modules]
    peft = options.peft or (options.peft is None and any(v is not None for v in lora))
    # AutoTrain quantizes only under --peft.
    return ("lora", options.quantization) if peft else ("full", None)


def estimate_memory(spec: JobSpec, options: Any, params_b: float, params_from: str
                    ) -> MemoryEstimate:
    """GPU memory for training ``spec`` as ``options`` say (see the module docstring)."""
    kind, quantization = _method(spec, options)
    params = params_b * 1e9
    if kind == "full":
        state = params * BYTES_FULL + (params * 2.0 if spec.method == "dpo" else 0.0)
        label = "full fine-tuning" + (" with a DPO reference copy" if spec.method == "dpo" else "")
    else:
        rank = spec.hyperparameters.lora_rank or DEFAULT_RANK
        trainable = params * min(1.0, LORA_SHARE_PER_RANK * rank)
        state = params * BYTES_FROZEN[quantization] + trainable * BYTES_TRAINABLE
        label = {None: "LoRA", "int4": "QLoRA (int4)", "int8": "LoRA on int8 weights"}[
            quantization] + f" rank {rank}"
    state_gb = state / GB
    return MemoryEstimate(params_b=params_b, params_from=params_from, method=label,
                          state_gb=state_gb, total_gb=state_gb * (1 + MARGIN) + FIXED_GB,
                          shardable_gb=state_gb)


def _sharded(options: Any) -> bool:
    args = " ".join(options.extra_args)
    return "--distributed-backend" in args and "deepspeed" in args


def _refusal(spec: JobSpec, memory: MemoryEstimate, flavor: Flavor | None, sharded: bool
             ) -> ConfigurationError:
    fitting = [f for f in map(flavor_info, _raw_facts().get("auto_flavors", []))
               if f is not None and memory.fits(f, sharded)]
    where = (f"flavor {flavor.name!r} has {flavor.gpu_memory_gb:g} GB per GPU"
             f" ({flavor.gpus} x {flavor.gpu}"
             + (", and data-parallel training copies the model to each" if flavor.gpus > 1
                and not sharded else "") + ")"
             if flavor else "no single-GPU flavor is large enough")
    hints = []
    if fitting and flavor is not None:
        hints.append(f"flavor={fitting[0].name!r} ({fitting[0].gpu_memory_gb:g} GB)")
    if memory.method.startswith("full"):
        hints.append("LoRA (set lora_rank, e.g. 16) or QLoRA (also quantization='int4')")
    elif "int4" not in memory.method:
        hints.append("QLoRA (quantization='int4', with LoRA)")
    hints.append("a multi-GPU flavor with extra_args=['--distributed-backend', 'deepspeed']")
    hints.append("check_memory=False if you know the run fits")
    return ConfigurationError(
        f"huggingface: {spec.base_model} needs more GPU memory than the job would get:"
        f" {memory.describe()}; {where}, {USABLE:.0%} of it usable. Use " + ", or ".join(hints)
        + " (HuggingFaceOptions).")


def _params(spec: JobSpec, options: Any, hub_size: Any) -> tuple[float | None, str]:
    if options.model_params_b is not None:
        return float(options.model_params_b), "model_params_b"
    from ...facts import load_facts

    facts = load_facts("huggingface")
    size, where = facts.size_of(spec.base_model) if facts else (None, "unknown")
    if size is not None:
        return size, where
    counted = hub_size(spec.base_model) if hub_size else None
    return (counted, "the Hub's safetensors count") if counted else (None, "unknown")


def _data_bytes(ref: DatasetRef | Path | str | None) -> int | None:
    if isinstance(ref, DatasetRef):
        return ref.bytes
    if ref is not None and Path(ref).is_file():
        return Path(ref).stat().st_size
    return None


def _slowest_tokens_per_s(flavor: str) -> float:
    rows = _raw_facts().get("throughput", [])
    for row in rows:
        if fnmatch.fnmatchcase(flavor, row["flavor"]):
            return float(row["tokens_per_s"][0])
    return min(float(row["tokens_per_s"][0]) for row in rows)  # unknown flavor: the slowest


def _timeout(spec: JobSpec, flavor: str, params_b: float | None
             ) -> tuple[int, float | None]:
    """(default timeout in seconds, the run's slowest expected length or None if unknown)."""
    size = sum(b or 0 for b in (_data_bytes(spec.training_file),
                                _data_bytes(spec.validation_file)))
    if not size:
        return MIN_TIMEOUT_S, None
    tokens = size / BYTES_PER_TOKEN * (spec.hyperparameters.epochs or 1)
    speed = _slowest_tokens_per_s(flavor) * min(1.0, REFERENCE_B / (params_b or REFERENCE_B))
    need = tokens / speed + STARTUP_S
    default = SLACK * tokens / speed + STARTUP_S
    return max(MIN_TIMEOUT_S, int(math.ceil(default / 60) * 60)), need


def timeout_seconds(value: str | int) -> int:
    """``"90m"`` / ``"2h"`` / ``"30s"`` / seconds, as HF Jobs reads them."""
    if isinstance(value, int):
        return value
    text = str(value).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(float(text))
    except ValueError:
        raise ConfigurationError(
            f"huggingface: timeout {value!r} is not seconds or '<number>s|m|h|d'") from None


def plan_job(spec: JobSpec, options: Any, *, hub_size: Any = None) -> Plan:
    """The flavor and timeout for ``spec``; raises ConfigurationError when the memory estimate
    does not fit the flavor asked for (or any flavor, when none was)."""
    notes: list[str] = []
    params_b, where = _params(spec, options, hub_size)
    memory = estimate_memory(spec, options, params_b, where) if params_b else None
    sharded = _sharded(options)
    flavor = options.flavor
    if flavor is None:
        default = _raw_facts().get("default_flavor", "a10g-small")
        if memory is None:
            flavor = default
            notes.append(f"the size of {spec.base_model} is unknown (not in its id, the catalog"
                         f" or the Hub): flavor {default} was not checked against its memory"
                         " needs; set HuggingFaceOptions(model_params_b=...) or flavor=...")
        else:
            auto = [f for f in map(flavor_info, _raw_facts().get("auto_flavors", [default]))
                    if f is not None]
            fitting = [f for f in auto if memory.fits(f, sharded)]
            if not fitting:
                raise _refusal(spec, memory, None, sharded)
            flavor = fitting[0].name
    elif memory is not None and options.check_memory:
        info = flavor_info(flavor)
        if info is None:
            notes.append(f"flavor {flavor!r} has no GPU in the table: memory not checked")
        elif not memory.fits(info, sharded):
            raise _refusal(spec, memory, info, sharded)
    estimated, need = _timeout(spec, flavor, params_b)
    if options.timeout is None:
        if need is None:
            notes.append("data size unknown: the job may run for 1 h (set timeout=...)")
        return Plan(flavor=flavor, timeout=estimated, memory=memory, notes=notes)
    if need is not None and timeout_seconds(options.timeout) < need:
        notes.append(f"timeout {options.timeout!r} may stop the job before it ends: at the slowest"
                     f" assumed speed on {flavor} it needs up to {need / 3600:.1f} h (with"
                     f" timeout=None the job gets {estimated / 3600:.1f} h)")
    return Plan(flavor=flavor, timeout=options.timeout, memory=memory, notes=notes)
