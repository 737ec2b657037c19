"""Validation: every bad input gives a line-numbered finding, and the CLI exits 2 (no traceback)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import finetune_sdk.cli.data  # noqa: F401  (registers the data commands)
from finetune_sdk.cli.app import app
from finetune_sdk.data.findings import CODES
from finetune_sdk.data.validate import validate_file
from finetune_sdk.errors import DatasetValidationError

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "examples" / "data"
runner = CliRunner()


def chat(user: str = "How do I log my glucose?", answer: str = "Tap + on the home screen.",
         **extra) -> dict:
    return {**extra, "messages": [{"role": "system", "content": "You are a coach."},
                                  {"role": "user", "content": user},
                                  {"role": "assistant", "content": answer}]}


def good_lines(n: int = 12) -> list[bytes]:
    return [json.dumps(chat(f"question {i}?", f"answer {i}.")).encode() for i in range(n)]


def write_lines(path: Path, lines: list[bytes], end: bytes = b"\n") -> Path:
    path.write_bytes(b"".join(line + end for line in lines))
    return path


def cli(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    return result


def assert_finding(path: Path, code: str, line: int | None, provider: str = "openai",
                   **kwargs) -> None:
    report = validate_file(path, provider=provider, **kwargs)
    hits = [f for f in report.findings if f.code == code]
    assert hits, f"no {code} finding in {[str(f) for f in report.findings]}"
    assert hits[0].line == line and hits[0].severity == "error" and hits[0].message
    assert hits[0].file.endswith(path.name) or kwargs
    assert not report.ok
    with pytest.raises(DatasetValidationError) as err:
        report.raise_for_errors()
    assert err.value.findings
    result = cli("validate", path, "--provider", provider, *_extra_cli(kwargs), "--json")
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert any(f["code"] == code and f["line"] == line for f in data["findings"])
    assert "Traceback" not in result.output


def _extra_cli(kwargs: dict) -> list[str]:
    return ["--validation-file", str(kwargs["validation_path"])] if "validation_path" in kwargs \
        else []


@pytest.mark.parametrize("name, provider", [
    (name, provider)
    for provider in ("openai", "fireworks", "gemini", "huggingface", "local")
    for name in ("health_chats.jsonl", "therapy_support.jsonl", "menstrual_health.jsonl",
                 "preferences.jsonl")
    # Fireworks and local train SFT only: test_rule_pack_methods_match_the_adapters.
    if not (name == "preferences.jsonl" and provider in ("fireworks", "local"))])
def test_bundled_samples_pass_every_provider(name, provider):
    report = validate_file(SAMPLES / name, provider=provider)
    assert report.ok, [str(f) for f in report.findings]
    assert report.examples >= 50
    result = cli("validate", SAMPLES / name, "--provider", provider)
    assert result.exit_code == 0, result.output


def test_truncated_json(tmp_path):
    lines = good_lines()
    lines.insert(4, lines[0][: len(lines[0]) // 2])
    path = write_lines(tmp_path / "t.jsonl", lines)
    assert_finding(path, "invalid_json", 5)
    assert "truncated" in validate_file(path).findings[0].message


def test_wrong_role(tmp_path):
    bad = chat()
    bad["messages"][1]["role"] = "patient"
    path = write_lines(tmp_path / "r.jsonl", [*good_lines(3), json.dumps(bad).encode()])
    assert_finding(path, "bad_role", 4)
    finding = next(f for f in validate_file(path, provider="openai").findings
                   if f.code == "bad_role")
    assert finding.field == "messages[1].role" and "patient" in finding.message


def test_chat_must_end_with_assistant_and_alternate_for_gemini(tmp_path):
    ends_user = chat()
    ends_user["messages"].append({"role": "user", "content": "and?"})
    two_users = chat()
    two_users["messages"].insert(2, {"role": "user", "content": "hello?"})
    path = write_lines(tmp_path / "o.jsonl", [json.dumps(ends_user).encode(),
                                              json.dumps(two_users).encode()])
    assert_finding(path, "last_not_assistant", 1)
    assert_finding(path, "not_alternating", 2, provider="gemini")
    # OpenAI does not require alternation: only the ending is an error there.
    codes = {f.code for f in validate_file(path, provider="openai").findings}
    assert "not_alternating" not in codes


def test_empty_assistant_turn(tmp_path):
    empty = json.dumps(chat(answer="  ")).encode()
    path = write_lines(tmp_path / "e.jsonl", [*good_lines(2), empty])
    assert_finding(path, "empty_assistant", 3)


def test_non_utf8_bytes(tmp_path):
    lines = good_lines()
    lines[6] = lines[6].replace(b"question", b"quest\xff\xfeion")
    path = write_lines(tmp_path / "u.jsonl", lines)
    assert_finding(path, "not_utf8", 7)


def assert_warning(path: Path, code: str, line: int) -> None:
    """Valid JSONL a vendor reads: a warning on ``line``, and the file still passes."""
    report = validate_file(path, provider="openai")
    hits = [f for f in report.findings if f.code == code]
    assert hits and hits[0].line == line and hits[0].severity == "warning", report.findings
    assert report.ok, [str(f) for f in report.errors]
    result = cli("validate", path, "--provider", "openai", "--json")
    assert result.exit_code == 0, result.output
    assert any(f["code"] == code and f["severity"] == "warning"
               for f in json.loads(result.stdout)["findings"])


def test_bom(tmp_path):
    """A UTF-8 BOM is valid JSONL for every vendor: a warning; convert writes it without."""
    path = write_lines(tmp_path / "b.jsonl", good_lines())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert_warning(path, "bom", 1)


def test_crlf(tmp_path):
    """CRLF line ends are valid JSONL for every vendor: a warning, counted once per file."""
    path = write_lines(tmp_path / "c.jsonl", good_lines(), end=b"\r\n")
    assert_warning(path, "crlf", 1)
    crlf = next(f for f in validate_file(path).findings if f.code == "crlf")
    assert "12 lines" in crlf.message


def test_line_over_the_limit_is_reported_not_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("FINETUNE_SDK_MAX_LINE_BYTES", str(64 * 1024))
    huge = b'{"messages": [{"role": "user", "content": "' + b"a" * 300_000 + b'"}]}'
    lines = good_lines()
    lines.insert(2, huge)
    path = write_lines(tmp_path / "l.jsonl", lines)
    assert_finding(path, "line_too_long", 3)
    report = validate_file(path)
    assert report.examples == 12  # the other lines were still read


@pytest.mark.slow
def test_two_gigabyte_line(tmp_path):
    """A real 2 GB line (sparse file, so the disk holds almost nothing)."""
    path = tmp_path / "big.jsonl"
    with open(path, "wb") as handle:
        handle.write(b'{"messages": "')
        handle.truncate(2 * 1024**3)
        handle.seek(0, os.SEEK_END)
        handle.write(b'"}\n' + b"\n".join(good_lines(3)) + b"\n")
    assert_finding(path, "line_too_long", 1)
    assert validate_file(path).examples == 3


def test_duplicate_ids(tmp_path):
    rows = [chat(f"q{i}", f"a{i}", id=f"ex-{i}") for i in range(12)]
    rows[9]["id"] = "ex-3"
    path = write_lines(tmp_path / "d.jsonl", [json.dumps(r).encode() for r in rows])
    assert_finding(path, "duplicate_id", 10)
    finding = next(f for f in validate_file(path).findings if f.code == "duplicate_id")
    assert "line 4" in finding.message and finding.field == "id"


def test_duplicate_examples_are_warnings(tmp_path):
    lines = good_lines()
    lines.append(lines[2])
    report = validate_file(write_lines(tmp_path / "dup.jsonl", lines), provider="openai")
    dup = [f for f in report.findings if f.code == "duplicate_example"]
    assert report.ok and dup[0].line == 13 and dup[0].severity == "warning"


def test_leakage_between_train_and_validation(tmp_path):
    train = write_lines(tmp_path / "train.jsonl", good_lines(12))
    val = write_lines(tmp_path / "val.jsonl", [json.dumps(chat("fresh?", "yes.")).encode(),
                                               good_lines(12)[5]])
    report = validate_file(train, provider="openai", validation_path=val)
    leak = [f for f in report.findings if f.code == "leakage"]
    assert leak[0].file == str(val) and leak[0].line == 2 and "line 6" in leak[0].message
    assert_finding(train, "leakage", 2, validation_path=val)


def test_provider_rule_packs(tmp_path):
    few = write_lines(tmp_path / "few.jsonl", good_lines(5))
    assert_finding(few, "too_few_examples", None)  # OpenAI needs 10
    assert validate_file(few, provider="fireworks").ok  # Fireworks needs 3
    tools = chat()
    tools["messages"][2]["tool_calls"] = [{"id": "1", "type": "function",
                                            "function": {"name": "log", "arguments": "{}"}}]
    weights = chat()
    weights["messages"][2]["weight"] = 0
    path = write_lines(tmp_path / "f.jsonl", [*good_lines(10), json.dumps(tools).encode(),
                                              json.dumps(weights).encode()])
    assert validate_file(path, provider="openai").ok
    assert_finding(path, "tool_calls_unsupported", 11, provider="gemini")
    weight = [f for f in validate_file(path, provider="fireworks").findings
              if f.code == "weight_unsupported"]
    assert weight[0].line == 12


def test_too_many_tokens_for_the_base_model(tmp_path):
    long = chat(answer="word " * 600_000)  # ~750k tokens by the estimate
    path = write_lines(tmp_path / "long.jsonl", [*good_lines(3), json.dumps(long).encode()])
    assert_finding(path, "too_many_tokens", 4, provider="gemini", base_model="gemini-2.5-flash")
    report = validate_file(path, provider="openai", base_model="gpt-4o-mini-2024-07-18")
    tok = next(f for f in report.findings if f.code == "too_many_tokens")
    assert tok.severity == "warning" and "65,536" in tok.message and "about" in tok.message
    assert report.max_tokens == 65536
    assert validate_file(path, max_seq_length=100).counts["too_many_tokens"] == 1
    assert validate_file(path, max_seq_length=10).counts["too_many_tokens"] == 4


def test_schema_and_format_errors(tmp_path):
    lines = [b"[1, 2]", b'{"text": "hello"}', b'{"messages": "nope"}',
             b'{"messages": [{"role": "user", "content": "hi"}]}']
    report = validate_file(write_lines(tmp_path / "s.jsonl", lines))
    got = {(f.code, f.line) for f in report.findings}
    assert {("not_object", 1), ("unknown_format", 2), ("schema", 3), ("no_assistant", 4)} <= got


def test_preference_checks(tmp_path):
    ok = {"messages": [{"role": "user", "content": "q"}], "chosen": "good", "rejected": "bad"}
    same = {**ok, "rejected": "good"}
    ends_assistant = {**ok, "messages": [{"role": "user", "content": "q"},
                                         {"role": "assistant", "content": "a"}]}
    path = write_lines(tmp_path / "p.jsonl", [json.dumps(r).encode() for r in
                                              (ok, same, ends_assistant)])
    report = validate_file(path, provider="gemini")
    got = {(f.code, f.line) for f in report.findings}
    assert ("identical_pair", 2) in got and ("prompt_not_user", 3) in got


def test_fix_writes_a_new_file_and_reports_changes(tmp_path):
    rows = [chat(f"  q{i}  ", f"a{i}") for i in range(10)]
    rows[3]["messages"].insert(2, {"role": "assistant", "content": "   "})
    path = tmp_path / "messy.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(json.dumps(r).encode() + b"\r\n" for r in rows)
                     + b"\r\n")
    before = path.read_bytes()
    result = cli("validate", path, "--fix", "-o", tmp_path / "clean.jsonl", "--json")
    assert path.read_bytes() == before  # input untouched
    data = json.loads(result.stdout)
    assert result.exit_code == 0, data["findings"]
    counts = data["fix"]["counts"]
    assert counts["strip_whitespace"] == 10 and counts["drop_empty_turn"] == 1
    assert counts["remove_bom"] == 1 and counts["drop_blank_line"] == 1
    assert {"line": 4, "change": "drop_empty_turn",
            "detail": "messages[2] (assistant) had no text"} in data["fix"]["changes"]
    assert validate_file(tmp_path / "clean.jsonl").ok


def test_cli_missing_file_and_human_output(tmp_path):
    result = cli("validate", tmp_path / "nope.jsonl")
    assert result.exit_code == 2 and "no such file" in result.output
    bad = write_lines(tmp_path / "bad.jsonl", [b"{oops", *good_lines()])
    result = cli("validate", bad, "-p", "vertex")
    assert result.exit_code == 2 and "invalid_json" in result.output and "1 error" in result.output


def test_parallel_and_serial_validation_agree(tmp_path, monkeypatch):
    monkeypatch.setattr("finetune_sdk.data._parallel.PARALLEL_MIN_BYTES", 1)
    lines = good_lines(40)
    lines[7] = b"{broken"
    lines[31] = lines[3]
    path = write_lines(tmp_path / "p.jsonl", lines, end=b"\r\n")
    monkeypatch.setenv("FINETUNE_SDK_WORKERS", "1")
    serial = validate_file(path)
    monkeypatch.setenv("FINETUNE_SDK_WORKERS", "3")
    parallel = validate_file(path)
    assert [str(f) for f in parallel.findings] == [str(f) for f in serial.findings]
    assert parallel.counts == serial.counts and parallel.examples == serial.examples == 39
    assert parallel.counts["duplicate_example"] == 1 and parallel.counts["crlf"] == 40
    # With a validation file the hashes are merged for the leakage join instead.
    val = write_lines(tmp_path / "v.jsonl", [lines[20], json.dumps(chat("new", "x")).encode()])
    monkeypatch.setenv("FINETUNE_SDK_WORKERS", "1")
    serial = validate_file(path, validation_path=val)
    monkeypatch.setenv("FINETUNE_SDK_WORKERS", "2")
    parallel = validate_file(path, validation_path=val)
    assert [str(f) for f in parallel.findings] == [str(f) for f in serial.findings]
    assert parallel.counts["leakage"] == 1


def test_every_finding_code_is_documented():
    doc = (ROOT / "docs" / "datasets.md").read_text(encoding="utf-8")
    for code, (severity, _fixable, _text) in CODES.items():
        assert f"`{code}`" in doc, code
        assert severity in ("error", "warning", "info")


def test_local_rules_match_what_the_local_trainer_does(tmp_path):
    """SFT only, no per-message weight, and the trainer's default 2048-token cut is a warning."""
    from finetune_sdk.data.validate import rules_for

    pref = validate_file(SAMPLES / "preferences.jsonl", provider="local")
    assert "method_unsupported" in {f.code for f in pref.errors}
    weighted = tmp_path / "w.jsonl"
    weighted.write_text(json.dumps({"messages": [
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": "A", "weight": 0}]}) + "\n")
    codes = {f.code: f.severity for f in validate_file(weighted, provider="local").findings}
    assert codes["weight_unsupported"] == "warning"
    assert rules_for("local").max_tokens("tiny") == 2048
    assert validate_file(SAMPLES / "health_chats.jsonl", provider="local").ok


@pytest.mark.parametrize("provider", ["openai", "fireworks", "gemini", "huggingface", "local"])
def test_rule_pack_methods_match_the_adapters(provider):
    """Validation must not pass data that the provider's preflight then refuses."""
    from finetune_sdk.data.validate import rules_for
    from finetune_sdk.registry import get_provider_class

    assert rules_for(provider).methods == get_provider_class(provider).capabilities.methods
    report = validate_file(SAMPLES / "preferences.jsonl", provider=provider)
    assert report.ok == ("dpo" in rules_for(provider).methods)
