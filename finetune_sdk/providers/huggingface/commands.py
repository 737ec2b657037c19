"""What runs inside an HF Job: the AutoTrain command line, the SDK-trainer arguments, and the
training log parsed back into metrics.

Pure functions of (spec, options, dataset refs), so the flag mapping is tested without a Hub.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from typing import Any

from ...errors import ConfigurationError
from ...types import DatasetRef, JobSpec, MetricPoint
from .._wire import wire_parser

__all__ = [
    "DATA_DIR",
    "autotrain_command",
    "dataset_location",
    "parse_metrics",
    "project_name",
    "sdk_script_args",
]

DATA_DIR = "/tmp/ftsdk-data"
"""Where the job copies its train/validation files before training."""
MOUNT_ROOT = "/data"


def project_name(spec: JobSpec) -> str:
    """The AutoTrain project / Hub model repo name: lowercase letters, digits and '-'."""
    raw = spec.output_name or f"ftsdk-{spec.client_ref}"
    name = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")[:96]
    if not name:
        raise ConfigurationError(f"huggingface: output_name {raw!r} has no usable characters")
    return name


def dataset_location(ref: DatasetRef | Any) -> tuple[str, str, str | None]:
    """(repo_id, path_in_repo, revision) of a DatasetRef made by ``upload_dataset``."""
    if not isinstance(ref, DatasetRef) or ref.provider != "huggingface":
        raise ConfigurationError(
            "huggingface: training/validation files must be uploaded with this provider first"
            f" (client.datasets.upload); got {ref!r}"
        )
    details = ref.provider_details
    repo_id, path, revision = details.get("repo_id"), details.get("path"), details.get("revision")
    if not repo_id or not path:
        # "user/repo:folder/train.jsonl@<commit>" (a DatasetRef rebuilt from its id alone)
        repo_id, _, rest = ref.id.partition(":")
        path, _, revision = rest.partition("@")
    if not repo_id or not path:
        raise ConfigurationError(f"huggingface: {ref.id!r} is not 'user/repo:path[@revision]'")
    return repo_id, path, revision or None


def _stage_commands(files: dict[str, str]) -> list[str]:
    """Shell lines copying each mounted file to DATA_DIR/<split>.jsonl."""
    lines = [f"mkdir -p {DATA_DIR}"]
    for split, mounted in files.items():
        lines.append(f"cp {shlex.quote(mounted)} {DATA_DIR}/{split}.jsonl")
    return lines


def mounted_files(spec: JobSpec) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Volumes (as ``Volume`` kwargs) for the datasets, and split -> path inside the container."""
    volumes: list[dict[str, Any]] = []
    files: dict[str, str] = {}
    for split, ref in (("train", spec.training_file), ("validation", spec.validation_file)):
        if ref is None:
            continue
        repo_id, path, revision = dataset_location(ref)
        folder, _, filename = path.rpartition("/")
        mount = f"{MOUNT_ROOT}/{split}"
        volumes.append(dict(type="dataset", source=repo_id, mount_path=mount, revision=revision,
                            path=folder or None))
        files[split] = f"{mount}/{filename}"
    return volumes, files


def autotrain_command(
    spec: JobSpec, options: Any, *, namespace: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """``sh -c`` running ``autotrain llm --train ...`` (token from the HF_TOKEN secret), volumes."""
    volumes, files = mounted_files(spec)
    hp = spec.hyperparameters
    args: list[str] = [
        "autotrain", "llm", "--train",
        "--model", spec.base_model,
        "--project-name", project_name(spec),
        "--data-path", DATA_DIR,
        "--train-split", "train",
    ]
    if "validation" in files:
        args += ["--valid-split", "validation"]
    if spec.method == "dpo":
        args += ["--trainer", "dpo", "--prompt-text-column", "prompt", "--text-column", "chosen",
                 "--rejected-text-column", "rejected"]
    else:
        args += ["--trainer", "sft", "--text-column", options.text_column]
    if options.chat_template:
        args += ["--chat-template", options.chat_template]
    lora = [hp.lora_rank, hp.lora_alpha, hp.lora_dropout, hp.lora_target_modules]
    if options.peft or (options.peft is None and any(v is not None for v in lora)):
        args.append("--peft")
    flags: list[tuple[str, Any]] = [
        ("--lora-r", hp.lora_rank),
        ("--lora-alpha", hp.lora_alpha),
        ("--lora-dropout", hp.lora_dropout),
        ("--target-modules", ",".join(hp.lora_target_modules) if hp.lora_target_modules else None),
        ("--epochs", hp.epochs),
        ("--lr", hp.learning_rate),
        ("--batch-size", hp.batch_size),
        ("--block-size", hp.max_seq_length),
        ("--model-max-length", hp.max_seq_length),
        ("--warmup-ratio", hp.warmup_ratio),
        ("--seed", hp.seed),
        ("--dpo-beta", hp.beta),
        ("--quantization", options.quantization),
        ("--mixed-precision", options.mixed_precision),
        ("--gradient-accumulation", options.gradient_accumulation),
    ]
    for flag, value in flags:
        if value is not None:
            args += [flag, str(value)]
    args += [*options.extra_args, "--push-to-hub", "--username", namespace]
    # The token is a job secret: it reaches the container as $HF_TOKEN and never appears in the
    # command the Hub stores and shows.
    script = " && ".join(
        _stage_commands(files) + [shlex.join(args) + ' --token "$HF_TOKEN"']
    )
    return ["sh", "-c", script], volumes


def sdk_script_args(spec: JobSpec, *, output_repo: str) -> list[str]:
    """Arguments of ``python -m finetune_sdk.providers.huggingface.remote_train`` in the job."""
    _, files = mounted_files(spec)
    args = [
        "--base-model", spec.base_model,
        "--train", files["train"],
        "--output-repo", output_repo,
        "--method", spec.method,
        "--hyperparameters", json.dumps(spec.hyperparameters.set_fields(), sort_keys=True),
    ]
    if "validation" in files:
        args += ["--validation", files["validation"]]
    return args


# -- logs -> metrics -------------------------------------------------------------------------
_DICT_LINE = re.compile(r"\{[^{}]*'(?:loss|eval_loss|train_loss)'[^{}]*\}")
_JSON_LINE = re.compile(r"\{[^{}]*\"(?:loss|eval_loss|train_loss|valid_loss)\"[^{}]*\}")


@wire_parser("huggingface", "HF job log metrics")
def parse_metrics(lines: list[str]) -> list[MetricPoint]:
    """Loss lines from a training log (transformers' ``{'loss': ...}`` dicts, JSON lines).

    transformers' log dicts carry no step, so lines without one are numbered in order.
    """
    points: list[MetricPoint] = []
    for line in lines:
        match = _DICT_LINE.search(line) or _JSON_LINE.search(line)
        if match is None:
            continue
        try:
            raw = ast.literal_eval(match.group(0))
        except (ValueError, SyntaxError):
            try:
                raw = json.loads(match.group(0))
            except ValueError:
                continue
        if not isinstance(raw, dict):
            continue
        values = {k: v for k, v in raw.items()
                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if not values.keys() & {"loss", "train_loss", "eval_loss", "valid_loss"}:
            continue
        step = int(values.pop("step", values.pop("global_step", len(points) + 1)))
        train = values.pop("loss", values.pop("train_loss", None))
        valid = values.pop("eval_loss", values.pop("valid_loss", None))
        points.append(MetricPoint(
            step=step,
            epoch=values.pop("epoch", None),
            train_loss=train,
            valid_loss=valid,
            learning_rate=values.pop("learning_rate", None),
            extra={k: float(v) for k, v in values.items()},
        ))
    return points
