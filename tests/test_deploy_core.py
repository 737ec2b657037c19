"""Deployments, provider-neutral: deploy -> wait_ready -> chat -> undeploy on the fake provider,
one deployment per intent (a rerun, a dropped answer, a process killed mid-create), the ledger
row before the create, serverless providers, the meter, and the v4 ledger table on SQLite and
PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from finetune_sdk import Client
from finetune_sdk.deployments import Deployment, DeploymentSpec, DeploymentStatus
from finetune_sdk.deployments.meter import idle_for, idle_limit, parse_duration, serving_price
from finetune_sdk.deployments.model import deployment_key
from finetune_sdk.deployments.store import DeploymentStore
from finetune_sdk.errors import BadRequestError, ConfigurationError
from finetune_sdk.inference import chat
from finetune_sdk.ledger import SCHEMA_VERSION, Ledger
from finetune_sdk.providers.fake import FakeProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.types import DatasetRef, ModelRef

REF = DatasetRef(id="file-1", provider="fake", num_examples=10)


@pytest.fixture
def client(tmp_path) -> Client:
    provider = FakeProvider(root=tmp_path / "fake", retry=RetryPolicy(sleep=lambda s: None))
    return Client(provider, ledger=tmp_path / "ledger.sqlite3")


@pytest.fixture
def model(client) -> ModelRef:
    job = client.jobs.run(base_model="base", training_file=REF, poll_interval=0, progress=False)
    return client.models.resolve(job)


def deployments_on_disk(client) -> int:
    return len(list((client.provider.root / "deployments").glob("*.json")))


def test_deploy_wait_chat_undeploy(client, model) -> None:
    dep = client.models.deploy(model, hardware="fake-gpu")
    assert dep.status is DeploymentStatus.CREATING and dep.intent_key.startswith("ftdep-")
    assert dep.price_per_hour == 1.0 and dep.price_date.isoformat() == "2026-12-01"
    ready = client.models.wait_ready(dep, poll_interval=0)
    assert ready.ready and ready.endpoint == model.id
    assert chat(ready, "Is water good for me?")  # inference.chat takes a Deployment
    row = DeploymentStore(client.ledger).get(dep.intent_key)
    assert row.status == "ready" and row.ready_at and row.last_used_at
    gone = client.models.undeploy(ready, wait=True)
    assert gone.status is DeploymentStatus.DELETED and deployments_on_disk(client) == 0
    assert DeploymentStore(client.ledger).get(dep.intent_key).status == "deleted"
    assert client.models.list_deployments(all_providers=True) == []
    # tearing down twice is not an error
    assert client.models.undeploy(dep.id).status is DeploymentStatus.DELETED


def test_the_same_request_twice_is_one_deployment(client, model) -> None:
    first = client.models.deploy(model)
    again = client.models.deploy(model)
    assert again.id == first.id and deployments_on_disk(client) == 1
    other = client.models.deploy(model, hardware="bigger")  # another intent
    second = client.models.deploy(model, new=True)  # a deliberate second one
    assert len({first.id, other.id, second.id}) == 3 and deployments_on_disk(client) == 3
    assert len(client.models.list_deployments(all_providers=True)) == 3


def test_a_dropped_create_still_makes_one_deployment(client, model) -> None:
    client.provider.control.fail_next(timeout=True, after_processing=True,
                                      match="POST /deployments")
    dep = client.models.deploy(model)
    assert deployments_on_disk(client) == 1
    assert DeploymentStore(client.ledger).get(dep.intent_key).deployment_id == dep.id
    assert client.models.deploy(model).id == dep.id and deployments_on_disk(client) == 1


def test_a_create_refused_for_good_leaves_a_failed_row_and_nothing_billed(client, model) -> None:
    client.provider.control.fail_next(400, match="POST /deployments")
    with pytest.raises(BadRequestError):
        client.models.deploy(model)
    [row] = DeploymentStore(client.ledger).list()
    assert row.status == "create_failed" and not row.live and deployments_on_disk(client) == 0
    assert client.models.deploy(model).id  # the next try may send it again


def test_a_process_killed_after_sending_is_recovered_without_a_second_create(client, model):
    spec = DeploymentSpec()
    key = deployment_key("fake", model.id, spec)
    store = DeploymentStore(client.ledger)
    from finetune_sdk.deployments.model import deployment_name

    name = deployment_name(key, spec)
    # What a process killed mid-create leaves: its claim (dead owner), the create sent.
    store.claim(key, provider="fake", model=model.id, name=name, spec=spec,
                owner="localhost-gone:999999:1:1", lease_s=-1)
    store.set_state(key, "sending")
    from finetune_sdk.deployments import fake

    made = fake.deploy(client.provider, model, spec.model_copy(update={"name": name}))
    client.provider.control.fail_next(400, match="POST /deployments")  # a resend would fail
    dep = client.models.deploy(model)
    assert dep.id == made.id and deployments_on_disk(client) == 1
    assert store.get(key).deployment_id == made.id


def test_a_serverless_provider_answers_at_once_and_records_nothing(tmp_path) -> None:
    class Serverless(FakeProvider):
        name = "serverless-test"

    client = Client(Serverless(root=tmp_path / "f"), ledger=tmp_path / "l.sqlite3")
    model = ModelRef(id="ft:my-model", provider="serverless-test")
    dep = client.models.deploy(model)
    assert dep.serverless and dep.ready and dep.endpoint == "ft:my-model"
    assert "no deployment needed" in dep.note and dep.accrued_usd() == 0.0
    assert client.models.wait_ready(dep) is dep and client.models.undeploy(dep) is dep
    assert DeploymentStore(client.ledger).list() == []
    unservable = ModelRef(id="m", provider="serverless-test", ready_for_inference=False,
                          how_to_serve="push it somewhere")
    with pytest.raises(ConfigurationError, match="push it somewhere"):
        client.models.deploy(unservable)


def test_bad_spec_fields_say_which(client, model) -> None:
    with pytest.raises(ConfigurationError, match="hardwre: unknown field.*hardware"):
        client.models.deploy(model, hardwre="x")
    with pytest.raises(ConfigurationError, match="min_replicas"):
        client.models.deploy(model, min_replicas=-1)


def test_the_meter() -> None:
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    dep = Deployment(id="d", provider="fireworks", status="ready", model="m", endpoint="m#d",
                     price_per_hour=8.0, created_at=start)
    assert dep.accrued_usd(start + timedelta(minutes=90)) == pytest.approx(12.0)
    assert Deployment(id="d", provider="x", status="ready", model="m",
                      endpoint="m").accrued_usd() is None  # no price: unknown, not 0
    h100 = serving_price("fireworks", "NVIDIA_H100_80GB")
    assert h100.usd_per_hour == 8.0 and h100.date.isoformat() == "2026-10-07"
    assert serving_price("fireworks", "SOMETHING_NEW").usd_per_hour is None
    assert parse_duration("30m") == 1800 and parse_duration("2h") == 7200
    assert idle_limit() == 3600 and idle_limit("10m") == 600
    assert idle_for(None, None, (start - timedelta(hours=2)).isoformat(),
                    now=start) == pytest.approx(7200)
    with pytest.raises(ConfigurationError):
        parse_duration("soon")


def test_an_override_price_file_wins(tmp_path, monkeypatch) -> None:
    table = tmp_path / "prices.json"
    table.write_text('{"prices": [{"provider": "fireworks", "hardware": "NVIDIA_H100_80GB",'
                     ' "usd_per_hour": 6.5, "date": "2026-12-02", "source": "our contract"}]}')
    monkeypatch.setenv("FINETUNE_SDK_SERVING_PRICES", str(table))
    assert serving_price("fireworks", "NVIDIA_H100_80GB").usd_per_hour == 6.5


def test_a_v3_ledger_gains_the_deployments_table(tmp_path) -> None:
    path = tmp_path / "v3.sqlite3"
    Ledger(path)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE deployments")
        conn.execute("PRAGMA user_version=3")
    ledger = Ledger(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert DeploymentStore(ledger).list() == []


@pytest.mark.faults
def test_deployments_on_a_postgresql_ledger(postgres_url, tmp_path) -> None:
    client = Client(FakeProvider(root=tmp_path / "f"), ledger=postgres_url)
    model = ModelRef(id="fake:ft-x", provider="fake")
    client.provider.control.fail_next(timeout=True, after_processing=True,
                                      match="POST /deployments")
    dep = client.models.deploy(model)
    assert client.models.deploy(model).id == dep.id
    ready = client.models.wait_ready(dep, poll_interval=0)
    [row] = DeploymentStore(Ledger(postgres_url)).list(live=True)
    assert row.deployment_id == dep.id and row.status == "ready" and row.price_per_hour == 1.0
    client.models.undeploy(ready, wait=True)
    assert DeploymentStore(Ledger(postgres_url)).list(live=True) == []


async def test_the_async_client_deploys_waits_and_undeploys(tmp_path) -> None:
    from finetune_sdk import AsyncClient

    async with AsyncClient(FakeProvider(root=tmp_path / "f"),
                           ledger=tmp_path / "l.sqlite3") as client:
        model = ModelRef(id="fake:ft-async", provider="fake")
        dep = await client.models.deploy(model)
        assert (await client.models.deploy(model)).id == dep.id
        ready = await client.models.wait_ready(dep, poll_interval=0)
        assert ready.ready
        assert [d.id for d in await client.models.list_deployments()] == [dep.id]
        gone = await client.models.undeploy(ready, wait=True)
        assert gone.status is DeploymentStatus.DELETED
