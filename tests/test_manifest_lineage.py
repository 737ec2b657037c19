"""The lineage manifest of a finished (fake) job: hashes, seeds, hyperparameters, ids, cost vs
actual tokens, eval summary, versions; written atomically; heavy packages never imported."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from finetune_sdk import cost
from finetune_sdk.client import Client
from finetune_sdk.evaluate import compare
from finetune_sdk.intent import derive_client_ref
from finetune_sdk.manifest import CONVERTER_VERSION, build_manifest, write_manifest
from finetune_sdk.types import Hyperparameters, Job, JobSpec, JobStatus

SAMPLE = (Path(__file__).resolve().parents[1] / "finetune_sdk" / "data" / "samples"
          / "health_chats.jsonl")


@pytest.fixture
def finished(tmp_path):
    train = tmp_path / "train.jsonl"
    lines = SAMPLE.read_text().splitlines()
    train.write_text("\n".join(lines[:20]) + "\n")
    heldout = tmp_path / "heldout.jsonl"
    heldout.write_text("\n".join(lines[20:30]) + "\n")
    client = Client("fake")
    spec = JobSpec(base_model="base", training_file=train, output_name="coach",
                   hyperparameters=Hyperparameters(epochs=2, learning_rate=1e-4))
    job = client.jobs.run(spec, poll_interval=0.0)
    return client, spec, job, train, heldout


def test_manifest_content(finished, tmp_path):
    client, spec, job, train, heldout = finished
    model = client.models.resolve(job)
    estimate = cost.estimate(spec, "fake")
    report = compare("base", model, heldout, cache=False)
    manifest = build_manifest(job, spec=spec, dataset_paths=[heldout], estimate=estimate,
                              eval_report=report, split_seed=13)
    assert manifest["model"]["id"] == job.output_model == model.id is not None
    assert manifest["model"]["base_model"] == "base" and manifest["model"]["provider"] == "fake"
    assert manifest["provider_ids"]["job_id"] == job.id
    assert manifest["provider_ids"]["client_ref"] == job.client_ref
    assert job.client_ref == derive_client_ref("fake", spec)  # the intent key, not a random id
    assert manifest["split_seed"] == 13
    assert manifest["converter_version"] == CONVERTER_VERSION
    assert manifest["hyperparameters"]["requested"] == {"epochs": 2, "learning_rate": 1e-4}
    by_name = {d["name"]: d for d in manifest["datasets"]}
    assert set(by_name) == {"heldout.jsonl", "train.jsonl"}
    assert by_name["train.jsonl"]["sha256"] == hashlib.sha256(train.read_bytes()).hexdigest()
    assert by_name["train.jsonl"]["examples"] == 20
    assert manifest["cost"]["estimate"]["billed_tokens"] == estimate.billed_tokens
    assert manifest["cost"]["actual_trained_tokens"] == job.trained_tokens
    assert manifest["eval"]["n"] == 10
    assert manifest["eval"]["aggregates"]["win_rate"]["value"] == report.win_rate
    assert manifest["spec"]["spec_hash"] == spec.spec_hash()
    assert manifest["versions"]["finetune-sdk"]
    assert manifest["versions"]["python"]
    (tmp_path / "run").mkdir()
    path = write_manifest(tmp_path / "run", manifest)
    assert path == tmp_path / "run" / "manifest.json"
    assert json.loads(path.read_text()) == json.loads(json.dumps(manifest))
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["manifest.json"]


def test_manifest_with_unknown_price_and_actual_tokens(tmp_path):
    data = tmp_path / "t.jsonl"
    data.write_text(SAMPLE.read_text().splitlines()[0] + "\n")
    unpriced = "gpt-9-mini-2099-01-01"  # made up: no price table knows it
    spec = JobSpec(base_model=unpriced, training_file=data)
    est = cost.estimate(spec, "openai", epochs=1)
    job = Job(id="ftjob-1", provider="openai", status=JobStatus.SUCCEEDED,
              base_model=unpriced, output_model=f"ft:{unpriced}:o::x",
              trained_tokens=est.billed_tokens * 2)
    manifest = build_manifest(job, spec=spec, estimate=est)
    assert manifest["cost"]["estimate"]["usd_high"] is None  # unknown, not NaN, in JSON
    assert manifest["cost"]["estimated_vs_actual_tokens"] == 0.5
    write_manifest(tmp_path / "m.json", manifest)  # strict JSON (no NaN) succeeds


def test_versions_do_not_import_heavy_packages():
    code = ("import sys, finetune_sdk.manifest as m; v = m.package_versions();"
            " heavy = [x for x in ('torch', 'transformers', 'peft', 'openai') if x in sys.modules];"
            " print(heavy, 'torch' in v)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("[] ")


def test_manifest_cli_for_a_ledger_job(finished, tmp_path):
    from typer.testing import CliRunner

    from finetune_sdk.cli import _register_commands
    from finetune_sdk.cli.app import app

    _register_commands()
    client, spec, job, train, heldout = finished
    report = compare("base", client.models.resolve(job), heldout, cache=False)
    report.write(tmp_path / "eval")
    runner = CliRunner()
    result = runner.invoke(app, ["manifest", job.id, "--data", str(train),
                                 "--eval", str(tmp_path / "eval"), "--split-seed", "7",
                                 "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["provider_ids"]["job_id"] == job.id
    assert data["split_seed"] == 7
    assert data["datasets"][0]["sha256"] == hashlib.sha256(train.read_bytes()).hexdigest()
    assert data["eval"]["aggregates"]["win_rate"]["value"] == report.win_rate
    assert "rows" not in data["eval"]
    # the spec came back from the ledger: requested hyperparameters and a cost estimate
    assert data["hyperparameters"]["requested"] == {"epochs": 2, "learning_rate": 1e-4}
    assert data["cost"]["estimate"]["epochs"] == 2


def test_estimate_for_job_uses_resolved_epochs_and_the_matching_local_file(tmp_path):
    from finetune_sdk.manifest import estimate_for_job
    from finetune_sdk.types import DatasetRef

    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(SAMPLE.read_text().splitlines()[:10]) + "\n")
    other = tmp_path / "other.jsonl"
    other.write_text(SAMPLE.read_text().splitlines()[50] + "\n")
    digest = hashlib.sha256(train.read_bytes()).hexdigest()
    ref = DatasetRef(id="file-abc", provider="openai", bytes=train.stat().st_size,
                     sha256=digest)
    spec = JobSpec(base_model="gpt-4o-mini", training_file=ref)
    job = Job(id="ftjob-1", provider="openai", status=JobStatus.SUCCEEDED,
              base_model="gpt-4o-mini", hyperparameters={"n_epochs": 4, "batch_size": "auto"})
    exact = cost.estimate(train, "openai", "gpt-4o-mini", epochs=4)
    est = estimate_for_job(job, spec, [other, train])
    assert (est.tokens, est.epochs, est.billed_tokens) == (exact.tokens, 4, exact.tokens * 4)
    assert not any("already uploaded" in note for note in est.assumptions)
    # No local copy: the size-based guess, said to be one; "auto" epochs: the default, said too.
    vertex = job.model_copy(update={"hyperparameters": {"epoch_count": "auto"}})
    guess = estimate_for_job(vertex, spec, [other])
    assert guess.tokens == -(-ref.bytes // 4) and guess.epochs == cost.DEFAULT_EPOCHS
    assert any("already uploaded" in n for n in guess.assumptions)
    assert any("epochs not set" in n for n in guess.assumptions)
    # Local DatasetRefs keep the hash in provider_details; the spec's own epochs win.
    local_ref = DatasetRef(id="file-local-1", provider="local", bytes=ref.bytes,
                           provider_details={"sha256": digest})
    local_spec = JobSpec(base_model="tiny", training_file=local_ref,
                         hyperparameters=Hyperparameters(epochs=2))
    local_job = Job(id="ftjob-local-1", provider="local", status=JobStatus.SUCCEEDED,
                    hyperparameters={"epochs": 5})
    local = estimate_for_job(local_job, local_spec, [train])
    assert (local.tokens, local.epochs) == (exact.tokens, 2)


def test_manifest_cli_refuses_a_file_that_is_not_an_eval_report(finished, tmp_path):
    from typer.testing import CliRunner

    from finetune_sdk.cli import _register_commands
    from finetune_sdk.cli.app import app

    _register_commands()
    _client, _spec, job, _train, _heldout = finished
    runner = CliRunner()
    for name, text in (("broken.json", "{not json"), ("other.json", '{"a": 1}')):
        (tmp_path / name).write_text(text)
        result = runner.invoke(app, ["manifest", job.id, "--eval", str(tmp_path / name),
                                     "--out", str(tmp_path / "m.json")])
        assert result.exit_code == 2 and name in result.output
        assert "Traceback" not in result.output and not (tmp_path / "m.json").exists()


def test_estimate_for_a_local_job_counts_the_stored_copy(tmp_path):
    from finetune_sdk.manifest import estimate_for_job
    from finetune_sdk.types import DatasetRef

    stored = tmp_path / "store" / "abc-train.jsonl"
    stored.parent.mkdir()
    stored.write_text("\n".join(SAMPLE.read_text().splitlines()[:5]) + "\n")
    ref = DatasetRef(id="file-local-abc", provider="local", uri=str(stored),
                     bytes=stored.stat().st_size)
    job = Job(id="ftjob-local-1", provider="local", status=JobStatus.SUCCEEDED,
              hyperparameters={"epochs": 2})
    est = estimate_for_job(job, JobSpec(base_model="tiny", training_file=ref))
    assert est.tokens == cost.estimate(stored, "local", "tiny", epochs=2).tokens
    assert est.epochs == 2 and not any("already uploaded" in n for n in est.assumptions)
