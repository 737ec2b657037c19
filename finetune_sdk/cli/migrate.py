"""``finetune migrate ftjob-... --to fireworks --to local:Qwen/Qwen3-8B``: move a fine-tune to
other providers. A dry run (the plan, nothing sent) until ``--yes``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import _compare_flags as flags
from ._compare import finish, show_plan
from .app import command, fail, input_file


@command("migrate")
def migrate_command(
    source: Annotated[str, typer.Argument(
        help="The fine-tune to move: a job id (any provider), a ledger intent key, or a"
             " manifest / JobSpec JSON file.")],
    to: Annotated[list[str], typer.Option(
        "--to", help="PROVIDER or PROVIDER:MODEL (repeat); no MODEL: the equivalence table's.")],
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Start the jobs (without it: print the plan, send nothing).")
    ] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only the plan, even with --yes.")] = False,
    source_provider: Annotated[str | None, typer.Option(
        "--from", help="The source's provider, when neither the ledger nor the id says.")
    ] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="The source's training data, when it cannot be downloaded.")] = None,
    validation_data: Annotated[Path | None, typer.Option(
        "--validation-data", help="The source's validation data (with --data).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for data, state and"
                                                          " reports.")] = Path("migrate-report"),
    val: Annotated[float, typer.Option(
        "--val", help="Share held out when the source had no validation file.")] = 0.1,
    seed: Annotated[int, typer.Option("--seed", help="Seed of that split (1: a seed-0 split's"
                                                     " training half still holds out).")] = 1,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Hyperparameter override for every target, NAME=VALUE (repeat).")] = None,
    cap: flags.Cap = None,
    max_usd: flags.MaxUsd = None,
    limit: flags.Limit = None,
    max_tokens: flags.MaxTokens = 128,
    pass_threshold: flags.PassThreshold = None,
    deploy_for_eval: Annotated[bool, typer.Option(
        "--deploy-for-eval", help="Deploy new fine-tunes that need it to evaluate them (billed"
                                  " while they exist), delete them after.")] = False,
    no_eval: flags.NoEval = False,
    timeout: flags.Timeout = None,
    as_json: flags.Json = False,
) -> None:
    """Move a fine-tune (an OpenAI ftjob-... first of all) to other providers: same data,
    equivalent base model, converted hyperparameters; then compare each new model with the
    source on held-out data. Prints the plan and sends nothing until --yes."""
    from ..bakeoff.plan import Plan
    from ..migrate import migrate

    for path, flag in ((data, "--data"), (validation_data, "--validation-data")):
        if path is not None:
            input_file(path, flag)
    if validation_data is not None and data is None:
        fail("--validation-data goes with --data")
    options = flags.compare_run_options(out=out, val=val, set_=set_, cap=cap, max_usd=max_usd,
                                  limit=limit, max_tokens=max_tokens,
                                  pass_threshold=pass_threshold, deploy_for_eval=deploy_for_eval,
                                  no_eval=no_eval, timeout=timeout, as_json=as_json)
    plan_only = dry_run or not yes
    result = migrate(source, to, out=out, data=data, validation_data=validation_data,
                     source_provider=source_provider, seed=seed, dry_run=plan_only, **options)
    if isinstance(result, Plan):
        ready = sum(p.blocked is None for p in result.targets)
        hint = ("dry run: nothing was sent." + (
            f" Run again with --yes to start {ready} job(s)." if not dry_run and ready else ""))
        show_plan(result, as_json=as_json, ready_hint=hint)
        return
    finish(result, flags.report_files(out), as_json=as_json)
