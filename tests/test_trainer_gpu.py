"""GPU checks of the training engine (skipped without CUDA): varlen isolation, bf16 training."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]

from trainer_tiny import CHATML, build_tiny_model, conversations, write_jsonl  # noqa: E402


def _random_llama(attn: str):
    from transformers import LlamaForCausalLM

    from finetune_sdk.local import _attention
    from finetune_sdk.local.tiny import tiny_llama_config

    # Wider than the tiny model (head_dim 64, like real models); no tokenizer: ids only.
    config = tiny_llama_config(vocab_size=1000, hidden_size=256, intermediate_size=512,
                               num_attention_heads=8, head_dim=64, tie_word_embeddings=False,
                               initializer_range=0.02)
    config._attn_implementation = _attention.register() if attn == "packed" else attn
    torch.manual_seed(0)
    with torch.device("cuda"):
        return LlamaForCausalLM(config).to(torch.bfloat16).eval()


@pytest.mark.parametrize(
    ("backend", "compiled"), [("varlen", False), ("varlen", True), ("flex", False), ("mask", False)]
)
def test_packed_rows_do_not_attend_across_examples_on_gpu(backend, compiled):
    from finetune_sdk.local._model import PackedCausalLM, wrap_lora

    model = wrap_lora(
        _random_llama("packed"),
        lora_rank=8,
        lora_alpha=16,
        lora_dropout=0.0,
        target_modules="all-linear",
        compile_layers=compiled,
    )
    module = PackedCausalLM(model, backend=backend)
    lengths = [37, 300, 5, 129, 511]
    docs = [torch.randint(3, 1000, (n,), device="cuda") for n in lengths]
    ids = torch.cat(docs)
    positions = torch.cat([torch.arange(n, device="cuda") for n in lengths])
    cu = torch.tensor(
        [0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32, device="cuda"
    )
    head = model.get_base_model().get_output_embeddings()
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        packed = head(module.hidden_states(ids, positions, cu, max(lengths))).float()
        naive = model(input_ids=ids[None], position_ids=positions[None]).logits[0].float()
        worst, worst_naive = 0.0, 0.0
        for doc, (a, b) in enumerate(zip(cu[:-1].tolist(), cu[1:].tolist(), strict=True)):
            alone = model(input_ids=docs[doc][None]).logits[0].float()
            worst = max(worst, (packed[a:b] - alone).abs().max().item())
            worst_naive = max(worst_naive, (naive[a:b] - alone).abs().max().item())
    scale = alone.abs().max().item()
    assert worst < 0.02 * scale + 1e-2, (worst, scale)  # bf16 kernels differ by rounding only
    assert worst_naive > 5 * worst  # position ids alone do leak across examples


def test_training_on_gpu_runs_in_bf16_and_learns(tmp_path):
    from finetune_sdk.local.trainer import TrainConfig, train

    model = build_tiny_model(tmp_path / "m", chat_template=CHATML)
    data = write_jsonl(tmp_path / "t.jsonl", conversations(48))

    class Hooks:
        def __init__(self):
            self.losses = []

        def on_metric(self, point):
            if "train_loss" in point:
                self.losses.append(point["train_loss"])

        def on_event(self, message, level="info"): ...
        def should_stop(self):
            return False

        def on_checkpoint(self, path, step): ...

    hooks = Hooks()
    result = train(
        TrainConfig(
            base_model=str(model),
            train_file=data,
            output_dir=tmp_path / "o",
            checkpoint_dir=tmp_path / "c",
            epochs=3,
            learning_rate=5e-3,
            device="cuda",
        ),
        hooks,
    )
    assert result.output_dir is not None and result.steps == len(hooks.losses)
    assert sum(hooks.losses[-3:]) < sum(hooks.losses[:3])
