"""From rated app conversations to a model trained on your own machine, then base vs tuned.

    python examples/local_workflow.py

1. export: rated interactions (a CSV from the app's database) -> chat JSONL, keeping rating >= 4
2. scrub: emails, phone numbers, ids ... -> [EMAIL], [PHONE], ... (the data never leaves anyway)
3. validate + split (deterministic, grouped by conversation)
4. train with the local provider; the model id goes into .env
5. try it, and compare it with the base model on the held-out split

Runs offline on the embedded tiny model. For a real model change one line:
``BASE_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"`` (any Hub id or local folder; a GPU helps).
"""

from __future__ import annotations

import os
from pathlib import Path

from finetune_sdk import Client
from finetune_sdk.config import write_env_var
from finetune_sdk.data.privacy import scrub_file
from finetune_sdk.data.records import FieldMapping, export_records
from finetune_sdk.data.split import split_file
from finetune_sdk.data.validate import validate_file
from finetune_sdk.evaluate import compare
from finetune_sdk.inference import chat

BASE_MODEL = os.environ.get("FINETUNE_BASE_MODEL", "tiny")
RECORDS = Path(__file__).resolve().parent / "data" / "rated_interactions.csv"
SYSTEM = "You are a friendly health-education coach. Never diagnose; suggest the care team."


def main() -> None:
    summary = export_records(RECORDS, "rated.jsonl", FieldMapping(
        conversation="conversation_id", turn="turn", min_rating=4, system_prompt=SYSTEM,
        multi_turn=True))
    print(f"export: {summary.rows} rows -> {summary.examples} conversations;"
          f" dropped {dict(summary.dropped)}")

    scrubbed = scrub_file("rated.jsonl", "rated.scrubbed.jsonl")
    print(f"scrub: {scrubbed.total} replacements {dict(scrubbed.counts)}")

    report = validate_file("rated.scrubbed.jsonl", provider="local")
    report.raise_for_errors()
    split = split_file("rated.scrubbed.jsonl", "train.jsonl", "heldout.jsonl", val=0.15, seed=7)
    print(f"validate: {report.examples} examples ok; split {split.train_examples} train /"
          f" {split.validation_examples} held out")

    client = Client("local")
    job = client.jobs.run(base_model=BASE_MODEL, training_file="train.jsonl",
                          validation_file="heldout.jsonl", hyperparameters={"epochs": 2},
                          progress=False)
    model = client.models.resolve(job)
    write_env_var(Path(".env"), "HEALTH_COACH_MODEL", model.id)
    losses = [m.train_loss for m in client.jobs.metrics(job.id) if m.train_loss is not None]
    print(f"train: {job.id} {job.status.value}, loss {losses[0]:.2f} -> {losses[-1]:.2f};"
          f" model id in .env as HEALTH_COACH_MODEL")

    print("try it:", chat(model, "Is it safe to exercise after a big lunch?", max_tokens=24))
    result = compare(BASE_MODEL, model, "heldout.jsonl", limit=8, cache=False,
                     params={"max_tokens": 32, "temperature": 0.0, "seed": 0})
    result.write("eval")
    print(f"eval: tuned beats base on {result.win_rate:.0%} of {len(result.rows)} held-out"
          " prompts (ROUGE-L); report in eval/report.md")


if __name__ == "__main__":
    main()
