"""docs/recipes/*.md are true: each recipe's runnable blocks run offline, in order, in one folder.

A recipe is a story (export, then train, then evaluate), so unlike the single pages checked by
tests/test_docs_examples.py its blocks share one scratch directory and FINETUNE_SDK_HOME: a later
block uses the files and jobs of an earlier one. The markers, the scratch folder (``examples/``,
``chats.jsonl``...) and the scrubbed environment are that module's, so both read docs the same
way. Each recipe is also held to its promise of being quick (in CPU time).
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest
from test_docs_examples import KINDS, ROOT, Block, _blocks, _environment, _scratch

RECIPES = sorted((ROOT / "docs" / "recipes").glob("*.md"))
CPU_SECONDS_PER_RECIPE = 45
"""CPU time of the blocks' processes (not wall time, which other work on a shared machine
stretches); the recipes aim at ~20 s. A detached local worker is not counted."""


def _command(block: Block, work: Path, index: int) -> list[str]:
    if block.lang == "bash":
        script = work / f"block{index}.sh"
        command = ["bash", "-e", str(script)]
    elif block.marker == "pytest":
        script = work / f"test_block{index}.py"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)]
    else:
        script = work / f"block{index}.py"
        command = [sys.executable, str(script)]
    script.write_text(block.code, encoding="utf-8")
    return command


def test_there_are_recipes_and_the_index_links_each() -> None:
    names = {path.name for path in RECIPES}
    assert {"diabetes-coach-fireworks.md", "cycle-health-openai-gemini.md",
            "therapy-companion-local.md"} <= names
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    for name in names:
        assert f"recipes/{name}" in index, f"docs/index.md does not link recipes/{name}"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipe_blocks_parse_and_markers_mean_what_the_docs_say(recipe: Path) -> None:
    for block in _blocks(recipe):
        if block.lang == "python":
            compile(block.code, block.id, "exec")
        if block.marker is not None:
            assert block.lang in ("python", "bash"), f"{block.id}: runnable {block.lang!r}"
            assert (block.marker or None) in KINDS, f"{block.id}: unknown marker {block.marker!r}"
            assert not block.marker or block.lang == "python", \
                f"{block.id}: '{block.marker}' blocks are Python"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipe_runs_offline_in_order(recipe: Path, tmp_path: Path) -> None:
    blocks = [block for block in _blocks(recipe) if block.marker is not None]
    assert blocks, f"{recipe.name} has no runnable block"
    if any(block.marker == "local" for block in blocks):
        # the whole story trains locally (its bash steps too): it needs the [local] extra
        for module in ("torch", "transformers", "peft"):
            pytest.importorskip(module)
    work = _scratch(tmp_path)
    env = _environment(tmp_path / "home")
    before = _children_cpu()
    for index, block in enumerate(blocks):
        proc = subprocess.run(_command(block, work, index), cwd=work, env=env,
                              capture_output=True, text=True, timeout=180)
        output = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        assert proc.returncode == 0, f"{block.id} failed (exit {proc.returncode}):\n{output}"
    took = _children_cpu() - before
    assert took < CPU_SECONDS_PER_RECIPE, f"{recipe.name} used {took:.0f} s of CPU"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
