"""Client / AsyncClient: the user-facing surface, parity, options and reattach."""

from __future__ import annotations

import inspect
import warnings

import pytest

from finetune_sdk import AsyncClient, Client, ConfigurationError, UnsupportedFeatureError
from finetune_sdk.async_client import AsyncDatasets, AsyncJobs, AsyncModels
from finetune_sdk.client import Datasets, Jobs, Models
from finetune_sdk.errors import LedgerError
from finetune_sdk.provider import PreflightWarning
from finetune_sdk.providers.fake import FakeOptions
from finetune_sdk.types import DatasetRef, Hyperparameters, JobSpec, JobStatus

REF = DatasetRef(id="file-1", provider="fake", num_examples=10)


@pytest.mark.parametrize(("sync", "async_"), [(Datasets, AsyncDatasets), (Jobs, AsyncJobs),
                                              (Models, AsyncModels)])
def test_async_facades_mirror_the_sync_ones(sync, async_) -> None:
    public = {n for n in vars(sync) if not n.startswith("_")}
    assert public == {n for n in vars(async_) if not n.startswith("_")}
    for name in public:
        sync_sig = inspect.signature(getattr(sync, name))
        async_sig = inspect.signature(getattr(async_, name))
        assert sync_sig.parameters == async_sig.parameters, name
        if str(sync_sig.return_annotation).startswith("Iterator["):
            # A lazy sync iterator has a lazy async twin (AsyncPages), not a list coroutine.
            item = str(sync_sig.return_annotation).removeprefix("Iterator")
            assert async_sig.return_annotation == f"AsyncPages{item}", name
        else:
            assert inspect.iscoroutinefunction(getattr(async_, name)), name


def test_run_returns_a_job_with_a_model_id() -> None:
    client = Client("fake")
    job = client.jobs.run(base_model="base", training_file=REF, poll_interval=0)
    assert job.status is JobStatus.SUCCEEDED
    assert client.models.resolve(job.id).id == f"fake:ft-{job.id}"


def test_for_job_reattaches_through_the_ledger() -> None:
    job = Client("fake").jobs.create(base_model="base", training_file=REF)
    again = Client.for_job(job.id)
    assert again.provider.name == "fake"
    assert again.jobs.wait(job.id, poll_interval=0).status is JobStatus.SUCCEEDED


def test_for_job_unknown_id_is_clear() -> None:
    with pytest.raises(LedgerError, match="not in the ledger"):
        Client.for_job("ftjob-unknown")


def test_same_client_ref_twice_is_one_job() -> None:
    client = Client("fake")
    spec = JobSpec(base_model="base", training_file=REF, client_ref="nightly-2026-11-23")
    first = client.jobs.create(spec)
    second = client.jobs.create(spec)
    assert first.id == second.id
    assert client.provider.control.job_count() == 1


def test_spec_and_fields_merge_with_validation() -> None:
    client = Client("fake")
    spec = JobSpec(base_model="base", training_file=REF)
    job = client.jobs.create(spec, output_name="v2", hyperparameters={"epochs": 2})
    assert job.hyperparameters == {"epochs": 2}
    with pytest.raises(ValueError, match="unexpected_field"):
        client.jobs.create(spec, unexpected_field=1)


def test_request_types_reject_unknown_fields() -> None:
    with pytest.raises(ValueError):
        Hyperparameters(epoch=3)  # typo of "epochs"


def test_wrong_options_type_is_a_configuration_error() -> None:
    from finetune_sdk.types import ProviderOptions

    class OtherOptions(ProviderOptions):
        x: int = 1

    with pytest.raises(ConfigurationError, match="expects FakeOptions"):
        Client("fake").jobs.create(base_model="b", training_file=REF, options=OtherOptions())
    with pytest.raises(ConfigurationError, match="invalid fake options"):
        Client("fake").jobs.create(base_model="b", training_file=REF, options={"timeline": 3})


def test_a_misspelt_or_bad_field_is_a_configuration_error_with_a_suggestion() -> None:
    client = Client("fake", ledger=False)
    with pytest.raises(ConfigurationError,
                       match=r"hyperparameters\.epochz: unknown field \(did you mean 'epochs'\?\)"):
        client.jobs.create(base_model="b", training_file=REF, hyperparameters={"epochz": 3})
    with pytest.raises(ConfigurationError) as caught:
        client.jobs.create(base_model="b", trainig_file=REF,
                           hyperparameters={"epochs": 0, "learning_rate": "fast"})
    message = str(caught.value)
    assert "training_file: required" in message and "did you mean 'training_file'" in message
    assert "hyperparameters.epochs: Input should be greater than or equal to 1 (got 0)" in message
    assert "(got 'fast')" in message and "errors.pydantic.dev" not in message
    assert caught.value.__cause__ is None and isinstance(caught.value, ValueError)
    with pytest.raises(ConfigurationError, match="auto_advanse: unknown field .*'auto_advance'"):
        client.jobs.create(base_model="b", training_file=REF, options={"auto_advanse": True})


def test_unsupported_operation_names_provider_and_feature(tmp_path) -> None:
    from finetune_sdk.providers.fake import FakeProvider

    with pytest.raises(UnsupportedFeatureError, match="fake does not support checkpoints"):
        Client(FakeProvider(root=tmp_path), ledger=False).jobs.checkpoints("x")


def test_preflight_strict_false_warns_instead(tmp_path) -> None:
    from finetune_sdk.providers.fake import FakeProvider

    class NoLora(FakeProvider):
        capabilities = FakeProvider.capabilities.model_copy(
            update={"hyperparameters": frozenset({"epochs"})})

    provider = NoLora(root=tmp_path)
    spec = JobSpec(base_model="b", training_file=REF, hyperparameters={"lora_rank": 8})
    with pytest.raises(UnsupportedFeatureError, match="lora_rank"):
        provider.preflight(spec)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages = provider.preflight(spec.model_copy(update={"strict": False}))
    assert messages == ["fake ignores the hyperparameter 'lora_rank'"]
    assert caught and issubclass(caught[0].category, PreflightWarning)


def test_pause_and_resume() -> None:
    client = Client("fake")
    job = client.jobs.create(base_model="b", training_file=REF,
                             options=FakeOptions(auto_advance=False))
    assert client.jobs.pause(job.id).status is JobStatus.PAUSED
    assert client.jobs.resume(job.id).status is JobStatus.RUNNING


async def test_async_client_runs_the_same_flow() -> None:
    client = AsyncClient("fake")
    job = await client.jobs.run(base_model="base", training_file=REF, poll_interval=0)
    assert job.status is JobStatus.SUCCEEDED
    events = await client.jobs.events(job.id)
    assert events[-1].message == "Status changed to succeeded"
    assert (await client.models.resolve(job)).id.endswith(job.id)
    await client.aclose()


async def test_cancelling_an_async_wait_stops_the_polling() -> None:
    import asyncio

    client = AsyncClient("fake")
    job = await client.jobs.create(base_model="b", training_file=REF,
                                   options=FakeOptions(auto_advance=False))
    polls = []
    original = client.provider.get_job
    client.provider.get_job = lambda job_id: polls.append(job_id) or original(job_id)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await client.jobs.wait(job, poll_interval=0.02)
    seen = len(polls)
    assert seen >= 3  # it was polling...
    await asyncio.sleep(0.2)
    assert len(polls) == seen  # ...and stopped with the task, no thread left polling
    await client.aclose()


def test_client_refuses_credentials_with_a_provider_instance(tmp_path) -> None:
    from finetune_sdk.providers.fake import FakeProvider

    with pytest.raises(ConfigurationError):
        Client(FakeProvider(root=tmp_path), api_key="x")


def test_finetune_sdk_home_pointing_at_a_file_is_a_configuration_error(tmp_path, monkeypatch):
    from finetune_sdk.config import home_dir

    not_a_folder = tmp_path / "home"
    not_a_folder.write_text("oops")
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(not_a_folder))
    with pytest.raises(ConfigurationError, match="FINETUNE_SDK_HOME .* is a file"):
        home_dir()
    monkeypatch.setenv("FINETUNE_SDK_HOME", str(not_a_folder / "below"))
    with pytest.raises(ConfigurationError, match="is a file \\(or under one\\)"):
        Client("fake")


def test_the_fake_provider_reads_the_data_like_a_real_one(tmp_path) -> None:
    from finetune_sdk import DatasetError

    rows = tmp_path / "export.csv"
    rows.write_text("user,assistant\nhi,hello\n")
    client = Client("fake", ledger=False)
    refused = r"nothing was uploaded: .*export.csv:1: error \[invalid_json\]"
    with pytest.raises(DatasetError, match=refused):
        client.jobs.create(base_model="b", training_file=rows)
    with pytest.raises(DatasetError, match="cannot tell the format.*line 1 is not JSON"):
        client.jobs.create(base_model="b", training_file=rows, validate=False)
    broken = tmp_path / "broken.jsonl"
    good = '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}'
    broken.write_text(f"{good}\n{good}\n{{oops\n")
    with pytest.raises(DatasetError, match="broken.jsonl:3"):
        client.datasets.upload(broken)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "q", "chosen": "a", "rejected": "b"}\n')
    assert client.datasets.upload(pairs).kind == "preference"
    assert list(client.jobs.list()) == []  # nothing was created
