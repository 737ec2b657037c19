"""The embedded default base model: a tiny random-init Llama and a tokenizer trained on our samples.

``--base-model tiny`` (and the quickstart, and the tests) use it so that the whole loop runs offline
on a laptop CPU: nothing is downloaded. The tokenizer is a byte-level BPE trained with
``tokenizers`` on the bundled ``health_chats.jsonl``; the model is a 2-layer, 128-wide Llama with
random weights, saved with ``save_pretrained`` like any Hub checkpoint. Both are built once and
cached under ``$FINETUNE_SDK_HOME/models/tiny-<version>``; building takes about a second.

A random model says nothing useful, of course: it exists to exercise the pipeline, and a LoRA on
top of it visibly learns the sample data's vocabulary (the loss falls within seconds).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["TINY_NAME", "CHAT_TEMPLATE", "build_tiny_model", "is_tiny", "resolve_base_model",
           "tiny_llama_config", "tiny_model_dir", "train_bpe_tokenizer"]

TINY_NAME = "tiny"
#: Bump when the recipe changes, so cached copies of an older recipe are not reused.
TINY_VERSION = "v1"
VOCAB_SIZE = 1024
INIT_RANGE = 0.1

#: ChatML-style turns; ``<|im_end|>`` is the EOS token, so a trained model learns to stop.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_SPECIALS = ["<pad>", "<unk>", "<s>", "<|im_end|>", "<|im_start|>"]


def is_tiny(base_model: str) -> bool:
    return base_model == TINY_NAME


def tiny_model_dir() -> Path:
    from ..config import home_dir

    return home_dir() / "models" / f"tiny-{TINY_VERSION}"


def resolve_base_model(base_model: str) -> str:
    """``tiny`` -> the cached tiny model folder (built on first use); anything else unchanged."""
    if is_tiny(base_model):
        return str(build_tiny_model())
    return base_model


def _sample_texts() -> Iterator[str]:
    sample = Path(__file__).resolve().parent.parent / "data" / "samples" / "health_chats.jsonl"
    with open(sample, encoding="utf-8") as handle:
        for line in handle:
            for message in json.loads(line).get("messages", []):
                yield f"{message['role']}\n{message['content']}"


def train_bpe_tokenizer(texts: Iterator[str] | list[str], *, vocab_size: int,
                        specials: list[str], bos: str, eos: str, pad: str, unk: str,
                        chat_template: str | None = None, model_max_length: int | None = None,
                        ) -> Any:
    """A byte-level BPE tokenizer trained here on ``texts`` (no download): the one recipe the
    tiny model and the trainer tests share."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token=unk))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    extra = {"model_max_length": model_max_length} if model_max_length else {}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=bos, eos_token=eos,
                                        pad_token=pad, unk_token=unk, **extra)
    if chat_template:
        tokenizer.chat_template = chat_template
    return tokenizer


def tiny_llama_config(tokenizer: Any = None, **overrides: Any) -> Any:
    """The tiny Llama's ``LlamaConfig`` (2 layers, 128 wide, GQA, tied embeddings), sized to
    ``tokenizer`` and using its special ids when one is given; ``overrides`` change any field
    (the trainer tests want it narrower, a GPU test wider)."""
    from transformers import LlamaConfig

    ids = {} if tokenizer is None else dict(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    fields: dict[str, Any] = dict(
        **ids, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        tie_word_embeddings=True,
        # Random embeddings at the usual 0.02 scale cap the logits near +-3, so no adapter could
        # make the model confident; a wider init lets a LoRA visibly learn the sample data.
        initializer_range=INIT_RANGE)
    return LlamaConfig(**{**fields, **overrides})


def _write(directory: Path, seed: int) -> None:
    import torch
    from transformers import LlamaForCausalLM
    from transformers.utils import logging

    logging.disable_progress_bar()  # "Writing model shards" bars for a 1 MB model are noise
    tokenizer = train_bpe_tokenizer(
        _sample_texts(), vocab_size=VOCAB_SIZE, specials=_SPECIALS, bos="<s>",
        eos="<|im_end|>", pad="<pad>", unk="<unk>", chat_template=CHAT_TEMPLATE,
        model_max_length=2048)
    tokenizer.save_pretrained(directory)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_llama_config(tokenizer))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(directory)
    (directory / "tiny_model.json").write_text(
        json.dumps({"name": TINY_NAME, "version": TINY_VERSION, "seed": seed,
                    "note": "random-init test model built by finetune_sdk.local.tiny"}, indent=2))


def build_tiny_model(directory: str | Path | None = None, *, seed: int = 0,
                     rebuild: bool = False) -> Path:
    """Build (or reuse) the tiny model + tokenizer in ``directory``; returns the folder.

    The folder appears whole or not at all: it is written next to its final place and renamed,
    so two processes building at once both end up with one complete copy.
    """
    target = Path(directory) if directory is not None else tiny_model_dir()
    if (target / "tiny_model.json").is_file() and not rebuild:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        _write(tmp, seed)
        if rebuild and target.exists():
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "tiny_model.json").is_file():  # not a concurrent builder's copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
