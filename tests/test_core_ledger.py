"""The job ledger: intent before create, reattach after a crash, concurrent writers, migration."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor

import pytest

from finetune_sdk import Client
from finetune_sdk.errors import CreateOutcomeUnknownError
from finetune_sdk.ledger import SCHEMA_VERSION, Ledger
from finetune_sdk.providers.fake import FakeProvider
from finetune_sdk.reconcile import reconcile
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.types import DatasetRef, Job, JobSpec, JobStatus

CRASHING_CREATE = textwrap.dedent(
    """
    import os, sys
    from finetune_sdk import Client
    from finetune_sdk.providers.fake import FakeProvider
    from finetune_sdk.types import DatasetRef, JobSpec

    root, ledger, ref, when = sys.argv[1:5]

    class CrashingFake(FakeProvider):
        def create_job(self, spec):
            if when == "before-send":
                os._exit(9)
            job = super().create_job(spec)
            os._exit(9)  # the vendor has the job; we die before recording its id

    client = Client(CrashingFake(root=root), ledger=ledger)
    spec = JobSpec(base_model="b", client_ref=ref,
                   training_file=DatasetRef(id="file-x", provider="fake"))
    client.jobs.create(spec)
    """
)


def _spec(ref: str) -> JobSpec:
    training = DatasetRef(id="file-x", provider="fake")
    return JobSpec(base_model="b", client_ref=ref, training_file=training)


@pytest.mark.faults
@pytest.mark.parametrize("when", ["after-send", "before-send"])
def test_killed_between_intent_and_id_reattaches_without_duplicate(tmp_path, when) -> None:
    root, ledger_path = tmp_path / "fake", tmp_path / "ledger.sqlite3"
    ref = f"crash-{when}"
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_CREATE, str(root), str(ledger_path), ref, when],
        capture_output=True, text=True,
    )
    assert proc.returncode == 9, proc.stderr
    ledger = Ledger(ledger_path)
    row = ledger.get(ref)
    # the row says the create was in flight, so no rerun may send it blind
    assert row is not None and row.job_id is None and row.status == "sending"

    provider = FakeProvider(root=root, retry=RetryPolicy(sleep=lambda s: None))
    if when == "after-send":
        job = Client(provider, ledger=ledger).jobs.create(_spec(ref))
    else:
        # nothing reached the vendor, but no client can know that: stop, then reconcile
        with pytest.raises(CreateOutcomeUnknownError, match="finetune reconcile"):
            Client(provider, ledger=ledger).jobs.create(_spec(ref))
        assert provider.control.job_count() == 0
        [settled] = reconcile(ledger, lambda name: provider, settle_after=0)
        assert settled.outcome == "not_created"
        job = Client(provider, ledger=ledger).jobs.create(_spec(ref))
    assert provider.control.job_count() == 1
    assert ledger.get(ref).job_id == job.id
    again = Client(provider, ledger=ledger).jobs.create(_spec(ref))
    assert again.id == job.id and provider.control.job_count() == 1


def test_intent_row_is_written_before_the_create_is_sent(tmp_path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    seen_rows = []

    class Spy(FakeProvider):
        def create_job(self, spec):
            seen_rows.append(ledger.get(spec.client_ref))
            return super().create_job(spec)

    Client(Spy(root=tmp_path / "f"), ledger=ledger).jobs.create(_spec("spy-ref"))
    assert seen_rows[0] is not None and seen_rows[0].status == "sending"
    assert seen_rows[0].job_id is None


def test_status_and_model_id_follow_the_job(tmp_path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    client = Client(FakeProvider(root=tmp_path / "f"), ledger=ledger)
    job = client.jobs.create(_spec("follow"))
    final = client.jobs.wait(job.id, poll_interval=0, progress=False)
    row = ledger.find_job(job.id)
    assert row.status == "succeeded" and row.model_id == final.output_model
    listed = list(client.jobs.list(all_providers=True))
    assert [j.id for j in listed] == [job.id]


def _writer(args: tuple[str, int]) -> int:
    path, worker = args
    ledger = Ledger(path)
    for i in range(40):
        spec = _spec(f"w{worker}-{i}")
        ledger.record_intent("fake", spec)
        ledger.attach(spec.client_ref, Job(id=f"job-{worker}-{i}", provider="fake",
                                           status=JobStatus.QUEUED))
    return worker


@pytest.mark.faults
def test_concurrent_writers_from_several_processes_lose_no_row(tmp_path) -> None:
    path = str(tmp_path / "shared.sqlite3")
    Ledger(path)
    with ProcessPoolExecutor(max_workers=4) as pool:
        assert sorted(pool.map(_writer, [(path, w) for w in range(4)])) == [0, 1, 2, 3]
    rows = Ledger(path).list()
    assert len(rows) == 160
    assert all(r.job_id for r in rows)


def test_v1_ledger_migrates_in_place(tmp_path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE jobs (client_ref TEXT PRIMARY KEY, provider TEXT NOT NULL, job_id TEXT,
          spec_json TEXT NOT NULL, status TEXT NOT NULL, model_id TEXT,
          created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
        INSERT INTO jobs VALUES ('old-ref', 'openai', 'ftjob-1', '{}', 'succeeded',
          'ft:gpt-4o-mini:acme::x', '2026-01-01', '2026-01-01');
        PRAGMA user_version=1;
        """
    )
    conn.close()
    ledger = Ledger(path)
    row = ledger.get("old-ref")
    assert row.model_id == "ft:gpt-4o-mini:acme::x" and row.spec_hash is None
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    ledger.update(Job(id="ftjob-1", provider="openai", status=JobStatus.SUCCEEDED,
                      provider_status="succeeded"))
    assert ledger.get("old-ref").provider_status == "succeeded"
