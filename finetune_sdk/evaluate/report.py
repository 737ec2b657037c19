"""The comparison report: per-example rows, aggregates with intervals, win rate; markdown, JSON,
a small plot (when matplotlib is installed) and an HTML view for notebooks."""

from __future__ import annotations

import html
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["EvalReport", "flips_line"]

_LABELS = {"bleu": "BLEU", "rouge_l": "ROUGE-L", "exact_match": "Exact match",
           "length": "Length (words)", "judge": "Judge"}


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ci(pair: Any) -> str:
    if not pair:  # None: too few examples for an interval (the report's ci_note says so)
        return "[no CI]"
    return f"[{_fmt(pair[0])}, {_fmt(pair[1])}]"


def flips_line(flips: dict[str, Any]) -> str:
    """One sentence on the pass/fail flips (``evaluate.flips``), for markdown and the CLI."""
    label = _LABELS.get(flips["metric"], flips["metric"])

    def lines(items: list[dict[str, Any]]) -> str:
        shown = ", ".join(str(i["line"]) for i in items[:10])
        return f" (lines {shown}{', ...' if len(items) > 10 else ''})" if items else ""

    return (f"Flips on {label} (passes at >= {flips['threshold']:g}): tuned passes where base"
            f" fails on {len(flips['gained'])}{lines(flips['gained'])}; base passes where tuned"
            f" fails on {len(flips['lost'])}{lines(flips['lost'])}; both pass"
            f" {flips['both_pass']}, both fail {flips['both_fail']}; McNemar exact p ="
            f" {flips['mcnemar_p']:.3g}.")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class EvalReport:
    """What ``compare`` found. ``rows``: one dict per held-out example; ``aggregates``: per
    metric the base and tuned means with 95 % bootstrap intervals, the paired difference, and
    ``win_rate`` (tuned beats base on ``win_metric``; ties count half)."""

    base: str
    tuned: str
    data: str
    metrics: list[str]
    params: dict[str, Any]
    rows: list[dict[str, Any]]
    aggregates: dict[str, Any]
    seed: int = 0
    new_calls: dict[str, int] = field(default_factory=dict)
    """Model calls made by this run (0 when every answer came from the cache)."""
    ci_note: str | None = None
    """Why there are no intervals (fewer than ``metrics.MIN_CI_EXAMPLES`` examples): every
    ``*_ci`` is then None."""

    @property
    def win_rate(self) -> float:
        return float(self.aggregates["win_rate"]["value"])

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "tuned": self.tuned, "data": self.data,
                "metrics": self.metrics, "params": self.params, "seed": self.seed,
                "n": len(self.rows), "ci_note": self.ci_note, "aggregates": self.aggregates,
                "rows": self.rows}

    def summary(self) -> dict[str, Any]:
        """The aggregates only (what a manifest keeps)."""
        return {"base": self.base, "tuned": self.tuned, "data": self.data, "n": len(self.rows),
                "ci_note": self.ci_note, "aggregates": self.aggregates}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False,
                          default=str) + "\n"

    def table_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(metric, base, tuned, tuned - base [CI], note) for tables (markdown, CLI)."""
        out = []
        for name in [*self.metrics, *(["judge"] if "judge" in self.aggregates else [])]:
            agg = self.aggregates[name]
            out.append((_LABELS.get(name, name),
                        f"{_fmt(agg['base'])} {_ci(agg['base_ci'])}",
                        f"{_fmt(agg['tuned'])} {_ci(agg['tuned_ci'])}",
                        f"{_fmt(agg['delta'])} {_ci(agg['delta_ci'])}",
                        "" if agg.get("higher_is_better") else "informational"))
        win = self.aggregates["win_rate"]
        out.append(("Win rate (tuned)", "", f"{_fmt(win['value'])} {_ci(win['ci'])}", "",
                    f"{win['wins']} wins / {win['ties']} ties / {win['losses']} losses on"
                    f" {_LABELS.get(win['metric'], win['metric'])}"))
        return out

    def to_markdown(self, examples: int = 5) -> str:
        intervals = (f"**{self.ci_note}**." if self.ci_note
                     else f"95 % bootstrap intervals (seed {self.seed}).")
        lines = [f"# Evaluation: `{self.tuned}` vs `{self.base}`", "",
                 f"{len(self.rows)} held-out examples from `{self.data}`; identical prompts and"
                 f" sampling settings `{json.dumps(self.params, sort_keys=True)}`; {intervals}",
                 "",
                 "| Metric | Base | Tuned | Tuned - base | Note |",
                 "|---|---|---|---|---|"]
        lines += ["| " + " | ".join(r) + " |" for r in self.table_rows()]
        if self.aggregates.get("flips"):
            lines += ["", flips_line(self.aggregates["flips"])]
        if examples and self.rows:
            lines += ["", f"## First {min(examples, len(self.rows))} examples", ""]
            for row in self.rows[:examples]:
                lines += [f"### Example {row['index']} (line {row['line']})", "",
                          f"**Prompt:** {row['prompt']}", "",
                          f"**Reference:** {row['reference']}", "",
                          f"**Base:** {row['base_response']}", "",
                          f"**Tuned:** {row['tuned_response']}", "",
                          f"Winner: {row['winner']}", ""]
        return "\n".join(lines).rstrip() + "\n"

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """report.md, report.json (and report.png with matplotlib), each written atomically."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"markdown": out / "report.md", "json": out / "report.json"}
        _atomic_write(paths["json"], self.to_json().encode())
        _atomic_write(paths["markdown"], self.to_markdown().encode())
        plot = self.plot(out / "report.png")
        if plot is not None:
            paths["plot"] = plot
        return paths

    def plot(self, path: str | Path) -> Path | None:
        """Bar chart of base vs tuned per scored metric; None when matplotlib is missing."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return None
        names = [n for n in self.metrics if self.aggregates[n].get("higher_is_better")]
        scale = {"bleu": 0.01}  # BLEU is 0-100; put every bar on 0-1
        fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(names), 3))
        xs = range(len(names))
        for offset, side in ((-0.2, "base"), (0.2, "tuned")):
            ax.bar([x + offset for x in xs],
                   [self.aggregates[n][side] * scale.get(n, 1) for n in names],
                   width=0.4, label=side)
        ax.set_xticks(list(xs),
                      [_LABELS.get(n, n) + (" /100" if n == "bleu" else "") for n in names])
        ax.set_title(f"win rate {self.win_rate:.2f}")
        ax.legend()
        fig.tight_layout()
        target = Path(path)
        fig.savefig(target)
        plt.close(fig)
        return target

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("Metric", "Base", "Tuned", "Tuned - base", ""))
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                       for row in self.table_rows())
        title = html.escape(f"{self.tuned} vs {self.base} ({len(self.rows)} examples)")
        note = f"<p>{html.escape(self.ci_note)}</p>" if self.ci_note else ""
        return f"<b>{title}</b><table><tr>{head}</tr>{body}</table>{note}"
