"""Test support for the trainer tests: a tiny random Llama + BPE tokenizer and chat JSONL files.

Built from scratch (no hub access): a BPE tokenizer trained with ``tokenizers`` on the strings the
tests use, and a 2-layer, 64-wide Llama saved with ``save_pretrained``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

WORDS = ["red", "green", "blue", "cat", "dog", "bird", "one", "two", "three", "sun", "moon", "tree"]


def conversations(count: int, seed: int = 0) -> list[dict]:
    """Learnable toy chats: the assistant repeats the user's words reversed."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 8))]
        messages = [
            {"role": "user", "content": "reverse " + " ".join(words)},
            {"role": "assistant", "content": " ".join(reversed(words))},
        ]
        if rng.random() < 0.3:
            messages.insert(0, {"role": "system", "content": "be brief"})
        if rng.random() < 0.3:
            messages += [
                {"role": "user", "content": "again"},
                {"role": "assistant", "content": " ".join(reversed(words))},
            ]
        records.append({"messages": messages})
    return records


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def build_tiny_model(directory: Path, *, chat_template: str | None = None, seed: int = 0) -> Path:
    """A narrower tiny Llama than the product's (``finetune_sdk.local.tiny``, same recipe):
    a tokenizer trained on the toy words, optionally without a chat template."""
    import torch
    from transformers import LlamaForCausalLM

    from finetune_sdk.local.tiny import tiny_llama_config, train_bpe_tokenizer

    corpus = [
        " ".join(WORDS),
        "reverse again be brief system user assistant",
        "<|role|> <|user|> <|assistant|> <|system|>",
    ] * 20
    tokenizer = train_bpe_tokenizer(
        corpus, vocab_size=400, specials=["[PAD]", "[UNK]", "<s>", "</s>", "<|im_start|>",
                                          "<|im_end|>"],
        bos="<s>", eos="</s>", pad="[PAD]", unk="[UNK]", chat_template=chat_template)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(directory)
    torch.manual_seed(seed)
    config = tiny_llama_config(tokenizer, hidden_size=64, intermediate_size=128,
                               max_position_embeddings=1024, tie_word_embeddings=False,
                               initializer_range=0.02)
    LlamaForCausalLM(config).save_pretrained(directory)
    return directory
