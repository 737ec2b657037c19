"""Fireworks names: a base model written the Hugging Face way (or short) is sent as the Fireworks
id, or refused before anything is uploaded; an output model another job already wrote is a clear
error naming it, not the 404 of a job lookup."""

from __future__ import annotations

import json

import httpx2
import pytest

from finetune_sdk import Client
from finetune_sdk.errors import (
    BadRequestError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
)
from finetune_sdk.providers.fireworks import mapping
from finetune_sdk.providers.fireworks.adapter import FireworksProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.conformance import SENTINEL_SECRET, write_chat_jsonl
from finetune_sdk.testing.mock_servers.fireworks import FireworksMockServer
from finetune_sdk.types import Hyperparameters, JobSpec, JobStatus

BASE = "accounts/fireworks/models/gpt-oss-20b"
CREATE = r"/supervisedFineTuningJobs$"


@pytest.fixture
def mock():
    return FireworksMockServer()


def kwargs(mock):
    return dict(api_key=SENTINEL_SECRET, account_id=mock.account, base_url=mock.base_url,
                http_client=httpx2.Client(transport=mock.transport()),
                retry=RetryPolicy(max_attempts=2, sleep=lambda s: None), dataset_poll_interval=0)


@pytest.fixture
def provider(mock):
    return FireworksProvider(**kwargs(mock))


@pytest.fixture
def client(mock):
    return Client("fireworks", **kwargs(mock))


@pytest.fixture
def train(tmp_path):
    return write_chat_jsonl(tmp_path / "train.jsonl", 12)


def sent_base_model(mock) -> str:
    (create,) = mock.requests_to("POST", CREATE)
    return json.loads(create.content)["baseModel"]


# -- base models ---------------------------------------------------------------------------
@pytest.mark.parametrize("written", ["openai/gpt-oss-20b", "OpenAI/GPT-OSS-20B", "gpt-oss-20b",
                                     BASE])
def test_a_base_model_the_catalog_knows_is_sent_as_the_fireworks_id(client, mock, train,
                                                                     written):
    job = client.jobs.create(base_model=written, training_file=train)
    assert sent_base_model(mock) == BASE
    assert job.base_model == BASE


def test_other_hugging_face_ids_in_the_catalog_resolve_too():
    assert mapping.resolve_base_model("meta-llama/Llama-3.1-8B-Instruct") == \
        "accounts/fireworks/models/llama-v3p1-8b-instruct"


@pytest.mark.parametrize(("written", "says"), [
    ("meta-llama/Made-Up-9B-Instruct", "a Hugging Face id"),
    ("my-own-model", "not a Fireworks model name"),
    ("accounts/fireworks/gpt-oss-20b", "not a model name"),  # "models/" left out
])
def test_an_unresolvable_base_model_is_refused_before_any_upload(client, mock, train, written,
                                                                 says):
    with pytest.raises(ConfigurationError) as info:
        client.jobs.create(base_model=written, training_file=train)
    message = str(info.value)
    assert written in message and says in message
    assert "accounts/<account>/models/<model>" in message and BASE in message
    assert mock.requests == []  # no dataset created, nothing uploaded, no job


def test_a_near_miss_names_the_model_it_probably_means():
    with pytest.raises(ConfigurationError, match="Did you mean accounts/fireworks/models/gpt-oss"):
        mapping.resolve_base_model("openai/gpt-oss-20")


def test_preflight_checks_the_resolved_name_against_the_catalog(provider):
    # Known through its alias: no "not in the list of tunable models" warning.
    assert provider.preflight(JobSpec(base_model="openai/gpt-oss-20b", training_file="x")) == []


# -- output models -------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "error"), [(409, ConflictError), (400, BadRequestError)])
def test_an_output_model_another_job_wrote_is_a_clear_error(provider, mock, train, status,
                                                            error):
    mock.output_model_conflict_status = status
    ref = provider.upload_dataset(train)
    first = provider.create_job(JobSpec(base_model=BASE, training_file=ref, client_ref="run-1",
                                        output_name="health-coach"))
    mock.advance(first.id, JobStatus.SUCCEEDED)  # the model exists now
    with pytest.raises(error) as info:
        provider.create_job(JobSpec(base_model=BASE, training_file=ref, client_ref="run-2",
                                    output_name="health-coach"))
    assert not isinstance(info.value, NotFoundError)
    message = str(info.value)
    assert "accounts/mock-account/models/health-coach already exists" in message
    assert "output_name='health-coach'" in message and "another output_name" in message
    assert "health-coach-v2" in message
    assert info.value.__context__ is None  # not "during handling of the 404..."
    assert len(mock.jobs) == 1


def test_a_resent_create_still_attaches_to_its_own_job(provider, mock, train):
    ref = provider.upload_dataset(train)
    spec = JobSpec(base_model=BASE, training_file=ref, client_ref="run-1", output_name="coach")
    assert provider.create_job(spec).id == provider.create_job(spec).id
    assert len(mock.jobs) == 1


def test_another_bad_request_is_not_read_as_a_name_clash(provider, mock, train):
    spec = JobSpec(base_model=BASE, training_file=f"accounts/{mock.account}/datasets/none",
                   client_ref="run-1")
    with pytest.raises(BadRequestError, match="not READY"):
        provider.create_job(spec)
    assert not mock.requests_to("GET", r"/supervisedFineTuningJobs/")  # no lookup for it


def test_changed_hyperparameters_under_the_same_name_fail_clearly_and_free_the_intent(
        client, mock, train):
    def run(epochs: int, name: str):
        return client.jobs.create(base_model=BASE, training_file=train, output_name=name,
                                  hyperparameters=Hyperparameters(epochs=epochs))

    run(1, "coach")
    with pytest.raises(ConflictError, match="models/coach already exists.*another output_name"):
        run(2, "coach")
    assert run(2, "coach-v2").id  # a new name goes through: the failed intent was released
    assert len(mock.jobs) == 2
