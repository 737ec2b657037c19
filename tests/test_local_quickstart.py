"""README's main command and `finetune train`, run as a user would: fresh processes, offline."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from local_support import cli, make_home  # noqa: E402

from finetune_sdk.ledger import Ledger  # noqa: E402

pytestmark = pytest.mark.slow


def test_quickstart_runs_the_whole_loop_offline(tmp_path):
    home = tmp_path / "home"  # nothing prebuilt: the quickstart builds the tiny model itself
    work = tmp_path / "work"
    done = cli(home, "quickstart", "--workdir", str(work), "--eval-examples", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    out = " ".join(done.stdout.split())  # rich wraps long lines
    for step in ("validate", "split", "model", "train", "model id", "chat", "eval", "serve"):
        assert re.search(rf"\b{step}\b", out), step
    assert re.search(r"finetune serve local:\S+", out.replace("\n", ""))  # how to serve it
    match = re.search(r"training loss (\d+\.\d+) -> (\d+\.\d+) \(went down\)", out)
    assert match and float(match.group(2)) < float(match.group(1))
    for header in ("BLEU", "ROUGE-L", "Win rate"):
        assert header in out
    report = json.loads((work / "eval" / "report.json").read_text())
    assert len(report["rows"]) == 4 and (work / "eval" / "report.md").is_file()
    assert (work / "train.jsonl").is_file() and (work / "validation.jsonl").is_file()
    jobs = list(Ledger(home / "ledger.sqlite3").list())
    assert len(jobs) == 1 and jobs[0].status == "succeeded"
    assert jobs[0].model_id and jobs[0].model_id in out.replace(" ", "")


def test_train_command_prints_the_model_id(tmp_path):
    home = make_home(tmp_path / "home")
    done = cli(home, "train", str(home / "train.jsonl"), "--base-model", "tiny",
               "--epochs", "1", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["job"]["status"] == "succeeded"
    assert result["model"]["id"] == result["job"]["output_model"]
    assert result["model"]["id"].startswith("local:")

    refused = cli(home, "train", str(home / "train.jsonl"), "--base-model", "tiny",
                  "--provider", "fake", "--gpus", "2")
    assert refused.returncode == 2 and "--gpus" in refused.stderr
