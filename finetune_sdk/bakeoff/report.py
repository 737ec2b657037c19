"""The one report of a bakeoff or a migration: ``report.md``, ``report.json``, ``report.html``.

One row per target: base model, status, wall time, estimated and actual cost, evaluation
metrics with their 95 % intervals, win rate over the baseline, and the per-example flips (where
the tuned model passes and the baseline fails, and the reverse). In a migration the baseline is
the source fine-tune, so "win rate" reads "the new model beats the one it replaces". The JSON
holds everything (loss curves, flipped examples, plans); the HTML page is self-contained (inline
SVG, no scripts, no links out) and can be mailed as one file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .runner import TargetRun

__all__ = ["BakeoffReport", "run_summary"]

_LABELS = {"bleu": "BLEU", "rouge_l": "ROUGE-L", "exact_match": "Exact match",
           "length": "Length (words)", "judge": "Judge"}


def _clean(value: Any) -> Any:
    """JSON has no NaN: unknown numbers become null."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _eval_summary(run: TargetRun) -> dict[str, Any] | None:
    report = run.eval
    if report is None:
        return None
    agg = report.aggregates
    metrics = {name: {k: agg[name].get(k) for k in ("base", "tuned", "delta", "base_ci",
                                                     "tuned_ci", "delta_ci", "higher_is_better")}
               for name in [*report.metrics, *(["judge"] if "judge" in agg else [])]}
    return {"n": len(report.rows), "baseline": report.base, "model": report.tuned,
            "ci_note": report.ci_note, "metrics": metrics, "win_rate": agg["win_rate"],
            "flips": agg.get("flips"), "new_calls": report.new_calls,
            "files": f"eval/{run.plan.folder}/"}


def run_summary(run: TargetRun) -> dict[str, Any]:
    """Everything the report says about one target (JSON-ready)."""
    plan, job = run.plan, run.job
    return _clean({
        "target": run.label, "provider": plan.target.provider, "base_model": plan.base_model,
        "base_model_why": plan.base_model_why, "status": run.status,
        "job_id": job.id if job else None, "client_ref": plan.client_ref,
        "attached": run.attached, "model": run.model.id if run.model else None,
        "needs_deployment": bool(run.model and run.model.needs_deployment),
        "wall_s": run.wall_s, "error": run.error, "hyperparameters": plan.hyperparameters,
        "hyperparameter_notes": plan.hyperparameter_notes, "preflight": plan.preflight,
        "data": plan.data, "estimate": plan.estimate, "actual_usd": run.actual_usd,
        "actual_usd_basis": run.actual_usd_basis,
        "trained_tokens": job.trained_tokens if job else None,
        "loss_curve": [{"step": m.step, "train_loss": m.train_loss, "valid_loss": m.valid_loss}
                       for m in run.metrics],
        "eval": _eval_summary(run), "eval_note": run.eval_note,
    })


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _ci(pair: Any) -> str:
    return f" [{_fmt(pair[0])}, {_fmt(pair[1])}]" if pair else ""


def _money(row: dict[str, Any]) -> tuple[str, str]:
    est = row.get("estimate") or {}
    if est.get("usd_high") is None:
        estimated = "unknown"
    else:
        low, high = est["usd_low"], est["usd_high"]
        estimated = (f"${high:,.2f}" if low == high else f"${low:,.2f}-${high:,.2f}") + \
            f" ({est.get('price_date') or 'undated'})"
    actual = "n/a" if row.get("actual_usd") is None else f"${row['actual_usd']:,.2f}"
    return estimated, actual


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


@dataclass
class BakeoffReport:
    """What a bakeoff (``kind="bakeoff"``) or migration (``kind="migration"``) found."""

    kind: str
    title: str
    runs: list[TargetRun]
    split: dict[str, Any]
    baseline: str
    """What the targets were compared with: "base model" or "source fine-tune ...". """
    source: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    written_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [run_summary(r) for r in self.runs]

    def to_dict(self) -> dict[str, Any]:
        return _clean({"kind": self.kind, "title": self.title, "written_at": self.written_at,
                       "baseline": self.baseline, "source": self.source, "split": self.split,
                       "notes": self.notes, "targets": self.rows})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False,
                          default=str) + "\n"

    def table(self) -> list[list[str]]:
        """Header + one line per target (markdown, CLI and HTML share it)."""
        vs = "source" if self.kind == "migration" else "base"
        out = [["Target", "Base model", "Status", "Wall time", "Estimated cost", "Actual cost",
                "Metric (tuned vs " + vs + ") [95% CI]", f"Win rate over {vs}", "Flips +/-"]]
        for row in self.rows:
            estimated, actual = _money(row)
            ev = row.get("eval")
            if ev:
                win = ev["win_rate"]
                name = win["metric"]
                m = ev["metrics"][name]
                metric = (f"{_LABELS.get(name, name)} {_fmt(m['tuned'])} vs {_fmt(m['base'])},"
                          f" delta {_fmt(m['delta'])}{_ci(m['delta_ci'])}")
                won = f"{_fmt(win['value'])}{_ci(win['ci'])}"
                flips = ev.get("flips") or {}
                flipped = f"+{len(flips.get('gained', []))} / -{len(flips.get('lost', []))}"
            else:
                metric, won, flipped = row.get("eval_note") or "not evaluated", "", ""
            status = row["status"] + (" (attached)" if row.get("attached") else "")
            out.append([row["target"], f"`{row['base_model']}`", status,
                        _duration(row.get("wall_s")), estimated, actual, metric, won, flipped])
        return out

    def to_markdown(self) -> str:
        lines = [f"# {self.title}", "", f"Written {self.written_at}. Compared with:"
                 f" {self.baseline}.", ""]
        split = self.split
        if split:
            lines += [f"Held-out set: `{split.get('heldout')}` ({split.get('heldout_examples')}"
                      f" examples, the same for every target); training file"
                      f" `{split.get('train')}` ({split.get('train_examples')} examples)."]
        lines += [f"- {note}" for note in self.notes]
        table = self.table()
        lines += ["", "| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in table[1:]]
        for row in self.rows:
            lines += ["", f"## {row['target']}", ""]
            if row.get("base_model_why"):
                lines.append(f"- base model: {row['base_model_why']}")
            if row.get("job_id"):
                lines.append(f"- job `{row['job_id']}`, model `{row.get('model') or 'none'}`")
            lines += [f"- hyperparameters: {n}" for n in row.get("hyperparameter_notes", [])]
            lines += [f"- preflight: {w}" for w in row.get("preflight", [])]
            if row.get("actual_usd_basis"):
                lines.append(f"- actual cost: {row['actual_usd_basis']}")
            if row.get("error"):
                lines.append(f"- **why it did not succeed**: {row['error']}")
            if row.get("eval_note"):
                lines.append(f"- evaluation: {row['eval_note']}")
            ev = row.get("eval")
            if ev:
                from ..evaluate.report import flips_line

                lines.append(f"- {ev['n']} held-out examples; full report in `{ev['files']}`")
                if ev.get("ci_note"):
                    lines.append(f"- {ev['ci_note']}")
                if ev.get("flips"):
                    lines.append("- " + flips_line(ev["flips"]))
            curve = row.get("loss_curve") or []
            losses = [p["train_loss"] for p in curve if p.get("train_loss") is not None]
            if losses:
                lines.append(f"- training loss {losses[0]:.3f} -> {losses[-1]:.3f} over"
                             f" {len(curve)} points (curve in report.html)")
        return "\n".join(lines).rstrip() + "\n"

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """report.md, report.json and report.html in ``out_dir``, each written atomically."""
        from .html import render_html

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"markdown": out / "report.md", "json": out / "report.json",
                 "html": out / "report.html"}
        texts = {"markdown": self.to_markdown(), "json": self.to_json(),
                 "html": render_html(self)}
        for key, path in paths.items():
            fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{path.name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(texts[key])
            os.replace(tmp, path)
        return paths
