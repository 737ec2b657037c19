"""Training commands: ``finetune train``, ``finetune resume``, ``finetune pause`` and the offline
``finetune quickstart`` (validate -> split -> train the tiny model -> model id -> chat -> eval).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

import typer
from rich.markup import escape

from ._train_flags import (
    existing_intent,
    local_flag_options,
    merge_options,
    parse_options,
    parse_target_modules,
    report_intent,
    resolve_method,
)
from .app import (
    EXIT_JOB,
    command,
    console,
    err_console,
    fail,
    input_file,
    output_path,
    print_json,
)
from .evals import check_local_folder, check_max_usd, report_table
from .jobs import follow, interrupted, job_lookup

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


class _IntentKey(TypedDict, total=False):
    """``JobSpec(client_ref=...)`` only when --client-ref gave one (else JobSpec draws a key)."""

    client_ref: str


def _hyperparameters(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _wait(client: Any, job_id: str, as_json: bool) -> Any:
    try:
        return follow(client, job_id, as_json=as_json)
    except KeyboardInterrupt:
        interrupted(job_id)


@command("train")
def train_command(
    file: Annotated[Path, typer.Argument(help="Training JSONL (chat, prompt/completion, ...).")],
    base_model: Annotated[str, typer.Option(
        "--base-model", "-m", help="Model to fine-tune: a Hub id, a local folder, or 'tiny'.")],
    provider: Annotated[str | None, typer.Option(
        "--provider", "-p", help="Provider name (openai, fireworks, gemini, huggingface, local);"
        " without it: local, said on stderr.")] = None,
    validation_file: Annotated[Path | None, typer.Option("--validation-file", "-v")] = None,
    method: Annotated[str | None, typer.Option(
        "--method", help="sft or dpo; default: dpo for a preference file (chosen/rejected),"
        " else sft. A mismatch with the file is refused.")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1)] = None,
    learning_rate: Annotated[float | None, typer.Option(
        "--learning-rate", "--lr", help="Absolute (Fireworks, Hugging Face, local).")] = None,
    learning_rate_multiplier: Annotated[float | None, typer.Option(
        "--learning-rate-multiplier", "--lr-multiplier",
        help="Relative to the vendor's default (OpenAI, Gemini).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1)] = None,
    lora_rank: Annotated[int | None, typer.Option("--lora-rank", min=1)] = None,
    lora_alpha: Annotated[int | None, typer.Option("--lora-alpha", min=1)] = None,
    lora_dropout: Annotated[float | None, typer.Option("--lora-dropout")] = None,
    lora_target_modules: Annotated[str | None, typer.Option(
        "--lora-target-modules", help="LoRA only these modules, e.g. q_proj,v_proj (default:"
        " every linear layer).")] = None,
    beta: Annotated[float | None, typer.Option("--beta", help="DPO temperature.")] = None,
    max_seq_length: Annotated[int | None, typer.Option("--max-seq-length", min=8)] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", help="Provider option key=value (repeat), e.g. flavor=a10g-small,"
        " backend=sdk, text_column=messages; numbers, true/false and JSON are parsed.")] = None,
    gpus: Annotated[int | None, typer.Option(
        "--gpus", min=1, help="Local: GPUs to use, per node (more than one runs torchrun).")]
    = None,
    fsdp: Annotated[bool, typer.Option(
        "--fsdp", help="Local: shard base and LoRA weights and optimizer state over the"
        " processes (FSDP2); default: only when the base would not fit one GPU.")] = False,
    nodes: Annotated[int | None, typer.Option(
        "--nodes", min=1, help="Local: machines in the run; start the same command on each"
        " with its --node-rank.")] = None,
    node_rank: Annotated[int | None, typer.Option(
        "--node-rank", min=0, help="Local: this machine's number, 0 to nodes-1.")] = None,
    master_addr: Annotated[str | None, typer.Option(
        "--master-addr", help="Local: address of node 0, reachable from every node.")] = None,
    master_port: Annotated[int | None, typer.Option(
        "--master-port", min=1, max=65535, help="Local: rendezvous port on node 0 (default"
        " 29500).")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1,
                                                  help="Local: stop after N steps.")] = None,
    qlora: Annotated[bool, typer.Option(
        "--qlora", help="Local: QLoRA, the base in 4-bit NF4 (needs finetune-sdk[qlora]).")]
    = False,
    max_usd: Annotated[float | None, typer.Option(
        "--max-usd", help="Refuse to start when the cost estimate is above this.")] = None,
    suffix: Annotated[str | None, typer.Option("--suffix", help="Name for the output model.")]
    = None,
    allow_sensitive: Annotated[bool, typer.Option(
        "--allow-sensitive", help="Upload a dataset marked sensitive without scrubbing it.")]
    = False,
    client_ref: Annotated[str | None, typer.Option(
        "--client-ref", help="Your own intent key: the same key never starts a second job.")]
    = None,
    new: Annotated[bool, typer.Option(
        "--new", help="Start a second job even if this exact request already has one.")]
    = False,
    detach: Annotated[bool, typer.Option(
        "--detach", help="Return after the job started; follow it with `finetune wait ID`.")]
    = False,
    as_json: JsonOpt = False,
) -> None:
    """Start a fine-tuning job on any provider and wait for its model id. Running the same
    command again attaches to the job it started (pass --new for a second one)."""
    from ..client import Client
    from ..types import Hyperparameters, JobSpec

    started = time.time()
    input_file(file)
    if validation_file is not None:
        input_file(validation_file, "--validation-file")
    check_max_usd(max_usd)
    if new and client_ref is not None:
        fail("--new asks for a fresh intent key, --client-ref gives one: keep one of them")
    if provider is None:
        # Forgetting -p must not quietly train on this machine when a hosted job was meant.
        provider = "local"
        err_console.print("provider: local (default; pass -p to choose)", highlight=False,
                          markup=False)
    method = resolve_method(method, beta, file, validation_file)
    # Checked here, before any client exists, so a bad value names its flag (--lr ...).
    hyperparameters = Hyperparameters.model_validate(_hyperparameters(
        epochs=epochs, learning_rate=learning_rate,
        learning_rate_multiplier=learning_rate_multiplier, batch_size=batch_size,
        lora_rank=lora_rank, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
        lora_target_modules=parse_target_modules(lora_target_modules), beta=beta,
        max_seq_length=max_seq_length, seed=seed))
    options = parse_options(option)
    local_options, local_flags = local_flag_options(
        gpus=gpus, max_steps=max_steps, qlora=qlora, fsdp=fsdp, nodes=nodes,
        node_rank=node_rank, master_addr=master_addr, master_port=master_port)
    if provider == "local":
        options = merge_options(options, local_options)
        check_local_folder(base_model, provider)
    elif local_flags:
        fail(f"{', '.join(local_flags)} apply to --provider local only")
    intent: _IntentKey = {"client_ref": client_ref} if client_ref is not None else {}
    spec = JobSpec(
        base_model=base_model, training_file=file, validation_file=validation_file,
        method=method, hyperparameters=hyperparameters, options=options or None,
        max_usd=max_usd, output_name=suffix, allow_sensitive=allow_sensitive, **intent)
    client = Client(provider)
    before = existing_intent(client, spec, new=new)
    job = client.jobs.create(spec, new=new)
    attached = report_intent(client, job, spec, before, started, err=as_json)
    if not as_json and not attached:
        console.print(f"started [bold]{escape(job.id)}[/] on {job.provider}", highlight=False)
    if detach:
        if as_json:
            print_json(job.model_dump(mode="json"))
        else:
            console.print(f"follow it with: finetune wait {job.id}", highlight=False)
        return
    job = _wait(client, job.id, as_json)
    model = client.models.resolve(job) if job.status.value == "succeeded" else None
    if as_json:
        print_json({"job": job.model_dump(mode="json"),
                    "model": model.model_dump(mode="json") if model else None})
    elif model:
        console.print(f"model id: [bold green]{escape(model.id)}[/]", highlight=False,
                      soft_wrap=True)  # never wrapped: the id is copied from here
    if model is None:
        reason = job.error.message if job.error else job.status.value
        fail(f"job {job.id} ended {job.status.value}: {reason}", EXIT_JOB)


def _local_client(job_id: str) -> Any:
    from ..client import Client
    from ..errors import LedgerError

    try:
        return Client.for_job(job_id)
    except LedgerError:  # a job started with ledger=False is still on disk
        return Client("local")


@command("resume")
def resume_command(
    job_id: str,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the job to its end.")]
    = True,
    as_json: JsonOpt = False,
) -> None:
    """Restart a paused, failed or cancelled local job from its last checkpoint."""
    client = _local_client(job_id)
    with job_lookup(job_id, None):
        job = client.jobs.resume(job_id)
    if not as_json:
        console.print(f"resumed {job.id}", highlight=False)
    if wait:
        job = _wait(client, job.id, as_json)
    if as_json:
        print_json(job.model_dump(mode="json"))
    elif job.output_model:
        console.print(f"model id: [bold green]{escape(job.output_model)}[/]", highlight=False,
                      soft_wrap=True)
    if job.status.value in ("failed", "cancelled"):
        fail(f"job {job.id} ended {job.status.value}", EXIT_JOB)


@command("pause")
def pause_command(job_id: str) -> None:
    """Stop a job at the end of its current step with a checkpoint (resume continues)."""
    with job_lookup(job_id, None):
        job = _local_client(job_id).jobs.pause(job_id)
    console.print(f"pause requested for {job.id} ({job.status.value})", highlight=False)


@command("quickstart")
def quickstart_command(
    workdir: Annotated[Path | None, typer.Option(
        "--workdir", help="Where data, reports and the model go (default:"
        " $FINETUNE_SDK_HOME/quickstart).")] = None,
    eval_examples: Annotated[int, typer.Option("--eval-examples", min=1)] = 16,
) -> None:
    """The whole loop offline on the bundled sample data and the tiny model (about 30 s on CPU)."""
    from ..local.quickstart import run_quickstart

    if workdir is not None:
        output_path(workdir, "--workdir", folder=True)
    started = time.perf_counter()

    def say(step: str, detail: str) -> None:
        elapsed = time.perf_counter() - started
        console.print(f"[dim]{elapsed:5.1f}s[/] [bold cyan]{step:>8}[/] {escape(detail)}",
                      highlight=False)

    result = run_quickstart(workdir, eval_examples=eval_examples, say=say)
    console.print(report_table(
        result["report"], f"base vs tuned on {result['eval_examples']} held-out examples"))
    first, last = result["first_loss"], result["last_loss"]
    went_down = last < first
    console.print(f"training loss {first:.3f} -> {last:.3f}"
                  f" ({'went down' if went_down else 'did NOT go down'});"
                  f" validation loss {result['eval_loss']:.3f}", highlight=False)
    console.print(f"model id: [bold green]{escape(result['model_id'])}[/]", highlight=False,
                  soft_wrap=True)
    console.print(f"done in {time.perf_counter() - started:.0f} s. Next: finetune chat"
                  f" {result['model_id']}  |  finetune serve {result['model_id']}  |  reports in"
                  f" {result['report_dir']}", highlight=False)
    if not went_down:
        fail("the training loss did not go down", EXIT_JOB)
