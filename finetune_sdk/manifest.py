"""Lineage manifest: everything needed to say later what a model is and how it was made.

```python
manifest = build_manifest(job, spec=spec, dataset_paths=["train.jsonl", "val.jsonl"],
                          estimate=cost.estimate(spec, "openai"), eval_report=report,
                          split_seed=13)
write_manifest("runs/2026-11-23/manifest.json", manifest)
```

It records dataset hashes, the split seed, the converter version, requested and resolved
hyperparameters, provider ids, the model id, the cost estimate against the tokens actually
trained and the actual cost they imply, the evaluation summary, and package versions (read
from installed metadata, so torch & co. are never imported just to be named). Works for any
provider's ``Job``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from .types import CostEstimate, DatasetRef, Job, JobSpec

__all__ = ["CONVERTER_VERSION", "MANIFEST_SCHEMA", "build_manifest", "estimate_for_job",
           "package_versions", "write_manifest"]

MANIFEST_SCHEMA = "finetune_sdk.manifest/1"
CONVERTER_VERSION = "finetune_sdk.data.convert/1"
"""Bump when converted wire files change for the same input (it is part of lineage)."""

_EPOCH_KEYS = ("epochs", "n_epochs", "epoch_count", "epochCount")
"""How each vendor names the epochs a job ran (local/Fireworks, OpenAI, Vertex)."""

_PACKAGES = ("finetune-sdk", "pydantic", "httpx2", "openai", "google-genai",
             "google-cloud-storage", "huggingface_hub", "torch", "transformers", "peft",
             "tokenizers", "accelerate", "sacrebleu", "rouge-score")


def package_versions(names: Iterable[str] = _PACKAGES) -> dict[str, str]:
    """Installed versions (from package metadata; nothing is imported). Missing ones omitted."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    if "finetune-sdk" not in out:  # running from a source tree without an install
        from . import __version__

        out["finetune-sdk"] = __version__
    return out


def _dataset_entry(path: str | Path) -> dict[str, Any]:
    from .data._lines import file_sha256

    file = Path(path)
    entry: dict[str, Any] = {"path": str(file.resolve()), "name": file.name}
    if not file.is_file():
        entry["missing"] = True
        return entry
    with file.open("rb") as handle:
        entry["examples"] = sum(1 for line in handle if line.strip())
    entry.update(bytes=file.stat().st_size, sha256=file_sha256(file))
    return entry


def _ref_entry(ref: DatasetRef) -> dict[str, Any]:
    return {k: v for k, v in ref.model_dump(mode="json", exclude={"provider_details"}).items()
            if v is not None}


def _spec_section(spec: JobSpec) -> dict[str, Any]:
    data = spec.model_dump(mode="json", exclude={"options", "extra_body"})
    for field in ("training_file", "validation_file"):
        value = getattr(spec, field)
        data[field] = _ref_entry(value) if isinstance(value, DatasetRef) else (
            str(value) if value is not None else None)
    data["spec_hash"] = spec.spec_hash()
    data["extra_body_keys"] = sorted(spec.extra_body)  # values may be anything: keys only
    return data


def _cost_section(estimate: CostEstimate | None, job: Job) -> dict[str, Any] | None:
    if estimate is None and job.trained_tokens is None:
        return None
    out: dict[str, Any] = {"actual_trained_tokens": job.trained_tokens}
    if estimate is not None:
        # JSON has no NaN: an unknown price is null (the assumptions say why)
        est = {k: (None if isinstance(v, float) and math.isnan(v) else v)
               for k, v in estimate.model_dump(mode="json").items()}
        out["estimate"] = est
        if job.trained_tokens:
            ratio = estimate.billed_tokens / job.trained_tokens
            out["estimated_vs_actual_tokens"] = round(ratio, 4)
    out.update(_actual_cost(estimate, job))
    return out


def _actual_cost(estimate: CostEstimate | None, job: Job) -> dict[str, Any]:
    """``cost.actual_cost``: trained tokens x the per-token price (the estimate's, else the
    table's); null where the vendor reports no tokens or the price is unknown or per hour."""
    from .cost import actual_cost

    found = actual_cost(job, estimate)
    if found is None:
        return {"actual_usd": None}
    return {"actual_usd": found.usd, "actual_usd_basis": found.basis}


def _eval_section(report: Any) -> dict[str, Any] | None:
    if report is None:
        return None
    if hasattr(report, "summary"):
        return report.summary()
    return dict(report)


def _resolved_epochs(job: Job) -> int | None:
    for key in _EPOCH_KEYS:
        value = job.hyperparameters.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        if isinstance(value, str) and value.isdigit() and int(value) >= 1:
            return int(value)
    return None  # "auto" or not reported


def estimate_for_job(job: Job, spec: JobSpec,
                     dataset_paths: Iterable[str | Path] = ()) -> CostEstimate:
    """The cost estimate of a finished job, as close to what it really ran as we can know.

    Epochs: the spec's, else the epochs the job reports it ran (vendors resolve "auto"). Tokens:
    counted from the local provider's stored copy, or from a file among ``dataset_paths`` whose
    SHA-256 matches the uploaded training file, instead of guessing from its byte size.
    """
    from .cost import estimate
    from .data._lines import file_sha256

    source: Any = spec.training_file
    digest = (source.sha256 or source.provider_details.get("sha256")
              if isinstance(source, DatasetRef) else None)
    if isinstance(source, DatasetRef) and source.provider == "local" and source.uri and \
            Path(source.uri).is_file():
        source = Path(source.uri)  # the local provider's stored copy is on this machine
    elif digest:
        for path in dataset_paths:
            file = Path(path)
            if file.is_file() and file_sha256(file) == digest:
                source = file
                break
    epochs = spec.hyperparameters.epochs or _resolved_epochs(job)
    return estimate(spec.model_copy(update={"training_file": source}), job.provider,
                    epochs=epochs)


def build_manifest(job: Job, *, spec: JobSpec | None = None,
                   dataset_paths: Iterable[str | Path] = (), estimate: CostEstimate | None = None,
                   eval_report: Any = None, split_seed: int | None = None) -> dict[str, Any]:
    """The manifest as a JSON-ready dict (see module docstring for what it holds)."""
    paths = list(dataset_paths)
    if spec is not None:  # local files named by the spec count as inputs too
        for value in (spec.training_file, spec.validation_file):
            if isinstance(value, (str, Path)) and Path(value).is_file() and Path(value) not in [
                    Path(p) for p in paths]:
                paths.append(value)
    job_data = job.model_dump(mode="json", exclude={"provider_details"})
    return {
        "schema": MANIFEST_SCHEMA,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": {"id": job.output_model, "provider": job.provider, "base_model": job.base_model},
        "provider_ids": {"provider": job.provider, "job_id": job.id,
                         "client_ref": job.client_ref, "model_id": job.output_model,
                         "datasets": [_ref_entry(v)["id"] for v in
                                      ((spec.training_file, spec.validation_file) if spec else ())
                                      if isinstance(v, DatasetRef)]},
        "job": job_data,
        "hyperparameters": {
            "requested": spec.hyperparameters.set_fields() if spec else None,
            "resolved": job.hyperparameters,
        },
        "spec": _spec_section(spec) if spec else None,
        "datasets": [_dataset_entry(p) for p in paths],
        "split_seed": split_seed,
        "converter_version": CONVERTER_VERSION,
        "cost": _cost_section(estimate, job),
        "eval": _eval_section(eval_report),
        "versions": package_versions(),
    }


def write_manifest(path: str | Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest`` as JSON atomically (temp file + rename); returns the path."""
    target = Path(path)
    if target.is_dir():
        target = target / "manifest.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".manifest-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
