"""Generated docs stay in step with the code; every example runs offline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "docs/gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_reference_docs_are_current() -> None:
    gen = _generator()
    for relative, build in gen.OUTPUTS.items():
        committed = (ROOT / "docs" / relative).read_text(encoding="utf-8")
        assert committed == build(), f"docs/{relative} is stale: run python docs/gen_reference.py"


def test_cli_reference_lists_every_command() -> None:
    text = (ROOT / "docs/cli.md").read_text(encoding="utf-8")
    for command in ("wait", "status", "model", "providers", "list", "cancel", "events"):
        assert f"## `finetune {command}`" in text
