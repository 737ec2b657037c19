"""The offline end-to-end demo behind ``finetune quickstart``.

Bundled sample chats -> validate -> deterministic split -> a local job on the tiny model (a real
detached worker, recorded in the ledger) -> wait -> model id -> one reply from the tuned model ->
base-vs-tuned evaluation on the held-out split -> how to serve it (``finetune serve``). Every
step uses the public API a user would call, so the quickstart doubles as a smoke test of the
whole library on a machine without a network.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "samples" / "health_chats.jsonl"

Say = Callable[[str, str], None]


def _quiet(step: str, detail: str) -> None:
    pass


def run_quickstart(workdir: str | Path | None = None, *, eval_examples: int = 16,
                   say: Say = _quiet, progress: bool | None = None) -> dict[str, Any]:
    """Run the loop; returns ids, losses and the evaluation report (see ``finetune quickstart``)."""
    from ..client import Client
    from ..config import home_dir
    from ..data.split import split_file
    from ..data.validate import validate_file
    from ..errors import JobError
    from ..evaluate import compare, load_heldout
    from ..inference import chat
    from .tiny import build_tiny_model

    work = Path(workdir) if workdir is not None else home_dir() / "quickstart"
    work.mkdir(parents=True, exist_ok=True)
    data = work / "health_chats.jsonl"
    shutil.copyfile(SAMPLE, data)

    report = validate_file(data, provider="local")
    say("validate", f"{data.name}: {report.examples} examples, {report.error_count} errors,"
        f" {len(report.warnings)} warnings")
    report.raise_for_errors()

    split = split_file(data, work / "train.jsonl", work / "validation.jsonl", val=0.1, seed=0)
    say("split", f"{split.train_examples} train / {split.validation_examples} validation"
        f" (seed {split.seed}, grouped by {split.grouped_by}, leakage {split.leakage})")

    model_dir = build_tiny_model()
    say("model", f"tiny random-init Llama + BPE tokenizer trained on the samples ({model_dir})")

    client = Client("local")
    job = client.jobs.create(base_model="tiny", training_file=split.train_file,
                             validation_file=split.validation_file,
                             labels={"source": "quickstart"})
    say("train", f"job {job.id} started (worker pid {job.provider_details.get('pid')});"
        f" reattach from any shell with: finetune wait {job.id}")
    job = client.jobs.wait(job.id, progress=progress)
    if job.status.value != "succeeded":
        raise JobError(f"quickstart job {job.id} ended {job.status.value}:"
                       f" {job.error.message if job.error else ''}", job=job)
    model = client.models.resolve(job)
    say("model id", model.id)

    metrics = list(client.jobs.metrics(job.id))
    losses = [m.train_loss for m in metrics if m.train_loss is not None]
    eval_loss = next((m.valid_loss for m in reversed(metrics) if m.valid_loss is not None),
                     float("nan"))

    heldout = work / "validation.jsonl"
    prompt = load_heldout(heldout, limit=1)[0]["prompt"]
    question = next(m["content"] for m in prompt if m["role"] == "user")
    reply = chat(model, question, max_tokens=48)
    say("chat", f"Q: {question[:80]!r}\n{'':>10}A: {reply[:160]!r}\n{'':>10}(a 2-layer random"
        " model after 30 s of LoRA: expect word salad; the loop is the point)")

    report_dir = work / "eval"
    compared = compare("tiny", model, heldout, limit=eval_examples, cache=False,
                       params={"max_tokens": 48, "temperature": 0.0, "seed": 0})
    compared.write(report_dir)
    say("eval", f"win rate of tuned over base: {compared.win_rate:.0%}"
        f" (report in {report_dir})")
    say("serve", f"finetune serve {model.id}  (an OpenAI-compatible API on"
        " http://127.0.0.1:8000/v1: point your app's OpenAI client there; Ctrl-C stops it)")
    return {"job_id": job.id, "model_id": model.id, "first_loss": losses[0],
            "last_loss": losses[-1], "eval_loss": eval_loss, "report": compared,
            "report_dir": str(report_dir), "eval_examples": len(compared.rows),
            "workdir": str(work)}

