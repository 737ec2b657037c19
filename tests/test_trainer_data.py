"""Trainer data path: assistant-only labels from the chat template, packing isolation."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from trainer_tiny import CHATML, build_tiny_model, conversations, write_jsonl  # noqa: E402

from finetune_sdk.errors import DatasetError  # noqa: E402
from finetune_sdk.local.packing import build_row, plan_rows  # noqa: E402
from finetune_sdk.local.tokenize import (  # noqa: E402
    IGNORE_INDEX,
    encode_file,
    encode_messages,
    ensure_chat_template,
)

CHAT = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "reverse red cat"},
    {"role": "assistant", "content": "cat red"},
    {"role": "user", "content": "again"},
    {"role": "assistant", "content": "cat red sun"},
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", chat_template=CHATML)


@pytest.fixture(scope="module")
def tokenizer(tiny):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny))


def _labelled_text(tokenizer, example) -> str:
    return tokenizer.decode([t for t in example.labels if t != IGNORE_INDEX])


def test_labels_cover_exactly_the_assistant_turns(tokenizer):
    example = encode_messages(tokenizer, CHAT, max_seq_length=512)
    assert len(example.labels) == len(example.input_ids)
    assert _labelled_text(tokenizer, example) == "cat red<|im_end|>\ncat red sun<|im_end|>\n"
    # every labelled token is the input token itself, and nothing from user/system is labelled
    unlabelled = tokenizer.decode(
        [i for i, t in zip(example.input_ids, example.labels, strict=True) if t == IGNORE_INDEX]
    )
    assert "be brief" in unlabelled and "reverse red cat" in unlabelled and "again" in unlabelled
    assert all(
        t in (IGNORE_INDEX, i) for i, t in zip(example.input_ids, example.labels, strict=True)
    )


def test_default_template_when_tokenizer_has_none(tmp_path):
    from transformers import AutoTokenizer

    plain = AutoTokenizer.from_pretrained(str(build_tiny_model(tmp_path / "plain")))
    assert ensure_chat_template(plain) is True
    example = encode_messages(plain, CHAT[1:3], max_seq_length=512)
    assert _labelled_text(plain, example) == "cat red</s>\n"
    assert ensure_chat_template(plain) is False  # already set: left alone


def test_truncation_and_examples_without_assistant_tokens(tokenizer, tmp_path):
    long_user = [{"role": "user", "content": "red " * 200}, {"role": "assistant", "content": "ok"}]
    path = write_jsonl(tmp_path / "d.jsonl", [{"messages": CHAT}, {"messages": long_user}])
    from finetune_sdk.local.tokenize import EncodeReport

    report = EncodeReport()
    examples = encode_file(tokenizer, path, max_seq_length=64, report=report)
    assert len(examples) == 1 and report.skipped_no_assistant_tokens == 1


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("not json", None),
        (json.dumps({"messages": []}), "messages"),
        (json.dumps({"messages": [{"role": "robot", "content": "x"}]}), "messages[0].role"),
        (json.dumps({"messages": [{"role": "user", "content": "only a question"}]}), "messages"),
    ],
)
def test_bad_lines_name_file_line_and_field(tokenizer, tmp_path, line, field):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"messages": CHAT}) + "\n" + line + "\n")
    with pytest.raises(DatasetError) as caught:
        encode_file(tokenizer, path, max_seq_length=64)
    assert caught.value.line == 2 and caught.value.field == field and str(path) in str(caught.value)


def test_plan_rows_places_every_example_once_within_capacity():
    lengths = [5, 17, 30, 2, 9, 30, 11, 23, 1, 8] * 7
    rows = plan_rows(lengths, capacity=40, seed=3)
    placed = sorted(i for row in rows for i in row)
    assert placed == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= 40 for row in rows)
    assert sum(lengths) / (40 * len(rows)) > 0.9  # best fit wastes little
    assert plan_rows(lengths, 40, seed=3) == rows and plan_rows(lengths, 40, seed=4) != rows
    with pytest.raises(ValueError):
        plan_rows([50], capacity=40, seed=0)


def test_targets_are_shifted_inside_each_example(tokenizer):
    examples = [encode_messages(tokenizer, r["messages"], 512) for r in conversations(3)]
    row = build_row(examples, [0, 1, 2])
    for doc, (a, b) in enumerate(zip(row.cu_seqlens, row.cu_seqlens[1:], strict=False)):
        assert row.position_ids[a:b] == list(range(b - a))
        assert row.targets[a : b - 1] == examples[doc].labels[1:]
        assert row.targets[b - 1] == IGNORE_INDEX  # never predicts the next example's first token


def _packed_and_alone_logits(tiny, tokenizer, backend):
    from finetune_sdk.local._model import PackedCausalLM, load_lora_model, row_tensors

    model = load_lora_model(
        tiny,
        device=torch.device("cpu"),
        lora_rank=4,
        lora_alpha=8,
        lora_dropout=0.0,
        target_modules="all-linear",
    )
    model.eval()
    module = PackedCausalLM(model, backend=backend)
    examples = [encode_messages(tokenizer, r["messages"], 512) for r in conversations(4, seed=7)]
    row = build_row(examples, [0, 1, 2, 3])
    inputs = row_tensors(row, torch.device("cpu"))
    head = model.get_base_model().get_output_embeddings()
    with torch.no_grad():
        packed = head(
            module.hidden_states(
                inputs["input_ids"],
                inputs["position_ids"],
                inputs["cu_seqlens"],
                inputs["max_seqlen"],
            )
        )
        alone = [model(input_ids=torch.tensor([e.input_ids])).logits[0] for e in examples]
        # the tempting shortcut: restart position ids, no mask -> examples see each other
        naive = model(
            input_ids=inputs["input_ids"][None], position_ids=inputs["position_ids"][None]
        ).logits[0]
    return row, packed, alone, naive


@pytest.mark.parametrize("backend", ["mask", "flex"])
def test_packed_example_logits_equal_the_example_alone(tiny, tokenizer, backend):
    if backend == "flex":
        pytest.importorskip("torch.nn.attention.flex_attention")
    row, packed, alone, naive = _packed_and_alone_logits(tiny, tokenizer, backend)
    worst_naive = 0.0
    for doc, (a, b) in enumerate(zip(row.cu_seqlens, row.cu_seqlens[1:], strict=False)):
        torch.testing.assert_close(packed[a:b], alone[doc], atol=1e-4, rtol=1e-4)
        worst_naive = max(worst_naive, (naive[a:b] - alone[doc]).abs().max().item())
    assert worst_naive > 1e-2  # the comparison is sharp enough to catch cross-example attention


def test_fused_lora_forward_matches_peft(tiny):
    """The one-GEMM LoRA forward computes PEFT's function: same outputs and same gradients."""
    from finetune_sdk.local._model import load_lora_model

    def run(fuse: bool):
        torch.manual_seed(5)  # same LoRA A init in both models
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("FINETUNE_SDK_FUSE_LORA", "1" if fuse else "0")
            model = load_lora_model(
                tiny,
                device=torch.device("cpu"),
                lora_rank=4,
                lora_alpha=8,
                lora_dropout=0.0,
                target_modules="all-linear",
            )
        patched = [m for m in model.modules() if "forward" in vars(m)]
        assert bool(patched) == fuse
        for name, param in model.named_parameters():
            if "lora_B" in name:  # B starts at zero; make the adapter do something
                param.data.normal_(0, 0.5)
        ids = torch.tensor([[5, 9, 14, 3, 22, 7]])
        logits = model(input_ids=ids).logits
        logits.square().mean().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        return logits.detach(), grads

    fused_logits, fused_grads = run(True)
    plain_logits, plain_grads = run(False)
    torch.testing.assert_close(fused_logits, plain_logits, atol=1e-5, rtol=1e-5)
    assert fused_grads.keys() == plain_grads.keys() and len(fused_grads) > 0
    for name in fused_grads:
        torch.testing.assert_close(fused_grads[name], plain_grads[name], atol=1e-5, rtol=1e-4)
