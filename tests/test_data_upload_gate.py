"""The sensitive-data gate end to end: Client uploads to a hosted provider (OpenAI mock server),
and marks that survive convert / split / --fix so a derived file cannot launder sensitive data."""

from __future__ import annotations

import json

import httpx2
import pytest

from finetune_sdk import Client, SensitiveDataError
from finetune_sdk.data.convert import convert_file
from finetune_sdk.data.fix import fix_file
from finetune_sdk.data.privacy import is_scrubbed, mark_sensitive, read_marker, scrub_file
from finetune_sdk.data.split import split_file
from finetune_sdk.providers.openai.adapter import OpenAIProvider
from finetune_sdk.retry import RetryPolicy
from finetune_sdk.testing.mock_servers.openai import OpenAIMockServer

ROWS = [{"messages": [{"role": "user", "content": f"My DOB is 04/12/1987, question {i}"},
                      {"role": "assistant", "content": f"Noted, answer {i}."}]}
        for i in range(12)]


@pytest.fixture
def mock():
    return OpenAIMockServer()


@pytest.fixture
def client(mock):
    provider = OpenAIProvider(api_key="sk-test", base_url=mock.base_url,
                              http_client=httpx2.Client(transport=mock.transport()),
                              retry=RetryPolicy(max_attempts=1), file_poll_interval=0)
    assert provider.capabilities.hosted
    return Client(provider, ledger=False)


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "patients.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def uploads(mock):
    return mock.requests_to("POST", r"/(files|uploads)")


def test_hosted_upload_of_sensitive_data_is_refused_before_any_request(client, mock, data):
    with pytest.raises(SensitiveDataError, match="finetune scrub") as err:
        client.datasets.upload(data, sensitive=True)
    assert err.value.file == str(data)
    mark_sensitive(data)
    with pytest.raises(SensitiveDataError):
        client.datasets.upload(data)  # the sidecar mark alone is enough
    assert mock.requests == [] and mock.files == {}
    ref = client.datasets.upload(data, allow_sensitive=True)  # the caller's explicit decision
    assert ref.id in mock.files


def test_scrubbed_copy_uploads_and_has_no_phi(client, mock, data):
    mark_sensitive(data)
    clean = data.with_name("clean.jsonl")
    report = scrub_file(data, clean)
    assert report.counts == {"DOB": len(ROWS)}
    ref = client.datasets.upload(clean)
    assert b"04/12/1987" not in mock.file_bytes[ref.id]
    assert b"[DOB]" in mock.file_bytes[ref.id]


def test_job_create_refuses_sensitive_training_file_without_uploading(client, mock, data):
    mark_sensitive(data)
    with pytest.raises(SensitiveDataError):
        client.jobs.create(base_model="gpt-4o-mini-2024-07-18", training_file=data)
    assert uploads(mock) == [] and mock.jobs == {}


def test_converted_copy_of_a_sensitive_file_stays_sensitive(client, mock, data, tmp_path):
    mark_sensitive(data)
    wire = tmp_path / "openai.jsonl"
    convert_file(data, wire, to="openai")
    assert read_marker(wire)["sensitive"] is True and not is_scrubbed(wire)
    with pytest.raises(SensitiveDataError):
        client.datasets.upload(wire)
    assert uploads(mock) == []
    # Scrub first, then convert: the converted copy counts as scrubbed (new hash) and uploads.
    clean = tmp_path / "clean.jsonl"
    scrub_file(data, clean)
    clean_wire = tmp_path / "clean.openai.jsonl"
    convert_file(clean, clean_wire, to="gemini")
    assert is_scrubbed(clean_wire)
    assert read_marker(clean_wire)["derived_from"] == str(clean)
    convert_file(clean, clean_wire, to="openai")
    assert client.datasets.upload(clean_wire).id


def test_split_and_fix_outputs_inherit_the_mark(data, tmp_path):
    mark_sensitive(data)
    train, val = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    split_file(data, train, val, val=0.3, seed=1)
    fixed = fix_file(data, tmp_path / "fixed.jsonl").destination
    for path in (train, val, fixed):
        marker = read_marker(path)
        assert marker["sensitive"] is True and marker["scrubbed"] is False, path


def test_unmarked_source_writes_no_marker(data, tmp_path):
    out = tmp_path / "o.jsonl"
    convert_file(data, out, to="fireworks")
    assert read_marker(out) == {}


def test_convert_into_a_temporary_file_can_skip_the_mark(data, tmp_path):
    mark_sensitive(data)
    tmp = tmp_path / ".incoming.jsonl"
    convert_file(data, tmp, to="local", carry_mark=False)
    assert read_marker(tmp) == {} and not list(tmp_path.glob(".incoming*.finetune.json"))


def test_unmarked_file_with_phi_is_refused_before_any_request(client, mock, data):
    """Issue 19: an export with dates of birth went out because nobody marked it sensitive."""
    with pytest.raises(SensitiveDataError, match=r"DOB 12 \(lines 1, 2, 3, \.\.\.\)") as err:
        client.datasets.upload(data)
    assert err.value.file == str(data) and "finetune scrub" in str(err.value)
    with pytest.raises(SensitiveDataError):
        client.datasets.upload(data, sensitive=False)  # not a way out: the scan still runs
    with pytest.raises(SensitiveDataError):
        client.jobs.create(base_model="gpt-4o-mini-2024-07-18", training_file=data)
    assert mock.requests == [] and mock.files == {} and mock.jobs == {}
    assert client.datasets.upload(data, allow_sensitive=True).id in mock.files


def test_job_spec_allow_sensitive_lets_an_unmarked_phi_file_go(client, mock, data):
    job = client.jobs.create(base_model="gpt-4o-mini-2024-07-18", training_file=data,
                             allow_sensitive=True)
    assert job.id in mock.jobs and len(mock.files) == 1


def test_unmarked_clean_file_uploads(client, mock, tmp_path):
    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": f"How long is a cycle? ({i})"},
        {"role": "assistant", "content": "Usually 21-35 days."}]}) + "\n" for i in range(12)))
    assert client.datasets.upload(clean).id in mock.files
