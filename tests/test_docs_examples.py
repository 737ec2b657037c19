"""Code blocks in README.md and docs/ are true: the offline ones run, every Python block parses.

A block runs when the line right before its fence is one of these markers:

- ``<!-- runnable -->``: a Python block (plain script) or a bash block (``bash -e``);
- ``<!-- runnable: pytest -->``: a Python block holding test functions, run with pytest;
- ``<!-- runnable: local -->``: a Python block that trains with the local provider (needs the
  ``[local]`` extra: skipped when torch is not installed).

Each block runs in a subprocess inside a fresh directory with its own ``FINETUNE_SDK_HOME``, no
vendor credentials in the environment, and the files the docs assume a reader has: ``examples/``
(the repository's, linked), ``chats.jsonl`` (the bundled health chats), ``tests/data/chats.jsonl``
(the same) and ``patients.txt`` (names for ``finetune scrub --names-file``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "docs" / "providers").glob("*.md"))]
SAMPLE = ROOT / "examples" / "data" / "health_chats.jsonl"
MARKER = re.compile(r"^\s*<!--\s*runnable(?::\s*(?P<kind>[a-z]+))?\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>\w*)\s*$")
KINDS = {None, "pytest", "local"}
# Credentials and switches that could send a block to a real vendor: never passed on.
SCRUBBED_ENV = ("OPENAI_", "FIREWORKS_", "GOOGLE_", "GEMINI_", "HF_", "HUGGING_FACE_",
                "TOGETHER_", "WANDB_", "AZURE_OPENAI_", "NEBIUS_", "AWS_",
                "FINETUNE_PROVIDER", "FINETUNE_SDK_")


@dataclass(frozen=True)
class Block:
    file: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: str | None  # None: not marked runnable; "" plain; else the marker's kind

    @property
    def id(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def _blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith("```"):
            end += 1
        previous = lines[index - 1] if index else ""
        marked = MARKER.match(previous)
        found.append(Block(
            file=path, line=index + 1, lang=opening["lang"],
            code=textwrap.dedent("\n".join(lines[index + 1:end])) + "\n",
            marker=(marked["kind"] or "") if marked else None,
        ))
        index = end + 1
    return found


ALL_BLOCKS = [block for path in DOC_FILES for block in _blocks(path)]
RUNNABLE = [block for block in ALL_BLOCKS if block.marker is not None]
PYTHON = [block for block in ALL_BLOCKS if block.lang == "python"]


def test_markers_sit_on_code_blocks() -> None:
    """A marker not directly above a python/bash fence would silently run nothing."""
    for path in DOC_FILES:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            marked = MARKER.match(line)
            if not marked:
                continue
            where = f"{path.relative_to(ROOT)}:{number}"
            assert number < len(lines), f"{where}: marker at the end of the file"
            fence = FENCE.match(lines[number])
            assert fence and fence["lang"] in {"python", "bash"}, \
                f"{where}: a runnable marker must be right above a ```python or ```bash fence"
            assert marked["kind"] in KINDS, f"{where}: unknown marker kind {marked['kind']!r}"
            if marked["kind"]:
                assert fence["lang"] == "python", f"{where}: {marked['kind']} blocks are Python"


def test_the_docs_have_runnable_examples() -> None:
    pages = {block.file.name for block in RUNNABLE}
    assert {"README.md", "index.md", "costs.md", "datasets.md", "evaluation.md",
            "testing.md"} <= pages
    assert len(RUNNABLE) >= 10


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.id)
def test_every_python_block_parses(block: Block) -> None:
    """Blocks that need a key are not run, but a reader can at least paste them into a file."""
    try:
        compile(block.code, block.id, "exec")
    except SyntaxError as error:
        pytest.fail(f"{block.id}: {error}")


def _scratch(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "tests" / "data").mkdir(parents=True)
    try:
        (work / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    except OSError:  # no symlinks (some Windows setups): a copy does the same
        shutil.copytree(ROOT / "examples", work / "examples")
    shutil.copy(SAMPLE, work / "chats.jsonl")
    shutil.copy(SAMPLE, work / "tests" / "data" / "chats.jsonl")
    (work / "patients.txt").write_text("Maria Lopez\nJohn Smith\n", encoding="utf-8")
    return work


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_ENV)}
    env["FINETUNE_SDK_HOME"] = str(home)
    env["HF_HUB_OFFLINE"] = "1"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.id)
def test_runnable_block_runs_offline(block: Block, tmp_path: Path) -> None:
    if block.marker == "local":
        pytest.importorskip("torch")  # local training needs the [local] extra
        pytest.importorskip("transformers")
        pytest.importorskip("peft")
    work = _scratch(tmp_path)
    if block.lang == "bash":
        script = work / "block.sh"
        command = ["bash", "-e", str(script)]
    elif block.marker == "pytest":
        script = work / "test_block.py"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)]
    else:
        script = work / "block.py"
        command = [sys.executable, str(script)]
    script.write_text(block.code, encoding="utf-8")
    proc = subprocess.run(command, cwd=work, env=_environment(tmp_path / "home"),
                          capture_output=True, text=True, timeout=180)
    output = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"{block.id} failed (exit {proc.returncode}):\n{output}"
