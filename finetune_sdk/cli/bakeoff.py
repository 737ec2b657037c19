"""``finetune bakeoff DATA -t fireworks -t together -t local:tiny``: one dataset, one split, every
target trained in parallel and compared with its base model on the same held-out set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import _compare_flags as flags
from ._compare import finish, show_plan
from .app import command, input_file


@command("bakeoff")
def bakeoff_command(
    data: Annotated[Path, typer.Argument(help="Chat JSONL to train and evaluate on.")],
    target: Annotated[list[str], typer.Option(
        "--target", "-t", help="PROVIDER or PROVIDER:MODEL (repeat; local needs a model,"
                               " local:tiny is the offline test model).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the split, state and"
                                                          " reports.")] = Path("bakeoff-report"),
    val: Annotated[float, typer.Option("--val", help="Share held out for evaluation.")] = 0.1,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split.")] = 0,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Hyperparameter for every target, NAME=VALUE (repeat).")] = None,
    cap: flags.Cap = None,
    max_usd: flags.MaxUsd = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the plan (models, data checks, costs); send nothing.")] = False,
    limit: flags.Limit = None,
    max_tokens: flags.MaxTokens = 128,
    pass_threshold: flags.PassThreshold = None,
    deploy_for_eval: Annotated[bool, typer.Option(
        "--deploy-for-eval", help="Deploy fine-tunes that need it to evaluate them (billed"
                                  " while they exist), delete them after.")] = False,
    no_eval: flags.NoEval = False,
    timeout: flags.Timeout = None,
    as_json: flags.Json = False,
) -> None:
    """Train DATA on every target in parallel, compare each with its base model on one held-out
    set, write report.md, report.json and report.html. Run it again to resume: nothing trains
    twice."""
    from ..bakeoff import bakeoff
    from ..bakeoff.plan import Plan

    input_file(data)
    options = flags.compare_run_options(out=out, val=val, set_=set_, cap=cap, max_usd=max_usd,
                                  limit=limit, max_tokens=max_tokens,
                                  pass_threshold=pass_threshold, deploy_for_eval=deploy_for_eval,
                                  no_eval=no_eval, timeout=timeout, as_json=as_json)
    result = bakeoff(data, target, out=out, seed=seed, dry_run=dry_run, **options)
    if isinstance(result, Plan):
        show_plan(result, as_json=as_json, ready_hint="dry run: nothing was sent; run without"
                  " --dry-run to start the runnable targets")
        return
    finish(result, flags.report_files(out), as_json=as_json)
