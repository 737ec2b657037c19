"""The trained result on disk: LoRA adapter + tokenizer + manifest (+ merged model).

Everything is written into a temporary sibling directory and moved into place at the end, so
``output_dir`` is either the previous content or the complete new result, never half of one.
The manifest records what is needed to reproduce or audit the run: dataset hashes, the training
config, final metrics and library versions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

MANIFEST = "trainer_manifest.json"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    import peft
    import torch
    import transformers

    from .. import __version__ as sdk_version

    found = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "finetune_sdk": sdk_version,
    }
    bitsandbytes = sys.modules.get("bitsandbytes")  # loaded by QLoRA runs only
    if bitsandbytes is not None:
        found["bitsandbytes"] = getattr(bitsandbytes, "__version__", "unknown")
    if torch.cuda.is_available():
        found["cuda"] = str(torch.version.cuda)
        found["gpu"] = torch.cuda.get_device_name()
    return found


def _config_record(config: Any) -> dict[str, Any]:
    record = dataclasses.asdict(config)
    return {k: str(v) if isinstance(v, Path) else v for k, v in record.items()}


def write_output(
    config: Any,
    *,
    peft_model: Any,
    tokenizer: Any,
    metrics: dict[str, Any],
    details: dict[str, Any],
) -> Path:
    """Write the adapter, tokenizer, manifest (and ``merged/`` when asked); returns output_dir."""
    output_dir = Path(config.output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = output_dir.parent / f".{output_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    peft_model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    datasets = {
        "train": {"path": str(config.train_file), "sha256": file_sha256(Path(config.train_file))}
    }
    if config.validation_file:
        path = Path(config.validation_file)
        datasets["validation"] = {"path": str(path), "sha256": file_sha256(path)}
    manifest = {
        "format": "finetune_sdk.local/1",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "base_model": str(config.base_model),
        "datasets": datasets,
        "config": _config_record(config),
        "metrics": metrics,
        "details": details,
        "versions": versions(),
        "merged": bool(config.merge),
    }
    if config.merge:
        _write_merged(peft_model, tokenizer, tmp / "merged", config, adapter_dir=tmp)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    if output_dir.exists():
        old = output_dir.parent / f".{output_dir.name}.old-{os.getpid()}"
        os.replace(output_dir, old)
        os.replace(tmp, output_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, output_dir)
    return output_dir


def _write_merged(peft_model: Any, tokenizer: Any, path: Path, config: Any,
                  adapter_dir: Path) -> None:
    if getattr(config, "quantization", None):
        # QLoRA: merging into 4-bit weights would save a lossy 4-bit model. Reload the base
        # in full precision (on CPU) and fold the saved adapter into that instead.
        from peft import PeftModel
        from transformers import AutoModelForCausalLM

        from ._model import weight_dtype

        # The dtype a full-precision run on the same device would have merged in.
        dtype = weight_dtype(next(peft_model.parameters()).device)
        base = AutoModelForCausalLM.from_pretrained(str(config.base_model), dtype=dtype)
        with warnings.catch_warnings():  # PEFT's own use of a deprecated transformers call
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated")
            peft_model = PeftModel.from_pretrained(base, str(adapter_dir))
    # Merging folds LoRA into the base weights in place; it is the last thing the run does.
    merged = peft_model.merge_and_unload()
    merged.config._attn_implementation = "sdpa"  # a plain HF model for whoever loads it next
    merged.save_pretrained(path)
    tokenizer.save_pretrained(path)
