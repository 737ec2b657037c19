"""examples/fireworks_workflow.py runs against the real Fireworks adapter and the Fireworks mock."""

from __future__ import annotations

import runpy
import time
from pathlib import Path

from finetune_sdk.config import env_file_values
from finetune_sdk.providers.fireworks.adapter import FireworksProvider
from finetune_sdk.testing.mock_servers.fireworks import FireworksMockServer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fireworks_workflow.py"


def test_fireworks_example_end_to_end(httpx2_mock, monkeypatch, tmp_path, capsys):
    mock = FireworksMockServer(auto_advance=True)
    mock.mount(httpx2_mock)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FINETUNE_PROVIDER", "fireworks")
    monkeypatch.setenv("FIREWORKS_API_KEY", "fw-example-test")
    monkeypatch.setenv("FIREWORKS_ACCOUNT_ID", mock.account)
    monkeypatch.setenv("FIREWORKS_BASE_URL", mock.base_url)
    monkeypatch.setenv("DEPLOY", "1")
    monkeypatch.setattr(time, "sleep", lambda s: None)  # upload processing waits
    monkeypatch.setattr(FireworksProvider, "poll_interval", lambda self: 0.0)  # job polling
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
    assert model.startswith("accounts/mock-account/models/health-coach-gpt-oss-20b#")
    assert "needs a deployment first" in capsys.readouterr().out
