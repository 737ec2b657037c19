"""``finetune deploy`` / ``deployments`` / ``undeploy``: from a finished job to a live endpoint
and back, with the meter shown.

Every deployment is in the ledger (``$FINETUNE_SDK_HOME``), so ``finetune deployments`` in any
shell lists what may still be billed, since when, at what price, and which sit idle.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .app import EXIT_API, command, console, err_console, fail, print_json

ProviderOpt = Annotated[str | None, typer.Option(
    "--provider", "-p", help="Provider name; default: from the ledger or the model id.")]
FilterOpt = Annotated[str | None, typer.Option("--provider", "-p", help="Only this provider's.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _client_for_model(target: str, provider: str | None) -> Any:
    from ..client import Client
    from ..inference import guess_provider, job_provider
    from ..ledger import Ledger

    if provider:
        return Client(provider)
    row = Ledger().find_job(target)
    name = row.provider if row is not None else (guess_provider(target)
                                                 or job_provider(target))
    if name is None:
        fail(f"cannot tell which provider serves {target!r}: pass --provider")
    return Client(name)


def _price(dep: Any) -> str:
    if dep.serverless:
        return "per token"
    if dep.price_per_hour is None:
        return "unknown"
    when = f", {dep.price_date}" if dep.price_date else ""
    return f"${dep.price_per_hour:.2f}/h{when}"


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@command("deploy")
def deploy_command(
    model: Annotated[str, typer.Argument(help="A finished job's id, or a model id.")],
    provider: ProviderOpt = None,
    hardware: Annotated[str | None, typer.Option(
        help="The vendor's accelerator / instance (NVIDIA_H100_80GB, nvidia-a10g, standard).")]
    = None,
    gpus: Annotated[int | None, typer.Option("--gpus", min=1, help="Accelerators per replica.")]
    = None,
    min_replicas: Annotated[int | None, typer.Option(
        min=0, help="0 lets it scale to zero where offered (no bill while idle).")] = None,
    max_replicas: Annotated[int | None, typer.Option(min=1)] = None,
    scale_to_zero: Annotated[str | None, typer.Option(
        help="Idle time before it scales to zero: 90s, 30m, 2h.")] = None,
    region: Annotated[str | None, typer.Option(help="The vendor's region name.")] = None,
    name: Annotated[str | None, typer.Option(help="The vendor-side name (default: derived"
                                                  " from the request, so a rerun attaches).")]
    = None,
    new: Annotated[bool, typer.Option("--new", help="A deliberate second deployment.")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until it serves.")] = True,
    timeout: Annotated[str | None, typer.Option(help="Give up waiting after this long (default"
                                                     " 30m); it keeps starting.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Serve a fine-tuned model (billed while it exists); rerun attaches to the same one."""
    from ..deployments.meter import parse_duration
    from ..errors import WaitTimeoutError

    client = _client_for_model(model, provider)
    fields = {k: v for k, v in dict(
        hardware=hardware, accelerator_count=gpus, min_replicas=min_replicas,
        max_replicas=max_replicas, scale_to_zero_after=parse_duration(scale_to_zero),
        region=region, name=name).items() if v is not None}
    dep = client.models.deploy(model, new=new, **fields)
    if not dep.serverless and dep.price_per_hour:
        err_console.print(f"[yellow]billed:[/] about {escape(_price(dep))} while it exists"
                          f" ({escape(dep.price_source or '')}); tear down with"
                          f" `finetune undeploy {escape(dep.id)}`", highlight=False,
                          soft_wrap=True)
    if wait and not dep.ready:
        try:
            dep = client.models.wait_ready(dep, timeout=parse_duration(timeout))
        except WaitTimeoutError as exc:
            fail(f"{exc} -- `finetune deployments` shows it; `finetune undeploy"
                 f" {exc.last.id}` tears it down", 4)
    if as_json:
        print_json(dep.model_dump(mode="json"))
        return
    if dep.serverless:
        console.print(f"no deployment needed: chat with [bold]{escape(dep.endpoint)}[/]",
                      highlight=False)
    else:
        console.print(f"deployment [bold]{escape(dep.id)}[/] {dep.status.value}",
                      highlight=False, soft_wrap=True)
        console.print(f"chat with: {dep.endpoint}", highlight=False, markup=False,
                      soft_wrap=True)
        console.print(f"price: {_price(dep)}; tear down: finetune undeploy {dep.id}",
                      highlight=False, markup=False, soft_wrap=True)
    if dep.note:
        console.print(f"[dim]{escape(dep.note)}[/]", highlight=False, soft_wrap=True)


@command("deployments")
def deployments_command(
    provider: FilterOpt = None,
    show_all: Annotated[bool, typer.Option("--all", help="Deleted and failed ones too.")]
    = False,
    refresh: Annotated[bool, typer.Option(
        "--refresh", help="Ask each provider for the state now (needs its credentials).")]
    = False,
    idle_after: Annotated[str | None, typer.Option(
        help="Warn about live deployments unused for this long (default"
             " FINETUNE_SDK_DEPLOY_IDLE_WARN, else 1h).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Deployments this machine made, with the money accrued so far at the known price."""
    from ..deployments.meter import idle_for, idle_limit
    from ..deployments.store import DeploymentStore
    from ..ledger import Ledger

    store = DeploymentStore(Ledger())
    limit = idle_limit(idle_after)
    if refresh:
        _refresh(store, provider)
    rows = store.list(live=not show_all, provider=provider)
    now = datetime.now(UTC)
    shown = []
    for row in rows:
        dep = row.to_deployment()
        idle = idle_for(row.last_used_at, row.ready_at, row.created_at, now) if row.live else None
        shown.append((row, dep, dep.accrued_usd(now) if row.live else None, idle))
    if as_json:
        print_json([{**d.model_dump(mode="json"), "accrued_usd": a, "idle_s": i,
                     "last_used_at": r.last_used_at} for r, d, a, i in shown])
    elif not shown:
        console.print("no live deployments in the ledger" if not show_all
                      else "no deployments in the ledger")
    else:
        table = Table()
        for column in ("id", "provider", "status", "hardware", "price", "accrued", "idle"):
            table.add_column(column, overflow="fold")
        for row, dep, accrued, idle in shown:
            table.add_row(escape(dep.id), dep.provider, row.status, escape(dep.hardware or "-"),
                          escape(_price(dep)), _money(accrued) if row.live else "-",
                          _hours(idle))
        console.print(table)
        total = [a for _, _, a, _ in shown if a is not None]
        if total:
            console.print(f"accrued so far (upper bound at the known prices): "
                          f"{_money(sum(total))}", highlight=False)
    for row, dep, accrued, idle in shown:
        if idle is not None and idle >= limit and row.status in ("ready", "creating",
                                                                 "unknown"):
            cost = f" (about {_money(accrued)} so far)" if accrued is not None else ""
            err_console.print(f"[yellow]warning:[/] {escape(dep.id)} has been idle for"
                              f" {_hours(idle)}{cost} and may still be billed: `finetune"
                              f" undeploy {escape(dep.id)}`", highlight=False, soft_wrap=True)


def _refresh(store: Any, provider: str | None) -> None:
    from ..errors import FinetuneError
    from ..registry import create_provider

    clients: dict[str, Any] = {}
    for row in store.list(live=True, provider=provider):
        if not row.deployment_id:
            continue
        try:
            vendor = clients.get(row.provider) or create_provider(row.provider)
            clients[row.provider] = vendor
            store.update(vendor.get_deployment(row.deployment_id))
        except FinetuneError as exc:
            err_console.print(f"[yellow]warning:[/] could not refresh {escape(row.name)}:"
                              f" {escape(str(exc))}", highlight=False, soft_wrap=True)


def _row_client(ident: str, provider: str | None) -> tuple[Any, str]:
    from ..client import Client
    from ..deployments.store import DeploymentStore
    from ..ledger import Ledger

    row = DeploymentStore(Ledger()).find(ident, provider)
    if row is None:
        if provider is None:
            fail(f"deployment {ident!r} is not in the ledger: pass --provider to ask the vendor",
                 EXIT_API)
        return Client(provider), ident
    if not row.deployment_id:
        fail(f"deployment {ident!r} has no vendor id yet (status {row.status}); run"
             " `finetune deployments --refresh` later")
    return Client(row.provider), row.deployment_id


@command("undeploy")
def undeploy_command(
    deployment: Annotated[str, typer.Argument(help="Deployment id, name or endpoint.")],
    provider: Annotated[str | None, typer.Option("--provider", "-p", help="Provider name;"
                                                 " default: from the ledger.")] = None,
    pause: Annotated[bool, typer.Option(
        "--pause", help="Pause instead (Hugging Face): not billed, resumable.")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until it is gone.")]
    = True,
    as_json: JsonOpt = False,
) -> None:
    """Delete a deployment (the bill stops); tearing down twice is fine."""
    from ..deployments.store import DeploymentStore

    client, ident = _row_client(deployment, provider)
    if pause:
        dep = client.provider.pause_deployment(ident)
        if client.ledger is not None:
            DeploymentStore(client.ledger).update(dep)
    else:
        dep = client.models.undeploy(ident, wait=wait)
    if as_json:
        print_json(dep.model_dump(mode="json"))
        return
    console.print(f"{dep.id}: {dep.status.value}", highlight=False, markup=False,
                  soft_wrap=True)


@command("resume-deployment")
def resume_deployment_command(
    deployment: Annotated[str, typer.Argument(help="A paused deployment's id or name.")],
    provider: ProviderOpt = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait")] = True,
) -> None:
    """Start a paused deployment again (billed again while it runs)."""
    from ..deployments.store import DeploymentStore

    client, ident = _row_client(deployment, provider)
    dep = client.provider.resume_deployment(ident)
    if client.ledger is not None:
        DeploymentStore(client.ledger).update(dep)
    if wait:
        dep = client.models.wait_ready(dep)
    console.print(f"{dep.id}: {dep.status.value}", highlight=False, markup=False,
                  soft_wrap=True)
