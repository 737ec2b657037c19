"""Trainer loop on a tiny random Llama (CPU): learning, metrics, output, checkpoints, resume."""

from __future__ import annotations

import json
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from trainer_tiny import CHATML, build_tiny_model, conversations, write_jsonl  # noqa: E402

from finetune_sdk.local.trainer import TrainConfig, train  # noqa: E402


class Recorder:
    def __init__(self, stop_after: int | None = None) -> None:
        self.metrics, self.events, self.checkpoints = [], [], []
        self.stop_after = stop_after

    def on_metric(self, point: dict) -> None:
        self.metrics.append(point)

    def on_event(self, message: str, level: str = "info") -> None:
        self.events.append((level, message))

    def should_stop(self) -> bool:
        steps = [m["step"] for m in self.metrics if "train_loss" in m]
        # metrics arrive one step late (no host sync), so count checkpoints + published steps
        return self.stop_after is not None and len(steps) + 1 >= self.stop_after

    def on_checkpoint(self, path, step: int) -> None:
        self.checkpoints.append((path, step))

    def losses(self) -> dict[int, float]:
        return {m["step"]: m["train_loss"] for m in self.metrics if "train_loss" in m}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    model = build_tiny_model(root / "model", chat_template=CHATML)
    train_file = write_jsonl(root / "train.jsonl", conversations(48))
    valid_file = write_jsonl(root / "valid.jsonl", conversations(8, seed=1))
    return root, model, train_file, valid_file


def _config(setup, name: str, **overrides) -> TrainConfig:
    root, model, train_file, valid_file = setup
    values = dict(
        base_model=str(model),
        train_file=train_file,
        validation_file=valid_file,
        output_dir=root / name / "output",
        checkpoint_dir=root / name / "checkpoints",
        epochs=2,
        learning_rate=5e-3,
        batch_size=8,
        lora_rank=8,
        lora_alpha=16,
        seed=1,
    )
    values.update(overrides)
    return TrainConfig(**values)


def test_training_learns_reports_and_writes_the_adapter(setup):
    hooks = Recorder()
    result = train(_config(setup, "full"), hooks)
    losses = hooks.losses()
    assert result.steps == max(losses) and list(losses) == list(range(1, result.steps + 1))
    first, last = sum(list(losses.values())[:3]) / 3, sum(list(losses.values())[-3:]) / 3
    assert last < first - 0.1 and result.final_loss == losses[result.steps]
    step_points = [m for m in hooks.metrics if "train_loss" in m]
    assert all(m["tokens_per_second"] > 0 and m["learning_rate"] >= 0 for m in step_points)
    assert {"step", "epoch", "train_loss", "learning_rate", "tokens_per_second"} <= set(
        step_points[0]
    )
    assert step_points[-1]["epoch"] == pytest.approx(2.0)
    assert result.eval_loss is not None and hooks.metrics[-1]["valid_loss"] == result.eval_loss
    out = result.output_dir
    assert {
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer.json",
        "trainer_manifest.json",
    } <= set(os.listdir(out))
    manifest = json.loads((out / "trainer_manifest.json").read_text())
    assert len(manifest["datasets"]["train"]["sha256"]) == 64
    assert manifest["metrics"]["steps"] == result.steps and manifest["versions"]["torch"]
    assert [s for _, s in hooks.checkpoints] == [result.steps]
    # the adapter loads back onto the base model and is not the untrained identity
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(setup[1])
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(setup[1]), str(out))
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        assert not torch.allclose(base(ids).logits, tuned(ids).logits)


def test_stop_saves_a_checkpoint_and_resume_continues_identically(setup):
    reference = Recorder()
    train(_config(setup, "reference", validation_file=None), reference)

    stopper = Recorder(stop_after=3)
    stopped = train(_config(setup, "resumed", validation_file=None), stopper)
    assert stopped.stopped and stopped.output_dir is None and stopped.steps == 3
    checkpoint_dir = setup[0] / "resumed" / "checkpoints"
    assert os.listdir(checkpoint_dir) == ["step-3"]  # no temporary left behind
    assert (checkpoint_dir / "step-3" / "checkpoint.json").is_file()
    assert stopper.checkpoints == [(checkpoint_dir / "step-3", 3)]

    again = Recorder()
    resumed = train(_config(setup, "resumed", validation_file=None), again)
    assert resumed.resumed_from_step == 3 and not resumed.stopped
    assert min(again.losses()) == 4
    for step, loss in again.losses().items():
        assert loss == pytest.approx(reference.losses()[step], abs=1e-5), step
    assert resumed.steps == max(reference.losses())


def test_periodic_checkpoints_and_max_steps(setup):
    hooks = Recorder()
    result = train(
        _config(setup, "periodic", epochs=1, max_steps=4, save_every_steps=2, eval_every_steps=2),
        hooks,
    )
    assert result.steps == 4
    assert [s for _, s in hooks.checkpoints] == [2, 4]
    assert [m["step"] for m in hooks.metrics if "valid_loss" in m] == [2, 4]
    assert sorted(os.listdir(setup[0] / "periodic" / "checkpoints")) == ["step-2", "step-4"]
