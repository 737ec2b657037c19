"""Tune Gemini on the menstrual-health chat sample, from app records with input_text/output_text.

Runs offline against the fake provider by default. For Vertex AI change one line,
``PROVIDER = "gemini"`` (or run with FINETUNE_PROVIDER=gemini), and set GOOGLE_CLOUD_PROJECT,
GOOGLE_CLOUD_LOCATION (default us-central1), FINETUNE_SDK_GCS_BUCKET and application-default
credentials (``gcloud auth application-default login``). An API key alone cannot tune: Google
tunes only on Vertex AI.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from finetune_sdk import Client, Hyperparameters

PROVIDER = os.environ.get("FINETUNE_PROVIDER", "fake")  # "gemini" for Vertex AI
BASE_MODEL = "gemini-3.5-flash"
SAMPLE = Path(__file__).resolve().parent / "data" / "menstrual_health.jsonl"
SYSTEM_PROMPT = (
    "You are a supportive menstrual-health assistant. Give clear, general information, never a"
    " diagnosis, and say when someone should see a healthcare provider."
)


def records_to_chats(source: Path, target: Path) -> int:
    """App records {input_text, output_text} -> chat examples (system, user, assistant)."""
    count = 0
    with source.open(encoding="utf-8") as src, target.open("w", encoding="utf-8") as dst:
        for number, line in enumerate(src, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not record.get("input_text") or not record.get("output_text"):
                raise SystemExit(f"{source}:{number}: needs non-empty input_text and output_text")
            chat = {"messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": record["input_text"]},
                {"role": "assistant", "content": record["output_text"]},
            ]}
            dst.write(json.dumps(chat) + "\n")
            count += 1
    return count


def main() -> None:
    client = Client(PROVIDER)
    with tempfile.TemporaryDirectory() as workdir:
        chats = Path(workdir) / "menstrual_health_chats.jsonl"
        print(f"converted {records_to_chats(SAMPLE, chats)} records to chat examples")
        # On Vertex: converted to `contents` (user/model) + `systemInstruction` and put in GCS.
        training = client.datasets.upload(chats)
    print(f"uploaded: {training.id}")

    job = client.jobs.run(
        base_model=BASE_MODEL,
        training_file=training,
        output_name="menstrual-health-coach",
        hyperparameters=Hyperparameters(
            epochs=3,
            learning_rate_multiplier=1.0,
            lora_rank=4,  # Vertex "adapter size": 1, 2, 4, 8, 16 or 32
        ),
        labels={"app": "cycle-tracker"},
        poll_interval=0.1 if PROVIDER == "fake" else None,
        progress=False,
        on_update=lambda j: print(f"  {j.status.value:10} {j.provider_status}"),
    )
    model = client.models.resolve(job)
    print(f"tuned model: {model.id}")
    print(f"ready for inference: {model.ready_for_inference}")
    if model.how_to_serve:
        print(f"how to call it: {model.how_to_serve}")


if __name__ == "__main__":
    main()
