"""The ledger keeps a finished job's trained tokens and the actual cost they imply (schema v5):
tokens x the documented per-token rate with its date and source, NULL (never 0) where the price
is unknown, a v4 ledger migrated in place on SQLite and PostgreSQL, and `finetune list` /
`finetune status` showing the figure."""

from __future__ import annotations

import sqlite3

import pytest
from typer.testing import CliRunner

from finetune_sdk import Client, cost
from finetune_sdk._ledger_db import MIGRATIONS, SCHEMA, PostgresBackend, SqliteBackend
from finetune_sdk.cli import _register_commands
from finetune_sdk.cli.app import app
from finetune_sdk.ledger import SCHEMA_VERSION, Ledger
from finetune_sdk.types import DatasetRef, Job, JobStatus

_register_commands()
runner = CliRunner()
EXAMPLES = 10
REF = DatasetRef(id="file-1", provider="fake", num_examples=EXAMPLES)
V4 = {step: statements for step, statements in MIGRATIONS.items() if step <= 4}


@pytest.fixture(autouse=True)
def _no_registered_prices():
    cost.clear_registered_prices()
    yield
    cost.clear_registered_prices()


def _fake_rate(usd: float | None) -> None:
    cost.register_price("fake", "*", usd=usd, date="2026-12-02", source="our test rate card")


def _run(client: Client) -> Job:
    return client.jobs.run(base_model="base", training_file=REF, poll_interval=0, progress=False)


def test_a_succeeded_job_records_tokens_times_the_rate(tmp_path) -> None:
    _fake_rate(2.5)
    client = Client("fake", ledger=tmp_path / "l.sqlite3")
    job = _run(client)
    assert job.trained_tokens  # the fake reports what it trained
    row = client.ledger.get(job.client_ref)
    assert row.trained_tokens == job.trained_tokens
    assert row.actual_usd == pytest.approx(job.trained_tokens / 1e6 * 2.5)
    assert f"{job.trained_tokens:,} trained tokens x 2.5 USD per 1M" in row.actual_cost_basis
    assert "2026-12-02" in row.actual_cost_basis and "our test rate card" in row.actual_cost_basis
    assert row.to_job().trained_tokens == job.trained_tokens


def test_the_fakes_bundled_zero_rate_is_zero_not_unknown(tmp_path) -> None:
    client = Client("fake", ledger=tmp_path / "l.sqlite3")
    row = client.ledger.get(_run(client).client_ref)
    assert row.actual_usd == 0.0 and row.actual_cost_basis.startswith("no charge")


def test_an_unknown_price_is_null_not_zero(tmp_path) -> None:
    _fake_rate(None)
    client = Client("fake", ledger=tmp_path / "l.sqlite3")
    job = _run(client)
    row = client.ledger.get(job.client_ref)
    assert row.trained_tokens == job.trained_tokens
    assert row.actual_usd is None and row.actual_cost_basis is None
    with sqlite3.connect(tmp_path / "l.sqlite3") as conn:
        stored = conn.execute("SELECT actual_usd FROM jobs WHERE job_id = ?", (job.id,))
        assert stored.fetchone()[0] is None


def test_actual_cost_follows_the_price_table() -> None:
    fireworks = Job(id="j", provider="fireworks", status=JobStatus.SUCCEEDED, method="sft",
                    base_model="accounts/fireworks/models/llama-v3p1-8b-instruct",
                    trained_tokens=3_000_000)
    found = cost.actual_cost(fireworks)
    assert found.usd == pytest.approx(1.5)  # <=16B LoRA SFT: 0.5 USD per 1M
    assert "price of 2026-10-07, secondary, https://fireworks.ai/pricing" in found.basis
    small = Job(id="t", provider="together", status=JobStatus.SUCCEEDED, method="sft",
                base_model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
                trained_tokens=1000)
    assert cost.actual_cost(small).usd == 4.0  # Together's per-job minimum
    assert "minimum" in cost.actual_cost(small).basis
    hourly = fireworks.model_copy(update={"provider": "huggingface", "base_model": "org/m"})
    assert cost.actual_cost(hourly) is None  # per hour: tokens say nothing
    assert cost.actual_cost(fireworks.model_copy(update={"trained_tokens": None})) is None


def _v4_sqlite(path) -> None:
    backend = SqliteBackend(path)
    with backend.session() as conn:
        backend.migrate(conn, SCHEMA, V4, 4)
        conn.execute("INSERT INTO jobs (client_ref, provider, job_id, spec_json, status,"
                     " created_at, updated_at, base_model) VALUES ('old', 'openai', 'ftjob-1',"
                     " '{}', 'running', '2026-01-01', '2026-01-01', 'gpt-4.1-mini-2025-04-14')")


def test_a_v4_sqlite_ledger_migrates_and_keeps_its_rows(tmp_path) -> None:
    path = tmp_path / "v4.sqlite3"
    _v4_sqlite(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 4
    ledger = Ledger(path)
    row = ledger.get("old")
    assert row.job_id == "ftjob-1" and row.base_model == "gpt-4.1-mini-2025-04-14"
    assert row.trained_tokens is None and row.actual_usd is None
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    done = Job(id="ftjob-1", provider="openai", status=JobStatus.SUCCEEDED,
               base_model="gpt-4.1-mini-2025-04-14", trained_tokens=2_000_000)
    ledger.update(done, cost=cost.actual_cost(done))
    assert ledger.get("old").actual_usd == pytest.approx(10.0)  # 2M x 5 USD per 1M
    ledger.update(done.model_copy(update={"trained_tokens": None}))  # a later poll: kept
    assert ledger.get("old").actual_usd == pytest.approx(10.0)


def test_a_v4_postgres_ledger_migrates_and_keeps_its_rows(postgres_url) -> None:
    import psycopg

    backend = PostgresBackend(postgres_url)
    with backend.session() as conn:
        backend.migrate(conn, SCHEMA, V4, 4)
        conn.execute("INSERT INTO jobs (client_ref, provider, job_id, spec_json, status,"
                     " created_at, updated_at) VALUES ('old', 'fake', 'j1', '{}', 'running',"
                     " '2026-01-01', '2026-01-01')")
    ledger = Ledger(postgres_url)
    assert ledger.get("old").job_id == "j1" and ledger.get("old").actual_usd is None
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT schema_version FROM ledger_meta").fetchone()[0] == 5
        types = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'jobs' AND column_name IN"
            " ('trained_tokens', 'actual_usd', 'actual_cost_basis')").fetchall())
    assert types == {"trained_tokens": "bigint", "actual_usd": "double precision",
                     "actual_cost_basis": "text"}
    big = Job(id="j1", provider="fake", status=JobStatus.SUCCEEDED, trained_tokens=3_000_000_000)
    ledger.update(big, cost=cost.ActualCost(0.000123456789, 3_000_000_000, "test"))
    row = ledger.get("old")
    assert row.trained_tokens == 3_000_000_000 and row.actual_usd == 0.000123456789


def test_list_and_status_show_the_actual_cost(tmp_path) -> None:
    _fake_rate(2.5)
    job = _run(Client("fake"))
    assert job.trained_tokens == EXAMPLES * 64  # the fake trains 64 tokens an example
    expected = "$0.0016"  # 640 tokens x 2.5 USD per 1M, shown to two significant digits
    listed = runner.invoke(app, ["list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "actual cost" in listed.output and expected in listed.output, listed.output
    cost.clear_registered_prices()  # the rate changes (to the bundled 0) after the job ended
    shown = runner.invoke(app, ["status", job.id], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    # the figure recorded when the job ended stays, with its basis
    assert "actual cost" in shown.output and expected in shown.output, shown.output
    assert "trained tokens x 2.5 USD per 1M" in " ".join(shown.output.split())
    as_json = runner.invoke(app, ["list", "--json"])
    assert '"actual_usd"' in as_json.stdout
