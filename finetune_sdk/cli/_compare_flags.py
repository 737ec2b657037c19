"""The flags ``finetune bakeoff`` and ``finetune migrate`` both take, declared once, and what the
two commands make of them: the checks that refuse a bad value (exit 2, one line naming the
flag) and the keyword arguments of ``bakeoff()`` / ``migrate()`` they become.

The commands name them ``flags.Cap``, ``flags.MaxUsd``, ... (``from . import _compare_flags as
flags``). A flag whose help text differs between the two commands (``--out``, ``--val``, ``--seed``,
``--set``, ``--deploy-for-eval``) stays in its command, so each ``--help`` reads as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ._compare import eval_params, parse_sets, progress_line
from .app import fail, output_path
from .evals import check_max_usd

__all__ = ["Cap", "Json", "Limit", "MaxTokens", "MaxUsd", "NoEval", "PassThreshold", "Timeout",
           "compare_run_options", "report_files"]

Cap = Annotated[list[str] | None, typer.Option(
    "--cap", help="Jobs at once on a provider, PROVIDER=N (repeat).")]
MaxUsd = Annotated[float | None, typer.Option(
    "--max-usd", help="Skip a target estimated above this many USD.")]
Limit = Annotated[int | None, typer.Option(
    "--limit", min=1, help="Evaluate on the first N held-out examples.")]
MaxTokens = Annotated[int, typer.Option("--max-tokens", min=1,
                                            help="Answer length in the evaluation.")]
PassThreshold = Annotated[float | None, typer.Option(
    "--pass-threshold", help="Score at which an answer passes, for the flips.")]
NoEval = Annotated[bool, typer.Option("--no-eval", help="Train only.")]
Timeout = Annotated[float | None, typer.Option(
    "--timeout", help="Give up waiting on a job after this many seconds.")]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def compare_run_options(*, out: Path, val: float, set_: list[str] | None, cap: list[str] | None,
                        max_usd: float | None, limit: int | None, max_tokens: int,
                        pass_threshold: float | None, deploy_for_eval: bool, no_eval: bool,
                        timeout: float | None, as_json: bool) -> dict[str, Any]:
    """Check the shared flags (``--out`` a folder, ``--max-usd`` an amount, ``--val`` a share)
    and turn them into the keyword arguments ``bakeoff()`` and ``migrate()`` both take."""
    from ..bakeoff.targets import parse_caps

    output_path(out, "--out", folder=True)
    check_max_usd(max_usd)
    if not 0 < val < 1:
        fail(f"--val must be between 0 and 1 (got {val:g})")
    return {"val": val, "hyperparameters": parse_sets(set_), "caps": parse_caps(cap),
            "max_usd": max_usd, "on_event": None if as_json else progress_line,
            "timeout": timeout, "evaluate": not no_eval, "eval_limit": limit,
            "eval_params": eval_params(max_tokens), "pass_threshold": pass_threshold,
            "deploy_for_eval": deploy_for_eval}


def report_files(out: Path) -> dict[str, Path]:
    """The reports a finished run writes in ``out``, by kind."""
    return {kind: out / f"report.{ext}"
            for kind, ext in (("markdown", "md"), ("json", "json"), ("html", "html"))}
