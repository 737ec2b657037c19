"""LoRA fine-tune gpt-oss-20b on the health-chat sample with Fireworks, then save the model id.

Runs offline against the fake provider by default. For Fireworks change one line,
``PROVIDER = "fireworks"`` (or run with FINETUNE_PROVIDER=fireworks), and set FIREWORKS_API_KEY
and FIREWORKS_ACCOUNT_ID (environment or .env). What it does:

1. uploads the chats as a Fireworks dataset (id = hash of the content, so re-running reuses it);
2. starts a supervised LoRA job on gpt-oss-20b with epochs / batch size / learning rate, naming
   the model after what it is trained on (see ``output_name``), so the script can be re-run;
3. waits, printing each status change;
4. writes the model id to ``.env`` as FIREWORKS_MODEL_ID for your app.

A Fireworks fine-tune needs a dedicated deployment (billed per GPU hour) before it can answer;
set DEPLOY=1 to create one here (``client.models.deploy``), and ``finetune undeploy`` it when
you are done.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from finetune_sdk import Client, Hyperparameters
from finetune_sdk.config import write_env_var

PROVIDER = os.environ.get("FINETUNE_PROVIDER", "fake")  # "fireworks" for Fireworks AI
BASE_MODEL = "accounts/fireworks/models/gpt-oss-20b"
DATA = Path(__file__).resolve().parent / "data"
SAMPLE = DATA / "health_chats.jsonl"  # synthetic health-coaching chats (make_samples.py)

HYPERPARAMETERS = Hyperparameters(
    epochs=3,
    batch_size=8,  # examples per batch (Fireworks batchSizeSamples)
    learning_rate=1e-4,
    lora_rank=16,
)


def output_name() -> str:
    """``health-coach-gpt-oss-20b-<8 hex>``, the hex from the data, base and hyperparameters.

    Fireworks never overwrites a model: a second job writing the same name is refused. Derived
    from the inputs, the name changes when you edit any of them (a new model, no clash) and
    stays when you re-run unchanged (the SDK then attaches to the job it already started).
    """
    digest = hashlib.sha256(SAMPLE.read_bytes())
    digest.update(f"{BASE_MODEL}|{HYPERPARAMETERS.model_dump_json()}".encode())
    return f"health-coach-gpt-oss-20b-{digest.hexdigest()[:8]}"


def main() -> None:
    client = Client(PROVIDER)
    training = client.datasets.upload(SAMPLE)
    print(f"dataset: {training.id} ({training.num_examples} examples)")

    job = client.jobs.run(
        base_model=BASE_MODEL,
        training_file=training,
        output_name=output_name(),
        hyperparameters=HYPERPARAMETERS,
        poll_interval=0.1 if PROVIDER == "fake" else None,
        progress=False,
        on_update=lambda j: print(f"  {j.status.value:10} {j.provider_status}"),
    )
    model = client.models.resolve(job)
    print(f"model: {model.id}")
    if model.needs_deployment:
        print(f"needs a deployment first: {model.how_to_serve}")
        if os.environ.get("DEPLOY") == "1":
            deployment = client.models.wait_ready(client.models.deploy(model))
            print(f"deployed: {deployment.endpoint} ({deployment.status.value}); billed while it"
                  f" exists: finetune undeploy {deployment.id}")
            write_env_var(".env", "FIREWORKS_MODEL_ID", deployment.endpoint)
            return

    write_env_var(".env", "FIREWORKS_MODEL_ID", model.id)
    print("wrote FIREWORKS_MODEL_ID to .env")


if __name__ == "__main__":
    main()
