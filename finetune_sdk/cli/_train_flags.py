"""What ``finetune train`` makes of its flags: ``--option key=value`` values, target modules, the
training method against the file's kind, and the intent lines printed after the create.

Kept apart from ``local.py`` so the command reads as a list of steps; every refusal here is one
line naming the flag (exit 2) before any client, key or upload is needed.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .app import fail

if TYPE_CHECKING:
    from ..types import Method

__all__ = ["existing_intent", "local_flag_options", "merge_options", "parse_options",
           "parse_target_modules", "report_intent", "resolve_method"]

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


def _option_value(key: str, text: str) -> Any:
    """``"2"`` -> 2, ``"0.5"`` -> 0.5, ``"true"`` -> True, ``"null"`` -> None, ``[..]``/``{..}``
    and ``"quoted"`` as JSON; anything else stays the string it was."""
    lowered = text.strip().lower()
    if lowered in _BOOLS:
        return _BOOLS[lowered]
    if lowered in ("null", "none"):
        return None
    if _INT.fullmatch(text.strip()):
        return int(text)
    if _FLOAT.fullmatch(text.strip()):
        value = float(text)
        if math.isfinite(value):
            return value
    if text[:1] in "[{\"":
        try:
            return json.loads(text)
        except ValueError as exc:
            fail(f"--option {key}={text}: not valid JSON ({exc}); quote a plain string"
                 f" differently, e.g. --option {key}=text")
    return text


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """Repeated ``--option key=value`` as a dict of typed values (a key given twice is refused:
    which one was meant cannot be guessed)."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            fail(f"--option {pair!r}: expected key=value, e.g. --option flavor=a10g-small"
                 " (`finetune providers` and the provider's docs page list the options)")
        if key in options:
            fail(f"--option {key} is given twice; keep one")
        options[key] = _option_value(key, text)
    return options


def merge_options(given: dict[str, Any], from_flags: dict[str, Any]) -> dict[str, Any]:
    """``--option`` values plus the dedicated flags (``--gpus``...); a clash is refused."""
    for key, value in from_flags.items():
        if key in given and given[key] != value:
            fail(f"--option {key}={given[key]!r} contradicts the flag that sets {key}={value!r};"
                 " keep one")
    return {**given, **from_flags}


def local_flag_options(*, gpus: int | None, max_steps: int | None, qlora: bool, fsdp: bool,
                       nodes: int | None, node_rank: int | None, master_addr: str | None,
                       master_port: int | None) -> tuple[dict[str, Any], list[str]]:
    """The local-only flags as ``LocalOptions`` values, and the names of those given.

    Refuses combinations that cannot run, naming the flags (``LocalOptions`` would refuse them
    too, but by option name and after the client is built).
    """
    given = [flag for flag, value in (
        ("--gpus", gpus), ("--max-steps", max_steps), ("--qlora", qlora or None),
        ("--fsdp", fsdp or None), ("--nodes", nodes), ("--node-rank", node_rank),
        ("--master-addr", master_addr), ("--master-port", master_port)) if value is not None]
    several = nodes is not None and nodes > 1
    if several and not master_addr:
        fail(f"--nodes {nodes} needs --master-addr HOST: the address of node 0, reachable from"
             " every node (and --node-rank R on each node)")
    if not several and (node_rank is not None or master_addr or master_port):
        fail("--node-rank, --master-addr and --master-port go with --nodes M (M > 1)")
    if nodes is not None and nodes > 1 and node_rank is not None and node_rank >= nodes:
        fail(f"--node-rank {node_rank}: nodes are numbered 0 to {nodes - 1}")
    if fsdp and qlora:
        fail("--fsdp cannot shard a 4-bit base: drop --qlora or --fsdp")
    if fsdp and (gpus or 1) * (nodes or 1) < 2:
        fail("--fsdp shards over several processes: add --gpus N (N > 1) or --nodes M")
    options = {"gpus": gpus, "max_steps": max_steps, "quantization": "nf4" if qlora else None,
               "sharding": "fsdp" if fsdp else None, "nodes": nodes, "node_rank": node_rank,
               "master_addr": master_addr, "master_port": master_port}
    return {k: v for k, v in options.items() if v is not None}, given


def parse_target_modules(text: str | None) -> list[str] | None:
    """``"q_proj,v_proj"`` -> ``["q_proj", "v_proj"]`` (spaces ignored)."""
    if text is None:
        return None
    modules = [m.strip() for m in text.split(",") if m.strip()]
    if not modules:
        fail(f"--lora-target-modules {text!r}: expected module names separated by commas,"
             " e.g. q_proj,v_proj")
    return modules


def _kind(path: Path) -> str | None:
    """``preference`` or ``chat`` (any supervised format); None when the format is unclear,
    which the upload reports with the line number."""
    from ..data.formats import detect_format
    from ..errors import DatasetError

    try:
        return "preference" if detect_format(path) == "preference" else "chat"
    except DatasetError:
        return None


def resolve_method(method: str | None, beta: float | None, file: Path,
                   validation_file: Path | None) -> Method:
    """The training method: ``--method`` checked against the file, or inferred from it (and
    said on stderr). A preference file is never trained as SFT, nor chat data as DPO."""
    if method is not None and method not in ("sft", "dpo"):
        fail(f"--method {method!r}: expected sft or dpo")
    kind = _kind(file)
    if method is None:
        method = "dpo" if kind == "preference" else "sft"
        if method == "dpo":
            print(f"method: dpo ({file} holds preference pairs; pass --method dpo to say so)",
                  file=sys.stderr)
    elif method == "sft" and kind == "preference":
        fail(f"--method sft, but {file} holds preference pairs (chosen/rejected): pass --method"
             " dpo, or train on chat examples")
    elif method == "dpo" and kind == "chat":
        fail(f"--method dpo needs preference pairs (chosen/rejected on each line), but {file}"
             " holds supervised examples: drop --method dpo, or pass a preference file")
    if validation_file is not None:
        other = _kind(validation_file)
        want = "preference" if method == "dpo" else "chat"
        if other is not None and other != want:
            what = "preference pairs" if other == "preference" else "supervised examples"
            fail(f"--validation-file {validation_file} holds {what}, but the job trains"
                 f" {method}: pass a validation file of the same kind as the training file")
    if beta is not None and method != "dpo":
        fail("--beta is the DPO temperature: it needs --method dpo (and a preference file)")
    return cast("Method", method)  # sft or dpo: anything else was refused above


def existing_intent(client: Any, spec: Any, *, new: bool) -> Any:
    """The ledger row this create will attach to, looked up before it is sent (None: none)."""
    from ..intent import derive_client_ref, has_explicit_client_ref

    if client.ledger is None or new:
        return None
    ref = (spec.client_ref if has_explicit_client_ref(spec)
           else derive_client_ref(client.provider.name, spec))
    return client.ledger.get(ref)


def _client_ref(client: Any, job: Any, spec: Any) -> str:
    from ..intent import has_explicit_client_ref

    if job.client_ref:
        return str(job.client_ref)
    if client.ledger is not None:
        row = client.ledger.find_job(job.id, job.provider)
        if row is not None:
            return str(row.client_ref)
    return str(spec.client_ref) if has_explicit_client_ref(spec) else "(not recorded)"


def report_intent(client: Any, job: Any, spec: Any, before: Any, started: float, *,
                  err: bool) -> bool:
    """Print ``intent <client_ref>``, and say so when the job existed before this command.

    Returns whether it did. ``before`` is the ledger row found before the create; a pending row
    there may have been settled by a lookup that found the earlier run's job, which then is
    older than ``started`` (this command's start, a Unix time).
    """
    existed = before is not None and (
        before.job_id == job.id
        or (before.job_id is None and job.created_at is not None
            and job.created_at.timestamp() < started))
    stream = sys.stderr if err else sys.stdout
    print(f"intent {_client_ref(client, job, spec)}", file=stream)
    if existed:
        print(f"attaching to existing job {job.id} (same intent; pass --new for a second job)",
              file=stream)
    return existed
