"""examples/fireworks_workflow.py runs against the real Fireworks adapter and the Fireworks mock,
and runs again after an edit (a new output model, not a clash with the first one)."""

from __future__ import annotations

import re
import runpy
import time
from pathlib import Path

import pytest

from finetune_sdk.config import env_file_values
from finetune_sdk.providers.fireworks.adapter import FireworksProvider
from finetune_sdk.testing.mock_servers.fireworks import FireworksMockServer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fireworks_workflow.py"


@pytest.fixture
def mock(httpx2_mock, monkeypatch, tmp_path):
    mock = FireworksMockServer(auto_advance=True)
    mock.mount(httpx2_mock)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FINETUNE_PROVIDER", "fireworks")
    monkeypatch.setenv("FIREWORKS_API_KEY", "fw-example-test")
    monkeypatch.setenv("FIREWORKS_ACCOUNT_ID", mock.account)
    monkeypatch.setenv("FIREWORKS_BASE_URL", mock.base_url)
    monkeypatch.setattr(time, "sleep", lambda s: None)  # upload processing waits
    monkeypatch.setattr(FireworksProvider, "poll_interval", lambda self: 0.0)  # job polling
    return mock


def test_fireworks_example_end_to_end(mock, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DEPLOY", "1")
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    (job,) = mock.jobs.values()
    assert job["state"] == "JOB_STATE_COMPLETED"
    assert job["baseModel"] == "accounts/fireworks/models/gpt-oss-20b"
    assert (job["epochs"], job["batchSizeSamples"], job["learningRate"], job["loraRank"]) == (
        3,
        8,
        1e-4,
        16,
    )
    model = env_file_values(tmp_path / ".env")["FIREWORKS_MODEL_ID"]
    assert re.match(r"accounts/mock-account/models/health-coach-gpt-oss-20b-[0-9a-f]{8}#", model)
    assert "needs a deployment first" in capsys.readouterr().out


def test_the_example_runs_again_after_an_edit_and_unchanged(mock, tmp_path, monkeypatch):
    """Fireworks refuses a second job writing a model that exists: an edited re-run must name a
    new model, and an unchanged re-run (even from a fresh ledger) attaches to the first job."""
    edited = tmp_path / "examples" / "fireworks_workflow.py"
    edited.parent.mkdir()
    (edited.parent / "data").symlink_to(EXAMPLE.parent / "data")
    edited.write_text(EXAMPLE.read_text(encoding="utf-8").replace("epochs=3,", "epochs=2,"),
                      encoding="utf-8")
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    first = env_file_values(tmp_path / ".env")["FIREWORKS_MODEL_ID"]
    runpy.run_path(str(edited), run_name="__main__")
    second = env_file_values(tmp_path / ".env")["FIREWORKS_MODEL_ID"]
    assert first != second and len(mock.jobs) == 2
    assert sorted(j["epochs"] for j in mock.jobs.values()) == [2, 3]
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(tmp_path / "another-home"))
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    assert env_file_values(tmp_path / ".env")["FIREWORKS_MODEL_ID"] == first
    assert len(mock.jobs) == 2
