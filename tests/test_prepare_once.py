"""``Provider.prepare`` is the only place a spec is checked and its options parsed: one
``client.jobs.create`` (with a local file to upload and a ledger) parses the options once,
runs preflight and the vendor checks once, and the adapter's create sees the typed options."""

from __future__ import annotations

import json

import pytest

from finetune_sdk import Client
from finetune_sdk.errors import ConfigurationError
from finetune_sdk.ledger import Ledger
from finetune_sdk.providers.fake import FakeOptions, FakeProvider
from finetune_sdk.types import Hyperparameters, JobSpec


class Counting(FakeProvider):
    """Counts every check and every parse of the options."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = {"preflight": 0, "check_spec": 0, "parse": 0, "create_options": []}

    def preflight(self, spec):
        self.calls["preflight"] += 1
        return super().preflight(spec)

    def check_spec(self, spec):
        self.calls["check_spec"] += 1
        return super().check_spec(spec)

    def create_job(self, spec):
        self.calls["create_options"].append(type(self.resolve_options(spec)))
        return super().create_job(spec)


@pytest.fixture
def parses(monkeypatch):
    seen = []
    original = FakeOptions.model_validate.__func__

    def spy(cls, obj, *args, **kwargs):
        seen.append(obj)
        return original(cls, obj, *args, **kwargs)

    monkeypatch.setattr(FakeOptions, "model_validate", classmethod(spy))
    return seen


def _data(tmp_path):
    path = tmp_path / "train.jsonl"
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    path.write_text(json.dumps(row) + "\n")
    return path


def test_one_create_parses_and_checks_once(tmp_path, parses):
    provider = Counting(root=tmp_path / "fake")
    client = Client(provider, ledger=Ledger(tmp_path / "ledger.sqlite3"))
    job = client.jobs.create(JobSpec(base_model="b", training_file=_data(tmp_path),
                                     options={"fail_with": None, "auto_advance": True}))
    assert job.id.startswith("ftjob-fake-")
    assert len(parses) == 1
    assert provider.calls["preflight"] == 1 and provider.calls["check_spec"] == 1
    assert provider.calls["create_options"] == [FakeOptions]


def test_prepare_returns_typed_options_and_warnings_and_is_idempotent(tmp_path, parses):
    class EpochsOnly(FakeProvider):
        capabilities = FakeProvider.capabilities.model_copy(update={"hyperparameters": {"epochs"}})

    provider = EpochsOnly(root=tmp_path / "fake")
    spec = JobSpec(base_model="b", training_file=_data(tmp_path), strict=False,
                   options={"auto_advance": False},
                   hyperparameters=Hyperparameters(batch_size=8))
    with pytest.warns(UserWarning):
        prepared = provider.prepare(spec)
    typed = provider.resolve_options(prepared)
    assert isinstance(typed, FakeOptions) and typed.auto_advance is False
    # options stay as written (the ledger and the intent key see what was asked)
    assert prepared.options == spec.options == {"auto_advance": False}
    assert provider.is_prepared(prepared) and not provider.is_prepared(spec)
    assert any("batch_size" in w for w in prepared.preflight_warnings)
    assert provider.prepare(prepared) is prepared and len(parses) == 1
    # a copy made later (the uploads swap the file for a DatasetRef) stays prepared
    moved = prepared.model_copy(update={"training_file": "x.jsonl"})
    assert provider.is_prepared(moved) and provider.resolve_options(moved) is typed
    assert len(parses) == 1
    # options replaced after prepare are parsed again, never served stale
    changed = prepared.model_copy(update={"options": {"auto_advance": True}})
    assert provider.resolve_options(changed).auto_advance is True


def test_bad_options_fail_in_prepare_before_anything_is_sent(tmp_path):
    provider = Counting(root=tmp_path / "fake")
    client = Client(provider, ledger=Ledger(tmp_path / "ledger.sqlite3"))
    with pytest.raises(ConfigurationError, match="auto_advnce"):
        client.jobs.create(JobSpec(base_model="b", training_file=_data(tmp_path),
                                   options={"auto_advnce": False}))
    assert provider.calls["create_options"] == []
    assert list(provider.list_jobs()) == []


def test_a_bakeoff_prepares_each_target_once(tmp_path, monkeypatch, parses):
    # The plan prepares the spec; the run's create takes it as it is.
    from finetune_sdk.bakeoff import bakeoff

    monkeypatch.setenv("FINETUNE_SDK_HOME", str(tmp_path / "home"))
    checks = []
    original = FakeProvider.check_spec

    def counted(self, spec):
        checks.append(spec.client_ref)
        return original(self, spec)

    monkeypatch.setattr(FakeProvider, "check_spec", counted)
    rows = [{"messages": [{"role": "user", "content": f"q{i}"},
                          {"role": "assistant", "content": f"a{i}"}]} for i in range(12)]
    data = tmp_path / "chats.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = bakeoff(data, ["fake"], out=tmp_path / "out", evaluate=False, poll_interval=0)
    assert [r.status for r in report.runs] == ["succeeded"]
    assert len(checks) == 1
