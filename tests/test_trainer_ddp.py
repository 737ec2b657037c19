"""The trainer under torchrun (2 CPU processes, gloo): DDP trains; only rank 0 reports, writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from trainer_tiny import CHATML, build_tiny_model, conversations, write_jsonl  # noqa: E402

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from finetune_sdk.local.trainer import TrainConfig, train

    root = Path(sys.argv[1])
    rank = os.environ["RANK"]
    log = open(root / f"rank{rank}.jsonl", "w")

    class Hooks:
        def on_metric(self, point): log.write(json.dumps(point) + "\\n")
        def on_event(self, message, level="info"): pass
        def should_stop(self): return False
        def on_checkpoint(self, path, step): log.write(json.dumps({"checkpoint": step}) + "\\n")

    result = train(TrainConfig(base_model=str(root / "model"), train_file=root / "train.jsonl",
                               validation_file=root / "valid.jsonl", output_dir=root / "out",
                               checkpoint_dir=root / "ck", epochs=1, learning_rate=5e-3,
                               batch_size=16, device="cpu", seed=2), Hooks())
    log.write(json.dumps({"result_steps": result.steps, "eval": result.eval_loss,
                          "output": str(result.output_dir)}) + "\\n")
    log.close()
    """
)


@pytest.mark.slow
def test_two_process_ddp_trains_and_rank_zero_alone_writes(tmp_path: Path):
    build_tiny_model(tmp_path / "model", chat_template=CHATML)
    write_jsonl(tmp_path / "train.jsonl", conversations(64))
    write_jsonl(tmp_path / "valid.jsonl", conversations(8, seed=1))
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--standalone",
            str(script),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rank0 = [json.loads(line) for line in (tmp_path / "rank0.jsonl").read_text().splitlines()]
    rank1 = [json.loads(line) for line in (tmp_path / "rank1.jsonl").read_text().splitlines()]
    steps = [p for p in rank0 if "train_loss" in p]
    assert steps and all(p["train_loss"] > 0 for p in steps)
    assert rank0[-1]["output"] == str(tmp_path / "out") and rank0[-1]["eval"] is not None
    # rank 1 trained the same number of steps, but reported nothing and wrote nothing
    assert [p for p in rank1 if "result_steps" not in p] == []
    assert rank1[-1]["result_steps"] == rank0[-1]["result_steps"] == len(steps)
    assert rank1[-1]["eval"] == pytest.approx(rank0[-1]["eval"])
    assert rank1[-1]["output"] == "None"
    assert os.listdir(tmp_path / "ck") == [f"step-{len(steps)}"]
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()
