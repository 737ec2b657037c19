"""Bad data never crashes a data command: a line-numbered finding, exit 2, no output file.

One test per kind of bad line that used to crash (or slip through) the six data commands
(validate, stats, convert, split, scrub, export-records / validate --fix), run in-process through
the CLI as a user would, then a hypothesis fuzz over mixtures of such lines and valid rows.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import finetune_sdk.cli.data  # noqa: F401  (registers the data commands)
from finetune_sdk.cli.app import app
from finetune_sdk.data.validate import validate_file

runner = CliRunner()
GOOD = {"messages": [{"role": "user", "content": "How do I log my glucose?"},
                     {"role": "assistant", "content": "Tap + on the home screen."}]}
TOOLS = {"messages": [
    {"role": "user", "content": "Log 112"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "log_glucose", "arguments": "{\"mg_dl\": 112}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"ok\": true}"},
    {"role": "assistant", "content": "Logged 112 mg/dL."}]}
DEEP = {"array": "[" * 100_000 + "]" * 100_000,
        "object": '{"a":' * 100_000 + "1" + "}" * 100_000,
        "in a message": '{"messages": [{"role": "user", "content": ' + "[" * 100_000
                        + "]" * 100_000 + "}]}"}
SURROGATE = ('{"messages": [{"role": "user", "content": "a\\ud800b"},'
             ' {"role": "assistant", "content": "ok"}]}')


def good(i: int) -> str:
    row = json.loads(json.dumps(GOOD))
    row["messages"][0]["content"] += f" ({i})"
    return json.dumps(row)


def write(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_bytes("".join(line + end for line in lines).encode("utf-8", "surrogatepass"))
    return path


def cli(*args: object):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.output and "unexpected" not in result.output, result.output
    return result


def writers(src: Path, out: Path, fmt: str = "chat"
            ) -> dict[str, tuple[list[object], list[Path]]]:
    """Every data command that writes, with the outputs it would write."""
    split = [src.with_name(f"{src.stem}.train.jsonl"), src.with_name(f"{src.stem}.val.jsonl")]
    return {
        "convert openai": (["convert", src, "--to", "openai", "-o", out / "o.jsonl"],
                           [out / "o.jsonl"]),
        "convert format": (["convert", src, "--to", fmt, "-o", out / "c.jsonl"],
                         [out / "c.jsonl"]),
        "split": (["split", src, "--val", "0.5"], split),
        "scrub": (["scrub", src, "-o", out / "s.jsonl"], [out / "s.jsonl"]),
        "fix": (["validate", src, "--fix", "-o", out / "f.jsonl", "--json"], [out / "f.jsonl"]),
    }


def assert_says(result, src: Path, line: int, text: str, field: str | None,
                name: str = "") -> None:
    """Exit 2 with the finding: in --json findings, or in the one-line error."""
    assert result.exit_code == 2, (name, result.output)
    if result.stdout.startswith("{"):
        found = [(f["line"], f["field"]) for f in json.loads(result.stdout)["findings"]
                 if text in f["message"] and f["severity"] == "error"]
        assert (line, field) in found or (field is None and found), (name, result.stdout)
        return
    shown = " ".join(result.output.split())
    assert f"{src.name}:{line}: " in shown and text in shown, (name, shown)
    assert field is None or f"(field {field})" in shown, (name, shown)


def assert_refused_everywhere(src: Path, line: int, text: str, tmp: Path,
                              field: str | None = None, fmt: str = "chat",
                              scrub: bool = True) -> None:
    """validate reports ``text`` on ``line``; every other command refuses with it, writes
    nothing and exits 2 (scrub reads any JSON object: ``scrub=False`` for schema problems)."""
    report = validate_file(src)
    hits = [f for f in report.errors if f.line == line and text in f.message]
    assert hits, [str(f) for f in report.findings]
    if field is not None:
        assert hits[0].field == field
    for args in (["validate", src, "--json"], ["validate", src, "-p", "openai", "--json"],
                 ["stats", src]):
        assert_says(cli(*args), src, line, text, field)
    out = tmp / "out"
    out.mkdir(exist_ok=True)
    for name, (args, outputs) in writers(src, out, fmt).items():
        if name == "scrub" and not scrub:
            continue
        assert_says(cli(*args), src, line, text, field, name)
        assert not [p for p in outputs if p.exists()], name
    assert sorted(p.name for p in out.iterdir()) == []  # no temp files either
    assert sorted(p.name for p in src.parent.iterdir() if p.is_file()) == [src.name]


# 1 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(DEEP))
def test_deeply_nested_json_is_a_finding_in_every_data_command(tmp_path, kind):
    (tmp_path / "in").mkdir()
    src = write(tmp_path / "in" / "d.jsonl", [good(0), DEEP[kind], good(1)])
    assert_refused_everywhere(src, 2, "nested too deeply", tmp_path)
    assert validate_file(src).counts["too_deep"] == 1
    records = write(tmp_path / "r.jsonl", [json.dumps({"user_message": "q",
                                                       "assistant_reply": "a"}), DEEP[kind]])
    result = cli("export-records", records, "-o", tmp_path / "x.jsonl")
    assert result.exit_code == 2 and "r.jsonl:2" in result.output, result.output
    assert not (tmp_path / "x.jsonl").exists()


# 2 ------------------------------------------------------------------------------------------
def test_a_lone_surrogate_is_an_error_finding_and_refused_by_every_command(tmp_path):
    (tmp_path / "in").mkdir()
    src = write(tmp_path / "in" / "s.jsonl", [good(0), SURROGATE, good(1)])
    assert_refused_everywhere(src, 2, "lone surrogate \\ud800", tmp_path,
                              field="messages[0].content")
    records = write(tmp_path / "r.jsonl", ['{"user_message": "q\\udfff", "assistant_reply": "a"}'])
    result = cli("export-records", records, "-o", tmp_path / "x.jsonl")
    assert result.exit_code == 2 and "lone surrogate" in result.output
    assert not (tmp_path / "x.jsonl").exists()


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["\\ud83d", "\\ude00", "\\\\", "\\u00e9", "a", "\\n",
                                 "\\uD800", "\\udc00", "u"]), max_size=8))
def test_the_surrogate_test_on_raw_text_is_exact(parts):
    """Escaped backslashes, pairs and lone halves: same answer as encoding the parsed value."""
    from finetune_sdk.data._guards import surrogate_problem

    text = json.dumps(["x", "".join(parts)]).replace("\\\\", "\\")
    try:
        value = json.loads(text)
    except ValueError:
        return
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        lone = False
    except UnicodeEncodeError:
        lone = True
    assert (surrogate_problem(text, value) is not None) == lone, text


# 3 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("row, missing", [
    ({"messages": [{"role": "user", "content": "q"}], "chosen": "a"}, "rejected"),
    ({"messages": [{"role": "user", "content": "q"}], "rejected": "b"}, "chosen"),
    ({"prompt": "q", "chosen": "a"}, "rejected"),
    ({"input": {"messages": [{"role": "user", "content": "q"}]},
      "preferred_output": [{"role": "assistant", "content": "a"}]}, "non_preferred_output"),
])
def test_a_preference_row_missing_a_side_is_a_finding_and_nothing_is_written(tmp_path, row,
                                                                            missing):
    (tmp_path / "in").mkdir()
    pair = {"messages": [{"role": "user", "content": "q0"}], "chosen": "a", "rejected": "b"}
    src = write(tmp_path / "in" / "p.jsonl", [json.dumps(pair), json.dumps(row)])
    report = validate_file(src)  # was: KeyError 'rejected'
    assert [(f.line, f.field) for f in report.errors] == [(2, missing)]
    assert_refused_everywhere(src, 2, f"no {missing!r}", tmp_path, field=missing,
                              fmt="preference", scrub=False)


# 4 ------------------------------------------------------------------------------------------
def _tools(change) -> str:
    row = json.loads(json.dumps(TOOLS))
    change(row["messages"])
    return json.dumps(row)


@pytest.mark.parametrize("change, code, field, text", [
    (lambda m: m[1]["tool_calls"][0]["function"].update(arguments={"mg_dl": 112}),
     "bad_tool_call", "messages[1].tool_calls[0].function.arguments", "must be a JSON string"),
    (lambda m: m[1]["tool_calls"][0]["function"].update(arguments="{mg_dl: 112"),
     "bad_tool_call", "messages[1].tool_calls[0].function.arguments", "not valid JSON"),
    (lambda m: m[2].pop("tool_call_id"), "bad_tool_result", "messages[2].tool_call_id",
     "needs the 'tool_call_id'"),
    (lambda m: m[2].update(tool_call_id="call_9"), "bad_tool_result",
     "messages[2].tool_call_id", "'call_9' matches no earlier"),
    (lambda m: m[1].update(tool_calls={"id": "call_1"}), "bad_tool_call",
     "messages[1].tool_calls", "non-empty list"),
])
def test_tool_calls_are_checked(tmp_path, change, code, field, text):
    rows = [good(i) for i in range(10)]
    assert validate_file(write(tmp_path / "ok.jsonl", [*rows, json.dumps(TOOLS)]),
                         provider="openai").ok
    src = write(tmp_path / "t.jsonl", [*rows, _tools(change)])
    for provider in (None, "openai", "huggingface"):
        report = validate_file(src, provider=provider)
        first = report.errors[0]
        assert (first.line, first.code, first.field) == (11, code, field), report.errors
        assert text in first.message and {f.line for f in report.errors} == {11}
    result = cli("validate", src, "-p", "openai")
    assert result.exit_code == 2 and code in result.output
    result = cli("convert", src, "--to", "openai", "-o", tmp_path / "o.jsonl")
    assert result.exit_code == 2 and "t.jsonl:11" in result.output and field in result.output
    assert not (tmp_path / "o.jsonl").exists()


# 5 ------------------------------------------------------------------------------------------
def test_a_preference_pair_in_a_chat_file_is_an_error(tmp_path):
    pair = {"messages": [{"role": "user", "content": "q"}], "chosen": "a", "rejected": "b"}
    src = write(tmp_path / "m.jsonl", [*(good(i) for i in range(10)), json.dumps(pair)])
    for provider in (None, "openai"):
        report = validate_file(src, provider=provider)
        assert [(f.line, f.code) for f in report.errors] == [(11, "mixed_kinds")], provider
    result = cli("validate", src, "-p", "openai", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["counts"]["mixed_kinds"] == 1
    assert cli("convert", src, "--to", "openai", "-o", tmp_path / "o.jsonl").exit_code == 2
    assert not (tmp_path / "o.jsonl").exists()


# 6 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("message, field", [
    ({"role": "user", "content": 42}, "messages[0].content"),
    ({"role": "robot", "content": "beep"}, "messages[0].role"),
    ({"role": "user", "content": "q", "weight": math.nan}, "messages[0].weight"),
])
@pytest.mark.parametrize("to", ["openai", "chat", "local"])
def test_convert_refuses_what_validate_refuses(tmp_path, message, field, to):
    bad = {"messages": [message, {"role": "assistant", "content": "a"}]}
    src = write(tmp_path / "c.jsonl", [*(good(i) for i in range(10)), json.dumps(bad)])
    provider = {"chat": None}.get(to, to)
    report = validate_file(src, provider=provider)
    assert [(f.line, f.field) for f in report.errors] == [(11, field)]
    result = cli("convert", src, "--to", to, "-o", tmp_path / "o.jsonl")
    assert result.exit_code == 2, result.output
    shown = " ".join(result.output.split())
    assert "c.jsonl:11" in shown and field in shown and report.errors[0].code in shown
    assert not (tmp_path / "o.jsonl").exists()


# 7 ------------------------------------------------------------------------------------------
def test_bom_and_crlf_are_warnings_and_every_writer_cleans_them(tmp_path):
    from finetune_sdk.data.convert import wire_file
    from finetune_sdk.providers.openai.dataset import write_wire_jsonl

    (tmp_path / "in").mkdir()
    src = tmp_path / "in" / "w.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + "".join(good(i) + "\r\n" for i in range(12)).encode())
    report = validate_file(src, provider="openai")
    severities = {f.code: f.severity for f in report.findings}
    assert report.ok and severities["bom"] == severities["crlf"] == "warning", severities
    assert cli("validate", src, "-p", "openai").exit_code == 0
    out = tmp_path / "out"
    out.mkdir()
    written = []
    for name, (args, outputs) in writers(src, out).items():
        assert cli(*args).exit_code == 0, name
        written += outputs
    for to in ("gemini", "huggingface", "local", "fireworks"):
        assert cli("convert", src, "--to", to, "-o", out / f"{to}.jsonl").exit_code == 0
        written.append(out / f"{to}.jsonl")
    with wire_file(src, write_wire_jsonl, prefix="t-") as wire:  # what an upload sends
        uploads = [wire.data]
    for data in [p.read_bytes() for p in written] + uploads:
        assert not data.startswith(b"\xef\xbb\xbf") and b"\r" not in data
        assert all(json.loads(line) for line in data.decode().splitlines())


# fuzz ---------------------------------------------------------------------------------------
def _nested(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "[" else ('{"a":' * depth + "1" + "}" * depth)


_call = st.fixed_dictionaries({"id": st.sampled_from(["c1", "c2", 7]),
                               "type": st.sampled_from(["function", "x"]),
                               "function": st.fixed_dictionaries({
                                   "name": st.sampled_from(["f", "", 3]),
                                   "arguments": st.sampled_from(
                                       ['{"x": 1}', "{bad", {"x": 1}, None, "[]"])})})
_tool_row = st.builds(
    lambda calls, tool_id, content: json.dumps({"messages": [
        {"role": "user", "content": "w"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "content": content, **({} if tool_id is None else
                                                 {"tool_call_id": tool_id})},
        {"role": "assistant", "content": "done"}]}),
    st.lists(_call, max_size=2) | st.sampled_from([{}, "x", None]),
    st.sampled_from([None, "c1", "c9", 5]), st.sampled_from(["r", "", 1]))
_preference = st.builds(
    lambda keys, prompt: json.dumps({"prompt": prompt, **{k: "ans " + k for k in keys}}),
    st.sets(st.sampled_from(["chosen", "rejected"])), st.sampled_from(["q", "q2"]))
_lines = st.one_of(
    st.integers(0, 50).map(good),
    st.builds(_nested, st.sampled_from([30, 500, 900, 960, 990, 1100, 100_000]),
              st.sampled_from(["[", "{"])),
    st.builds(lambda depth: json.dumps({"messages": json.loads(json.dumps(GOOD))["messages"],
                                        "id": "x"})[:-1] + ', "tools": '
              + _nested(depth, "[") + "}", st.sampled_from([100, 900, 980, 5000])),
    st.sampled_from([SURROGATE, SURROGATE.replace("\\ud800", "\\ud83d\\ude00"),
                     SURROGATE.replace("\\ud800", "\\\\ud800"),
                     '{"prompt": "q\\udc00", "completion": "a"}']),
    _preference, _tool_row, st.just(""), st.just("{broken"),
)
FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(lines=st.lists(_lines, min_size=1, max_size=5), end=st.sampled_from(["\n", "\r\n"]),
       bom=st.booleans())
def test_fuzz_every_data_command_exits_0_or_2_and_leaves_nothing_on_2(lines, end, bom):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        (root / "out").mkdir()
        src = write(root / "in" / "d.jsonl", lines, end)
        if bom:
            src.write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
        records = write(root / "in" / "r.jsonl", [
            line if not line.startswith('{"messages"') else json.dumps(
                {"user_message": "q", "assistant_reply": "a", "id": line[:40]})
            for line in lines], end)
        for args in (["validate", src], ["validate", src, "-p", "gemini"], ["stats", src]):
            assert cli(*args).exit_code in (0, 2)
        commands = dict(writers(src, root / "out"))
        commands["export"] = (["export-records", records, "-o", root / "out" / "x.jsonl",
                               "--id-field", "id"], [root / "out" / "x.jsonl"])
        commands["export"][0][-2:] = []  # records may lack an id column: map none
        for name, (args, outputs) in commands.items():
            result = cli(*args)
            assert result.exit_code in (0, 2), (name, result.output)
            if result.exit_code == 2:
                assert not [p for p in outputs if p.exists()], (name, result.output)
            for path in outputs:
                if path.exists():
                    data = path.read_bytes()
                    assert b"\r" not in data and not data.startswith(b"\xef\xbb\xbf"), name
                    data.decode("utf-8")  # never a surrogate or a stray byte written
                    path.unlink()
        leftovers = [p.name for p in (root / "out").iterdir() if not p.name.endswith(
            ".finetune.json")]
        assert leftovers == [], leftovers
