"""Notebook rendering: HTML is escaped, loss curves are drawn from the metric points."""

from __future__ import annotations

import json

from finetune_sdk.display import MetricSeries, html_table, svg_curve
from finetune_sdk.types import Job, JobFailure, JobStatus, MetricPoint, ModelRef


def test_job_html_shows_status_and_escapes_vendor_text() -> None:
    job = Job(id="j1", provider="openai", status=JobStatus.FAILED, provider_status="failed",
              error=JobFailure(message="<script>bad</script> on line 3"))
    rendered = job._repr_html_()
    assert "failed (failed)" in rendered
    assert "<script>" not in rendered and "&lt;script&gt;bad" in rendered


def test_model_ref_html() -> None:
    ref = ModelRef(id="accounts/a/models/m", provider="fireworks", ready_for_inference=False,
                   how_to_serve="create a deployment")
    assert "create a deployment" in ref._repr_html_()


def test_curve_scales_first_point_high_and_last_low() -> None:
    svg = svg_curve([3.0, 2.0, 1.0], width=110, height=40)
    coords = svg.split('points="')[1].split('"')[0].split()
    first_y, last_y = float(coords[0].split(",")[1]), float(coords[-1].split(",")[1])
    assert first_y < last_y  # SVG y grows downwards: a falling loss ends lower on screen
    assert "3 → 1" in svg
    assert svg_curve([1.0]) == ""


def test_metric_series_is_a_list_with_a_plot() -> None:
    series = MetricSeries(MetricPoint(step=i, train_loss=1 / i) for i in range(1, 30))
    assert len(series) == 29 and series[0].step == 1
    html = series._repr_html_()
    assert "<svg" in html and "last 10 of 29" in html


def test_html_table_blank_for_none() -> None:
    assert "<td style='padding:2px 8px'></td>" in html_table([("a", None)])


def test_dataset_stats_html_has_the_numbers_and_a_histogram(tmp_path) -> None:
    from finetune_sdk.data.stats import compute_stats

    data = tmp_path / "chats.jsonl"
    short = {"messages": [{"role": "user", "content": "hi"},
                          {"role": "assistant", "content": "yo"}]}
    long = {"messages": [{"role": "user", "content": "word " * 300},
                         {"role": "assistant", "content": "<b>ok</b> " * 50}]}
    data.write_text("".join(json.dumps(r) + "\n" for r in [short, short, short, long]))
    stats = compute_stats(data, epochs=2)
    html = stats._repr_html_()
    assert "<td style='padding:2px 8px'>4</td>" in html  # examples
    assert f"{stats.training_tokens:,}" in html and "estimate" in html
    bars = [cell for cell in html.split("<td style='padding:2px 8px'>") if cell.startswith("#")]
    assert len(bars) == len(stats.histogram) == 2
    assert len(bars[0].split("<")[0]) == 40  # the biggest bucket (3 short chats) is full width
