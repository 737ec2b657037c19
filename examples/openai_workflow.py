"""The OpenAI fine-tuning workflow in steps: prepare, upload, train, status, test.

    python examples/openai_workflow.py            # every step, one after the other
    python examples/openai_workflow.py status     # one step (ids are kept in .env)

Runs offline against the fake provider by default. For OpenAI change one line,
``PROVIDER = "openai"`` (or run with FINETUNE_PROVIDER=openai) and set OPENAI_API_KEY.

OpenAI accepts no new fine-tuning jobs from 2027-01-06: until then the train step warns, after
it refuses and names the alternatives (fireworks, gemini, huggingface, local).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from finetune_sdk import Client, DatasetRef, Hyperparameters
from finetune_sdk.config import env_file_values, write_env_var

PROVIDER = os.environ.get("FINETUNE_PROVIDER", "fake")  # "openai" for OpenAI
BASE_MODEL = "gpt-4.1-mini-2025-04-14"
DATA = Path(__file__).resolve().parent / "data"
SAMPLE = DATA / "health_chats.jsonl"  # synthetic health-coaching chats (make_samples.py)
PREPARED = Path("openai_train.jsonl")
ENV = Path(".env")


def prepare(client: Client) -> None:
    """Keep complete chats (last turn from the assistant), drop nothing silently."""
    kept = 0
    with SAMPLE.open(encoding="utf-8") as src, PREPARED.open("w", encoding="utf-8") as dst:
        for number, line in enumerate(src, 1):
            if not line.strip():
                continue
            messages = json.loads(line).get("messages") or []
            if not messages or messages[-1].get("role") != "assistant":
                raise SystemExit(f"{SAMPLE}:{number}: a chat must end with an assistant turn")
            dst.write(json.dumps({"messages": messages}) + "\n")
            kept += 1
    print(f"prepare: {kept} chats -> {PREPARED}")


def upload(client: Client) -> None:
    ref = client.datasets.upload(PREPARED)
    write_env_var(ENV, "OPENAI_TRAINING_FILE", ref.id)
    print(f"upload: {ref.id} ({ref.num_examples} examples, {ref.bytes} bytes)")


def train(client: Client) -> None:
    uploaded = DatasetRef(
        id=env_file_values(ENV)["OPENAI_TRAINING_FILE"], provider=client.provider.name
    )
    job = client.jobs.create(
        base_model=BASE_MODEL,
        training_file=uploaded,
        output_name="health-coach",
        hyperparameters=Hyperparameters(epochs=3, batch_size=8, learning_rate_multiplier=1.0),
        labels={"app": "health-coach"},
    )
    write_env_var(ENV, "OPENAI_FT_JOB_ID", job.id)
    print(f"train: started {job.id} ({job.provider_status})")


def status(client: Client) -> None:
    job_id = env_file_values(ENV)["OPENAI_FT_JOB_ID"]
    job = client.jobs.wait(
        job_id,
        poll_interval=0.1 if PROVIDER == "fake" else None,
        progress=False,
        on_update=lambda j: print(f"  {j.status.value:10} {j.provider_status}"),
    )
    for event in list(client.jobs.events(job_id))[-3:]:
        print(f"  event: {event.message}")
    model = client.models.resolve(job.raise_for_status())
    write_env_var(ENV, "OPENAI_FT_MODEL", model.id)
    print(f"status: {job.status.value}; model {model.id} written to .env as OPENAI_FT_MODEL")


def test(client: Client) -> None:
    model = env_file_values(ENV)["OPENAI_FT_MODEL"]
    question = [{"role": "user", "content": "How much water should I drink on a hot day?"}]
    if PROVIDER != "openai":
        print(f"test: {model} is a {PROVIDER} model; with OpenAI this step asks it: {question}")
        return
    from openai import OpenAI

    answer = OpenAI().chat.completions.create(model=model, messages=question)  # type: ignore[arg-type]
    print(f"test: {answer.choices[0].message.content}")


STEPS = {"prepare": prepare, "upload": upload, "train": train, "status": status, "test": test}


def main(argv: list[str]) -> None:
    wanted = argv or list(STEPS)
    unknown = [s for s in wanted if s not in STEPS]
    if unknown:
        raise SystemExit(f"unknown step(s) {unknown}; choose from {list(STEPS)}")
    client = Client(PROVIDER)
    for step in wanted:
        STEPS[step](client)


if __name__ == "__main__":
    main(sys.argv[1:])
