"""Issue 19's dataset-command fixes: ``validate --fix`` removes exact duplicates and says how
many, ``split`` warns on the terminal when validation comes out much smaller than asked, and
``validate`` prints compiler-style lines when stdout is not a terminal (CliRunner's is not)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import finetune_sdk.cli.data  # noqa: F401
from finetune_sdk.cli.app import app
from finetune_sdk.data.fix import fix_file
from finetune_sdk.data.validate import validate_file

runner = CliRunner()


def cli(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def chat(question: str, answer: str = "It depends.", **extra) -> dict:
    return {"messages": [{"role": "user", "content": question},
                         {"role": "assistant", "content": answer}], **extra}


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def export(path: Path) -> Path:
    """54 exported chats, 41 of them exact copies of earlier ones (each with its own id)."""
    rows = [chat(f"question {i}", id=f"chat-{i}") for i in range(13)]
    rows += [chat(f"question {i % 13}", id=f"chat-{13 + i}") for i in range(41)]
    return write(path, rows)


def test_fix_removes_exact_duplicates_and_says_how_many(tmp_path):
    src = export(tmp_path / "export.jsonl")
    assert sum(f.code == "duplicate_example" for f in validate_file(src).findings) == 41
    result = cli("validate", src, "--fix", "-o", tmp_path / "clean.jsonl", "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 0, data
    assert data["fix"]["duplicates_removed"] == 41 and data["fix"]["counts"]["drop_duplicate"] == 41
    assert {"line": 14, "change": "drop_duplicate", "detail": "same example as line 1"} in \
        data["fix"]["changes"]
    kept = [json.loads(line) for line in (tmp_path / "clean.jsonl").read_text().splitlines()]
    assert [r["id"] for r in kept] == [f"chat-{i}" for i in range(13)]  # the first of each
    assert data["examples"] == 13 and "duplicate_example" not in data["counts"]

    text = cli("validate", src, "--fix", "-o", tmp_path / "clean2.jsonl")
    assert text.exit_code == 0
    assert "removed 41 exact duplicate examples" in text.output


def test_fix_keeps_near_duplicates_and_maps_lines_back(tmp_path):
    rows = [chat("same", id="a"), chat("  same  ", id="b"),  # equal once whitespace is fixed
            chat("same", weight=0), chat("same", metadata={"source": "web"}),
            chat("other"), chat("same", id="c")]
    src = write(tmp_path / "d.jsonl", rows)
    report = fix_file(src, tmp_path / "o.jsonl")
    assert report.duplicates_removed == 2
    assert [c["line"] for c in report.changes if c["change"] == "drop_duplicate"] == [2, 6]
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 4
    assert report.source_line(3) == 4 and report.source_line(4) == 5  # copy line -> input line
    off = fix_file(src, tmp_path / "o2.jsonl", drop_duplicates=False)
    assert off.duplicates_removed == 0 and off.lines_written == 6


def test_split_warns_on_the_terminal_when_validation_is_much_smaller(tmp_path):
    src = export(tmp_path / "export.jsonl")
    result = cli("split", src, "--val", "0.2", "--seed", "3")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "warning: asked for 20% validation (about 11 of 54 examples), got" in said
    assert "identical examples stay on one side" in said and "validate --fix" in said
    as_json = json.loads(cli("split", src, "--val", "0.2", "--seed", "3", "--json").stdout)
    assert as_json["warnings"] and as_json["warnings"][0].startswith("asked for 20%")
    varied = write(tmp_path / "varied.jsonl", [chat(f"q{i}") for i in range(200)])
    quiet = cli("split", varied, "--val", "0.2")
    assert quiet.exit_code == 0 and "warning" not in quiet.output


def test_validate_prints_file_line_findings_when_not_a_terminal(tmp_path):
    rows = [chat(f"q{i}") for i in range(12)]
    rows[4] = {"messages": [{"role": "robot", "content": "beep"},
                            {"role": "assistant", "content": "ok"}]}
    src = write(tmp_path / "bad.jsonl", rows)
    (tmp_path / "bad.jsonl").write_text(src.read_text() + "{oops\n")
    result = cli("validate", src)
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert f"{src}:5: error bad_role messages[0].role: role 'robot'" in "\n".join(lines)
    bad_json = [line for line in lines if line.startswith(f"{src}:13: error invalid_json")]
    assert len(bad_json) == 1 and bad_json[0].count(": ") >= 2
    assert "┃" not in result.stdout and "│" not in result.stdout  # no table in a pipe
    assert lines[-1].endswith("2 error(s)")
