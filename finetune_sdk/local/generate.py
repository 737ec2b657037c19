"""Answers from a local model: a base model folder, ``tiny``, or a trained adapter folder.

An adapter folder (``adapter_config.json``, as the local trainer writes it) is loaded on top of its
base model and merged for speed; its own tokenizer (with the chat template used in training) is
used, so prompts are rendered exactly as they were trained. Greedy decoding by default
(``temperature=0``), seeded sampling otherwise. Loaded models are kept (a few, keyed by folder and
modification time) because an evaluation asks hundreds of questions.

Called by ``finetune_sdk.inference`` (``chat``/``chat_many`` with a ``local:`` model id).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

__all__ = ["chat_local", "chat_local_batch", "load_local_model"]

_CACHE: OrderedDict[tuple[str, float], tuple[Any, Any]] = OrderedDict()
_CACHE_SIZE = 2
_BATCH = 16


def _folder(model: str) -> Path:
    from .tiny import resolve_base_model

    path = Path(resolve_base_model(model.removeprefix("local:"))).expanduser()
    if not path.is_dir():
        raise ConfigurationError(
            f"local model {model!r}: no such folder"
            " (expected a model folder, an adapter folder, or 'tiny')")
    if not any((path / name).is_file() for name in ("config.json", "adapter_config.json")):
        raise ConfigurationError(
            f"local model {model!r}: the folder has neither config.json (a model) nor"
            " adapter_config.json (a LoRA adapter); point at a job's output folder or a"
            " downloaded model")
    return path.resolve()


def _base_of(adapter: Path) -> str:
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    base = config.get("base_model_name_or_path")
    manifest = adapter / "trainer_manifest.json"
    if manifest.is_file():
        base = json.loads(manifest.read_text(encoding="utf-8")).get("base_model") or base
    if not base:
        raise ConfigurationError(f"{adapter}: adapter_config.json names no base model")
    return base


def load_local_model(model: str) -> tuple[Any, Any]:
    """(model, tokenizer) ready for generation, cached."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ._model import weight_dtype
    from .tokenize import ensure_chat_template

    folder = _folder(model)
    key = (str(folder), folder.stat().st_mtime)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    _quiet_transformers()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = weight_dtype(torch.device(device))
    is_adapter = (folder / "adapter_config.json").is_file()
    base = _base_of(folder) if is_adapter else str(folder)
    loaded = AutoModelForCausalLM.from_pretrained(base, dtype=dtype)
    if is_adapter:
        from peft import PeftModel

        loaded = PeftModel.from_pretrained(loaded, str(folder)).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    ensure_chat_template(tokenizer)  # the trainer used the same default for template-less models
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"  # generation continues from the right end of every row
    # transformers wraps .to() with functools.wraps; typeshed's _Wrapped drops the binding.
    loaded.to(device).eval()  # type: ignore[arg-type]
    _CACHE[key] = (loaded, tokenizer)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return loaded, tokenizer


def _quiet_transformers() -> None:
    # Loading bars and deprecation notices from inside transformers would bury the answers.
    import warnings

    from transformers.utils import logging

    logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")


def chat_local_batch(model: str, conversations: Sequence[Sequence[dict[str, Any]]], *,
                     max_new_tokens: int = 64, temperature: float = 0.0,
                     seed: int = 0) -> list[str]:
    """One answer per conversation, in order."""
    import torch

    loaded, tokenizer = load_local_model(model)
    device = next(loaded.parameters()).device
    answers: list[str] = []
    for start in range(0, len(conversations), _BATCH):
        chunk = conversations[start:start + _BATCH]
        texts = [tokenizer.apply_chat_template(list(c), tokenize=False,
                                               add_generation_prompt=True) for c in chunk]
        batch = tokenizer(texts, return_tensors="pt", padding=True,
                          add_special_tokens=False).to(device)
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature and temperature > 0:
            torch.manual_seed(seed + start)
            sampling = {"do_sample": True, "temperature": float(temperature)}
        with torch.no_grad():
            out = loaded.generate(**batch, max_new_tokens=max_new_tokens,
                                  pad_token_id=tokenizer.pad_token_id,
                                  eos_token_id=tokenizer.eos_token_id, **sampling)
        new_tokens = out[:, batch["input_ids"].shape[1]:]
        answers.extend(t.strip() for t in tokenizer.batch_decode(new_tokens,
                                                                skip_special_tokens=True))
    return answers


def chat_local(model: str, messages: Sequence[dict[str, Any]], *, max_new_tokens: int = 64,
               temperature: float = 0.0, seed: int = 0) -> str:
    """The answer of a local model to one conversation."""
    return chat_local_batch(model, [messages], max_new_tokens=max_new_tokens,
                            temperature=temperature, seed=seed)[0]
