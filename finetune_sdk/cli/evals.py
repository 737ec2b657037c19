"""The last steps of every workflow: ``finetune estimate``, ``finetune chat``, ``finetune eval``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from .app import command, console, err_console, fail, input_file, output_path, print_json

ProviderOpt = Annotated[str | None, typer.Option("--provider", "-p", help="Provider name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.0f} min"
    return f"{seconds / 3600:,.1f} h"


def _usd(value: float) -> str:
    return "unknown" if math.isnan(value) else f"${value:,.2f}"


def _provenance(est: Any) -> str:
    """When the price was said and how directly, e.g. " (price of 2026-10-07, secondary)"."""
    if est.price_date is None:
        return ""
    how = est.price_confidence or "your own price"
    return f" (price of {est.price_date.isoformat()}, {how})"


def check_max_usd(max_usd: float | None) -> None:
    """--max-usd must be a real amount: NaN or a negative budget makes the check meaningless."""
    if max_usd is not None and not (0 <= max_usd < math.inf):
        fail(f"--max-usd expects an amount in USD >= 0 (got {max_usd:g})")


_UNKNOWN_PRICE = ("cannot be checked: no price known for {provider} / {model}. Put one in a JSON"
                  " file named by FINETUNE_SDK_PRICES (see docs/costs.md), or drop --max-usd")


@command("estimate")
def estimate_command(
    file: Annotated[Path, typer.Argument(help="Training JSONL file.")],
    provider: Annotated[str, typer.Option("--provider", "-p", help="Provider name.")],
    base_model: Annotated[str | None, typer.Option("--base-model", "-m",
                                                   help="Model to fine-tune.")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1)] = None,
    max_usd: Annotated[float | None, typer.Option(
        "--max-usd", help="Exit 2 when the upper estimate is above this (or cannot be known).")
    ] = None,
    method: Annotated[str | None, typer.Option("--method", help="sft (default) or dpo.")] = None,
    adapter: Annotated[str | None, typer.Option(
        "--adapter", help="lora or full, where the price differs (Fireworks, Together).")] = None,
    flavor: Annotated[str | None, typer.Option(
        "--flavor", help="Hardware flavor priced per hour (Hugging Face Jobs).")] = None,
    live: Annotated[bool, typer.Option(
        "--live", help="Ask the vendor for current prices first (table as fallback).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Estimate what fine-tuning on FILE costs: tokens, billed tokens, USD range, duration,
    with the price's date and confidence."""
    from ..cost import estimate
    from ..errors import BudgetExceededError

    check_max_usd(max_usd)
    base = base_model or {"fake": "base", "local": "tiny"}.get(provider)
    if not base:
        fail("--base-model is needed for a hosted provider (prices depend on the model)")
    est = estimate(input_file(file), provider, base, epochs, method=method, adapter=adapter,
                   flavor=flavor, live=live)
    if as_json:
        data = est.model_dump(mode="json")
        print_json({k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in data.items()})
    else:
        table = Table(show_header=False, box=None)
        rows = [("provider", est.provider), ("base model", est.base_model),
                ("tokens / epoch", f"{est.tokens:,}"), ("epochs", str(est.epochs)),
                ("billed tokens", f"{est.billed_tokens:,}"),
                ("cost (USD)", "unknown (see below)" if math.isnan(est.usd_high)
                 else f"{_usd(est.usd_low)} - {_usd(est.usd_high)}{_provenance(est)}")]
        if est.duration_s_low is not None and est.duration_s_high is not None:
            rows.append(("duration", f"{_duration(est.duration_s_low)} -"
                                     f" {_duration(est.duration_s_high)}"))
        rows.append(("price source", f"{est.price_source} ({est.price_date or 'undated'})"))
        for key, value in rows:
            table.add_row(f"[bold]{key}[/]", value)
        console.print(table)
        for note in est.assumptions:
            console.print(f"  - {note}", highlight=False, markup=False)
        for warning in est.warnings:
            err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False,
                              soft_wrap=True)
    if max_usd is not None:
        if math.isnan(est.usd_high):
            raise BudgetExceededError(f"--max-usd {max_usd:g} " + _UNKNOWN_PRICE.format(
                provider=est.provider, model=est.base_model))
        if est.usd_high > max_usd:
            raise BudgetExceededError(
                f"estimated up to {est.usd_high:.2f} USD, above --max-usd {max_usd:g}")


def check_local_folder(model: str, provider: str | None) -> None:
    """A local model folder must hold a model: an empty or wrong folder would otherwise fail
    deep inside transformers."""
    if provider not in (None, "local") or (
            not model.startswith("local:") and not Path(model).is_dir()):
        return
    folder = Path(model.removeprefix("local:")).expanduser()
    if folder.is_dir() and not any((folder / name).is_file()
                                   for name in ("config.json", "adapter_config.json")):
        fail(f"local model {str(folder)!r}: the folder has no config.json or adapter_config.json"
             " (expected a model folder, an adapter folder from `finetune train`, or 'tiny')")


def _model_ref(model: str, provider: str | None) -> Any:
    """A model id, a ``local:`` path or plain directory, or a job id (ledger, or an id shaped
    like a job of the provider) resolved to its model, with or without --provider."""
    from ..inference import as_model_ref, guess_provider, job_model_ref

    check_local_folder(model, provider)
    if model.startswith("local:") or Path(model).is_dir():
        return as_model_ref(model if model.startswith("local:") else f"local:{model}", provider)
    job = job_model_ref(model, provider)
    if job is not None:
        return job
    if provider or guess_provider(model):
        return as_model_ref(model, provider)
    fail(f"cannot tell which provider serves {model!r} (the id does not say, and it is not"
         " a job in the ledger): pass --provider (openai, fireworks, gemini, huggingface,"
         " local, fake), or a local model folder")


@command("chat")
def chat_command(
    model: Annotated[str, typer.Argument(help="Model id, local:/path, a directory, or a job id.")],
    prompt: Annotated[str | None, typer.Argument(
        help="One message to answer (like -m); none: an interactive chat.")] = None,
    provider: ProviderOpt = None,
    message: Annotated[list[str] | None, typer.Option(
        "--message", "-m", help="Send this and print the answer (repeat for several turns).")
    ] = None,
    system: Annotated[str | None, typer.Option("--system", help="System prompt.")] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1)] = 256,
    temperature: Annotated[float, typer.Option("--temperature", min=0)] = 0.0,
) -> None:
    """Try a model: `finetune chat MODEL "question"`, one answer per -m, or an interactive chat
    (empty line or Ctrl-D ends)."""
    from ..inference import chat

    ref = _model_ref(model, provider)
    history: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []

    def turn(text: str) -> None:
        history.append({"role": "user", "content": text})
        answer = chat(ref, history, max_tokens=max_tokens, temperature=temperature)
        history.append({"role": "assistant", "content": answer})
        console.print(answer, highlight=False, markup=False)

    messages = [prompt] if prompt is not None else []
    messages += message or []
    if messages:
        for text in messages:
            turn(text)
        return
    who = escape(f"{ref.id} ({ref.provider})")
    console.print(f"[dim]chatting with {who}; empty line to stop[/]")
    while True:
        try:
            text = console.input("[bold]> [/]")
        except EOFError:
            return
        if not text.strip():
            return
        turn(text)


def report_table(report: Any, title: str) -> Table:
    """An EvalReport as a rich table: one row per metric with CIs, then the win rate."""
    table = Table(title=escape(title))
    for header in ("Metric", "Base [95% CI]", "Tuned [95% CI]", "Tuned - base [95% CI]", ""):
        table.add_column(header)
    for row in report.table_rows():
        table.add_row(*row)
    return table


@command("eval")
def eval_command(
    base: Annotated[str, typer.Option("--base", help="Base model id (or local path).")],
    tuned: Annotated[str, typer.Option("--tuned", help="Tuned model id, local:/path or job id.")],
    data: Annotated[Path, typer.Option("--data", help="Held-out chat JSONL.")],
    provider: ProviderOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Where report.md/report.json go.")] = Path(
        "eval-report"),
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="First N examples.")] = None,
    max_concurrency: Annotated[int, typer.Option("--max-concurrency", min=1)] = 4,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1)] = 256,
    temperature: Annotated[float, typer.Option("--temperature", min=0)] = 0.0,
    cache: Annotated[Path | None, typer.Option(
        "--cache", help="Response cache (JSONL); default under FINETUNE_SDK_HOME.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Compare TUNED with BASE on held-out data: BLEU, ROUGE-L, exact match, length, win rate."""
    from ..evaluate import compare

    input_file(data, "--data", expected="held-out chat JSONL")
    output_path(out, "--out", folder=True)
    if cache is not None and not no_cache:
        output_path(cache, "--cache")
    check_local_folder(base, provider)
    tuned_ref = _model_ref(tuned, provider)
    from ..inference import job_model_ref

    # --base may be a job too (two fine-tunes compared); a plain id stays for compare to place.
    base_ref = job_model_ref(base, provider) or base
    report = compare(base_ref, tuned_ref, data, provider=provider, limit=limit,
                     max_concurrency=max_concurrency, cache=False if no_cache else cache,
                     params={"max_tokens": max_tokens, "temperature": temperature, "seed": 0})
    paths = report.write(out)
    if as_json:
        print_json({**report.summary(), "new_calls": report.new_calls,
                    "files": {k: str(v) for k, v in paths.items()}})
        return
    n = len(report.rows)
    console.print(report_table(report, f"{report.tuned} vs {report.base}"
                                       f" ({n} example{'' if n == 1 else 's'})"))
    if report.ci_note:
        err_console.print(f"[yellow]note:[/] {escape(report.ci_note)}", highlight=False)
    from ..evaluate.report import flips_line

    console.print(flips_line(report.aggregates["flips"]), highlight=False, markup=False)
    calls = report.new_calls
    console.print(f"model calls this run: base {calls['base']}, tuned {calls['tuned']}"
                  " (the rest came from the cache)", highlight=False)
    console.print("wrote " + ", ".join(str(p) for p in paths.values()), highlight=False,
                  markup=False)


@command("manifest")
def manifest_command(
    job_id: Annotated[str, typer.Argument(help="A finished job (any provider).")],
    provider: ProviderOpt = None,
    data: Annotated[list[Path] | None, typer.Option(
        "--data", help="Dataset files to hash into the manifest (repeat).")] = None,
    eval_report: Annotated[Path | None, typer.Option(
        "--eval", help="report.json (or its folder) from `finetune eval`.")] = None,
    split_seed: Annotated[int | None, typer.Option("--split-seed")] = None,
    out: Annotated[Path, typer.Option("--out", help="File or folder.")] = Path("manifest.json"),
) -> None:
    """Write the lineage manifest of a job: hashes, hyperparameters, ids, cost, eval, versions."""
    import json

    from ..client import Client
    from ..errors import FinetuneError
    from ..manifest import build_manifest, estimate_for_job, write_manifest
    from ..types import JobSpec
    from .jobs import job_lookup

    for file in data or ():
        input_file(file, "--data")
    if eval_report is not None and not eval_report.is_dir():
        input_file(eval_report, "--eval", expected="report.json from `finetune eval` or its"
                   " folder")
    if not out.is_dir():
        output_path(out, "--out")
    client = Client(provider) if provider else Client.for_job(job_id)
    with job_lookup(job_id, provider):
        job = client.jobs.get(job_id)
    spec = None
    if client.ledger is not None and job.client_ref:
        try:
            spec = JobSpec.model_validate(client.ledger.spec(job.client_ref))
        except (FinetuneError, ValueError, KeyError):
            spec = None  # started elsewhere: the manifest has the job as the vendor reports it
    est = None
    if spec is not None:
        try:
            est = estimate_for_job(job, spec, data or ())
        except FinetuneError:
            est = None
    summary = None
    if eval_report is not None:
        file = eval_report / "report.json" if eval_report.is_dir() else eval_report
        try:
            loaded = json.loads(file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            fail(f"{file}: not a report.json from `finetune eval` ({exc})")
        if not isinstance(loaded, dict) or "aggregates" not in loaded:
            fail(f"{file}: not a report.json from `finetune eval` (no 'aggregates')")
        summary = {k: v for k, v in loaded.items() if k != "rows"}
    manifest = build_manifest(job, spec=spec, dataset_paths=data or (), estimate=est,
                              eval_report=summary, split_seed=split_seed)
    console.print(f"wrote {write_manifest(out, manifest)}", highlight=False, markup=False)
