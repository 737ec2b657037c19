"""Job commands: providers, list, status, wait, cancel, events, metrics, model.

A job id alone is enough: the ledger knows which provider ran it (pass ``--provider`` for jobs
started elsewhere). ``follow`` is the one way a command waits: a live bar on a terminal, plain
lines in CI and container logs, and exit 4 (not 1) when ``--timeout`` gives up on a job that is
still running.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from .app import (
    EXIT_API,
    EXIT_INTERRUPTED,
    EXIT_JOB,
    EXIT_OK,
    EXIT_TIMEOUT,
    command,
    console,
    fail,
    output_path,
    print_json,
)

ProviderOpt = Annotated[
    str | None, typer.Option("--provider", "-p", help="Provider name; default: from the ledger.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _client(job_id: str | None, provider: str | None) -> Any:
    from ..client import Client

    if provider:
        return Client(provider)
    assert job_id is not None
    return Client.for_job(job_id)


@contextmanager
def job_lookup(job_id: str, provider: str | None) -> Iterator[None]:
    """An unknown job id says how to find the right one (exit 3: the API answered 404)."""
    from ..errors import NotFoundError

    try:
        yield
    except NotFoundError as exc:
        where = f" -p {exc.provider or provider}" if (exc.provider or provider) else ""
        fail(f"{exc} -- check the job id: `finetune list{where}` shows the jobs", EXIT_API)


def interrupted(job_id: str) -> None:
    """Ctrl-C stops the watching, not the job: say how to pick it up again or stop it."""
    fail(f"interrupted: stopped waiting, job {job_id} itself was not cancelled. Follow it again"
         f" with `finetune wait {job_id}`, stop it with `finetune cancel {job_id}`",
         EXIT_INTERRUPTED)


def follow(client: Any, job_id: str, *, as_json: bool, timeout: float | None = None,
           poll_interval: float | None = None) -> Any:
    """``client.jobs.wait`` with the right progress: a rich bar on a terminal, plain lines on a
    non-terminal stderr (CI, docker logs), nothing with ``--json`` (stdout stays one document)."""
    import sys

    from ..progress import plain_progress

    if as_json:
        return client.jobs.wait(job_id, timeout=timeout, poll_interval=poll_interval,
                                progress=False)
    if sys.stderr.isatty():
        return client.jobs.wait(job_id, timeout=timeout, poll_interval=poll_interval,
                                progress=True)
    return client.jobs.wait(job_id, timeout=timeout, poll_interval=poll_interval,
                            progress=False, on_update=plain_progress(job_id))


def usd_text(usd: float) -> str:
    """An amount as ``$12.34``; below a dollar two significant digits (``$0.0016``), so a
    small job's cost is not shown as ``$0.00``."""
    return f"${usd:,.2f}" if usd == 0 or usd >= 0.995 else f"${usd:.2g}"


def _spent(job: Any, ledger: Any = None) -> Any:
    """The actual cost the ledger recorded for ``job``, else ``cost.actual_cost(job)`` now
    (None: no trained tokens, or the price is unknown or per hour)."""
    from ..client_jobs import _actual_cost
    from ..cost import ActualCost

    row = ledger.find_job(job.id, job.provider) if ledger is not None else None
    if row is not None and row.actual_usd is not None:
        return ActualCost(row.actual_usd, row.trained_tokens or 0, row.actual_cost_basis or "")
    return _actual_cost(job)


def _job_json(job: Any, spent: Any) -> dict[str, Any]:
    data: dict[str, Any] = job.model_dump(mode="json", exclude={"provider_details"})
    data.update(actual_usd=spent.usd if spent else None,
                actual_cost_basis=spent.basis if spent else None)
    return data


def _job_table(job: Any, spent: Any) -> Table:
    table = Table(show_header=False, box=None)
    rows = [
        ("job", job.id),
        ("provider", job.provider),
        ("status", f"{job.status.value} ({job.provider_status})"),
        ("base model", job.base_model),
        ("model", job.output_model),
        ("progress", f"{job.progress:.0%}" if job.progress is not None else None),
        ("trained tokens", job.trained_tokens),
        ("actual cost", f"{usd_text(spent.usd)}: {spent.basis}" if spent else None),
        ("error", job.error.message if job.error else None),
    ]
    for key, value in rows:
        if value is not None:
            table.add_row(f"[bold]{key}[/]", escape(str(value)))
    return table


@command("providers")
def providers_command(as_json: JsonOpt = False) -> None:
    """Show every provider, what it can do (the capability matrix) and its sunset."""
    from ..errors import ProviderNotInstalledError
    from ..facts import sunset_summary
    from ..profiles import profile_of
    from ..registry import available_providers

    matrix: dict[str, Any] = {}
    for name in available_providers():
        try:
            profile = profile_of(name)  # a third-party one imports its class here
            caps = profile.capabilities()
        except ProviderNotInstalledError as exc:
            matrix[name] = {"installed": False, "hint": str(exc), "sunset": sunset_summary(name)}
            continue
        matrix[name] = {"installed": True, **caps.model_dump(mode="json"),
                        "sunset": sunset_summary(name), "display_name": profile.title,
                        "aliases": list(profile.aliases), "wire_format": profile.wire,
                        "inference": profile.inference}
    if as_json:
        print_json(matrix)
        return
    table = Table(title="finetune providers")
    table.add_column("provider", no_wrap=True, style="bold")
    for column in ("methods", "hosted", "cancel", "pause", "events", "metrics",
                   "client ids", "deploy needed", "sunset"):
        table.add_column(column)
    for name, caps in matrix.items():
        sunset = escape(caps["sunset"] or "")
        if not caps["installed"]:
            table.add_row(name, f"[yellow]{escape(caps['hint'])}[/]", *[""] * 7, sunset)
            continue
        mark = {True: "[green]yes[/]", False: "no"}
        table.add_row(
            name, ", ".join(sorted(caps["methods"])), mark[caps["hosted"]], mark[caps["cancel"]],
            mark[caps["pause_resume"]], mark[caps["events"]], mark[caps["metrics"]],
            mark[caps["client_chosen_ids"]], mark[caps["needs_deployment"]], sunset,
        )
    console.print(table)
    console.print("per-model retirements: `finetune models --tunable -p PROVIDER`",
                  highlight=False, markup=False)


def _pending_label(row: Any) -> str:
    # No vendor id yet: the create is under way, in doubt or refused; reconcile settles it.
    return f"(none: {row.status} — run finetune reconcile)"


def _is_pending(entry: Any) -> bool:
    from ..ledger import LedgerRow

    return isinstance(entry, LedgerRow)


def _pending_json(row: Any) -> dict[str, Any]:
    return {"id": None, "provider": row.provider, "status": row.status, "pending": True,
            "client_ref": row.client_ref, "base_model": row.base_model, "error": row.error,
            "created_at": row.created_at}


@command("list")
def list_command(
    provider: ProviderOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many jobs.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List jobs: from the ledger (every provider), or live from one --provider. Intents with no
    vendor job id yet (a create in flight, in doubt or refused) are listed too, flagged."""
    from ..client import Client
    from ..ledger import Ledger

    # Each entry is a Job (has a vendor id) or a LedgerRow (pending: no vendor id), with its
    # actual cost: the ledger's recorded figure, or for live jobs computed now.
    entries: list[Any]
    costs: list[tuple[float, str] | None]
    if provider:
        client = Client(provider)
        jobs = list(client.jobs.list(limit=limit))
        costs = [(s.usd, s.basis) if (s := _spent(job, client.ledger)) else None
                 for job in jobs]
        entries = [*jobs, *(client.ledger.pending(provider=client.provider.name)[:limit]
                            if client.ledger is not None else [])]
    else:
        found = Ledger().list(limit=limit)
        entries = [row if row.pending else row.to_job() for row in found]
        costs = [(r.actual_usd, r.actual_cost_basis or "") if r.actual_usd is not None else None
                 for r in found]
    costs += [None] * (len(entries) - len(costs))
    if as_json:
        print_json([_pending_json(e) if _is_pending(e) else
                    {**e.model_dump(mode="json", exclude={"provider_details"}),
                     "actual_usd": c[0] if c else None, "actual_cost_basis": c[1] if c else None}
                    for e, c in zip(entries, costs, strict=True)])
        return
    title = "jobs" if provider else "jobs (ledger)"
    rows = [_list_row(e) for e in entries]
    columns = ["job", "provider", "status", "base model", "model"]
    if any(costs):  # the column only once some job has a known actual cost
        columns.append("actual cost")
        rows = [(*row, usd_text(c[0]) if c else "") for row, c in zip(rows, costs, strict=True)]
    table = Table(title=title)
    for column in columns:
        table.add_column(column, no_wrap=column == "job")
    for row in rows:
        table.add_row(*(escape(v) for v in row))
    natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if natural <= console.width:
        console.print(table)
        return
    # Too wide for this terminal: a table would cut or fold the job id, the one cell every
    # other command takes. Plain lines keep each id whole (the terminal wraps the rest).
    console.print(title, highlight=False, markup=False)
    for row in rows:
        console.print("  ".join(v or "-" for v in row), highlight=False, markup=False,
                      soft_wrap=True)


def _list_row(entry: Any) -> tuple[str, ...]:
    if _is_pending(entry):
        note = f"intent {entry.client_ref}" + (f"; {entry.error}" if entry.error else "")
        return (_pending_label(entry), entry.provider, entry.status, entry.base_model or "",
                note)
    return (entry.id, entry.provider, entry.status.value, entry.base_model or "",
            entry.output_model or "")


@command("status")
def status_command(job_id: str, provider: ProviderOpt = None, as_json: JsonOpt = False) -> None:
    """Show one job now."""
    with job_lookup(job_id, provider):
        client = _client(job_id, provider)
        job = client.jobs.get(job_id)
    spent = _spent(job, client.ledger)
    if as_json:
        print_json(_job_json(job, spent))
    else:
        console.print(_job_table(job, spent))


@command("wait")
def wait_command(
    job_id: str,
    provider: ProviderOpt = None,
    timeout: Annotated[float | None, typer.Option(
        min=0, help="Give up after this many seconds (exit 4; the job keeps running).")] = None,
    poll_interval: Annotated[float | None, typer.Option(
        min=0, help="Seconds between polls.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Wait for a job to finish (reattaches from any shell). Exit 1 if it failed or was cancelled, 4 on --timeout."""  # noqa: E501 - one line in --help
    from ..errors import WaitTimeoutError

    try:
        client = _client(job_id, provider)
        if not as_json:
            typer.echo(f"waiting for {job_id} (Ctrl-C stops waiting; the job keeps running)",
                       err=True)
        with job_lookup(job_id, provider):
            job = follow(client, job_id, as_json=as_json, timeout=timeout,
                         poll_interval=poll_interval)
    except KeyboardInterrupt:
        interrupted(job_id)
    except WaitTimeoutError as exc:
        fail(f"{exc}; the job keeps running: `finetune wait {job_id}` follows it again",
             EXIT_TIMEOUT)
    spent = _spent(job, client.ledger)
    if as_json:
        print_json(_job_json(job, spent))
    else:
        console.print(_job_table(job, spent))
    raise typer.Exit(EXIT_OK if job.status.value == "succeeded" else EXIT_JOB)


@command("cancel")
def cancel_command(job_id: str, provider: ProviderOpt = None) -> None:
    """Cancel a job."""
    with job_lookup(job_id, provider):
        job = _client(job_id, provider).jobs.cancel(job_id)
    console.print(f"cancel requested: {job.id} is {job.status.value}")


@command("events")
def events_command(
    job_id: str,
    provider: ProviderOpt = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many events.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a job's event log."""
    with job_lookup(job_id, provider):
        events = list(_client(job_id, provider).jobs.events(job_id, limit=limit))
    if as_json:
        print_json([e.model_dump(mode="json") for e in events])
        return
    for event in events:
        when = event.created_at.isoformat(timespec="seconds") if event.created_at else ""
        console.print(escape(f"{when} [{event.level}] {event.message}"), highlight=False)


@command("metrics")
def metrics_command(job_id: str, provider: ProviderOpt = None, as_json: JsonOpt = False) -> None:
    """Print a job's training metrics (loss curve)."""
    with job_lookup(job_id, provider):
        points = _client(job_id, provider).jobs.metrics(job_id)
    if as_json:
        print_json([p.model_dump(mode="json") for p in points])
        return
    table = Table(title=escape(f"metrics of {job_id}"))
    for column in ("step", "epoch", "train loss", "valid loss", "lr", "tokens/s"):
        table.add_column(column, justify="right")
    for p in points:
        table.add_row(*(("" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v))
                        for v in (p.step, p.epoch, p.train_loss, p.valid_loss, p.learning_rate,
                                  p.tokens_per_second)))
    console.print(table)


@command("model")
def model_command(
    job_id: str,
    provider: ProviderOpt = None,
    env_file: Annotated[Path | None, typer.Option(
        help="Write the model id into this .env file.")] = None,
    env_var: Annotated[str, typer.Option(
        help="Variable name used with --env-file.")] = "FINETUNED_MODEL",
    as_json: JsonOpt = False,
) -> None:
    """Resolve the servable model id of a finished job (optionally into a .env file)."""
    from ..config import write_env_var

    if env_file is not None:
        output_path(env_file, "--env-file")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env_var):
            fail(f"--env-var {env_var!r}: expected a variable name (letters, digits and _,"
                 " not starting with a digit), e.g. FINETUNED_MODEL")
    with job_lookup(job_id, provider):
        ref = _client(job_id, provider).models.resolve(job_id)
    if env_file is not None:
        write_env_var(env_file, env_var, ref.id)
    if as_json:
        print_json(ref.model_dump(mode="json"))
        return
    console.print(ref.id, highlight=False, markup=False)
    if not ref.ready_for_inference:
        how = escape(ref.how_to_serve or "deploy it first")
        console.print(f"[yellow]not servable yet:[/] {how}")
    if env_file is not None:
        console.print(f"wrote {env_var} to {env_file}", markup=False)
