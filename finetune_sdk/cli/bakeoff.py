"""``finetune bakeoff DATA -t fireworks -t together -t local:tiny``: one dataset, one split, every
target trained in parallel and compared with its base model on the same held-out set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._compare import eval_params, finish, parse_sets, progress_line, show_plan
from .app import command, fail, input_file, output_path
from .evals import check_max_usd


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
    cap: Annotated[list[str] | None, typer.Option(
        "--cap", help="Jobs at once on a provider, PROVIDER=N (repeat).")] = None,
    max_usd: Annotated[float | None, typer.Option(
        "--max-usd", help="Skip a target estimated above this many USD.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the plan (models, data checks, costs); send nothing.")] = False,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="Evaluate on the first N held-out examples.")] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1,
                                            help="Answer length in the evaluation.")] = 128,
    pass_threshold: Annotated[float | None, typer.Option(
        "--pass-threshold", help="Score at which an answer passes, for the flips.")] = None,
    deploy_for_eval: Annotated[bool, typer.Option(
        "--deploy-for-eval", help="Deploy fine-tunes that need it to evaluate them (billed"
                                  " while they exist), delete them after.")] = False,
    no_eval: Annotated[bool, typer.Option("--no-eval", help="Train only.")] = False,
    timeout: Annotated[float | None, typer.Option(
        "--timeout", help="Give up waiting on a job after this many seconds.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Train DATA on every target in parallel, compare each with its base model on one held-out
    set, write report.md, report.json and report.html. Run it again to resume: nothing trains
    twice."""
    from ..bakeoff import bakeoff
    from ..bakeoff.plan import Plan
    from ..bakeoff.targets import parse_caps

    input_file(data)
    output_path(out, "--out", folder=True)
    check_max_usd(max_usd)
    if not 0 < val < 1:
        fail(f"--val must be between 0 and 1 (got {val:g})")
    result = bakeoff(data, target, out=out, val=val, seed=seed, hyperparameters=parse_sets(set_),
                     caps=parse_caps(cap), max_usd=max_usd, dry_run=dry_run,
                     on_event=None if as_json else progress_line, timeout=timeout,
                     evaluate=not no_eval, eval_limit=limit, eval_params=eval_params(max_tokens),
                     pass_threshold=pass_threshold, deploy_for_eval=deploy_for_eval)
    if isinstance(result, Plan):
        show_plan(result, as_json=as_json, ready_hint="dry run: nothing was sent; run without"
                  " --dry-run to start the runnable targets")
        return
    finish(result, {k: out / f"report.{ext}" for k, ext in
                    (("markdown", "md"), ("json", "json"), ("html", "html"))}, as_json=as_json)
