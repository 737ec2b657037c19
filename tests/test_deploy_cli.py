"""``finetune deploy / deployments / undeploy`` in fresh processes on the fake provider: the
deployment is in the ledger, listed with its price and money so far from another shell, warned
about when idle, a rerun attaches, and undeploy tears it down."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from finetune_sdk.testing.conformance import write_chat_jsonl


def cli(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FINETUNE_SDK_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", "from finetune_sdk.cli import main; main()",
                           *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def job_id(tmp_path) -> str:
    data = write_chat_jsonl(tmp_path / "train.jsonl", 12)
    done = cli(tmp_path / "home", "train", str(data), "-p", "fake", "--base-model", "base",
               "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["job"]["id"]


def test_deploy_list_undeploy_from_fresh_processes(tmp_path, job_id) -> None:
    home = tmp_path / "home"
    done = cli(home, "deploy", job_id)
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "ready" in out and "chat with: fake:ft-" in out and "$1.00/h" in out
    assert "finetune undeploy fake-deployments/ftsdk-" in out
    assert "billed" in done.stderr
    again = cli(home, "deploy", job_id, "--json")
    dep = json.loads(again.stdout)
    assert again.returncode == 0 and dep["status"] == "ready"
    assert len(list((home / "fake" / "deployments").glob("*.json"))) == 1  # a rerun attaches

    listed = cli(home, "deployments", "--json")
    [row] = json.loads(listed.stdout)
    assert row["id"] == dep["id"] and row["price_per_hour"] == 1.0
    assert row["accrued_usd"] is not None and row["accrued_usd"] >= 0
    table = cli(home, "deployments")
    assert dep["id"] in table.stdout and "$1.00/h" in table.stdout and "accrued" in table.stdout
    assert "idle" not in table.stderr  # just made

    # an hour and a half later, unused: the listing warns
    with sqlite3.connect(home / "ledger.sqlite3") as conn:
        old = (datetime.now(UTC) - timedelta(minutes=90)).isoformat(timespec="seconds")
        conn.execute("UPDATE deployments SET created_at = ?, ready_at = ?", (old, old))
    warned = cli(home, "deployments")
    assert "idle for 1.5 h" in " ".join(warned.stderr.split())
    assert "$1.50" in warned.stderr and "finetune undeploy" in warned.stderr
    quiet = cli(home, "deployments", "--idle-after", "2h")
    assert "idle for" not in quiet.stderr

    gone = cli(home, "undeploy", dep["id"])
    assert gone.returncode == 0 and "deleted" in gone.stdout, gone.stderr
    assert "no live deployments" in cli(home, "deployments").stdout
    assert dep["id"] in cli(home, "deployments", "--all").stdout
    assert cli(home, "undeploy", dep["id"]).returncode == 0  # twice is fine


def test_unknown_deployment_and_unknown_provider_are_one_line_errors(tmp_path) -> None:
    home = tmp_path / "home"
    unknown = cli(home, "undeploy", "nope")
    assert unknown.returncode == 3 and "not in the ledger" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    guess = cli(home, "deploy", "some-model")
    assert guess.returncode == 2 and "--provider" in guess.stderr
