"""`finetune bakeoff -t fake -t local:tiny` killed (SIGKILL) while the local job trains, then
run again: it continues from the ledger and trains nothing twice; the three reports appear."""

from __future__ import annotations

import json

import pytest
from local_support import cli, make_home, poll_until, start_cli
from migrate_support import small_data

pytest.importorskip("torch")
pytest.importorskip("peft")
pytestmark = pytest.mark.slow


def test_killed_bakeoff_resumes_without_a_second_job(tmp_path):
    home = make_home(tmp_path / "home")
    data = small_data(tmp_path / "chats.jsonl", 40)
    out = tmp_path / "out"
    args = ["bakeoff", str(data), "-t", "fake", "-t", "local:tiny", "--out", str(out),
            "--val", "0.25", "--limit", "2", "--max-tokens", "4"]
    first = start_cli(home, *args)
    jobs = home / "local" / "jobs"
    try:
        poll_until(lambda: jobs.is_dir() and any(jobs.glob("ftjob-local-*/spec.json")),
                   timeout=120, every=0.05)
    finally:
        first.kill()  # SIGKILL: no cleanup, no report; the detached worker trains on
        first.communicate(timeout=30)
    assert first.returncode != 0
    assert not (out / "report.json").exists()

    again = cli(home, *args, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(list(jobs.glob("ftjob-local-*"))) == 1
    assert len(list((home / "fake" / "jobs").glob("ftjob-fake-*.json"))) == 1
    report = json.loads((out / "report.json").read_text())
    rows = {r["target"]: r for r in report["targets"]}
    assert rows["local:tiny"]["attached"] and rows["local:tiny"]["status"] == "succeeded"
    assert rows["local:tiny"]["eval"]["n"] == 2 and rows["local:tiny"]["loss_curve"]
    assert rows["fake"]["status"] == "succeeded"
    for name in ("report.md", "report.html"):
        assert (out / name).is_file()
    assert "attached to job" in again.stderr
