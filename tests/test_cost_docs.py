"""docs/costs.md shows the bundled price table exactly as prices.json has it."""

from __future__ import annotations

from pathlib import Path

from finetune_sdk.cost import bundled_prices, price_table_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "costs.md"


def test_costs_doc_table_matches_the_data():
    text = DOC.read_text(encoding="utf-8")
    start = text.index("\n", text.index("<!-- prices:start")) + 1
    end = text.index("<!-- prices:end")
    assert text[start:end] == price_table_markdown(bundled_prices()), (
        "docs/costs.md price table is stale: paste price_table_markdown(bundled_prices())")
