"""The plan of one target, made before anything is sent: the job it would create, the data
checked and converted with that provider's rules, preflight, and a dated cost estimate.

``prepare_target`` never sends a request that costs money: validation, conversion and the cost
estimate run on this machine, and preflight checks the spec against the provider's capabilities
and catalog. So ``--dry-run`` is exactly this step, printed, and the run step reuses the same
``JobSpec`` (with the same intent key) that the plan showed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import FinetuneError
from ..types import Hyperparameters, JobSpec, Method
from .targets import Target

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["Plan", "TargetPlan", "fit_hyperparameters", "prepare_target"]

MAX_FINDINGS = 5
"""Findings of each kind kept per target in a plan (the counts are complete)."""


@dataclass
class TargetPlan:
    """What would be sent for one target, and everything found on the way."""

    target: Target
    folder: str
    """The target's sub-folder in the output directory (unique within a run)."""
    base_model: str
    base_model_why: str | None = None
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    hyperparameter_notes: list[str] = field(default_factory=list)
    spec: JobSpec | None = None
    client_ref: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    """Validation and conversion of the training data with this provider's rules."""
    preflight: list[str] = field(default_factory=list)
    """Warnings (sunsets, unknown models, fields the provider ignores)."""
    estimate: dict[str, Any] | None = None
    blocked: str | None = None
    """Why this target cannot run (nothing is sent for it); None when it can."""

    @property
    def label(self) -> str:
        return self.target.label

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.label, "provider": self.target.provider,
                "base_model": self.base_model, "base_model_why": self.base_model_why,
                "hyperparameters": self.hyperparameters,
                "hyperparameter_notes": self.hyperparameter_notes,
                "client_ref": self.client_ref, "data": self.data, "preflight": self.preflight,
                "estimate": self.estimate, "blocked": self.blocked, "folder": self.folder}


def _check_data(plan: TargetPlan, train: Path, validation: Path | None, workdir: Path) -> None:
    """Validate with the provider's rules and convert to its wire format (kept in ``workdir``
    for inspection; the upload converts again from the same file)."""
    from ..data.convert import convert_file
    from ..data.validate import validate_file

    provider = plan.target.provider
    report = validate_file(train, provider=provider, base_model=plan.base_model,
                           validation_path=validation)
    plan.data = {"file": str(train), "examples": report.examples,
                 "validation_examples": report.validation_examples,
                 "errors": report.error_count, "warnings": len(report.warnings),
                 "findings": [str(f) for f in report.errors[:MAX_FINDINGS]]
                 + [str(f) for f in report.warnings[:MAX_FINDINGS]]}
    if not report.ok:
        plan.blocked = (f"{report.error_count} error(s) in the data under {provider}'s rules:"
                        f" {'; '.join(str(f) for f in report.errors[:2])}")
        return
    if provider == "fake":
        plan.data["converted"] = "the fake provider reads the file as it is"
        return
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        done = convert_file(train, workdir / f"train.{provider}.jsonl", to=provider,
                            carry_mark=False)
    except FinetuneError as exc:
        plan.blocked = f"the data does not convert to {provider}'s format: {exc}"
        return
    plan.data["converted"] = (f"{done.examples} examples in {provider}'s {done.method} format"
                              f" ({done.destination})")


def _estimate(spec: JobSpec, provider: str) -> dict[str, Any]:
    from ..cost import estimate

    est = estimate(spec, provider)
    nan = math.isnan(est.usd_high)
    return {"usd_low": None if nan else round(est.usd_low, 4),
            "usd_high": None if nan else round(est.usd_high, 4),
            "price_date": est.price_date.isoformat() if est.price_date else None,
            "price_source": est.price_source, "price_usd": est.price_usd,
            "price_unit": est.price_unit, "billed_tokens": est.billed_tokens,
            "epochs": est.epochs, "warnings": list(est.warnings)}


def prepare_target(plan: TargetPlan, client: Client | BaseException, *, train: Path,
                   validation: Path | None, labels: dict[str, str], client_ref: str | None,
                   output_name: str | None, max_usd: float | None, workdir: Path,
                   method: Method = "sft") -> TargetPlan:
    """Fill ``plan`` (base model and hyperparameters already chosen): spec, intent key, data
    checks, preflight, estimate. ``client``: the target's Client, or why none could be made
    (missing key, missing extra), which blocks the target without stopping the others."""
    from ..intent import derive_client_ref

    target = plan.target
    try:
        spec = JobSpec(base_model=plan.base_model, training_file=str(train), method=method,
                       validation_file=str(validation) if validation else None,
                       hyperparameters=Hyperparameters(**plan.hyperparameters), labels=labels,
                       output_name=output_name, options=target.options, max_usd=max_usd)
    except (ValueError, TypeError) as exc:
        plan.blocked = f"invalid job spec: {exc}"
        return plan
    # The intent key: what a re-run derives again, so it attaches instead of paying twice.
    ref = client_ref or derive_client_ref(target.provider, spec)
    plan.spec = spec.model_copy(update={"client_ref": ref})
    plan.client_ref = ref
    try:
        _check_data(plan, train, validation, workdir)
    except FinetuneError as exc:
        plan.blocked = f"the data could not be checked: {exc}"
    try:
        plan.estimate = _estimate(plan.spec, target.provider)
    except FinetuneError as exc:
        plan.estimate = {"usd_low": None, "usd_high": None, "error": str(exc)}
    if isinstance(client, BaseException):
        plan.blocked = plan.blocked or f"{type(client).__name__}: {client}"
        return plan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            # Prepared here once: the run's create takes the spec as it is (no second parse).
            plan.spec = client.provider.prepare(plan.spec)
        except FinetuneError as exc:
            plan.blocked = plan.blocked or f"preflight refused it: {exc}"
    plan.preflight = list(dict.fromkeys(str(w.message) for w in caught))
    if max_usd is not None and plan.estimate and plan.estimate.get("usd_high") is not None \
            and plan.estimate["usd_high"] > max_usd:
        plan.blocked = plan.blocked or (f"estimated up to {plan.estimate['usd_high']:.2f} USD,"
                                        f" above max_usd={max_usd:g}")
    return plan


def _usd(est: dict[str, Any] | None) -> str:
    if not est or est.get("usd_high") is None:
        why = (est or {}).get("error") or "no price known"
        return f"unknown ({why})"
    low, high = est["usd_low"], est["usd_high"]
    span = f"${high:,.2f}" if low == high else f"${low:,.2f} - ${high:,.2f}"
    return f"{span} (price of {est.get('price_date') or 'unknown date'})"


@dataclass
class Plan:
    """Every target's plan for one run: what ``--dry-run`` prints (``plan.md``, ``plan.json``)."""

    title: str
    targets: list[TargetPlan]
    split: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "split": self.split, "notes": self.notes,
                "source": self.source, "targets": [p.to_dict() for p in self.targets]}

    def to_markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        lines += [f"- {note}" for note in self.notes]
        lines += ["", "| Target | Base model | Hyperparameters | Data | Estimated cost | Ready |",
                  "|---|---|---|---|---|---|"]
        for p in self.targets:
            hp = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in p.hyperparameters.items()) or "provider defaults"
            data = (f"{p.data.get('examples', '?')} examples, {p.data.get('errors', '?')} errors,"
                    f" {p.data.get('warnings', '?')} warnings") if p.data else "not checked"
            ready = "yes" if p.blocked is None else "no (see below)"
            lines.append(f"| {p.label} | `{p.base_model}` | {hp} | {data} | {_usd(p.estimate)}"
                         f" | {ready} |")
        for p in self.targets:
            lines += ["", f"## {p.label}", ""]
            if p.base_model_why:
                lines.append(f"- base model `{p.base_model}`: {p.base_model_why}")
            lines += [f"- hyperparameters: {note}" for note in p.hyperparameter_notes]
            if p.client_ref:
                lines.append(f"- intent key `{p.client_ref}` (a re-run attaches to its job)")
            if p.data.get("converted"):
                lines.append(f"- data: {p.data['converted']}")
            lines += [f"- finding: {f}" for f in p.data.get("findings", [])]
            lines += [f"- preflight: {w}" for w in p.preflight]
            lines += [f"- cost: {w}" for w in (p.estimate or {}).get("warnings", [])]
            if p.blocked:
                lines.append(f"- **not run**: {p.blocked}")
        return "\n".join(lines).rstrip() + "\n"

    def write(self, out_dir: Path) -> dict[str, Path]:
        """plan.md and plan.json in ``out_dir``."""
        import json

        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {"markdown": out_dir / "plan.md", "json": out_dir / "plan.json"}
        paths["markdown"].write_text(self.to_markdown(), encoding="utf-8")
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n",
                                 encoding="utf-8")
        return paths


def fit_hyperparameters(provider: str, wanted: dict[str, Any]) -> tuple[dict[str, Any],
                                                                        list[str]]:
    """``wanted`` without the fields ``provider`` does not honour (its Capabilities), and a note
    for each one left out: a bakeoff over several providers asks each only what it can do."""
    from ..registry import get_provider_class

    try:
        honoured = get_provider_class(provider).capabilities.hyperparameters
    except FinetuneError:
        return dict(wanted), []
    kept = {k: v for k, v in wanted.items() if k in honoured}
    notes = [f"{k}={v} left out: {provider} does not take it" for k, v in wanted.items()
             if k not in honoured]
    return kept, notes
