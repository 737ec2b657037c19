"""`finetune eval` on real local models: the tiny base model vs a LoRA trained on the samples.

The adapter is trained in-process by the local trainer (6 CPU steps on 48 sample chats, seeded),
then both models answer the same held-out prompts greedily through ``finetune_sdk.local.generate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from typer.testing import CliRunner  # noqa: E402

from finetune_sdk.cli import _register_commands  # noqa: E402
from finetune_sdk.cli.app import app  # noqa: E402

pytestmark = pytest.mark.slow
SAMPLE = (Path(__file__).resolve().parents[1] / "finetune_sdk" / "data" / "samples"
          / "health_chats.jsonl")
runner = CliRunner()
_register_commands()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(home, adapter folder, held-out file); the home holds the prebuilt tiny model."""
    from finetune_sdk.local.tiny import build_tiny_model
    from finetune_sdk.local.trainer import TrainConfig, _SilentHooks, train

    root = tmp_path_factory.mktemp("eval-tiny")
    home = root / "home"
    tiny = build_tiny_model(home / "models" / "tiny-v1")  # where base "tiny" resolves
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    (root / "train.jsonl").write_text("\n".join(lines[:48]) + "\n")
    (root / "heldout.jsonl").write_text("\n".join(lines[-10:]) + "\n")
    config = TrainConfig(base_model=str(tiny), train_file=root / "train.jsonl",
                         output_dir=root / "adapter", checkpoint_dir=root / "ckpt", epochs=1,
                         learning_rate=2e-2, batch_size=8, device="cpu", max_steps=6, seed=0)
    result = train(config, _SilentHooks())
    assert result.steps == 6 and result.final_loss < result.first_loss
    return home, root / "adapter", root / "heldout.jsonl"


def test_eval_tiny_base_vs_tuned_prints_table_and_writes_reports(trained, tmp_path):
    home, adapter, heldout = trained
    env = {"FINETUNE_SDK_HOME": str(home), "COLUMNS": "200"}
    args = ["eval", "--base", "tiny", "--tuned", f"local:{adapter}", "--data", str(heldout),
            "--limit", "6", "--max-tokens", "12", "--out", str(tmp_path / "report"),
            "--cache", str(tmp_path / "cache.jsonl")]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    for label in ("BLEU", "ROUGE-L", "Win rate"):
        assert label in result.output
    assert "base 6, tuned 6" in result.output  # both models really answered
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["n"] == 6 and report["tuned"] == f"local:{adapter}"
    assert (tmp_path / "report" / "report.md").read_text().startswith("# Evaluation")
    rows = report["rows"]
    assert any(r["base_response"] != r["tuned_response"] for r in rows)  # the adapter is applied
    agg = report["aggregates"]
    # Six steps on the samples already move the answers towards their vocabulary.
    assert agg["rouge_l"]["tuned"] > agg["rouge_l"]["base"]
    assert agg["win_rate"]["value"] > 0.5

    again = runner.invoke(app, [*args, "--json"], env=env)
    assert again.exit_code == 0, again.output
    data = json.loads(again.stdout)
    assert data["new_calls"] == {"base": 0, "tuned": 0}  # greedy answers come from the cache
    assert data["aggregates"] == agg


def test_eval_greedy_local_answers_are_deterministic(trained, monkeypatch):
    from finetune_sdk.evaluate import compare

    home, adapter, heldout = trained
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(home))
    runs = [compare("tiny", f"local:{adapter}", heldout, limit=3, cache=False,
                    params={"max_tokens": 8}) for _ in range(2)]
    assert [r["tuned_response"] for r in runs[0].rows] == \
        [r["tuned_response"] for r in runs[1].rows]
    assert runs[0].new_calls == {"base": 3, "tuned": 3}
