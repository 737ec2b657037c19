"""Every example in examples/ runs offline (fake provider or the local tiny model), no keys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py"))


def test_there_are_examples() -> None:
    assert EXAMPLES, "examples/ has no runnable example"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_offline(example: Path, tmp_path: Path) -> None:
    if example.name.startswith("local_"):
        pytest.importorskip("torch")  # local examples train: they need the [local] extra
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINETUNE_PROVIDER")}
    env["FINETUNE_SDK_HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, str(example)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=240,
    )
    output = f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"{example.name} failed:\n{output}"
