"""finetune_sdk type-checks clean under mypy (the settings are [tool.mypy] in pyproject.toml).

Skipped where mypy is absent. The first run on a fresh checkout analyses torch and transformers
too (minutes); later runs reuse .mypy_cache/ and take seconds.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_nothing() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (it comes with the [dev] extra)")
    # No targets: mypy checks the `packages` of [tool.mypy] (finetune_sdk).
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
        cwd=ROOT, capture_output=True, text=True, timeout=1500,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    if done.returncode != 0 or errors:
        # Every error line (with its notes) goes to the captured output; the message names a few.
        print(done.stdout)
        print(done.stderr, file=sys.stderr)
        shown = "\n".join(errors[:40]) or done.stdout[-3000:] or done.stderr[-3000:]
        more = f"\n... and {len(errors) - 40} more (see the captured stdout)" if len(
            errors) > 40 else ""
        pytest.fail(f"mypy exited {done.returncode} with {len(errors)} error(s):\n{shown}{more}",
                    pytrace=False)
