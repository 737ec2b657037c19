"""LoRA fine-tune on the therapy-support chat sample with AutoTrain on Hugging Face Jobs.

Runs offline against the fake provider by default. For Hugging Face change one line,
``PROVIDER = "huggingface"`` (or run with FINETUNE_PROVIDER=huggingface), and set HF_TOKEN (a
write token; HF Jobs need credit on the account). The data goes to a private Hub dataset repo,
training runs on an HF Jobs GPU, and the adapter is pushed to the private repo
``{your user}/therapy-support-lora``.
"""

from __future__ import annotations

import os
from pathlib import Path

from finetune_sdk import Client, Hyperparameters

PROVIDER = os.environ.get("FINETUNE_PROVIDER", "fake")  # "huggingface" for AutoTrain on HF Jobs
BASE_MODEL = "meta-llama/Llama-3.2-1B-Instruct"
SAMPLE = Path(__file__).resolve().parent / "data" / "therapy_support.jsonl"

LORA = Hyperparameters(
    lora_rank=16,
    lora_alpha=32,
    lora_dropout=0.05,
    lora_target_modules=["q_proj", "v_proj"],
    epochs=3,
    learning_rate=2e-4,
    batch_size=2,
    max_seq_length=1024,
)


def main() -> None:
    client = Client(PROVIDER)
    options = None
    if client.provider.name == "huggingface":
        from finetune_sdk.providers.huggingface.adapter import HuggingFaceOptions

        # backend="sdk" runs this package's own trainer instead of the AutoTrain image.
        options = HuggingFaceOptions(backend="autotrain", flavor="a10g-small", timeout="2h")

    training = client.datasets.upload(SAMPLE)
    print(f"uploaded: {training.id} ({training.num_examples} examples)")
    job = client.jobs.run(
        base_model=BASE_MODEL,
        training_file=training,
        output_name="therapy-support-lora",
        hyperparameters=LORA,
        options=options,
        poll_interval=0.1 if PROVIDER == "fake" else None,
        progress=False,
        on_update=lambda j: print(f"  {j.status.value:10} {j.provider_status}"),
    )
    for point in client.jobs.metrics(job.id)[-3:]:
        print(f"  step {point.step}: loss {point.train_loss}")
    model = client.models.resolve(job)
    print(f"model: {model.id}")
    if model.how_to_serve:
        print(f"serving: {model.how_to_serve}")


if __name__ == "__main__":
    main()
