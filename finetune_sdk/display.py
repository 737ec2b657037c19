"""Notebook display: small HTML tables and an inline SVG loss curve (no plotting library needed).

Objects with a ``_repr_html_`` (Job, ModelRef, metrics, dataset stats, eval reports) build on these
two helpers so Jupyter shows a readable table instead of a wall of pydantic repr.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .types import MetricPoint

__all__ = ["MetricSeries", "html_table", "svg_curve"]


def html_table(rows: Iterable[Sequence[Any]], *, header: Sequence[str] | None = None,
               title: str | None = None) -> str:
    """An HTML table; every cell is escaped, ``None`` cells are left empty."""
    parts = ['<table style="border-collapse:collapse">']
    if title:
        parts.append(f"<caption style='text-align:left'><b>{html.escape(title)}</b></caption>")
    if header:
        cells = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(str(h))}</th>"
                        for h in header)
        parts.append(f"<tr>{cells}</tr>")
    for row in rows:
        cells = "".join(
            f"<td style='padding:2px 8px'>{'' if v is None else html.escape(str(v))}</td>"
            for v in row
        )
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</table>")
    return "".join(parts)


def svg_curve(values: Sequence[float], *, width: int = 320, height: int = 80,
              label: str = "loss") -> str:
    """A polyline of ``values`` scaled into a small SVG, with first/last values labelled."""
    points = [v for v in values if v is not None]
    if len(points) < 2:
        return ""
    low, high = min(points), max(points)
    span = (high - low) or 1.0
    step = (width - 10) / (len(points) - 1)
    coords = " ".join(
        f"{5 + i * step:.1f},{5 + (height - 20) * (1 - (v - low) / span):.1f}"
        for i, v in enumerate(points)
    )
    caption = html.escape(f"{label}: {points[0]:.4g} → {points[-1]:.4g} ({len(points)} points)")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{coords}"/>'
        f'<text x="5" y="{height - 3}" font-size="11">{caption}</text></svg>'
    )


class MetricSeries(list["MetricPoint"]):
    """``client.jobs.metrics(...)``: a plain list of MetricPoint that draws its loss curve."""

    def _repr_html_(self) -> str:
        losses = [p.train_loss for p in self if p.train_loss is not None]
        rows = [(p.step, p.epoch, p.train_loss, p.valid_loss, p.learning_rate) for p in self[-10:]]
        table = html_table(rows, header=("step", "epoch", "train loss", "valid loss", "lr"),
                           title=f"last {len(rows)} of {len(self)} metric points")
        return svg_curve(losses, label="train loss") + table
