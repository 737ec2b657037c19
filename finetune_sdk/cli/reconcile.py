"""``finetune reconcile``: settle ledger rows that have no vendor job id yet."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .app import EXIT_API, command, console, fail, print_json

_SAY = {
    "attached": "attached: the job exists",
    "not_created": "not created: the next run sends it again",
    "in_progress": "in progress: another process owns it",
    "too_recent": "not found yet: look again later",
    "lookup_failed": "lookup failed",
    "failed": "refused earlier by the vendor",
}


@command("reconcile")
def reconcile_command(
    provider: Annotated[str | None, typer.Option(
        "--provider", "-p", help="Only this provider's rows.")] = None,
    settle_after: Annotated[float, typer.Option(
        "--settle-after", min=0,
        help="Seconds after which a create no lookup finds counts as never made.")] = 120.0,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Look up and report; change nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Find the jobs of creates that got no answer (rows with no job id) and attach or release
    them; exit 3 when a provider could not be asked."""
    from ..ledger import Ledger
    from ..reconcile import reconcile
    from ..registry import create_provider

    results = reconcile(Ledger(), create_provider, provider=provider,
                        settle_after=settle_after, dry_run=dry_run)
    if as_json:
        print_json([r.__dict__ for r in results])
    elif not results:
        console.print("nothing to reconcile: every intent in the ledger has its job id")
    else:
        table = Table(title="dry run: nothing changed" if dry_run else None)
        for name in ("intent", "provider", "was", "outcome", "job id"):
            table.add_column(name, overflow="fold")
        for r in results:
            outcome = _SAY[r.outcome] + (f" ({r.detail})" if r.detail else "")
            table.add_row(r.client_ref, r.provider, r.status, escape(outcome), r.job_id or "")
        console.print(table)
    if any(r.outcome == "lookup_failed" for r in results):
        fail("some providers could not be asked: run `finetune reconcile` again later", EXIT_API)
