"""Compare providers on one dataset: plan, train in parallel, evaluate, one report.

    python examples/bakeoff.py                 # offline: the fake provider, two base models
    BAKEOFF_LOCAL=1 python examples/bakeoff.py # + the tiny local model (a real CPU training)

For real providers put their names in TARGETS, e.g. ``["fireworks", "together",
"local:Qwen/Qwen3-8B"]`` (keys from the environment or .env), or run
``finetune bakeoff chats.jsonl -t fireworks -t together``. Run it twice: the second run
attaches to the jobs of the first and trains nothing again.
"""

from __future__ import annotations

import os
from pathlib import Path

from finetune_sdk.bakeoff import bakeoff

DATA = Path(__file__).resolve().parent / "data" / "health_chats.jsonl"
TARGETS = ["fake:gpt-4.1-mini-2025-04-14", "fake:accounts/fireworks/models/gpt-oss-20b",
           {"provider": "fake", "base_model": "broken", "options": {"fail_with": "the job ran"
                                                                    " out of credits"}}]
if os.environ.get("BAKEOFF_LOCAL") == "1":
    TARGETS.append("local:tiny")
OUT = Path("bakeoff-report")


def show(target: str, message: str) -> None:
    print(f"  [{target}] {message}")


def main() -> None:
    plan = bakeoff(DATA, TARGETS, out=OUT, dry_run=True)  # nothing is sent
    for target in plan.targets:
        cost = target.estimate or {}
        print(f"plan: {target.label}: {target.data.get('examples')} examples, estimated"
              f" ${cost.get('usd_high') or 0:.2f} (price of {cost.get('price_date')}),"
              f" {'ready' if target.blocked is None else 'blocked: ' + target.blocked}")
    report = bakeoff(DATA, TARGETS, out=OUT, on_event=show, poll_interval=0.05,
                     eval_params={"max_tokens": 48})
    for row in report.rows:
        ev = row["eval"]
        if ev:
            win = ev["win_rate"]
            flips = ev["flips"]
            ci = "[" + ", ".join(f"{x:.2f}" for x in win["ci"]) + "]" if win["ci"] else ""
            print(f"{row['target']}: {row['status']}, win rate over base {win['value']:.2f}"
                  f" {ci}, flips +{len(flips['gained'])}/-{len(flips['lost'])}")
        else:
            print(f"{row['target']}: {row['status']} ({row['error'] or row['eval_note']})")
    print("reports:", ", ".join(str(OUT / f"report.{e}") for e in ("md", "json", "html")))


if __name__ == "__main__":
    main()
