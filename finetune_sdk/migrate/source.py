"""Read the fine-tune to migrate: what it trained on, how, and the model it made.

SOURCE is a job id on any provider (``ftjob-...`` on OpenAI first of all; the ledger knows the
provider of every job this machine started, else the id's shape says), a ledger intent key
(``ftsdk-...``), or a saved file: a lineage manifest (``finetune manifest``) or a JobSpec as
JSON. The job is read from its provider (base model, method, the hyperparameters it really ran,
suffix, status, model id), and its data is fetched, in this order: ``data=`` (``--data``) when
given; the vendor's own copy where the adapter can download it (OpenAI and OpenAI-compatible
services: ``GET /files/{id}/content``); the local trainer's stored copy; the local file the
ledger recorded when this SDK created the job (checked against the intent key, which hashes the
file's content). Otherwise the error says to download the data and pass ``--data``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, DatasetError, FinetuneError
from ..types import Job, JobSpec, Method, ModelRef

__all__ = ["SourceJob", "neutral_hyperparameters", "read_source"]

_SYNONYMS = {
    "n_epochs": "epochs", "epochs": "epochs", "epoch_count": "epochs", "epochCount": "epochs",
    "batch_size": "batch_size", "batchSizeSamples": "batch_size",
    "learning_rate_multiplier": "learning_rate_multiplier",
    "learningRateMultiplier": "learning_rate_multiplier",
    "learning_rate": "learning_rate", "learningRate": "learning_rate",
    "lora_rank": "lora_rank", "loraRank": "lora_rank", "lora_alpha": "lora_alpha",
    "lora_dropout": "lora_dropout", "seed": "seed", "beta": "beta",
    "max_seq_length": "max_seq_length", "maxContextLength": "max_seq_length",
    "warmup_ratio": "warmup_ratio",
}
"""Vendor hyperparameter names (as jobs report them) -> ours."""
_WHOLE = frozenset({"epochs", "batch_size", "lora_rank", "lora_alpha", "seed", "max_seq_length"})


@dataclass
class SourceJob:
    """The fine-tune being moved, in provider-neutral terms."""

    provider: str
    job_id: str | None
    base_model: str
    method: Method
    hyperparameters: dict[str, Any]
    """What it ran, in ``Hyperparameters`` names ("auto" resolved where the vendor says)."""
    training_file: Path
    validation_file: Path | None = None
    client_ref: str | None = None
    status: str | None = None
    output_name: str | None = None
    model: ModelRef | None = None
    data_from: str = ""
    shutdown: date | None = None
    """When the source model (and so its fine-tunes) stops serving, if announced."""
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """``provider:job`` (what targets are labelled with and keyed by)."""
        return f"{self.provider}:{self.job_id or self.client_ref or self.base_model}"

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "job_id": self.job_id, "client_ref": self.client_ref,
                "status": self.status, "base_model": self.base_model, "method": self.method,
                "hyperparameters": self.hyperparameters, "output_name": self.output_name,
                "model": self.model.id if self.model else None,
                "training_file": str(self.training_file),
                "validation_file": str(self.validation_file) if self.validation_file else None,
                "data_from": self.data_from,
                "shutdown": self.shutdown.isoformat() if self.shutdown else None,
                "notes": self.notes}


def neutral_hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    """A job's reported hyperparameters in our names; ``"auto"`` and unknown keys dropped."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _SYNONYMS.get(key)
        if name is None or value is None or isinstance(value, bool):
            continue
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                continue  # "auto": the vendor's own choice, unknown to us
        if isinstance(value, (int, float)):
            out[name] = int(value) if name in _WHOLE else float(value)
    return out


def _load_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: not a manifest or JobSpec JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: expected a JSON object (a manifest or a JobSpec)")
    return data


def _guess_provider(base_model: str) -> str | None:
    from ..facts import load_facts, providers_with_facts

    found = [p for p in providers_with_facts() if (f := load_facts(p)) and f.find(base_model)]
    return found[0] if len(found) == 1 else None


def _locate(source: str, provider: str | None, ledger: Any) -> tuple[str, str | None, Any,
                                                                   dict[str, Any]]:
    """(provider, job id, ledger row or None, recorded spec dict) of a job id / intent key /
    saved file."""
    from ..inference import job_provider

    path = Path(source)
    if source.endswith(".json") and path.is_file():
        data = _load_file(path)
        if str(data.get("schema", "")).startswith("finetune_sdk.manifest"):
            ids = data.get("provider_ids") or {}
            if not ids.get("job_id") or not ids.get("provider"):
                raise ConfigurationError(f"{path}: the manifest names no provider and job id")
            row = ledger.find_job(ids["job_id"], ids["provider"])
            return ids["provider"], ids["job_id"], row, dict(data.get("spec") or {})
        if "base_model" in data and "training_file" in data:
            name = provider or data.get("provider") or _guess_provider(data["base_model"])
            if name is None:
                raise ConfigurationError(f"{path}: a JobSpec does not say its provider and"
                                         f" {data['base_model']!r} is not in exactly one catalog:"
                                         " pass --from PROVIDER")
            return name, None, None, {k: v for k, v in data.items() if k != "provider"}
        raise ConfigurationError(f"{path}: neither a manifest nor a JobSpec (needs base_model"
                                 " and training_file)")
    row = ledger.get(source) or ledger.find_job(source, provider)
    if row is not None:
        if not row.job_id:
            raise ConfigurationError(f"intent {row.client_ref} has no job yet (ledger status"
                                     f" {row.status}): nothing to migrate from; see"
                                     " `finetune reconcile`")
        return row.provider, row.job_id, row, ledger.spec(row.client_ref)
    name = provider or job_provider(source)
    if name is None:
        raise ConfigurationError(f"cannot tell which provider ran {source!r} (not in the ledger,"
                                 " and its shape is no provider's job id): pass --from PROVIDER,"
                                 " or a manifest / JobSpec JSON file")
    return name, source, None, {}


def _download(client: Any, job: Job, workdir: Path, notes: list[str]
              ) -> tuple[Path | None, Path | None, str]:
    """The vendor's own copy of the job's files, where the adapter can download them."""
    download = getattr(client.provider, "download_file", None)
    details = job.provider_details or {}
    if job.provider == "local" and details.get("job_dir"):
        from ..local.jobdir import JobDir

        spec = JobDir(details["job_dir"]).read_spec()
        train, val = spec.get("training_file"), spec.get("validation_file")
        if train and Path(train).is_file():
            return (Path(train), Path(val) if val and Path(val).is_file() else None,
                    "the local trainer's stored copy")
    if download is None or not details.get("training_file"):
        return None, None, ""
    workdir.mkdir(parents=True, exist_ok=True)
    out: list[Path | None] = []
    for key in ("training_file", "validation_file"):
        file_id = details.get(key)
        if not file_id:
            out.append(None)
            continue
        target = workdir / f"source-{key.split('_')[0]}.jsonl"
        target.write_bytes(download(str(file_id)))
        out.append(target)
    notes.append(f"training data downloaded from {job.provider} ({details['training_file']});"
                 " a downloaded copy carries no sensitive-data mark: pass --data with your"
                 " marked or scrubbed file if it holds PHI")
    return out[0], out[1], f"downloaded from {job.provider} file {details['training_file']}"


def _recorded(spec: dict[str, Any], provider: str, client_ref: str | None,
              notes: list[str]) -> tuple[Path | None, Path | None]:
    """The local files the ledger recorded for the job, if they are still here."""
    from ..intent import derive_client_ref

    paths = [spec.get(k) if isinstance(spec.get(k), str) else None
             for k in ("training_file", "validation_file")]
    train, val = (Path(p) if p and Path(p).is_file() else None for p in paths)
    if train is None:
        return None, None
    try:
        same = client_ref == derive_client_ref(provider, JobSpec.model_validate(spec))
    except (ValueError, FinetuneError):
        same = False
    if not same:
        notes.append(f"{train} is the file the ledger recorded, but its content no longer"
                     " matches the job's intent key (changed since, or the key was chosen by"
                     " hand): check it is the data the job trained on")
    return train, val


def _output_name(job: Job | None, spec: dict[str, Any]) -> str | None:
    if spec.get("output_name"):
        return str(spec["output_name"])
    model = (job.output_model or "") if job else ""
    if model.startswith("ft:") and len(model.split(":")) >= 5:
        return model.split(":")[3] or None  # ft:BASE:ORG:SUFFIX:ID (OpenAI)
    return None


def read_source(source: str, *, provider: str | None, ledger: Any, clients: Any,
                workdir: Path, data: str | Path | None = None,
                validation_data: str | Path | None = None) -> SourceJob:
    """The SourceJob of ``source`` (see the module docstring); only reads are sent."""
    from ..facts import load_facts
    from ..registry import canonical_name

    name, job_id, row, spec = _locate(source, provider and canonical_name(provider), ledger)
    notes: list[str] = []
    job = model = None
    client = clients(name) if job_id else None
    if client is not None and job_id:
        job = client.jobs.get(job_id)
        if job.status.value == "succeeded":
            model = client.models.resolve(job)
        else:
            notes.append(f"the source job is {job.status.value}: there is no source model to"
                         " compare the new ones with")
    requested = neutral_hyperparameters(dict(spec.get("hyperparameters") or {}))
    ran = neutral_hyperparameters(job.hyperparameters) if job else {}
    base = (job.base_model if job and job.base_model else spec.get("base_model"))
    if not base:
        raise ConfigurationError(f"cannot tell the base model of {source}")
    train = val = None
    data_from = ""
    if data is not None:
        train, data_from = Path(data), "given (--data)"
        val = Path(validation_data) if validation_data else None
    if train is None and job is not None:
        train, val, data_from = _download(client, job, workdir, notes)
    if train is None:
        train, val = _recorded(spec, name, row.client_ref if row else spec.get("client_ref"),
                               notes)
        data_from = "the local file recorded when the job was created" if train else ""
    if train is None:
        what = f"{name} job {job_id}" if job_id else str(source)
        raise DatasetError(f"cannot get the training data of {what}: this SDK cannot download"
                           f" it from {name}, and no local copy is known. Download it yourself"
                           " and pass --data FILE (and --validation-data FILE if it had one)")
    facts = load_facts(name)
    entry = facts.find(base) if facts else None
    return SourceJob(
        provider=name, job_id=job_id, base_model=base,
        method=(job.method if job and job.method else spec.get("method")) or "sft",
        hyperparameters={**requested, **ran}, training_file=train, validation_file=val,
        client_ref=(job.client_ref if job else None) or (row.client_ref if row else None),
        status=job.status.value if job else "not started", output_name=_output_name(job, spec),
        model=model, data_from=data_from, shutdown=entry.shutdown if entry else None,
        notes=notes)
