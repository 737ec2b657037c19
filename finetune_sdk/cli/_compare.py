"""What ``finetune bakeoff`` and ``finetune migrate`` share: ``--set`` and ``--cap`` values,
progress lines, and printing a plan or a report.

Progress goes to stderr one line per change (``[target] running 40%``), so several jobs in
parallel stay readable in a terminal, a CI log or ``docker logs``; the plan or report table and
the files written go to stdout.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.markup import escape
from rich.table import Table

from .app import EXIT_JOB, console, err_console, fail, print_json

__all__ = ["eval_params", "finish", "parse_sets", "progress_line", "show_plan"]


def parse_sets(pairs: list[str] | None) -> dict[str, Any]:
    """``--set epochs=2 --set learning_rate=1e-4`` as hyperparameter overrides."""
    from ..types import Hyperparameters

    out: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or key not in Hyperparameters.model_fields:
            fail(f"--set {pair!r}: expected NAME=VALUE with NAME one of"
                 f" {', '.join(Hyperparameters.model_fields)}")
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    return out


def eval_params(max_tokens: int) -> dict[str, Any]:
    return {"max_tokens": max_tokens, "temperature": 0.0, "seed": 0}


def progress_line(label: str, message: str) -> None:
    """One progress event on stderr (flushed: logs show it at once)."""
    sys.stderr.write(f"[{label}] {message}\n")
    sys.stderr.flush()


def show_plan(plan: Any, *, as_json: bool, ready_hint: str | None) -> None:
    """Print a dry-run plan (markdown) or its JSON; ``ready_hint``: how to start it."""
    if as_json:
        print_json(plan.to_dict())
        return
    console.print(plan.to_markdown(), highlight=False, markup=False, soft_wrap=True)
    blocked = [p.label for p in plan.targets if p.blocked]
    if blocked:
        err_console.print(f"[yellow]not runnable:[/] {escape(', '.join(blocked))} (see above)",
                          highlight=False)
    if ready_hint:
        err_console.print(escape(ready_hint), highlight=False, soft_wrap=True)


def finish(report: Any, paths: dict[str, Any], *, as_json: bool) -> None:
    """Print the report table and the files; exit 1 when a target did not succeed."""
    rows = report.rows
    if as_json:
        print_json({**report.to_dict(), "files": {k: str(v) for k, v in paths.items()}})
    else:
        header, *body = report.table()
        keep = [i for i, name in enumerate(header) if not name.startswith("Metric")]
        table = Table(title=escape(report.title))  # the metric details are in report.md
        for i in keep:
            table.add_column(escape(header[i]), overflow="fold")
        for line in body:
            table.add_row(*(escape(line[i].strip("`")) for i in keep))
        console.print(table)
        console.print("wrote " + ", ".join(str(p) for p in paths.values()), highlight=False,
                      markup=False, soft_wrap=True)
    failed = [r["target"] for r in rows if r["status"] != "succeeded"]
    if failed:
        fail(f"not succeeded: {', '.join(failed)} (the report says why)", EXIT_JOB)
