"""``report.html``: the bakeoff/migration report as one self-contained page.

The table of ``BakeoffReport.table()``, the training-loss curves of every target drawn as inline
SVG (one chart, one colour per target, validation loss dashed where the provider reports it),
and per target its details and flipped examples. No scripts, no fonts, no images or styles
fetched from anywhere: the file opens offline and can be attached to an email as it is.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .report import BakeoffReport

__all__ = ["loss_chart_svg", "render_html"]

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2")
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .5em;
text-align:left;vertical-align:top;font-size:.9em}th{background:#f3f3f3}
code{background:#f6f6f6;padding:0 .2em}.bad{color:#b00}.note{color:#555}
section{border-top:1px solid #ddd;margin-top:1.5em}svg{background:#fcfcfc;border:1px solid #ddd}"""
WIDTH, HEIGHT, PAD = 640, 260, 40


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _series(row: dict[str, Any], key: str) -> list[tuple[float, float]]:
    return [(float(p["step"]), float(p[key])) for p in row.get("loss_curve") or []
            if p.get(key) is not None]


def loss_chart_svg(rows: list[dict[str, Any]]) -> str:
    """One SVG with every target's train (solid) and validation (dashed) loss by step; an empty
    string when no target reported a loss."""
    lines = []
    for i, row in enumerate(rows):
        colour = COLOURS[i % len(COLOURS)]
        for key, dash in (("train_loss", ""), ("valid_loss", "6,4")):
            points = _series(row, key)
            if points:
                lines.append((row["target"], key, colour, dash, points))
    if not lines:
        return ""
    xs = [x for *_, pts in lines for x, _ in pts]
    ys = [y for *_, pts in lines for _, y in pts]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y0, y1 = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1

    def at(x: float, y: float) -> str:
        px = PAD + (x - x0) / (x1 - x0) * (WIDTH - 2 * PAD)
        py = HEIGHT - PAD - (y - y0) / (y1 - y0) * (HEIGHT - 2 * PAD)
        return f"{px:.1f},{py:.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}"'
             f' viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="loss curves">',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"'
             ' stroke="#999"/>',
             f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
             f'<text x="{PAD}" y="{HEIGHT - 12}" font-size="11">step {x0:g}</text>',
             f'<text x="{WIDTH - PAD}" y="{HEIGHT - 12}" font-size="11" text-anchor="end">'
             f'step {x1:g}</text>',
             f'<text x="4" y="{PAD}" font-size="11">{y1:.2f}</text>',
             f'<text x="4" y="{HEIGHT - PAD}" font-size="11">{y0:.2f}</text>']
    for n, (label, key, colour, dash, points) in enumerate(lines):
        path = " ".join(at(x, y) for x, y in points)
        style = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{style}'
                     f' points="{path}"><title>{_e(label)} {key}</title></polyline>')
        parts.append(f'<text x="{WIDTH - 220}" y="{PAD + 14 * n}" font-size="11"'
                     f' fill="{colour}">{_e(label)} ({key.replace("_loss", "")})</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_e(c.strip('`'))}</td>" for c in r) + "</tr>"
                   for r in rows[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


def _flip_list(title: str, items: list[dict[str, Any]]) -> str:
    if not items:
        return f"<p>{_e(title)}: none.</p>"
    lis = "".join(f"<li>line {_e(i.get('line'))}: {_e(i.get('prompt'))} ({_e(round(i['base'], 3))}"
                  f" -&gt; {_e(round(i['tuned'], 3))})</li>" for i in items[:50])
    more = f"<p class=note>and {len(items) - 50} more (report.json)</p>" if len(items) > 50 else ""
    return f"<p>{_e(title)} ({len(items)}):</p><ul>{lis}</ul>{more}"


def _section(row: dict[str, Any], vs: str) -> str:
    out = [f"<section><h2>{_e(row['target'])}</h2><ul>"]
    items = [("base model", f"{row['base_model']}" + (f" — {row['base_model_why']}"
                                                       if row.get("base_model_why") else "")),
             ("job", row.get("job_id")), ("model", row.get("model")),
             ("intent key", row.get("client_ref")), ("actual cost", row.get("actual_usd_basis")),
             ("evaluation", row.get("eval_note"))]
    out += [f"<li>{_e(k)}: <code>{_e(v)}</code></li>" for k, v in items if v]
    out += [f"<li>hyperparameters: {_e(n)}</li>" for n in row.get("hyperparameter_notes", [])]
    out += [f"<li>preflight: {_e(w)}</li>" for w in row.get("preflight", [])]
    if row.get("error"):
        out.append(f"<li class=bad>why it did not succeed: {_e(row['error'])}</li>")
    out.append("</ul>")
    ev = row.get("eval")
    if ev:
        flips = ev.get("flips") or {}
        out.append(f"<p>{ev['n']} held-out examples. Flips on {_e(flips.get('metric'))}"
                   f" (passes at &gt;= {_e(flips.get('threshold'))}), McNemar exact p ="
                   f" {_e(round(flips.get('mcnemar_p', 1.0), 4))}:</p>")
        out.append(_flip_list(f"tuned passes, {vs} fails", flips.get("gained", [])))
        out.append(_flip_list(f"{vs} passes, tuned fails", flips.get("lost", [])))
    return "".join(out) + "</section>"


def render_html(report: BakeoffReport) -> str:
    """The whole page as a string."""
    rows = report.rows
    vs = "source" if report.kind == "migration" else "base"
    chart = loss_chart_svg(rows) or "<p class=note>No target reported a loss curve.</p>"
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.notes)
    split = report.split or {}
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>{_e(report.title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{_e(report.title)}</h1><p>Written {_e(report.written_at)}. Compared with:"
            f" {_e(report.baseline)}. Held-out set: <code>{_e(split.get('heldout'))}</code>"
            f" ({_e(split.get('heldout_examples'))} examples, the same for every target).</p>"
            f"<ul>{notes}</ul>{_table(report.table())}<h2>Training loss</h2>{chart}"
            + "".join(_section(r, vs) for r in rows) + "</body></html>\n")
