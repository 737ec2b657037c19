"""Fine-tune Amazon Nova Micro on Bedrock with the diabetes-coach chat sample.

Runs offline against the fake provider by default. For Amazon Bedrock change one line,
``PROVIDER = "bedrock"`` (or run with FINETUNE_PROVIDER=bedrock), and set AWS credentials the
usual way (AWS_PROFILE, or AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, or an instance role),
AWS_REGION=us-east-1 (Nova tunes there), FINETUNE_SDK_BEDROCK_BUCKET=s3://my-bucket/tuning and
FINETUNE_SDK_BEDROCK_ROLE_ARN (a role Bedrock can assume to read that bucket and write outputs).
A finished job is a custom model ARN: it needs a custom model deployment before inference.
"""

from __future__ import annotations

import os
from pathlib import Path

from finetune_sdk import Client, Hyperparameters
from finetune_sdk.data.validate import validate_file

PROVIDER = os.environ.get("FINETUNE_PROVIDER", "fake")  # "bedrock" for Amazon Bedrock
BASE_MODEL = "amazon.nova-micro-v1:0:128k"
SAMPLE = Path(__file__).resolve().parent / "data" / "health_chats.jsonl"


def main() -> None:
    # Bedrock's own rules (Nova: 8 to 20,000 examples, user/assistant turns) before any upload.
    report = validate_file(SAMPLE, provider="bedrock", base_model=BASE_MODEL)
    print(f"validated {report.examples} examples: {report.error_count} errors")
    if not report.ok:
        raise SystemExit(1)

    client = Client(PROVIDER)
    # On Bedrock: written as bedrock-conversation-2024 (and the other schemas the data fits)
    # under one content-addressed S3 folder; the job reads the variant its base model takes.
    training = client.datasets.upload(SAMPLE)
    print(f"uploaded: {training.id}")

    job = client.jobs.run(
        base_model=BASE_MODEL,
        training_file=training,
        output_name="diabetes-coach",
        hyperparameters=Hyperparameters(epochs=2, learning_rate=1e-5),  # epochCount, learningRate
        # Nova-only names go through the options (ignored by the fake provider's run).
        options={"hyper_parameters": {"learningRateWarmupSteps": 10}}
        if PROVIDER == "bedrock" else None,
        labels={"app": "diabetes-coach"},
        poll_interval=0.1 if PROVIDER == "fake" else None,
        progress=False,
        on_update=lambda j: print(f"  {j.status.value:10} {j.provider_status}"),
    )
    model = client.models.resolve(job)
    print(f"custom model: {model.id}")
    print(f"ready for inference: {model.ready_for_inference}"
          f" (needs a deployment: {model.needs_deployment})")
    if model.how_to_serve:
        print(f"how to serve it: {model.how_to_serve}")


if __name__ == "__main__":
    main()
