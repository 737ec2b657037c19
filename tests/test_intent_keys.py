"""Intent identity and claims, unit by unit: what the key covers, who owns an intent, and what
``reconcile`` does with rows that have no vendor id. The end-to-end races and crashes over real
sockets are in test_intent_once.py."""

from __future__ import annotations

import threading
import time

import pytest

from finetune_sdk import Client
from finetune_sdk.errors import ConfigurationError, IntentBusyError
from finetune_sdk.intent import derive_client_ref, owner_token, token_alive, with_intent_key
from finetune_sdk.ledger import Ledger
from finetune_sdk.lifecycle import create_job
from finetune_sdk.providers.fake import FakeProvider
from finetune_sdk.reconcile import reconcile
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.types import DatasetRef, Job, JobSpec, JobStatus

CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"%s"}]}\n'


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(CHAT % "hello" * 3)
    return path


def key(spec: JobSpec, provider: str = "openai") -> str:
    return derive_client_ref(provider, spec)


# -- what the key covers ----------------------------------------------------------------------
def test_the_key_is_the_request_not_a_random_number_nor_the_file_name(data, tmp_path) -> None:
    spec = JobSpec(base_model="m", training_file=data, hyperparameters={"epochs": 2})
    copy = tmp_path / "elsewhere.jsonl"
    copy.write_bytes(data.read_bytes())
    same = JobSpec(base_model="m", training_file=copy, hyperparameters={"epochs": 2})
    assert key(spec) == key(same) and key(spec).startswith("ftsdk-")
    # the uploaded ref of the same content is the same intent when the vendor reports a hash
    digest = __import__("hashlib").sha256(data.read_bytes()).hexdigest()
    uploaded = JobSpec(base_model="m", hyperparameters={"epochs": 2},
                       training_file=DatasetRef(id="file-9", provider="openai", sha256=digest))
    assert key(uploaded) == key(spec)


@pytest.mark.parametrize("change", [
    {"base_model": "other"},
    {"hyperparameters": {"epochs": 3}},
    {"method": "dpo"},
    {"output_name": "v2"},
    {"labels": {"team": "a"}},
])
def test_every_part_of_the_request_changes_the_key(data, change) -> None:
    base = dict(base_model="m", training_file=data, hyperparameters={"epochs": 2})
    assert key(JobSpec(**base)) != key(JobSpec(**{**base, **change}))


def test_other_data_or_another_provider_is_another_intent(data, tmp_path) -> None:
    spec = JobSpec(base_model="m", training_file=data)
    assert key(spec, "openai") != key(spec, "fireworks")
    other = tmp_path / "other.jsonl"
    other.write_text(CHAT % "bye" * 3)
    assert key(JobSpec(base_model="m", training_file=other)) != key(spec)
    with_val = JobSpec(base_model="m", training_file=data, validation_file=other)
    assert key(with_val) != key(spec)


def test_an_explicit_client_ref_wins_and_new_salts_the_derived_one(data) -> None:
    chosen = JobSpec(base_model="m", training_file=data, client_ref="mine")
    assert with_intent_key("fake", chosen).client_ref == "mine"
    with pytest.raises(ConfigurationError, match="new=True"):
        with_intent_key("fake", chosen, new=True)
    plain = JobSpec(base_model="m", training_file=data)
    first, second = (with_intent_key("fake", plain, new=True).client_ref for _ in range(2))
    assert first != second and first.startswith(key(plain, "fake") + "-")
    assert len(first) <= 63  # fits every vendor's id/label limits


def test_a_spec_plus_fields_keeps_only_what_the_caller_set(tmp_path, data) -> None:
    client = Client(FakeProvider(root=tmp_path / "f"), ledger=tmp_path / "l.sqlite3")
    spec = JobSpec(base_model="m", training_file=data)
    a = client.jobs.create(spec, hyperparameters={"epochs": 2})
    fresh = JobSpec(base_model="m", training_file=data)
    b = client.jobs.create(fresh, hyperparameters={"epochs": 2})
    assert a.id == b.id and a.client_ref == key(
        JobSpec(base_model="m", training_file=data, hyperparameters={"epochs": 2}), "fake")
    c = client.jobs.create(spec, hyperparameters={"epochs": 2}, new=True)
    assert c.id != a.id and client.provider.control.job_count() == 2


# -- claims -----------------------------------------------------------------------------------
def _slow_fake(root, delay: float) -> FakeProvider:
    class Slow(FakeProvider):
        def create_job(self, spec):
            time.sleep(delay)
            return super().create_job(spec)

    return Slow(root=root, retry=RetryPolicy(sleep=lambda s: None))


def test_threads_racing_on_one_intent_make_one_job(tmp_path) -> None:
    """Threads (an ``asyncio.gather`` of AsyncClient calls runs them) each hold their own
    claim token, so one sends and the rest wait for its id."""
    provider = _slow_fake(tmp_path / "f", 0.3)
    ledger = Ledger(tmp_path / "l.sqlite3")
    spec = JobSpec(base_model="b", client_ref="threads",
                   training_file=DatasetRef(id="file-1", provider="fake"))
    ids: list[str] = []
    threads = [threading.Thread(target=lambda: ids.append(create_job(provider, spec,
                                                                     ledger=ledger).id))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 6 and len(set(ids)) == 1
    assert provider.control.job_count() == 1 and len(ledger.list()) == 1


def test_a_live_owner_that_never_finishes_is_an_intent_busy_error(tmp_path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    spec = JobSpec(base_model="b", client_ref="busy",
                   training_file=DatasetRef(id="file-1", provider="fake"))
    assert ledger.claim("fake", spec, owner="otherhost:1:1:1").kind == "new"
    provider = FakeProvider(root=tmp_path / "f")
    with pytest.raises(IntentBusyError, match="another process"):
        create_job(provider, spec, ledger=ledger, claim_wait=0.3)
    assert provider.control.job_count() == 0


def test_an_expired_lease_of_another_host_is_taken_over(tmp_path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    spec = JobSpec(base_model="b", client_ref="lease",
                   training_file=DatasetRef(id="file-1", provider="fake"))
    ledger.claim("fake", spec, owner="otherhost:1:1:1", lease_s=-1)  # already expired
    claim = ledger.claim("fake", spec, owner=owner_token())
    assert claim.kind == "recovered" and not claim.maybe_sent  # it never got to "sending"


def test_a_dead_or_zombie_owner_is_not_alive(tmp_path) -> None:
    import subprocess
    import sys

    assert token_alive(owner_token()) is True
    assert token_alive("some-other-host:1:1:1") is None
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    token = owner_token().split(":")
    token[1], token[2] = str(child.pid), "1"
    time.sleep(0.5)  # exited but not reaped: a zombie
    assert token_alive(":".join(token)) is False
    child.wait()
    assert token_alive(":".join(token)) is False


def test_the_first_vendor_id_stored_for_an_intent_wins(tmp_path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    spec = JobSpec(base_model="b", client_ref="first",
                   training_file=DatasetRef(id="file-1", provider="fake"))
    ledger.claim("fake", spec, owner=owner_token())
    assert ledger.attach("first", Job(id="job-a", provider="fake", status=JobStatus.QUEUED)) \
        == "job-a"
    assert ledger.attach("first", Job(id="job-b", provider="fake", status=JobStatus.QUEUED)) \
        == "job-a"
    assert ledger.get("first").job_id == "job-a"


# -- reconcile --------------------------------------------------------------------------------
def test_reconcile_leaves_live_owners_and_young_rows_alone_and_dry_run_changes_nothing(
        tmp_path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    provider = FakeProvider(root=tmp_path / "f")
    ref = DatasetRef(id="file-1", provider="fake")
    live = JobSpec(base_model="b", client_ref="live", training_file=ref)
    ledger.claim("fake", live, owner=owner_token())  # this very thread: alive
    young = JobSpec(base_model="b", client_ref="young", training_file=ref)
    ledger.claim("fake", young, owner="gone:1:1:1", lease_s=-1)
    ledger.set_state("young", "unknown", release=True)
    outcomes = {r.client_ref: r.outcome for r in reconcile(ledger, lambda n: provider)}
    assert outcomes == {"live": "in_progress", "young": "too_recent"}
    dry = reconcile(ledger, lambda n: provider, settle_after=0, dry_run=True)
    assert {r.client_ref: r.outcome for r in dry}["young"] == "not_created"
    assert ledger.get("young").status == "unknown"  # nothing written
    reconcile(ledger, lambda n: provider, settle_after=0)
    assert ledger.get("young").status == "create_failed"
    assert ledger.claim("fake", young, owner=owner_token()).kind == "recovered"


def test_a_claim_taken_over_while_uploading_is_never_sent(tmp_path) -> None:
    """On a shared ledger a lease can run out mid-upload and another worker take the intent:
    the first must then not send its create as well."""
    import sqlite3

    ledger = Ledger(tmp_path / "l.sqlite3")
    provider = FakeProvider(root=tmp_path / "f")
    spec = JobSpec(base_model="b", client_ref="taken",
                   training_file=DatasetRef(id="file-1", provider="fake"))

    def slow_upload(current: JobSpec) -> JobSpec:
        with sqlite3.connect(ledger.path) as conn:  # what the other worker's claim does
            conn.execute("UPDATE jobs SET owner = 'worker-2.internal:7:7:7' WHERE client_ref = ?",
                         ("taken",))
        return current

    with pytest.raises(IntentBusyError, match="taken over"):
        create_job(provider, spec, ledger=ledger, prepare=slow_upload)
    assert provider.control.job_count() == 0
    assert ledger.get("taken").owner == "worker-2.internal:7:7:7"


def test_typed_options_count_by_what_was_set_not_by_their_defaults(data) -> None:
    """A new option with a default (a later release) must not change an old script's key."""
    from finetune_sdk.providers.local import LocalOptions

    typed = JobSpec(base_model="m", training_file=data, options=LocalOptions(max_steps=5))
    plain = JobSpec(base_model="m", training_file=data, options={"max_steps": 5})
    assert key(typed, "local") == key(plain, "local")
    other = JobSpec(base_model="m", training_file=data, options=LocalOptions(max_steps=6))
    assert key(other, "local") != key(typed, "local")
