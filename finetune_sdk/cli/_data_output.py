"""How the dataset commands print findings, ``--fix`` summaries and ``split`` warnings.

On a terminal, findings are a rich table. Anywhere else (a pipe, a file, CI logs, an editor's
problem matcher) each is one line in the form compilers and linters use,
``FILE:LINE: severity code field: message``, so ``grep``, ``sort`` and "jump to line" work.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from .app import console, err_console

__all__ = ["print_findings", "print_fix", "split_warnings", "warn"]

_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


def finding_line(finding: Any) -> str:
    """``FILE:LINE: severity code field: message`` (no ``:LINE`` or field when unknown)."""
    where = f"{finding.file}:{finding.line}" if finding.line else finding.file
    field = f" {finding.field}" if finding.field else ""
    return f"{where}: {finding.severity} {finding.code}{field}: {finding.message}"


def print_findings(report: Any, limit: int) -> None:
    shown = report.findings[:limit]
    if not console.is_terminal:
        for finding in shown:
            typer.echo(finding_line(finding))
    elif shown:
        table = Table("line", "severity", "code", "field", "message", title=escape(report.file),
                      title_justify="left")
        for finding in shown:
            where = finding.file if finding.file != report.file else ""
            line = f"{where}:{finding.line}" if where else str(finding.line or "-")
            table.add_row(escape(line), f"[{_STYLE[finding.severity]}]{finding.severity}[/]",
                          finding.code, escape(finding.field or ""), escape(finding.message))
        console.print(table)
    hidden = len(report.findings) - limit + report.omitted
    if hidden > 0:
        console.print(f"... and {hidden} more (use --json for all listed ones)")


def print_fix(fixed: Any) -> None:
    """What ``validate --fix`` wrote (or why not) and every kind of change, with counts."""
    console.print(f"[bold]fixed copy:[/] {escape(str(fixed.destination))}" if fixed.written
                  else f"[bold]fixed copy not written[/] ({escape(str(fixed.destination))}):"
                  " errors --fix cannot repair remain; they are listed below with their lines"
                  " in the input")
    if fixed.duplicates_removed:
        n = fixed.duplicates_removed
        console.print(f"  removed {n} exact duplicate example{'s' if n != 1 else ''} (the same"
                      " record as an earlier line, id aside)", soft_wrap=True)
    for change, n in sorted(fixed.counts.items()):
        if change != "drop_duplicate":
            console.print(f"  {change}: {n}")
    if fixed.unparsed_lines:
        console.print(f"  copied unchanged (cannot parse): lines "
                      f"{', '.join(map(str, fixed.unparsed_lines[:20]))}")


def split_warnings(report: Any) -> list[str]:
    """Why the validation part came out much smaller than asked (or empty)."""
    total = report.train_examples + report.validation_examples
    asked = report.val_fraction * total
    got = report.validation_examples
    if total == 0 or asked < 1 or (got >= asked / 2 and not report.moved_to_train):
        return []
    why = []
    if report.moved_to_train:
        why.append(f"{report.moved_to_train} were moved to training because training has the"
                   " same text")
    if report.grouped_by == "conversation_id":
        why.append("a whole conversation goes to one side, so few conversations give a coarse"
                   " split")
    else:
        why.append("identical examples stay on one side, so repeated ones make the split"
                   " coarse (`finetune validate --fix` removes exact duplicates)")
    share = got / total
    return [f"asked for {report.val_fraction:.0%} validation (about {round(asked)} of {total}"
            f" examples), got {got} ({share:.0%})" + (": " + "; ".join(why) if why else "")]


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)
