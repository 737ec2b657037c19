"""Compare providers on one dataset: ``bakeoff(data, targets=[...])`` / ``finetune bakeoff``.

```python
from finetune_sdk.bakeoff import bakeoff
report = bakeoff("chats.jsonl", ["fake", "local:tiny", "fireworks"], out="bakeoff/")
print(report.to_markdown())          # also bakeoff/report.md, report.json, report.html
```

One deterministic split (``split_file``, seeded) gives every target the same training file and
the same held-out set. Each target is planned first (base model, the data checked and converted
with its provider's rules, preflight, a dated cost estimate; ``dry_run=True`` stops there and
sends nothing), then all targets start at once under per-provider concurrency caps and are
waited on with progress. Each one is then compared with its own base model on the held-out set
(``evaluate.compare``: metrics with 95 % intervals, win rate, per-example flips).

It is resumable: the intent key of each job is derived from what it trains (provider, base
model, the split's content, hyperparameters), so running the same call again after a crash or a
kill attaches to the jobs already started, and the evaluation answers come from the cache in the
output folder. A target that fails (no key, refused data, a failed job) is reported with why;
the others carry on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..types import ModelRef
from .evals import EvalSettings, evaluate_run
from .plan import Plan, TargetPlan, fit_hyperparameters, prepare_target
from .report import BakeoffReport
from .runner import ClientPool, RunState, TargetRun, run_plans
from .targets import Target, concurrency_caps, default_base_model, parse_target, slug

__all__ = ["BakeoffReport", "EvalSettings", "Plan", "Target", "TargetPlan", "TargetRun",
           "bakeoff", "open_ledger", "split_once", "unique_targets"]

logger = logging.getLogger("finetune_sdk")

DEFAULT_VAL = 0.1
"""Share of the examples held out for evaluation (grouped by conversation, never leaking)."""


def open_ledger(ledger: Any) -> Any:
    """The Ledger a run uses: resuming needs one, so ``False`` is refused."""
    from ..ledger import Ledger

    if ledger is False:
        raise ConfigurationError("a bakeoff or migration needs the ledger: its intent keys are"
                                 " what lets a re-run attach instead of training twice")
    return ledger if isinstance(ledger, Ledger) else Ledger(ledger)


def split_once(data: Path, out: Path, *, val: float, seed: int) -> dict[str, Any]:
    """The deterministic split in ``out/data`` (the same bytes on every run, so the same
    intent keys)."""
    from ..data.split import split_file

    folder = out / "data"
    folder.mkdir(parents=True, exist_ok=True)
    done = split_file(data, folder / "train.jsonl", folder / "heldout.jsonl", val=val, seed=seed)
    return {"source": str(data), "train": done.train_file, "heldout": done.validation_file,
            "train_examples": done.train_examples, "heldout_examples": done.validation_examples,
            "seed": seed, "val": val, "grouped_by": done.grouped_by, "leakage": done.leakage}


def unique_targets(targets: Sequence[str | Target | dict[str, Any]]) -> list[Target]:
    parsed = [parse_target(t) for t in targets]
    if not parsed:
        raise ConfigurationError("name at least one target (-t PROVIDER[:MODEL])")
    labels = [t.label for t in parsed]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise ConfigurationError(f"target(s) given twice: {', '.join(twice)}; give each a"
                                 " distinct name= if you mean two runs of one model")
    return parsed


def _log_event(label: str, message: str) -> None:
    logger.info("[%s] %s", label, message)


def bakeoff(dataset: str | Path, targets: Sequence[str | Target | dict[str, Any]], *,
            out: str | Path = "bakeoff-report", val: float = DEFAULT_VAL, seed: int = 0,
            hyperparameters: dict[str, Any] | None = None, caps: dict[str, int] | None = None,
            max_usd: float | None = None, dry_run: bool = False, ledger: Any = None,
            clients: Any = None, poll_interval: float | None = None,
            timeout: float | None = None, on_event: Callable[[str, str], None] | None = None,
            evaluate: bool = True, eval_limit: int | None = None,
            eval_params: dict[str, Any] | None = None, metrics: Sequence[str] | None = None,
            judge: Callable[..., float] | None = None, win_metric: str | None = None,
            pass_threshold: float | None = None, deploy_for_eval: bool = False,
            max_concurrency: int = 4) -> BakeoffReport | Plan:
    """Train ``dataset`` on every target and compare them (see the module docstring).

    Args:
        targets: ``"provider"``, ``"provider:model"``, dicts of Target fields or Targets.
        hyperparameters: for every target (each keeps only what its provider takes, with a
            note); a Target's own ``hyperparameters`` win.
        caps: jobs at once per provider over ``targets/defaults.json`` (``{"fireworks": 3}``).
        max_usd: per target: a target estimated above it is not run.
        dry_run: plan only (``plan.md`` / ``plan.json`` in ``out``); returns the Plan.
        ledger: a Ledger or its path (default: the default ledger); required.
        clients: ``{provider: Client}`` or ``provider -> Client`` to use instead of new ones.
        evaluate / eval_limit / eval_params / metrics / judge / win_metric / pass_threshold:
            how each target is compared with its base model (``evaluate.compare``).
        deploy_for_eval: deploy fine-tunes that need it (billed) to evaluate them, delete after.
    Returns the BakeoffReport (also written to ``out``: report.md, report.json, report.html).
    """
    from ..data._lines import require_file

    data = require_file(dataset)
    out = Path(out)
    parsed = unique_targets(targets)
    split = split_once(data, out, val=val, seed=seed)
    train, heldout = Path(split["train"]), Path(split["heldout"])
    run_id = hashlib.sha256(f"{split['seed']}:{split['val']}".encode()
                            + train.read_bytes() + heldout.read_bytes()).hexdigest()[:12]
    pool = ClientPool(open_ledger(ledger), clients)
    plans = []
    for i, target in enumerate(parsed, 1):
        base = target.base_model or default_base_model(target.provider)
        plan = TargetPlan(target=target, folder=f"{i:02d}-{slug(target.label)}",
                          base_model=base or "(none)")
        if base is None:
            plan.blocked = (f"{target.provider} has no default base model: name one,"
                            f" -t {target.provider}:MODEL (local:tiny is the offline test model)")
            plans.append(plan)
            continue
        if target.base_model is None:
            plan.base_model_why = f"the default {target.provider} model (bakeoff/defaults.json)"
        kept, notes = fit_hyperparameters(target.provider, dict(hyperparameters or {}))
        plan.hyperparameters = {**kept, **target.hyperparameters}
        plan.hyperparameter_notes = notes or ([] if plan.hyperparameters else
                                              ["none set: the provider's defaults"])
        plans.append(prepare_target(
            plan, pool.get(target.provider), train=train, validation=None,
            labels={"ftsdk_bakeoff": run_id}, client_ref=None, output_name=None,
            max_usd=max_usd, workdir=out / "work" / plan.folder))
    notes = [f"split of {data.name} with seed {seed}: {split['train_examples']} training,"
             f" {split['heldout_examples']} held-out examples (grouped by {split['grouped_by']},"
             f" leakage {split['leakage']})"]
    plan_all = Plan(title=f"Bakeoff plan: {data.name}", targets=plans, split=split, notes=notes)
    plan_all.write(out)
    if dry_run:
        pool.close()
        return plan_all
    try:
        runs = run_plans(plans, pool, state=RunState(out / "state.json"),
                         caps=concurrency_caps(caps), on_event=on_event or _log_event,
                         poll_interval=poll_interval, timeout=timeout)
        settings = EvalSettings(heldout, out, metrics=metrics, judge=judge, limit=eval_limit,
                                params=eval_params, max_concurrency=max_concurrency,
                                pass_threshold=pass_threshold, win_metric=win_metric,
                                deploy_for_eval=deploy_for_eval, enabled=evaluate,
                                poll_interval=poll_interval)
        for run in runs:
            client = pool.get(run.plan.target.provider)
            if on_event and run.status == "succeeded" and evaluate:
                on_event(run.label, "evaluating on the held-out set")
            evaluate_run(run, ModelRef(id=run.plan.base_model, provider=run.plan.target.provider),
                         None if isinstance(client, BaseException) else client, settings)
    finally:
        pool.close()
    report = BakeoffReport(kind="bakeoff", title=f"Bakeoff: {data.name}", runs=runs,
                           split=split, baseline="each target's own base model", notes=notes)
    report.write(out)
    return report
