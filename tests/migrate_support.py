"""Shared by the bakeoff/migrate tests: the OpenAI and Fireworks mock servers mounted side by
side (each on its own host), keys in the environment, polling without pauses, and small data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from finetune_sdk.providers.fireworks.adapter import FireworksProvider
from finetune_sdk.providers.openai.adapter import OpenAIProvider
from finetune_sdk.testing.mock_servers.fireworks import FireworksMockServer
from finetune_sdk.testing.mock_servers.openai import OpenAIMockServer

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "health_chats.jsonl"


@dataclass
class Vendors:
    openai: OpenAIMockServer
    fireworks: FireworksMockServer

    def posts(self) -> int:
        """POST requests both servers have seen (every request that can cost money is one)."""
        return sum(1 for m in (self.openai, self.fireworks) for r in m.requests
                   if r.method == "POST")


def mount_vendors(httpx2_mock, monkeypatch) -> Vendors:
    openai = OpenAIMockServer(auto_advance=True)
    fireworks = FireworksMockServer(auto_advance=True)
    openai.mount(httpx2_mock, url=re.compile(r"https://openai\.mock\.invalid/.*"))
    fireworks.mount(httpx2_mock, url=re.compile(r"https://fireworks\.mock\.invalid/.*"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-bakeoff-test")
    monkeypatch.setenv("OPENAI_BASE_URL", openai.base_url)
    monkeypatch.setenv("FIREWORKS_API_KEY", "fw-bakeoff-test")
    monkeypatch.setenv("FIREWORKS_ACCOUNT_ID", fireworks.account)
    monkeypatch.setenv("FIREWORKS_BASE_URL", fireworks.base_url)
    for cls in (OpenAIProvider, FireworksProvider):  # job and deployment polls: no pauses
        monkeypatch.setattr(cls, "poll_interval", lambda self: 0.0)
    monkeypatch.setattr(OpenAIProvider, "dataset_poll_interval", property(lambda self: 0.0))
    return Vendors(openai, fireworks)


def small_data(path: Path, lines: int = 24) -> Path:
    """The first ``lines`` sample chats (quick to train on the tiny model)."""
    path.write_text("\n".join(SAMPLE.read_text(encoding="utf-8").splitlines()[:lines]) + "\n",
                    encoding="utf-8")
    return path
