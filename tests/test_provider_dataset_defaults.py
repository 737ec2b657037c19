"""Provider declares the dataset-wait surface the lifecycle uses; its defaults fit a third-party
provider whose uploads are ready at once (no get_dataset, no discard_dataset of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

import pytest

from finetune_sdk import Client, waits
from finetune_sdk.errors import DatasetError
from finetune_sdk.provider import Provider
from finetune_sdk.testing.conformance import write_chat_jsonl
from finetune_sdk.types import Capabilities, DatasetRef, Job, ModelRef


class Minimal(Provider):
    """Only the abstract methods, as a third-party adapter might write it."""

    name: ClassVar[str] = "minimal"
    capabilities: ClassVar[Capabilities] = Capabilities(methods=frozenset({"sft"}))

    def __init__(self, status: Literal["ready", "processing"] = "ready") -> None:
        super().__init__()
        self.status = status
        self.waits: list[bool] = []

    def upload_dataset(self, path: Path, *, purpose: Literal["train", "validation"] = "train",
                       wait: bool = True) -> DatasetRef:
        self.waits.append(wait)
        return DatasetRef(id=f"min-{Path(path).name}", provider=self.name, status=self.status)

    def create_job(self, spec):  # pragma: no cover - not used here
        raise NotImplementedError

    def get_job(self, job_id: str) -> Job:  # pragma: no cover
        raise NotImplementedError

    def list_jobs(self, *, limit: int | None = None) -> Iterator[Job]:  # pragma: no cover
        return iter(())

    def cancel_job(self, job_id: str) -> Job:  # pragma: no cover
        raise NotImplementedError

    def resolve_model(self, job: Job) -> ModelRef:  # pragma: no cover
        raise NotImplementedError


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_chat_jsonl(tmp_path / "d.jsonl", 3)


def test_start_upload_asks_every_provider_not_to_wait(data: Path) -> None:
    provider = Minimal()
    ref = waits.start_upload(provider, data)
    assert ref.status == "ready" and provider.waits == [False]


def test_the_default_get_dataset_returns_a_ready_ref_unchanged(data: Path) -> None:
    provider = Minimal()
    ref = waits.start_upload(provider, data)
    assert waits.refresh_dataset(provider, ref) is ref
    assert waits.wait_for_dataset(provider, ref, sleep=pytest.fail) is ref


def test_a_processing_ref_it_cannot_ask_about_again_fails_at_once(data: Path) -> None:
    provider = Minimal(status="processing")
    ref = waits.start_upload(provider, data)
    pauses: list[float] = []
    with pytest.raises(DatasetError, match="no get_dataset"):
        waits.wait_for_dataset(provider, ref, sleep=pauses.append)
    assert len(pauses) == 1  # one read after the first pause, not a wait until the timeout


def test_the_default_discard_dataset_does_nothing(data: Path) -> None:
    provider = Minimal()
    ref = waits.start_upload(provider, data)
    assert provider.discard_dataset(ref) is None
    waits.discard_dataset(provider, ref)  # the lifecycle's best-effort delete: no error
    with pytest.raises(DatasetError):  # a failed ref: discarded (no-op), raised
        waits.settle_dataset(provider, ref.model_copy(update={"status": "failed"}))


def test_the_wait_reads_the_class_defaults_and_a_subclass_override() -> None:
    state = waits.dataset_wait_state(Minimal())
    assert state.interval == Provider.dataset_poll_interval == waits.DATASET_POLL_S
    assert state.deadline is not None
    assert state.deadline - state.clock() == pytest.approx(Provider.dataset_wait_timeout, abs=1)

    class Slow(Minimal):
        dataset_poll_interval = 5.0
        dataset_wait_timeout = 30.0

    slow = waits.dataset_wait_state(Slow())
    assert slow.interval == 5.0 and slow.deadline is not None
    assert slow.deadline - slow.clock() == pytest.approx(30.0, abs=1)


def test_client_upload_works_through_the_defaults(data: Path) -> None:
    provider = Minimal()
    ref = Client(provider, ledger=False).datasets.upload(data)
    assert ref.status == "ready" and provider.waits == [False]
