"""Move an OpenAI fine-tune to Fireworks before OpenAI's deadline, and compare the two.

    python examples/migrate_openai.py                  # offline demo against local mock servers
    python examples/migrate_openai.py ftjob-abc123     # your job: prints the plan, sends nothing
    python examples/migrate_openai.py ftjob-abc123 --yes   # ... and runs it

OpenAI accepts no new fine-tuning jobs from 2027-01-06; its fine-tunes stop serving on
2027-01-14. With a job id this needs OPENAI_API_KEY, FIREWORKS_API_KEY and FIREWORKS_ACCOUNT_ID
(environment or .env) and is ``finetune migrate ftjob-abc123 --to fireworks``. Without one it
starts the OpenAI and Fireworks mock servers on loopback ports, trains a source fine-tune there,
and migrates it: the same code path, no key, no network.
"""

from __future__ import annotations

import os
import sys
import warnings
from contextlib import ExitStack
from pathlib import Path

from finetune_sdk import Client
from finetune_sdk.migrate import migrate

DATA = Path(__file__).resolve().parent / "data" / "health_chats.jsonl"
TARGETS = ["fireworks"]
OUT = Path("migrate-report")


def show(target: str, message: str) -> None:
    print(f"  [{target}] {message}")


def demo_source(stack: ExitStack) -> str:
    """Start both mocks, point the SDK at them, train a source fine-tune on OpenAI's mock."""
    from finetune_sdk.testing.mock_servers.fireworks import FireworksMockServer
    from finetune_sdk.testing.mock_servers.openai import OpenAIMockServer

    openai_url = stack.enter_context(OpenAIMockServer(auto_advance=True).serve())
    fireworks = FireworksMockServer(auto_advance=True)
    os.environ.update(OPENAI_API_KEY="sk-demo", OPENAI_BASE_URL=f"{openai_url}/v1",
                      FIREWORKS_API_KEY="fw-demo", FIREWORKS_ACCOUNT_ID=fireworks.account,
                      FIREWORKS_BASE_URL=stack.enter_context(fireworks.serve()))
    warnings.simplefilter("ignore")  # the sunset warning: we know, that is why we migrate
    client = Client("openai", file_poll_interval=0.05)
    job = client.jobs.run(base_model="gpt-4.1-mini-2025-04-14", training_file=DATA,
                          output_name="health-coach", poll_interval=0.05, progress=False,
                          hyperparameters={"epochs": 3, "learning_rate_multiplier": 2.0})
    print(f"source: {job.id} -> {job.output_model}")
    return job.id


def main() -> None:
    args = sys.argv[1:]
    with ExitStack() as stack:
        source = args[0] if args else demo_source(stack)
        run = not args or "--yes" in args
        demo = {"poll_interval": 0.05, "deploy_for_eval": True, "eval_limit": 8,
                "eval_params": {"max_tokens": 32}} if not args else {}
        plan = migrate(source, TARGETS, out=OUT, dry_run=True)
        print(plan.to_markdown())
        if not run:
            print("dry run: nothing was sent; add --yes to start the jobs")
            return
        report = migrate(source, TARGETS, out=OUT, on_event=show, **demo)
        for row in report.rows:
            ev = row["eval"]
            said = (f"win rate over the source {ev['win_rate']['value']:.2f} on {ev['n']}"
                    " held-out examples" if ev else row["eval_note"] or row["error"])
            print(f"{row['target']}: {row['status']}, {row['model']}: {said}")
        print("reports:", ", ".join(str(OUT / f"report.{e}") for e in ("md", "json", "html")))


if __name__ == "__main__":
    main()
