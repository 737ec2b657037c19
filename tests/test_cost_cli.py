"""`finetune estimate`: the table, --json, and --max-usd refusal (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from finetune_sdk.cli import _register_commands
from finetune_sdk.cli.app import app

runner = CliRunner()
_register_commands()


def _data(tmp_path: Path) -> Path:
    path = tmp_path / "t.jsonl"
    row = {"messages": [{"role": "user", "content": "abcdefgh"},
                        {"role": "assistant", "content": "ijklmnop"}]}
    path.write_text((json.dumps(row) + "\n") * 10)  # 10 x 12 = 120 estimated tokens
    return path


def _prices(tmp_path: Path, monkeypatch) -> None:
    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"prices": [{"provider": "openai", "model": "*",
                                             "unit": "1M_tokens", "usd": 1000.0,
                                             "date": "2026-11-01", "source": "test"}]}))
    monkeypatch.setenv("FINETUNE_SDK_PRICES", str(table))


def test_estimate_json(tmp_path, monkeypatch):
    _prices(tmp_path, monkeypatch)
    result = runner.invoke(app, ["estimate", str(_data(tmp_path)), "-p", "openai", "-m", "m",
                                 "--epochs", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["billed_tokens"] == 240
    assert abs(data["usd_high"] - 0.3) < 1e-9  # 240/1e6*1000 = 0.24, +25 %


def test_estimate_max_usd_refuses(tmp_path, monkeypatch):
    _prices(tmp_path, monkeypatch)
    args = ["estimate", str(_data(tmp_path)), "-p", "openai", "-m", "m", "--epochs", "2"]
    refused = runner.invoke(app, [*args, "--max-usd", "0.25"])
    assert refused.exit_code == 2
    assert "above --max-usd 0.25" in refused.output
    assert runner.invoke(app, [*args, "--max-usd", "0.31"]).exit_code == 0


def test_estimate_unknown_price_table(tmp_path):
    result = runner.invoke(app, ["estimate", str(_data(tmp_path)), "-p", "gemini", "-m",
                                 "gemini-3.5-flash"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "unknown" in result.output and "120" in result.output


def test_estimate_local_tiny_duration_and_bad_input(tmp_path):
    result = runner.invoke(app, ["estimate", str(_data(tmp_path)), "-p", "local", "--epochs",
                                 "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "$0.00 - $0.00" in result.output and " s - " in result.output  # seconds, not "0 min"
    unknown = runner.invoke(app, ["estimate", str(_data(tmp_path)), "-p", "opneai", "-m", "m"])
    assert unknown.exit_code == 2 and "Did you mean 'openai'" in unknown.output
    unchecked = runner.invoke(app, ["estimate", str(_data(tmp_path)), "-p", "gemini", "-m",
                                    "gemini-3.5-flash", "--max-usd", "5"])
    assert unchecked.exit_code == 2 and "cannot be checked" in unchecked.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "q", "completion": "a"}\n{"prompt": \n')
    broken = runner.invoke(app, ["estimate", str(bad), "-p", "fake"])
    assert broken.exit_code == 2 and "bad.jsonl:2" in broken.output
    assert "Traceback" not in broken.output
