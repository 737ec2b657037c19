"""client.bakeoff / client.migrate: the module functions with this client's ledger and
provider (the provider instance is reused, not rebuilt)."""

from __future__ import annotations

from pathlib import Path

from finetune_sdk.client import Client
from finetune_sdk.providers.fake import FakeProvider

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "health_chats.jsonl"


def test_client_bakeoff_and_migrate_use_the_clients_provider_and_ledger(tmp_path):
    provider = FakeProvider(root=tmp_path / "own-fake")
    client = Client(provider, ledger=tmp_path / "ledger.sqlite3")
    report = client.bakeoff(SAMPLE, ["fake"], out=tmp_path / "b", poll_interval=0,
                            evaluate=False)
    (row,) = report.rows
    assert row["status"] == "succeeded"
    assert (tmp_path / "own-fake" / "jobs" / f"{row['job_id']}.json").is_file()
    assert client.ledger.get(row["client_ref"]).job_id == row["job_id"]
    moved = client.migrate(row["job_id"], ["fake:other"], out=tmp_path / "m", poll_interval=0,
                           eval_limit=5)
    assert moved.rows[0]["status"] == "succeeded", moved.rows[0]
    assert moved.rows[0]["eval"], moved.rows[0]["eval_note"]
    assert moved.rows[0]["eval"]["baseline"] == f"fake:ft-{row['job_id']}"
    assert len(list((tmp_path / "own-fake" / "jobs").glob("*.json"))) == 2
