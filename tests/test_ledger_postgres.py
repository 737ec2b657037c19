"""The PostgreSQL ledger against a real server: the same API as SQLite, one job per intent across
processes (8 workers x 25 intents on the OpenAI mock), and a killed worker's claim recovered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from faults_support import SECRET, kill, make_rig, wait_until, write_train

from finetune_sdk import Client
from finetune_sdk.ledger import SCHEMA_VERSION, Ledger
from finetune_sdk.providers.fake import FakeProvider
from finetune_sdk.types import DatasetRef, Job, JobSpec, JobStatus

pytestmark = [pytest.mark.faults,
              pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")]


def test_the_same_api_as_the_sqlite_ledger(postgres_url, tmp_path, monkeypatch) -> None:
    ledger = Ledger(postgres_url)
    assert ledger.path is None and "postgres@127.0.0.1" in ledger.location
    client = Client(FakeProvider(root=tmp_path / "f"), ledger=postgres_url)
    data = write_train(tmp_path / "t.jsonl")
    job = client.jobs.run(base_model="b", training_file=data, poll_interval=0, progress=False)
    row = ledger.get(job.client_ref)
    assert row.job_id == job.id and row.status == "succeeded" and row.model_id
    assert ledger.find_job(job.id).client_ref == job.client_ref
    assert [r.job_id for r in ledger.list()] == [job.id] and ledger.pending() == []
    assert ledger.spec(job.client_ref)["base_model"] == "b"
    again = client.jobs.run(base_model="b", training_file=data, poll_interval=0, progress=False)
    assert again.id == job.id and client.provider.control.job_count() == 1
    # the URL in the environment is the default ledger of every Client
    monkeypatch.setenv("FINETUNE_SDK_LEDGER_URL", postgres_url)
    assert Client(FakeProvider(root=tmp_path / "f")).ledger.get(job.client_ref).job_id == job.id
    # adopted jobs (started elsewhere) and lease timestamps survive the round trip
    ledger.update(Job(id="ext-1", provider="fake", status=JobStatus.RUNNING))
    assert ledger.find_job("ext-1").client_ref == "adopted-fake-ext-1"
    spec = JobSpec(base_model="b", client_ref="lease", training_file=data)
    ledger.claim("fake", spec, owner="h:1:1:1", lease_s=600)
    assert abs(ledger.get("lease").lease_until - (time.time() + 600)) < 5


def test_a_password_never_shows_in_the_location_or_errors(postgres_server) -> None:
    from finetune_sdk.errors import LedgerError

    url = postgres_server.replace("postgres@", "postgres:hunter2-secret@") + "/no_such_db"
    with pytest.raises(LedgerError) as info:
        Ledger(url)
    assert "hunter2-secret" not in str(info.value) and "***" in str(info.value)


def test_an_older_schema_migrates_in_place(postgres_url) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:  # a v1 table, no meta
        conn.execute("CREATE TABLE jobs (client_ref TEXT PRIMARY KEY, provider TEXT NOT NULL,"
                     " job_id TEXT, spec_json TEXT NOT NULL, status TEXT NOT NULL, model_id TEXT,"
                     " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)")
        conn.execute("INSERT INTO jobs VALUES ('old', 'fake', 'j1', '{}', 'succeeded', NULL,"
                     " '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')")
    ledger = Ledger(postgres_url)
    assert ledger.get("old").job_id == "j1" and ledger.get("old").owner is None
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT schema_version FROM ledger_meta").fetchone()[0] \
            == SCHEMA_VERSION


# -- many workers -------------------------------------------------------------------------------
WORKER = textwrap.dedent(
    r"""
    import json, random, sys
    from datetime import date
    from finetune_sdk import Client
    from finetune_sdk.registry import create_provider
    from finetune_sdk.retry import RetryPolicy
    from finetune_sdk.types import DatasetRef, JobSpec

    cfg = json.loads(sys.argv[1])
    provider = create_provider("openai", api_key=cfg["key"], base_url=cfg["url"], timeout=30,
                               today=lambda: date(2026, 11, 23), file_poll_interval=0,
                               retry=RetryPolicy(lookup_window=5))
    client = Client(provider, ledger=cfg["ledger"])
    data = DatasetRef.model_validate_json(cfg["dataset"])
    refs = list(cfg["refs"])
    random.Random(cfg["seed"]).shuffle(refs)  # every worker walks the intents in its own order
    seen = {}
    for ref in refs:
        spec = JobSpec(base_model=cfg["base"], training_file=data, client_ref=ref)
        seen[ref] = client.jobs.create(spec).id
    print(json.dumps(seen), flush=True)
    """
)


def test_eight_workers_times_25_intents_make_exactly_25_jobs(postgres_url, tmp_path) -> None:
    rig = make_rig("openai")
    refs = [f"intent-{i:02d}" for i in range(25)]
    with rig.mock.serve() as url:
        uploader = rig.provider(url)
        dataset = uploader.upload_dataset(write_train(tmp_path / "train.jsonl"))
        uploader.close()
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, json.dumps(dict(
                    key=SECRET, url=f"{url}/v1", ledger=postgres_url, base=rig.base_model,
                    dataset=dataset.model_dump_json(), refs=refs, seed=seed))],
                env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for seed in range(8)
        ]
        outputs = []
        for worker in workers:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err[-3000:]
            assert SECRET not in out + err
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    assert rig.mock.job_count() == 25
    assert len(rig.mock.requests_to("POST", r"^/v1/fine_tuning/jobs$")) == 25
    assert all(seen == outputs[0] for seen in outputs)  # every worker: the same id per intent
    assert len(set(outputs[0].values())) == 25
    rows = Ledger(postgres_url).list()
    assert len(rows) == 25 and all(r.job_id == outputs[0][r.client_ref] for r in rows)


# -- a worker killed mid-claim --------------------------------------------------------------------
HANGING = textwrap.dedent(
    r"""
    import json, sys, time
    from finetune_sdk import Client
    from finetune_sdk.providers.fake import FakeProvider

    cfg = json.loads(sys.argv[1])
    provider = FakeProvider(root=cfg["root"])
    client = Client(provider, ledger=cfg["ledger"])
    if cfg["when"] == "uploading":
        client.datasets.upload = lambda *a, **k: time.sleep(600)
    else:
        real = provider.create_job
        provider.create_job = lambda spec: (real(spec), time.sleep(600))[0]
    client.jobs.create(base_model="b", training_file=cfg["data"])
    """
)


@pytest.mark.parametrize("when", ["uploading", "after-send"])
def test_a_worker_killed_mid_create_is_recovered_by_another(postgres_url, tmp_path, when):
    data = write_train(tmp_path / "t.jsonl")
    root = tmp_path / "fake"
    ledger = Ledger(postgres_url)
    worker = subprocess.Popen(
        [sys.executable, "-c", HANGING, json.dumps(dict(root=str(root), ledger=postgres_url,
                                                        data=str(data), when=when))],
        text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    expected = "creating" if when == "uploading" else "sending"
    provider = FakeProvider(root=root)

    def stuck() -> bool:
        rows = ledger.pending()
        made = when == "uploading" or provider.control.job_count() == 1
        return bool(rows) and rows[0].status == expected and rows[0].owner is not None and made

    wait_until(stuck, worker, f"a claim left {expected}")
    kill(worker)
    job = Client(provider, ledger=ledger).jobs.create(base_model="b", training_file=data)
    assert provider.control.job_count() == 1
    [row] = ledger.list()
    assert row.job_id == job.id and row.owner is None


def test_a_live_owner_on_another_host_holds_its_lease(postgres_url, tmp_path) -> None:
    """Across hosts no pid can be checked: the lease decides, and the waiter gives up clearly."""
    from finetune_sdk.errors import IntentBusyError
    from finetune_sdk.lifecycle import create_job

    ledger = Ledger(postgres_url)
    spec = JobSpec(base_model="b", client_ref="remote",
                   training_file=DatasetRef(id="file-1", provider="fake"))
    assert ledger.claim("fake", spec, owner="worker-7.internal:4242:99:1").kind == "new"
    provider = FakeProvider(root=tmp_path / "f")
    with pytest.raises(IntentBusyError):
        create_job(provider, spec, ledger=ledger, claim_wait=0.5)
    assert provider.control.job_count() == 0
