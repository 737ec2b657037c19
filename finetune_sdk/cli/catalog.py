"""``finetune models --tunable -p PROVIDER``: the provider's tunable-model catalog, with dates
and training prices, from its facts file (``--live`` asks the vendor where it can)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .app import command, console, fail, print_json


def _price_text(provider: str, model: Any, facts: Any) -> str:
    """Training price per method for one model, with its date and confidence."""
    from ..pricing import find_price

    tier, _how = facts.tier_for(model.id)
    parts = []
    for method in model.methods:
        price = find_price(provider, model.id, method=method, tier=tier,
                           adapter=facts.default_adapter, flavor=facts.default_flavor)
        if price is None or price.usd is None:
            parts.append(f"{method}: unknown")
            continue
        unit = {"1M_tokens": "/1M tokens", "gpu_hour": "/hour"}.get(price.unit, "")
        parts.append(f"{method}: ${price.usd:g}{unit} ({price.date}, {price.confidence or '-'})")
    return "; ".join(parts)


def _live_dates(provider: str, models: list[Any]) -> tuple[dict[str, Any], str | None]:
    """Shutdown dates the vendor reports now, or why they could not be read."""
    from ..facts import live_function
    from ..registry import create_provider

    lookup = live_function(provider, "model_dates")
    if lookup is None:
        return {}, f"{provider} has no live model lookup: catalog dates shown"
    try:
        client = create_provider(provider)
        return {m.id: lookup(client, m.id) for m in models if m.status != "retired"}, None
    except Exception as exc:  # offline or no key: the bundled dates still stand
        return {}, f"live lookup failed ({type(exc).__name__}: {exc}); catalog dates shown"


@command("models")
def models_command(
    provider: Annotated[str, typer.Option("--provider", "-p", help="Provider name.")],
    tunable: Annotated[bool, typer.Option(
        "--tunable", help="List the base models this provider can fine-tune.")] = False,
    live: Annotated[bool, typer.Option(
        "--live", help="Ask the vendor for current shutdown dates (OpenAI).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the base models a provider can fine-tune: status, dates, methods, price, successor."""
    from ..facts import load_facts, today
    from ..registry import canonical_name

    if not tunable:
        fail("only the tunable-model catalog is listed so far: add --tunable")
    try:
        name = canonical_name(provider)
    except Exception:
        name = provider  # a provider with facts but no adapter yet (together)
    facts = load_facts(name)
    if facts is None:
        fail(f"{provider}: no tunable-model catalog ships for this provider (local and fake"
             " train any model you point them at)")
    on = today()
    models = list(facts.models)
    live_dates, why = _live_dates(name, models) if live else ({}, None)
    rows: list[dict[str, Any]] = []
    for model in models:
        shutdown = (live_dates.get(model.id) or {}).get("shutdown") or model.shutdown
        rows.append({
            "id": model.id, "aliases": list(model.aliases), "status": model.status_on(on),
            "jobs_until": model.jobs_until, "shutdown": shutdown,
            "shutdown_from": "live" if (live_dates.get(model.id) or {}).get("shutdown")
            else "catalog", "methods": list(model.methods), "size_b": model.size_b,
            "context_length": model.context_length, "successor": model.successor,
            "price": _price_text(name, model, facts), "source": model.source,
            "source_date": model.source_date, "confidence": model.confidence})
    if as_json:
        print_json({"provider": name, "catalog_date": facts.date, "models": rows,
                    "live_note": why})
        return
    table = Table(title=escape(f"tunable {facts.display_name} models (catalog of"
                               f" {facts.date.isoformat()})"))
    table.add_column("model", no_wrap=True)
    for column in ("status", "new jobs until", "shutdown", "methods", "price", "successor"):
        table.add_column(column)
    for row in rows:
        status = {"active": "[green]active[/]", "winding_down": "[yellow]winding down[/]",
                  "retired": "[red]retired[/]"}[row["status"]]
        table.add_row(escape(row["id"]), status, str(row["jobs_until"] or ""),
                      str(row["shutdown"] or "") + (" (live)" if row["shutdown_from"] == "live"
                                                    else ""),
                      ", ".join(row["methods"]), escape(row["price"]),
                      escape(row["successor"] or ""))
    console.print(table)
    if not rows:
        console.print(f"any model id can be trained on {facts.display_name}; prices:"
                      " `finetune estimate FILE -p " + name + " -m MODEL`", markup=False)
    if why:
        console.print(f"note: {why}", highlight=False, markup=False)
    console.print(f"catalogs go stale: upgrade finetune-sdk for newer data (facts dated"
                  f" {facts.date.isoformat()})", highlight=False, markup=False)
