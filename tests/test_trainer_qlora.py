"""QLoRA (LocalOptions(quantization="nf4")): 4-bit base weights, LoRA on top, on the tiny model.

bitsandbytes runs its 4-bit kernels on CPU too, so this trains for real here. The tests that
need it skip where it is not installed (it is the optional ``qlora`` extra).
"""

from __future__ import annotations

import importlib.util
import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from trainer_tiny import CHATML, build_tiny_model, conversations, write_jsonl  # noqa: E402

from finetune_sdk import JobSpec  # noqa: E402
from finetune_sdk.errors import ProviderNotInstalledError  # noqa: E402
from finetune_sdk.local._model import load_lora_model, qlora_config  # noqa: E402
from finetune_sdk.local.trainer import TrainConfig, train  # noqa: E402
from finetune_sdk.providers.local import LocalOptions, LocalProvider  # noqa: E402

needs_bnb = pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is None,
    reason="bitsandbytes not installed (pip install 'finetune-sdk[qlora]')")


class Recorder:
    def __init__(self) -> None:
        self.metrics: list[dict] = []

    def on_metric(self, point: dict) -> None:
        self.metrics.append(point)

    def on_event(self, message: str, level: str = "info") -> None: ...

    def should_stop(self) -> bool:
        return False

    def on_checkpoint(self, path, step: int) -> None: ...


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("qlora")
    model = build_tiny_model(root / "model", chat_template=CHATML)
    return root, model, write_jsonl(root / "train.jsonl", conversations(48))


@needs_bnb
def test_the_base_is_4bit_and_only_lora_trains(tiny):
    from bitsandbytes.nn import Linear4bit

    model = load_lora_model(tiny[1], device=torch.device("cpu"), lora_rank=8, lora_alpha=16,
                            lora_dropout=0.0, target_modules="all-linear", quantization="nf4")
    q_proj = model.get_base_model().model.layers[0].self_attn.q_proj
    assert isinstance(q_proj.base_layer, Linear4bit)
    assert q_proj.base_layer.weight.quant_type == "nf4"
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)


@needs_bnb
def test_qlora_learns_writes_an_adapter_for_the_full_base_and_merges_in_full_precision(tiny):
    root, base_dir, train_file = tiny
    config = TrainConfig(base_model=str(base_dir), train_file=train_file,
                         output_dir=root / "out", checkpoint_dir=root / "ckpt", epochs=2,
                         learning_rate=5e-3, batch_size=8, lora_rank=8, lora_alpha=16, seed=1,
                         quantization="nf4", merge=True)
    hooks = Recorder()
    result = train(config, hooks)
    losses = [m["train_loss"] for m in hooks.metrics if "train_loss" in m]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.1  # it learned through 4-bit weights
    manifest = json.loads((result.output_dir / "trainer_manifest.json").read_text())
    assert manifest["config"]["quantization"] == "nf4"
    assert manifest["versions"]["bitsandbytes"]

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    # The adapter loads on the ordinary full-precision base, like any LoRA adapter.
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir),
                                      str(result.output_dir))
    merged_dir = result.output_dir / "merged"
    merged_config = json.loads((merged_dir / "config.json").read_text())
    assert "quantization_config" not in merged_config  # not a lossy 4-bit merge
    merged = AutoModelForCausalLM.from_pretrained(merged_dir)
    base = AutoModelForCausalLM.from_pretrained(base_dir)
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, tuned(ids).logits, atol=1e-4)
        assert not torch.allclose(merged(ids).logits, base(ids).logits, atol=1e-3)


def test_unknown_quantization_is_refused_clearly():
    with pytest.raises(ValueError, match="nf4"):
        qlora_config("int3", torch.float32)
    with pytest.raises(ValueError, match="quantization"):
        LocalOptions(quantization="int8")


def test_qlora_without_bitsandbytes_is_refused_before_any_job(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "bitsandbytes" else real(name, *a))
    provider = LocalProvider(root=tmp_path)
    spec = JobSpec(base_model="tiny", training_file="x.jsonl",
                   options=LocalOptions(quantization="nf4"))
    with pytest.raises(ProviderNotInstalledError, match=r"finetune-sdk\[qlora\]"):
        provider.check_spec(spec)
    assert provider.check_spec(JobSpec(base_model="tiny", training_file="x.jsonl")) == []
    assert not list(tmp_path.glob("jobs/ftjob-*"))  # no job directory, no worker


def test_the_option_reaches_the_worker_config(tmp_path):
    provider = LocalProvider(root=tmp_path)
    spec = JobSpec(base_model="tiny", training_file="x.jsonl",
                   options=LocalOptions(quantization="nf4", max_steps=2))
    config = provider._train_config(spec, provider.resolve_options(spec))
    assert config["quantization"] == "nf4" and config["max_steps"] == 2
    TrainConfig(base_model="b", train_file="t", output_dir="o", checkpoint_dir="c", **config)
    plain = JobSpec(base_model="tiny", training_file="x.jsonl")
    assert "quantization" not in provider._train_config(plain, provider.resolve_options(plain))


def test_cli_qlora_flag_reaches_the_local_provider_and_is_local_only(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from finetune_sdk.cli import _register_commands
    from finetune_sdk.cli.app import app

    _register_commands()
    data = write_jsonl(tmp_path / "train.jsonl", conversations(4))
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    hosted = runner.invoke(app, ["train", str(data), "-p", "openai", "-m", "gpt-4o-mini",
                                 "--qlora"])
    assert hosted.exit_code == 2 and "--qlora" in hosted.output and "local only" in hosted.output
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "bitsandbytes" else real(name, *a))
    local = runner.invoke(app, ["train", str(data), "-m", "tiny", "--qlora", "--detach"])
    assert local.exit_code == 2 and "finetune-sdk[qlora]" in " ".join(local.output.split())
    assert "started" not in local.output
