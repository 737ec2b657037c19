"""The Azure OpenAI fine-tuning workflow in steps: prepare, upload, train, status, deploy.

    python examples/azure_openai_workflow.py            # every step, one after the other
    python examples/azure_openai_workflow.py status     # one step (ids are kept in .env)

Runs offline against the fake provider by default. For Azure run with
FINETUNE_PROVIDER=azure-openai and set AZURE_OPENAI_API_KEY plus AZURE_OPENAI_RESOURCE (or
AZURE_OPENAI_ENDPOINT=https://<resource>.openai.azure.com/).

Azure trains gpt-4.1-family fine-tunes until 2027-04-14 (existing customers) and serves them
until 2027-10-14: OpenAI's own 2027-01-06 cutoff does not apply. A finished Azure fine-tune must
be deployed through the ARM control plane before it answers; the deploy step prints that request.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from finetune_sdk import Client, DatasetRef, Hyperparameters
from finetune_sdk.config import env_file_values, write_env_var

PROVIDER = os.environ.get("FINETUNE_PROVIDER", "fake")  # "azure-openai" for Azure
BASE_MODEL = "gpt-4.1-mini-2025-04-14"
DATA = Path(__file__).resolve().parent / "data"
SAMPLE = DATA / "health_chats.jsonl"  # synthetic health-coaching chats (make_samples.py)
PREPARED = Path("azure_train.jsonl")
ENV = Path(".env")
# Azure's training tier; the fake provider takes no such option.
OPTIONS = {"training_type": "Standard"} if PROVIDER in ("azure-openai", "azure") else None


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
    write_env_var(ENV, "AZURE_TRAINING_FILE", ref.id)
    print(f"upload: {ref.id} ({ref.num_examples} examples, {ref.bytes} bytes)")


def train(client: Client) -> None:
    uploaded = DatasetRef(id=env_file_values(ENV)["AZURE_TRAINING_FILE"],
                          provider=client.provider.name)
    job = client.jobs.create(
        base_model=BASE_MODEL,
        training_file=uploaded,
        output_name="health-coach",  # Azure: at most 18 characters
        hyperparameters=Hyperparameters(epochs=3, batch_size=8, learning_rate_multiplier=1.0),
        labels={"app": "health-coach"},
        options=OPTIONS,
    )
    write_env_var(ENV, "AZURE_FT_JOB_ID", job.id)
    print(f"train: started {job.id} ({job.provider_status})")


def status(client: Client) -> None:
    job_id = env_file_values(ENV)["AZURE_FT_JOB_ID"]
    job = client.jobs.wait(
        job_id,
        poll_interval=0.1 if PROVIDER == "fake" else None,
        progress=False,
        on_update=lambda j: print(f"  {j.status.value:10} {j.provider_status}"),
    )
    for event in list(client.jobs.events(job_id))[-3:]:
        print(f"  event: {event.message}")
    model = client.models.resolve(job.raise_for_status())
    write_env_var(ENV, "AZURE_FT_MODEL", model.id)
    print(f"status: {job.status.value}; model {model.id} written to .env as AZURE_FT_MODEL")


def deploy(client: Client) -> None:
    """Say how the model becomes servable (the ARM request needs an Entra ID token)."""
    job = client.jobs.get(env_file_values(ENV)["AZURE_FT_JOB_ID"])
    model = client.models.resolve(job)
    if not model.needs_deployment:
        print(f"deploy: {model.id} is ready for inference, no deployment needed")
        return
    request = model.provider_details.get("arm_deployment") or {}
    print(f"deploy: {model.id} needs a deployment first")
    print(f"  {request.get('method', 'PUT')} {request.get('url', '(see how_to_serve)')}")
    print(f"  body: {json.dumps(request.get('body', {}))}")
    print(f"  then chat.completions.create(model={request.get('deployment')!r}) on the resource")


STEPS = {"prepare": prepare, "upload": upload, "train": train, "status": status,
         "deploy": deploy}


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
