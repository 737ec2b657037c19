"""FSDP2 in the local trainer, on CPU with gloo and the tiny model.

- 2 processes under FSDP2 train to the same losses as 1 process on the same rows, with base and
  LoRA weights and the AdamW state really split in two;
- a checkpoint written by the 2 FSDP2 ranks resumes in 1 unsharded process and continues as the
  uninterrupted 1-process run did (the format is whole tensors keyed by name + the row plan);
- through the provider: one rank killed -> FAILED with the log tail, resume -> SUCCEEDED;
- two "nodes" on loopback: two jobs, two torchrun invocations (--nnodes 2 --nproc_per_node 1,
  127.0.0.1, a free port) that train as one run and each write the adapter.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from local_support import FAST, client, make_home, poll_until  # noqa: E402
from trainer_tiny import CHATML, build_tiny_model, conversations, write_jsonl  # noqa: E402

from finetune_sdk.local.launcher import pid_alive  # noqa: E402
from finetune_sdk.types import JobStatus  # noqa: E402

#: Rows of 128 tokens: a step (16 examples) is 4 rows, a multiple of both 1 and 2 processes, so
#: both runs get the same plan and the same rows per step; the comparison is then about the math.
ROW_TOKENS = "128"

#: Same rows, same initial weights, fp32, one thread per process, no dropout: the runs differ only
#: in the order of float sums (each rank sums its two rows, then the halves are reduce-scattered,
#: against one running sum over four rows). Measured: step losses equal to at most 6.7e-8
#: relative (one float32 ulp) over 10 steps. 1e-5 (~150 ulps) leaves room for another BLAS
#: blocking and for AdamW, which divides by sqrt(v) and so carries a difference forward
#: undamped; a wrong gradient scale, a lost shard or another data order moves the loss by
#: 1e-3..1e-1 within a step or two.
REL_TOL = 1e-5

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    import torch
    from finetune_sdk.local import _fsdp, trainer
    from finetune_sdk.local.trainer import TrainConfig, train

    root, name = Path(sys.argv[1]), sys.argv[2]
    sharding, save_every = sys.argv[3], int(sys.argv[4]) or None
    rank = int(os.environ.get("RANK", "0"))
    log = open(root / f"{name}.rank{rank}.jsonl", "w")
    seen = {}

    def write(record):
        log.write(json.dumps(record) + "\\n")
        log.flush()

    shard = _fsdp.shard
    def recording_shard(module, *args):
        module = shard(module, *args)
        params = list(module.parameters())
        write({"params": sum(p.numel() for p in params),
               "local_params": sum(p.to_local().numel() for p in params)})
        return module
    _fsdp.shard = recording_shard
    make_optimizer = trainer.make_optimizer
    def recording_optimizer(*args):
        seen["optimizer"] = make_optimizer(*args)
        return seen["optimizer"]
    trainer.make_optimizer = recording_optimizer

    class Hooks:
        def on_metric(self, point): write(point)
        def on_event(self, message, level="info"): write({"event": message})
        def should_stop(self): return False
        def on_checkpoint(self, path, step): write({"checkpoint": step})

    result = train(TrainConfig(base_model=str(root / "model"), train_file=root / "train.jsonl",
                               validation_file=root / "valid.jsonl", output_dir=root / name,
                               checkpoint_dir=root / f"{name}-ck", epochs=2, learning_rate=5e-3,
                               batch_size=16, lora_dropout=0.0, device="cpu", seed=2,
                               sharding=sharding, save_every_steps=save_every), Hooks())
    states = [s for s in seen["optimizer"].state.values() if "exp_avg" in s]
    write({"result": {"steps": result.steps, "final": result.final_loss,
                      "eval": result.eval_loss, "resumed_from": result.resumed_from_step,
                      "output": str(result.output_dir)},
           "exp_avg": sum(s["exp_avg"].numel() for s in states),
           "local_exp_avg": sum((s["exp_avg"].to_local() if hasattr(s["exp_avg"], "to_local")
                                 else s["exp_avg"]).numel() for s in states)})
    """
)


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
            "FINETUNE_SDK_ROW_TOKENS": ROW_TOKENS, "FINETUNE_SDK_CPU_THREADS": "1"}


def _run(root: Path, name: str, *, procs: int, sharding: str = "auto",
         save_every: int = 0) -> dict[int, list[dict]]:
    args = [str(root / "run.py"), str(root), name, sharding, str(save_every)]
    if procs > 1:
        args = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}", *args]
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          env=_env())
    assert done.returncode == 0, done.stderr[-4000:]
    return {rank: [json.loads(line) for line in
                   (root / f"{name}.rank{rank}.jsonl").read_text().splitlines()]
            for rank in range(procs)}


def _losses(records: list[dict]) -> dict[int, float]:
    return {p["step"]: p["train_loss"] for p in records if "train_loss" in p}


def _result(records: list[dict]) -> dict:
    return next(r for r in records if "result" in r)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fsdp")
    build_tiny_model(root / "model", chat_template=CHATML)
    write_jsonl(root / "train.jsonl", conversations(64))
    write_jsonl(root / "valid.jsonl", conversations(8, seed=1))
    (root / "run.py").write_text(SCRIPT)
    started = time.monotonic()
    one = _run(root, "one", procs=1)
    two = _run(root, "fsdp", procs=2, sharding="fsdp", save_every=4)
    return root, one[0], two, time.monotonic() - started


@pytest.mark.slow
def test_two_fsdp2_processes_reach_the_loss_of_one_process(runs):
    root, one, two, _ = runs
    reference, sharded = _losses(one), _losses(two[0])
    assert len(reference) >= 8 and sharded.keys() == reference.keys()
    for step, loss in reference.items():
        assert sharded[step] == pytest.approx(loss, rel=REL_TOL), step
    mean = sum(reference.values()) / len(reference)
    assert sum(sharded.values()) / len(sharded) == pytest.approx(mean, rel=REL_TOL)
    assert reference[max(reference)] < reference[1] - 0.3  # it learned: a real comparison
    res1, res2 = _result(one)["result"], _result(two[0])["result"]
    assert res2["final"] == pytest.approx(res1["final"], rel=REL_TOL)
    assert res2["eval"] == pytest.approx(res1["eval"], rel=REL_TOL)
    # every rank trained the same steps and saw the same (all-reduced) eval loss
    assert _result(two[1])["result"]["steps"] == res2["steps"] == res1["steps"]
    assert _result(two[1])["result"]["eval"] == pytest.approx(res2["eval"])
    manifest = json.loads((root / "fsdp" / "trainer_manifest.json").read_text())
    assert manifest["details"]["sharding"] == "fsdp" and manifest["details"]["world_size"] == 2
    assert any("FSDP2 over 2 processes" in r.get("event", "") for r in two[0])


@pytest.mark.slow
def test_fsdp2_splits_weights_and_optimizer_state(runs):
    _, one, two, _ = runs
    for rank in (0, 1):
        shape = next(r for r in two[rank] if "local_params" in r)
        # every parameter is split in two along dim 0 (rounding up on odd sizes)
        assert shape["local_params"] <= shape["params"] // 2 + 4096
        assert shape["local_params"] < 0.6 * shape["params"]
        done = _result(two[rank])
        assert done["local_exp_avg"] < 0.6 * done["exp_avg"]
    # one process holds it all
    assert _result(one)["local_exp_avg"] == _result(one)["exp_avg"]
    assert sum(_result(two[r])["local_exp_avg"] for r in (0, 1)) == _result(one)["exp_avg"]


@pytest.mark.slow
def test_the_adapter_of_two_fsdp2_ranks_equals_the_one_process_adapter(runs):
    from safetensors.torch import load_file

    root, *_ = runs
    mine = load_file(root / "fsdp" / "adapter_model.safetensors")
    reference = load_file(root / "one" / "adapter_model.safetensors")
    assert mine.keys() == reference.keys() and mine
    for key, tensor in reference.items():
        scale = float(tensor.abs().max()) or 1.0
        assert float((mine[key] - tensor).abs().max()) <= 1e-3 * scale, key
    # the checkpoint's adapter folder loads on its own too
    assert (root / "fsdp-ck" / "step-4" / "adapter" / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_a_checkpoint_of_two_fsdp2_ranks_resumes_in_one_process(runs):
    root, one, _, _ = runs
    shutil.rmtree(root / "again-ck", ignore_errors=True)
    (root / "again-ck").mkdir()
    shutil.copytree(root / "fsdp-ck" / "step-4", root / "again-ck" / "step-4")
    marker = json.loads((root / "again-ck" / "step-4" / "checkpoint.json").read_text())
    assert marker["world_size"] == 2 and marker["sharding"] == "fsdp"
    again = _run(root, "again", procs=1)[0]
    assert _result(again)["result"]["resumed_from"] == 4
    reference, resumed = _losses(one), _losses(again)
    assert sorted(resumed) == [s for s in sorted(reference) if s > 4]
    for step, loss in resumed.items():
        assert loss == pytest.approx(reference[step], rel=REL_TOL), step
    assert _result(again)["result"]["eval"] == pytest.approx(_result(one)["result"]["eval"],
                                                              rel=REL_TOL)


# -- fast: the decisions, the command lines, the flags ------------------------------------------


def test_auto_shards_only_what_one_gpu_cannot_hold(monkeypatch):
    import torch

    from finetune_sdk.errors import LocalTrainerError
    from finetune_sdk.local import _fsdp

    said: list[tuple] = []
    gpu, cpu = torch.device("cuda", 0), torch.device("cpu")
    monkeypatch.setattr(_fsdp, "device_bytes", lambda device: 80 * 2**30)
    monkeypatch.setattr(_fsdp, "base_weight_bytes", lambda model, dtype: 70 * 2**30)

    def choose(requested="auto", device=gpu, world=2, quantization=None):
        return _fsdp.choose_sharding(requested, base_model="m", device=device, world=world,
                                     quantization=quantization, say=lambda *a: said.append(a))

    assert choose() == "fsdp" and "70.0 GiB" in said[-1][0] and "FSDP2" in said[-1][0]
    assert choose(world=1) == "none" and said[-1][1] == "warning"  # nothing to shard over
    assert choose("ddp") == "ddp" and choose(quantization="nf4") == "ddp"
    assert choose(device=cpu) == "ddp" and choose(device=cpu, world=1) == "none"  # CPU: if asked
    assert choose("fsdp", device=cpu) == "fsdp"
    monkeypatch.setattr(_fsdp, "base_weight_bytes", lambda model, dtype: 30 * 2**30)
    assert choose() == "ddp"  # 30 of 80 GiB fits
    with pytest.raises(LocalTrainerError, match="4-bit"):
        choose("fsdp", quantization="nf4")
    with pytest.raises(LocalTrainerError, match="several processes"):
        choose("fsdp", world=1)
    with pytest.raises(LocalTrainerError, match="sharding must be one of"):
        choose("zero3")


def test_the_fit_estimate_counts_the_real_parameters(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from finetune_sdk.local._fsdp import base_weight_bytes

    build_tiny_model(tmp_path / "m")
    count = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(tmp_path / "m")
                .parameters())
    assert base_weight_bytes(tmp_path / "m", torch.bfloat16) == 2 * count
    assert base_weight_bytes(tmp_path / "m", torch.float32) == 4 * count


def test_several_nodes_run_torchrun_with_a_static_rendezvous(tmp_path):
    from finetune_sdk.local.launcher import worker_command

    command = worker_command(tmp_path, gpus=4, nodes=2, node_rank=1, master_addr="10.0.0.5",
                             master_port=29555, python="py")
    assert command == ["py", "-m", "torch.distributed.run", "--nnodes=2", "--node_rank=1",
                       "--master_addr=10.0.0.5", "--master_port=29555", "--nproc_per_node=4",
                       "-m", "finetune_sdk.local.worker", str(tmp_path)]
    assert "--standalone" not in command
    one_gpu_each = worker_command(tmp_path, nodes=2, node_rank=0, master_addr="h")
    assert "--nproc_per_node=1" in one_gpu_each and not any("master_port" in a
                                                            for a in one_gpu_each)
    assert "--standalone" in worker_command(tmp_path, gpus=2, nodes=1)
    with pytest.raises(ValueError, match="master_addr"):
        worker_command(tmp_path, nodes=2)


def test_local_options_refuse_spreads_that_cannot_run_and_reach_the_launcher(tmp_path,
                                                                             monkeypatch):
    from finetune_sdk.errors import ConfigurationError
    from finetune_sdk.providers.local import LocalProvider
    from finetune_sdk.types import JobSpec

    provider = LocalProvider(root=tmp_path / "root")
    for options, message in [
        ({"nodes": 2}, "needs master_addr"),
        ({"node_rank": 1}, "nodes > 1 only"),
        ({"nodes": 2, "node_rank": 2, "master_addr": "h"}, "below nodes=2"),
        ({"sharding": "fsdp"}, "several processes"),
        ({"sharding": "fsdp", "gpus": 2, "quantization": "nf4"}, "4-bit"),
        ({"sharding": "zero3", "gpus": 2}, "sharding"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            provider.resolve_options(JobSpec(base_model="tiny", training_file="x.jsonl",
                                             options=options))
    launched: list[dict] = []
    monkeypatch.setattr("finetune_sdk.providers.local.start_worker",
                        lambda job, **kw: launched.append(kw) or os.getpid())
    data = write_jsonl(tmp_path / "train.jsonl", conversations(4))
    job = provider.create_job(JobSpec(
        base_model="tiny", training_file=data,
        options={"gpus": 2, "sharding": "fsdp", "nodes": 2, "node_rank": 1,
                 "master_addr": "10.0.0.5", "master_port": 29555}))
    assert launched == [{"gpus": 2, "python": None, "nodes": 2, "node_rank": 1,
                         "master_addr": "10.0.0.5", "master_port": 29555}]
    spec = json.loads((tmp_path / "root" / "jobs" / job.id / "spec.json").read_text())
    assert spec["train_config"]["sharding"] == "fsdp"


def test_cli_train_flags_for_fsdp_and_nodes(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from finetune_sdk.cli import _register_commands
    from finetune_sdk.cli.app import app

    _register_commands()
    data = write_jsonl(tmp_path / "train.jsonl", conversations(4))
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(tmp_path / "home"))
    runner = CliRunner()

    def train(*flags):
        result = runner.invoke(app, ["train", str(data), "-m", "tiny", *flags])
        return result.exit_code, " ".join(result.output.split())

    for flags, message in [
        (["--nodes", "2"], "--nodes 2 needs --master-addr"),
        (["--node-rank", "1"], "go with --nodes M"),
        (["--nodes", "2", "--node-rank", "2", "--master-addr", "h"], "numbered 0 to 1"),
        (["--fsdp"], "--fsdp shards over several processes"),
        (["--fsdp", "--gpus", "2", "--qlora"], "drop --qlora or --fsdp"),
        (["-p", "openai", "--fsdp", "--gpus", "2"], "--gpus, --fsdp apply to --provider local"),
    ]:
        code, out = train(*flags)
        assert code == 2 and message in out, (flags, out)
    launched: list[dict] = []
    monkeypatch.setattr("finetune_sdk.providers.local.start_worker",
                        lambda job, **kw: launched.append(kw) or os.getpid())
    code, out = train("--fsdp", "--gpus", "2", "--nodes", "2", "--node-rank", "0",
                      "--master-addr", "10.0.0.5", "--master-port", "29555", "--detach")
    assert code == 0, out
    assert launched == [{"gpus": 2, "python": None, "nodes": 2, "node_rank": 0,
                         "master_addr": "10.0.0.5", "master_port": 29555}]


def test_a_checkpoint_of_the_older_position_keyed_format_still_resumes(tmp_path):
    import torch

    from finetune_sdk.local._checkpoint import restore_training, rng_state
    from finetune_sdk.local._model import PackedCausalLM, load_lora_model

    build_tiny_model(tmp_path / "m")

    def fresh():
        torch.manual_seed(0)
        peft_model = load_lora_model(tmp_path / "m", device=torch.device("cpu"), lora_rank=4,
                                     lora_alpha=8, lora_dropout=0.0, target_modules="all-linear")
        module = PackedCausalLM(peft_model, backend="mask")
        trainable = [p for p in module.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=1e-2)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        names = [n for n, p in module.named_parameters() if p.requires_grad]
        return module, trainable, optimizer, scheduler, names

    module, trainable, optimizer, scheduler, names = fresh()
    for index, param in enumerate(trainable):
        param.grad = torch.full_like(param, 0.01 * (index + 1))
    optimizer.step()
    scheduler.step()
    old = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
           "rng": rng_state()}
    assert all(isinstance(k, int) for k in old["optimizer"]["state"])
    module2, trainable2, optimizer2, scheduler2, names2 = fresh()
    restore_training(module2, optimizer2, scheduler2, old, names2)
    for a, b in zip(trainable, trainable2, strict=True):
        assert torch.equal(optimizer.state[a]["exp_avg"], optimizer2.state[b]["exp_avg"])
        assert torch.equal(optimizer.state[a]["exp_avg_sq"], optimizer2.state[b]["exp_avg_sq"])
    assert scheduler2.last_epoch == scheduler.last_epoch


# -- through the provider: detached torchrun jobs ----------------------------------------------


def _rank_pid(leader: int, rank: int) -> int | None:
    """The pid of torchrun ``leader``'s worker process with ``RANK=rank``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent == leader and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FINETUNE_SDK_CPU_THREADS", "1")  # two ranks on a 2-core machine
    return make_home(tmp_path / "home")


@pytest.mark.slow
def test_a_killed_rank_fails_the_fsdp_job_with_the_log_tail_and_resume_finishes_it(home):
    c = client(home)
    job = c.jobs.create(base_model="tiny", training_file=home / "train.jsonl",
                        validation_file=home / "val.jsonl",
                        hyperparameters={**FAST, "epochs": 3},
                        options={"gpus": 2, "device": "cpu", "sharding": "fsdp",
                                 "save_every_steps": 1})
    job_dir = home / "local" / "jobs" / job.id
    poll_until(lambda: (job_dir / "checkpoints" / "step-2" / "checkpoint.json").is_file(),
               timeout=240)
    leader = c.jobs.get(job.id).provider_details["pid"]
    victim = poll_until(lambda: _rank_pid(leader, 1), timeout=20)
    os.kill(victim, signal.SIGKILL)
    failed = c.jobs.wait(job.id, timeout=180, progress=False)
    assert failed.status is JobStatus.FAILED
    assert "last lines of worker.log" in failed.error.message, failed.error.message
    assert "resume the job to continue from its checkpoint at step" in failed.error.message
    poll_until(lambda: not pid_alive(leader), timeout=120)  # torchrun has written its summary
    log = (job_dir / "worker.log").read_text()
    assert "SIGKILL" in log or "Signal 9" in log  # torchrun's summary names the dead rank
    stopped_at = json.loads((job_dir / "status.json").read_text())["last_checkpoint_step"]

    c.jobs.resume(job.id)
    done = c.jobs.wait(job.id, timeout=300, progress=False)
    assert done.status is JobStatus.SUCCEEDED, done.error
    result = done.provider_details["result"]
    assert result["resumed_from_step"] >= min(2, stopped_at)
    steps = [m.step for m in c.jobs.metrics(job.id) if m.train_loss is not None]
    assert steps == sorted(set(steps)) and steps[-1] == result["steps"]
    manifest = json.loads((Path(done.output_model.removeprefix("local:")) /
                           "trainer_manifest.json").read_text())
    assert manifest["details"]["sharding"] == "fsdp" and manifest["details"]["world_size"] == 2


@pytest.mark.slow
def test_two_nodes_on_loopback_train_as_one_run(home):
    c = client(home)
    spread = {"gpus": 1, "device": "cpu", "nodes": 2, "master_addr": "127.0.0.1",
              "master_port": _free_port(), "sharding": "fsdp"}
    jobs = [c.jobs.create(base_model="tiny", training_file=home / "train.jsonl",
                          hyperparameters={**FAST, "epochs": 1},
                          options={**spread, "node_rank": rank, "merge": rank == 0})
            for rank in (0, 1)]
    assert jobs[0].id != jobs[1].id  # one job per node, each with its own directory
    commands = [(home / "local" / "jobs" / j.id / "worker.log") for j in jobs]
    done = [c.jobs.wait(j.id, timeout=300, progress=False) for j in jobs]
    assert [d.status for d in done] == [JobStatus.SUCCEEDED] * 2, [d.error for d in done]
    manifests = [json.loads((Path(d.output_model.removeprefix("local:")) /
                             "trainer_manifest.json").read_text()) for d in done]
    assert [m["details"]["world_size"] for m in manifests] == [2, 2]
    # one run: both nodes saw the same (all-reduced) losses and hold the same adapter
    losses = [[m.train_loss for m in c.jobs.metrics(j.id) if m.train_loss is not None]
              for j in jobs]
    assert losses[0] and losses[0] == losses[1]
    from safetensors.torch import load_file

    adapters = [load_file(Path(d.output_model.removeprefix("local:")) /
                          "adapter_model.safetensors") for d in done]
    assert all((adapters[0][k] == adapters[1][k]).all() for k in adapters[0])
    assert all("Traceback" not in log.read_text() for log in commands)
    # the sharded model's merge (on the host, from the gathered adapter) is base + adapter
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    output = Path(done[0].output_model.removeprefix("local:"))
    merged = AutoModelForCausalLM.from_pretrained(output / "merged")
    with warnings.catch_warnings():  # PEFT's own use of a deprecated transformers call
        warnings.simplefilter("ignore", FutureWarning)
        tuned = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(home / "models" / "tiny-v1"), output)
    ids = torch.arange(1, 40).view(1, -1)
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, tuned(ids).logits, atol=1e-4)
