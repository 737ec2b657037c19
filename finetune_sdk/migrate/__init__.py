"""Move a fine-tune to other providers: ``migrate(source, to=[...])`` / ``finetune migrate``.

```python
from finetune_sdk.migrate import migrate
plan = migrate("ftjob-abc123", to=["fireworks", "local:Qwen/Qwen3-8B"], dry_run=True)
print(plan.to_markdown())                      # nothing was sent
report = migrate("ftjob-abc123", to=["fireworks", "local:Qwen/Qwen3-8B"])
```

OpenAI accepts no new fine-tuning jobs from 2027-01-06 and its fine-tunes stop serving on
2027-01-14 (``providers/openai/facts.json``). ``migrate`` reads the source job (its data,
downloaded from the vendor where it can be; method, hyperparameters, suffix, base model: see
``source.py``), picks each target's base model from the equivalence table and converts the
hyperparameters by written rules (``mapping.py``), validates and converts the data with each
target's rules, preflights and prices every target (``dry_run`` stops there), then trains the
targets in parallel, evaluates each new model against the source fine-tune on the held-out set
while the source still serves, and writes one report (md, json, html).

A re-run attaches instead of training twice: each target's intent key is derived from the
source and the target (``migration_key``), and every job carries the label
``ftsdk_migrated_from`` (and ``state.json`` the exact source id), so the link from source to
new job is kept.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..bakeoff import open_ledger, split_once, unique_targets
from ..bakeoff.evals import EvalSettings, evaluate_run
from ..bakeoff.plan import Plan, TargetPlan, prepare_target
from ..bakeoff.report import BakeoffReport
from ..bakeoff.runner import ClientPool, RunState, run_plans
from ..bakeoff.targets import Target, concurrency_caps, slug
from ..errors import ConfigurationError
from .mapping import convert_hyperparameters, map_base_model
from .source import SourceJob, read_source

__all__ = ["SourceJob", "migrate", "migration_key"]

LINK_LABEL = "ftsdk_migrated_from"
DEFAULT_VAL = 0.1
DEFAULT_SEED = 1
"""Not 0: a source often trained on the training half of a seed-0 split (``finetune split``,
the quickstart and ``bakeoff`` default to 0), and the same seed would hold nothing out of it."""


def migration_key(source: SourceJob, provider: str, base_model: str,
                  hyperparameters: dict[str, Any], train: Path, validation: Path | None,
                  options: Any = None) -> str:
    """The intent key of one (source, target): the same source, target, settings and data give
    the same key, so a re-run attaches to the job the first run started."""
    from ..intent import content_digest

    if hasattr(options, "model_dump"):
        options = options.model_dump(mode="json", exclude_defaults=True)  # as intent keys do
    blob = json.dumps([source.key, source.method, provider, base_model, hyperparameters,
                       content_digest(train), content_digest(validation) if validation else None,
                       options], sort_keys=True, default=str)
    return "ftsdk-mig-" + hashlib.sha256(blob.encode()).hexdigest()[:22]


def _label(value: str) -> str:
    # Vertex allows only lowercase letters, digits, - and _ in labels (63 at most): the exact
    # source id is kept in state.json and the report.
    return re.sub(r"[^a-z0-9_-]+", "-", value.lower())[:63]


def _deadline_notes(source: SourceJob) -> list[str]:
    from ..facts import days_until, load_facts

    notes = []
    facts = load_facts(source.provider)
    if facts is not None and facts.new_jobs_until is not None:
        left = days_until(facts.new_jobs_until)
        notes.append(f"{facts.display_name} accepts no new fine-tuning jobs from"
                     f" {facts.new_jobs_until.isoformat()}"
                     + (f" ({left} days left)" if left > 0 else " (closed now)"))
    if source.shutdown is not None:
        left = days_until(source.shutdown)
        notes.append(f"the source model {source.base_model} and its fine-tunes stop serving on"
                     f" {source.shutdown.isoformat()}" + (
                         f" ({left} days left): evaluate the new models before then" if left > 0
                         else ": the source can no longer be compared"))
    return notes


def _baseline(source: SourceJob) -> tuple[Any, str]:
    from ..facts import today

    if source.model is None:
        return None, f"the source job is {source.status}: no source model to compare with"
    if source.shutdown is not None and today() >= source.shutdown:
        return None, (f"the source model stopped serving on {source.shutdown.isoformat()}: it"
                      " can no longer answer")
    return source.model, f"the source fine-tune {source.model.id} ({source.provider})"


def _lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _split(source: SourceJob, out: Path, val: float, seed: int
           ) -> tuple[Path, Path, Path | None, dict[str, Any], str]:
    """(train, held-out, validation file for the targets, split info, note)."""
    if source.validation_file is not None:
        count = [_lines(p) for p in (source.training_file, source.validation_file)]
        info = {"source": str(source.training_file), "train": str(source.training_file),
                "heldout": str(source.validation_file), "train_examples": count[0],
                "heldout_examples": count[1]}
        return (source.training_file, source.validation_file, source.validation_file, info,
                "held-out set: the source job's validation file (it never trained on it); the"
                " targets get it as their validation file too")
    info = split_once(source.training_file, out, val=val, seed=seed)
    if not info["heldout_examples"]:
        raise ConfigurationError(
            f"holding out {val:.0%} of the source's {info['train_examples']} examples with seed"
            f" {seed} leaves none out (too few examples, or the data is itself the training"
            " half of a split with this seed): pass another --seed or a larger --val, or"
            " --data with --validation-data")
    return (Path(str(info["train"])), Path(str(info["heldout"])), None, info,
            f"the source had no validation file: {val:.0%} of its training data is held out"
            f" (seed {seed}) and the targets train on the rest. The source model trained on the"
            " held-out examples, which favours it in the comparison")


def migrate(source: str, to: Sequence[str | Target | dict[str, Any]], *,
            out: str | Path = "migrate-report", data: str | Path | None = None,
            validation_data: str | Path | None = None, source_provider: str | None = None,
            hyperparameters: dict[str, Any] | None = None, val: float = DEFAULT_VAL,
            seed: int = DEFAULT_SEED, caps: dict[str, int] | None = None,
            max_usd: float | None = None, dry_run: bool = False, ledger: Any = None,
            clients: Any = None, poll_interval: float | None = None,
            timeout: float | None = None,
            on_event: Callable[[str, str], None] | None = None, evaluate: bool = True,
            eval_limit: int | None = None, eval_params: dict[str, Any] | None = None,
            metrics: Sequence[str] | None = None, judge: Callable[..., float] | None = None,
            win_metric: str | None = None, pass_threshold: float | None = None,
            deploy_for_eval: bool = False, max_concurrency: int = 4) -> BakeoffReport | Plan:
    """Move ``source`` (job id, ledger intent key, manifest or JobSpec JSON) to every target.

    Args:
        to: ``"provider"`` (base model from the equivalence table) or ``"provider:model"``.
        data / validation_data: the source's data, when it cannot be downloaded.
        source_provider: the source's provider when neither the ledger nor the id says.
        hyperparameters: overrides for every target (a Target's own win), applied last.
        dry_run: plan only (``plan.md`` / ``plan.json``); reads the source, sends nothing that
            costs money. The other arguments are those of ``bakeoff.bakeoff``.
    """
    out = Path(out)
    pool = ClientPool(open_ledger(ledger), clients)
    try:
        src = read_source(source, provider=source_provider, ledger=pool.ledger, clients=pool,
                          workdir=out / "source", data=data, validation_data=validation_data)
        targets = unique_targets(to)
        train, heldout, validation, split, split_note = _split(src, out, val, seed)
        plans = [_plan(i, t, src, pool, train, validation, hyperparameters, max_usd, out)
                 for i, t in enumerate(targets, 1)]
        notes = [*_deadline_notes(src), f"source data: {src.data_from}", split_note,
                 *src.notes]
        plan = Plan(title=f"Migration plan: {src.key}", targets=plans, split=split,
                    notes=notes, source=src.to_dict())
        plan.write(out)
        if dry_run:
            return plan
        state = RunState(out / "state.json")
        for p in plans:
            state.update(p.label, migrated_from=src.key)
        runs = run_plans(plans, pool, state=state, caps=concurrency_caps(caps),
                         on_event=on_event, poll_interval=poll_interval, timeout=timeout)
        baseline, baseline_text = _baseline(src)
        settings = EvalSettings(heldout, out, metrics=metrics, judge=judge, limit=eval_limit,
                                params=eval_params, max_concurrency=max_concurrency,
                                pass_threshold=pass_threshold, win_metric=win_metric,
                                deploy_for_eval=deploy_for_eval, enabled=evaluate,
                                poll_interval=poll_interval)
        for run in runs:
            client = pool.get(run.plan.target.provider)
            if on_event and run.status == "succeeded" and evaluate and baseline is not None:
                on_event(run.label, f"comparing with the source on {split['heldout_examples']}"
                         " held-out examples")
            evaluate_run(run, baseline, None if isinstance(client, BaseException) else client,
                         settings, baseline_note=baseline_text)
    finally:
        pool.close()
    report = BakeoffReport(kind="migration", title=f"Migration of {src.key}", runs=runs,
                           split=split, baseline=baseline_text, source=src.to_dict(),
                           notes=notes)
    report.write(out)
    return report


def _plan(index: int, target: Target, src: SourceJob, pool: ClientPool, train: Path,
          validation: Path | None, overrides: dict[str, Any] | None, max_usd: float | None,
          out: Path) -> TargetPlan:
    plan = TargetPlan(target=target, folder=f"{index:02d}-{slug(target.label)}",
                      base_model=target.base_model or "(none)")
    try:
        plan.base_model, plan.base_model_why = map_base_model(
            src.provider, src.base_model, target.provider, target.base_model)
        plan.hyperparameters, plan.hyperparameter_notes = convert_hyperparameters(
            src.provider, src.base_model, src.hyperparameters, target.provider,
            plan.base_model, {**(overrides or {}), **target.hyperparameters})
    except ConfigurationError as exc:
        plan.blocked = str(exc)
        return plan
    key = migration_key(src, target.provider, plan.base_model, plan.hyperparameters, train,
                        validation, target.options)
    # The suffix carries over; the key's tail keeps it unique where it names the new model
    # (a Fireworks output model id), and stable across re-runs.
    name = f"{src.output_name}-{key[-6:]}" if src.output_name else None
    return prepare_target(plan, pool.get(target.provider), train=train, validation=validation,
                          labels={LINK_LABEL: _label(src.key)}, client_ref=key,
                          output_name=name, max_usd=max_usd, workdir=out / "work" / plan.folder,
                          method=src.method)
