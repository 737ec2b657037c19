"""LoRA fine-tune Llama 3.1 8B on the health-chat sample with Together AI, then save the model id.

Runs offline by default: the official ``together`` SDK talks to the Together mock server through
an in-process transport, so every request is the one Together would get, and nothing is paid.
For the real service set TOGETHER_LIVE=1 and TOGETHER_API_KEY (environment or .env): that
starts a paid job. What it does:

1. uploads the chats (converted to Together's JSONL, checked by our rules and Together's own
   file check first);
2. asks Together what the job will cost (``price_estimate``) and stops above MAX_USD;
3. starts a LoRA job (epochs, rank, alpha, learning rate) and waits, printing each change;
   live, a rerun of this script attaches to the same job instead of paying for a second one;
4. writes the model id to ``.env`` as TOGETHER_MODEL_ID.

A Together fine-tune is served from a dedicated endpoint (billed per minute): the script prints
how to create one; it never creates one itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from finetune_sdk import Client, Hyperparameters, JobSpec
from finetune_sdk.config import write_env_var

LIVE = os.environ.get("TOGETHER_LIVE") == "1"
BASE_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
SAMPLE = Path(__file__).resolve().parent / "data" / "health_chats.jsonl"
MAX_USD = 20.0

HYPERPARAMETERS = Hyperparameters(epochs=3, learning_rate=1e-4, lora_rank=16, lora_alpha=32)


def make_client() -> Client:
    if LIVE:
        return Client("together")  # TOGETHER_API_KEY from the environment or .env
    import httpx2

    from finetune_sdk.testing.mock_servers.together import TogetherMockServer

    mock = TogetherMockServer(auto_advance=True)  # each poll moves the job one step
    # ledger=False: the mock forgets its jobs when the script ends, the ledger would not.
    return Client("together", api_key="offline-example-key", base_url=mock.base_url,
                  http_client=httpx2.Client(transport=mock.transport()), ledger=False)


def main() -> None:
    client = make_client()
    training = client.datasets.upload(SAMPLE)
    print(f"dataset: {training.id} ({training.num_examples} examples, {training.status})")

    spec = JobSpec(base_model=BASE_MODEL, training_file=training, output_name="coach",
                   hyperparameters=HYPERPARAMETERS, max_usd=MAX_USD)
    estimate = client.provider.price_estimate(spec)  # type: ignore[attr-defined]
    if estimate.get("estimation_available"):
        print(f"Together's estimate: {estimate['estimated_total_price']:.2f} USD"
              f" (allowed to proceed: {estimate.get('allowed_to_proceed')})")

    job = client.jobs.run(
        spec,
        poll_interval=None if LIVE else 0,
        progress=False,
        on_update=lambda j: print(f"  {j.status.value:10} {j.provider_status}"),
    )
    model = client.models.resolve(job)
    print(f"model: {model.id}")
    if model.needs_deployment:
        print(f"to serve it: {model.how_to_serve}")

    write_env_var(".env", "TOGETHER_MODEL_ID", model.id)
    print("wrote TOGETHER_MODEL_ID to .env")


if __name__ == "__main__":
    main()
