"""bakeoff() over the fake provider and the OpenAI and Fireworks mock servers, through the real
adapters: the same split for all, one job per target even when run twice, and the fine-tune
that needs a deployment said so in the report instead of being evaluated blind."""

from __future__ import annotations

import pytest
from migrate_support import mount_vendors, small_data

from finetune_sdk.bakeoff import bakeoff

pytestmark = pytest.mark.filterwarnings("ignore::finetune_sdk.provider.PreflightWarning")


def test_bakeoff_over_fake_openai_and_fireworks(httpx2_mock, monkeypatch, tmp_path):
    vendors = mount_vendors(httpx2_mock, monkeypatch)
    data = small_data(tmp_path / "chats.jsonl", 40)
    targets = ["fake", "openai", "fireworks"]
    out = tmp_path / "out"
    report = bakeoff(data, targets, out=out, val=0.25, hyperparameters={"epochs": 2},
                     poll_interval=0, eval_params={"max_tokens": 16})
    rows = {r["target"]: r for r in report.rows}
    assert [rows[t]["status"] for t in targets] == ["succeeded"] * 3
    (oa_job,) = vendors.openai.jobs.values()
    (fw_job,) = vendors.fireworks.jobs.values()
    assert oa_job["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2
    assert fw_job["epochs"] == 2
    assert oa_job["model"] == rows["openai"]["base_model"] == "gpt-4.1-mini-2025-04-14"
    assert fw_job["baseModel"] == "accounts/fireworks/models/llama-v3p1-8b-instruct"
    # Both hosted targets trained on the same split file: the same bytes reached each vendor.
    train_lines = (out / "data" / "train.jsonl").read_text().count("\n")
    uploaded = next(iter(vendors.openai.file_bytes.values()))
    assert uploaded.count(b"\n") == train_lines
    # OpenAI serves at once: evaluated against its base; Fireworks needs a deployment first.
    ev = rows["openai"]["eval"]
    assert ev["baseline"] == "gpt-4.1-mini-2025-04-14" and ev["model"].startswith("ft:")
    assert ev["new_calls"] == {"base": ev["n"], "tuned": ev["n"]}  # the mock really answered
    assert "lost" in ev["flips"] and (ev["n"] >= 10 or ev["ci_note"])
    assert rows["fireworks"]["eval"] is None
    assert "deployment" in rows["fireworks"]["eval_note"]
    assert rows["openai"]["estimate"]["usd_high"] > 0 and rows["openai"]["actual_usd"] > 0
    assert "trained tokens" in rows["openai"]["actual_usd_basis"]

    posts = vendors.posts()
    again = bakeoff(data, targets, out=out, val=0.25, hyperparameters={"epochs": 2},
                    poll_interval=0, eval_params={"max_tokens": 16})
    assert len(vendors.openai.jobs) == len(vendors.fireworks.jobs) == 1
    assert all(r["attached"] for r in again.rows)
    # The re-run sent nothing: no upload, no create, and every answer came from the cache.
    assert vendors.posts() == posts
    assert again.rows[1]["eval"]["new_calls"] == {"base": 0, "tuned": 0}
