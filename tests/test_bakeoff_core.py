"""bakeoff() over the offline fake provider: one split for all, parallel under caps, resumable,
one failing target reported while the others finish, and the three report files."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from finetune_sdk.bakeoff import bakeoff
from finetune_sdk.bakeoff.plan import Plan
from finetune_sdk.bakeoff.targets import (
    concurrency_caps,
    default_base_model,
    load_defaults,
    parse_caps,
    parse_target,
)
from finetune_sdk.client import Client
from finetune_sdk.errors import ConfigurationError
from finetune_sdk.facts import load_facts
from finetune_sdk.ledger import Ledger
from finetune_sdk.providers.fake import FakeProvider

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "health_chats.jsonl"
FAIL = {"provider": "fake", "base_model": "broken", "options": {"fail_with": "loss went NaN"}}


def _fake_jobs(home: Path) -> list[Path]:
    return sorted((home / "fake" / "jobs").glob("ftjob-fake-*.json"))


def test_default_base_models_are_catalog_entries_not_retired():
    for provider, model in load_defaults()["base_models"].items():
        if provider == "fake":
            continue
        entry = load_facts(provider).find(model)
        # OpenAI and Azure are winding down as a whole: "not retired" is all they can be.
        assert entry is not None and entry.status != "retired", (provider, model)
    assert default_base_model("local") is None  # a local model must be named


def test_targets_parse_and_caps():
    t = parse_target("bedrock:amazon.nova-lite-v1:0:300k")
    assert (t.provider, t.base_model) == ("bedrock", "amazon.nova-lite-v1:0:300k")
    assert parse_target("vertex").provider == "gemini"  # aliases are canonical
    with pytest.raises(ConfigurationError, match="unknown provider"):
        parse_target("fireworkz:x")
    assert parse_caps(["fireworks=3"]) == {"fireworks": 3}
    with pytest.raises(ConfigurationError, match="PROVIDER=N"):
        parse_caps(["fireworks=0"])
    caps = concurrency_caps({"fake": 1})
    assert caps["fake"] == 1 and caps["local"] == 1 and caps["default"] >= 1


def test_bakeoff_trains_each_target_once_and_reports_a_failure(tmp_path, isolated_home):
    out = tmp_path / "out"
    events: list[tuple[str, str]] = []
    report = bakeoff(SAMPLE, ["fake", "fake:gpt-4.1-mini-2025-04-14", FAIL], out=out,
                     poll_interval=0, on_event=lambda t, m: events.append((t, m)))
    rows = {r["target"]: r for r in report.rows}
    assert rows["fake"]["status"] == rows["fake:gpt-4.1-mini-2025-04-14"]["status"] == "succeeded"
    assert rows["fake:broken"]["status"] == "failed"
    assert rows["fake:broken"]["error"] == "loss went NaN"
    assert rows["fake:broken"]["eval_note"] == "not evaluated: the job failed"
    # Every target was evaluated on the same held-out file against its own base model.
    heldout = out / "data" / "heldout.jsonl"
    n = sum(1 for line in heldout.read_text().splitlines() if line.strip())
    for name in ("fake", "fake:gpt-4.1-mini-2025-04-14"):
        ev = rows[name]["eval"]
        assert ev["n"] == n and ev["baseline"] == rows[name]["base_model"]
        assert ev["win_rate"]["value"] > 0.5 and ev["win_rate"]["ci"] is not None
        assert ev["metrics"]["rouge_l"]["delta_ci"] is not None
        assert set(ev["flips"]) >= {"gained", "lost", "mcnemar_p", "threshold"}
        assert rows[name]["loss_curve"] and rows[name]["estimate"]["price_date"]
        assert rows[name]["actual_usd"] == 0.0
    assert len(_fake_jobs(isolated_home)) == 3
    assert any("created job" in m for _, m in events) and any("succeeded" in m for _, m in events)
    for name in ("report.md", "report.json", "report.html", "plan.md", "state.json"):
        assert (out / name).is_file(), name
    md = (out / "report.md").read_text()
    assert "loss went NaN" in md and "Win rate over base" in md and "Flips on ROUGE-L" in md
    page = (out / "report.html").read_text()
    assert "<polyline" in page and "loss went NaN" in page
    # Self-contained: nothing is fetched from anywhere (the only URL is SVG's namespace).
    assert not re.search(r"(src|href)=", page)
    assert set(re.findall(r"https?://[^\s\"'<]+", page)) <= {"http://www.w3.org/2000/svg"}
    data = json.loads((out / "report.json").read_text())
    assert data["kind"] == "bakeoff" and len(data["targets"]) == 3

    again = bakeoff(SAMPLE, ["fake", "fake:gpt-4.1-mini-2025-04-14", FAIL], out=out,
                    poll_interval=0)
    assert len(_fake_jobs(isolated_home)) == 3  # nothing trained twice
    assert all(r["attached"] for r in again.rows)
    assert all(r["eval"]["new_calls"] == {"base": 0, "tuned": 0}
               for r in again.rows if r["eval"])
    assert [r["job_id"] for r in again.rows] == [r["job_id"] for r in report.rows]


def test_dry_run_sends_nothing_and_a_target_without_key_is_blocked(tmp_path, isolated_home):
    plan = bakeoff(SAMPLE, ["fake", "fireworks", "local"], out=tmp_path / "out", dry_run=True)
    assert isinstance(plan, Plan)
    assert _fake_jobs(isolated_home) == []
    by = {p.label: p for p in plan.targets}
    assert by["fake"].blocked is None and by["fake"].client_ref.startswith("ftsdk-")
    assert "FIREWORKS_API_KEY" in by["fireworks"].blocked
    assert by["fireworks"].estimate["usd_high"] > 0  # priced even without a key
    assert "no default base model" in by["local"].blocked
    assert "not run" in (tmp_path / "out" / "plan.md").read_text()

    report = bakeoff(SAMPLE, ["fake", "fireworks"], out=tmp_path / "out", poll_interval=0)
    rows = {r["target"]: r for r in report.rows}
    assert rows["fake"]["status"] == "succeeded"  # one broken target stops nobody
    assert rows["fireworks"]["status"] == "blocked"
    assert "FIREWORKS_API_KEY" in rows["fireworks"]["error"]


class _Watched(FakeProvider):
    """A fake that records how many of its jobs were unfinished at once."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.live: set[str] = set()
        self.most = 0
        self.guard = threading.Lock()

    def create_job(self, spec):
        job = super().create_job(spec)
        with self.guard:
            self.live.add(job.id)
            self.most = max(self.most, len(self.live))
        return job

    def get_job(self, job_id):
        job = super().get_job(job_id)
        if job.status.is_terminal:
            with self.guard:
                self.live.discard(job.id)
        return job


@pytest.mark.parametrize("cap", [1, 3])
def test_per_provider_cap_bounds_jobs_in_flight(tmp_path, cap):
    provider = _Watched(root=tmp_path / "fake")
    client = Client(provider, ledger=Ledger(tmp_path / "ledger.sqlite3"))
    targets = [f"fake:model-{i}" for i in range(3)]
    report = bakeoff(SAMPLE, targets, out=tmp_path / "out", caps={"fake": cap},
                     clients={"fake": client}, ledger=client.ledger, poll_interval=0.01,
                     evaluate=False)
    assert all(r["status"] == "succeeded" for r in report.rows)
    assert provider.most <= cap
    if cap == 3:
        assert provider.most >= 2  # they really ran side by side


def test_duplicate_targets_and_no_ledger_are_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="given twice"):
        bakeoff(SAMPLE, ["fake", "fake"], out=tmp_path)
    with pytest.raises(ConfigurationError, match="needs the ledger"):
        bakeoff(SAMPLE, ["fake"], out=tmp_path, ledger=False)
