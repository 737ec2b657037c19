"""The ``sdk`` backend inside an HF Job: train with the local provider, push to the Hub.

Run by ``run_uv_job`` as ``python -m finetune_sdk.providers.huggingface.remote_train ...`` with
the datasets mounted read-only and the Hub token in the ``HF_TOKEN`` secret. Metrics are printed
as JSON lines (``{"step": .., "loss": ..}``) so the adapter's ``get_metrics`` can read them back
from the job log.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="remote_train", description=__doc__)
    parser.add_argument("--base-model", required=True)
    parser.add_argument("--train", required=True, help="chat JSONL inside the job")
    parser.add_argument("--validation")
    parser.add_argument("--output-repo", required=True, help="Hub model repo, user/name")
    parser.add_argument("--method", default="sft", choices=["sft"])
    parser.add_argument("--hyperparameters", default="{}", help="JSON of Hyperparameters fields")
    return parser.parse_args(argv)


def _print_new_metrics(points: Sequence[Any], seen: set[int]) -> None:
    for point in points:
        if point.step in seen:
            continue
        seen.add(point.step)
        line = {"step": point.step, "loss": point.train_loss, "epoch": point.epoch,
                "learning_rate": point.learning_rate, "eval_loss": point.valid_loss}
        print(json.dumps({k: v for k, v in line.items() if v is not None}), flush=True)


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: Callable[[], Any] | None = None,
    hub: Any = None,
) -> int:
    """Train, then upload the adapter folder to ``--output-repo``. Returns the exit code."""
    from ...types import Hyperparameters

    args = parse_args(argv)
    if client_factory is None:
        from ...client import Client

        def client_factory() -> Any:
            return Client("local", ledger=False)

    client = client_factory()
    seen: set[int] = set()

    def report(job: Any) -> None:
        print(f"status {job.status.value} progress {job.progress}", flush=True)
        _print_new_metrics(client.jobs.metrics(job.id), seen)

    job = client.jobs.run(
        base_model=args.base_model,
        training_file=args.train,
        validation_file=args.validation,
        method=args.method,
        hyperparameters=Hyperparameters(**json.loads(args.hyperparameters)),
        on_update=report,
        progress=False,
    )
    _print_new_metrics(client.jobs.metrics(job.id), seen)
    model = client.models.resolve(job)
    folder = model.id.removeprefix("local:")
    if not os.path.isdir(folder):
        print(f"ERROR: trained model folder {folder!r} not found", file=sys.stderr)
        return 1
    if hub is None:
        from huggingface_hub import HfApi

        hub = HfApi(token=os.environ.get("HF_TOKEN"), library_name="finetune-sdk")
    hub.create_repo(args.output_repo, repo_type="model", private=True, exist_ok=True)
    hub.upload_folder(folder_path=folder, repo_id=args.output_repo, repo_type="model",
                      commit_message=f"finetune-sdk: LoRA adapter on {args.base_model}")
    print(f"pushed {folder} to {args.output_repo}", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - runs inside the HF Job
    raise SystemExit(main())
