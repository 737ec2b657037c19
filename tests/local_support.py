"""Shared helpers of the local-provider tests: a tiny model folder, small data, CLI in a subprocess.

Jobs run as real detached workers (``python -m finetune_sdk.local.worker``) on the tiny model, so
every helper here works with a job *home* (``FINETUNE_SDK_HOME``) that subprocesses can share.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import finetune_sdk
from finetune_sdk.client import Client
from finetune_sdk.providers.local import TINY_DEFAULTS, LocalProvider

SAMPLE = Path(finetune_sdk.__file__).parent / "data" / "samples" / "health_chats.jsonl"
FAST = dict(TINY_DEFAULTS)  # what the tiny model needs to learn visibly in seconds


def make_home(root: Path, train_examples: int = 48) -> Path:
    """A FINETUNE_SDK_HOME with the tiny model prebuilt and small train/validation files."""
    from finetune_sdk.local.tiny import build_tiny_model

    root.mkdir(parents=True, exist_ok=True)
    build_tiny_model(root / "models" / "tiny-v1")  # where base_model="tiny" looks in this home
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    (root / "train.jsonl").write_text("\n".join(lines[:train_examples]) + "\n")
    (root / "val.jsonl").write_text("\n".join(lines[-8:]) + "\n")
    return root


def client(home: Path) -> Client:
    return Client(LocalProvider(root=home / "local"), ledger=home / "ledger.sqlite3")


def env_for(home: Path) -> dict[str, str]:
    return {**os.environ, "FINETUNE_SDK_HOME": str(home)}


def cli(home: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``finetune ARGS`` in a fresh process sharing ``home``."""
    code = "from finetune_sdk.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], env=env_for(home),
                          capture_output=True, text=True, timeout=timeout)


def start_cli(home: Path, *args: str) -> subprocess.Popen:
    code = "from finetune_sdk.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env_for(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def poll_until(check: Callable[[], Any], timeout: float = 180, every: float = 0.2) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def events_of(home: Path, job_id: str) -> list[dict]:
    path = home / "local" / "jobs" / job_id / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
