"""Stats, tokens, split and app records."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import finetune_sdk.cli.data  # noqa: F401
from finetune_sdk import Client
from finetune_sdk.cli.app import app
from finetune_sdk.data import file_sha256
from finetune_sdk.data.records import FieldMapping, build_examples, export_records
from finetune_sdk.data.split import split_file
from finetune_sdk.data.stats import compute_stats, percentile
from finetune_sdk.data.tokens import EstimateCounter, get_counter
from finetune_sdk.data.validate import validate_file
from finetune_sdk.errors import ConfigurationError, DatasetError

SAMPLES = Path(__file__).resolve().parent.parent / "examples" / "data"
runner = CliRunner()


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_percentile_nearest_rank():
    values = list(range(1, 101))
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == \
        (50, 95, 100)
    assert percentile([], 50) == 0


def test_stats_with_the_estimate(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "a" * 40},
                          {"role": "assistant", "content": "b" * 400}]}] * 3
    rows.append({"messages": [{"role": "system", "content": "s" * 4},
                              {"role": "user", "content": "q" * 8},
                              {"role": "assistant", "content": "x" * 4},
                              {"role": "user", "content": "q" * 8},
                              {"role": "assistant", "content": "x" * 4}]})
    stats = compute_stats(write(tmp_path / "d.jsonl", rows), epochs=3, max_seq_length=100)
    # 40/4 + 4 + 400/4 + 4 = 118 tokens; the multi-turn one 1+4 + 2*(2+4) + 2*(1+4) = 27.
    assert stats.examples == 4 and stats.messages == 11 and stats.multi_turn_examples == 1
    assert (stats.tokens_p50, stats.tokens_max, stats.tokens_total) == (118, 118, 3 * 118 + 27)
    assert stats.training_tokens == 3 * stats.tokens_total and stats.truncated == 3
    assert not stats.tokens_exact and "estimate" in stats.tokenizer
    assert stats.role_messages == {"user": 5, "assistant": 5, "system": 1}
    assert sum(n for _, _, n in stats.histogram) == 4


def test_exact_counts_with_a_local_tokenizer(tmp_path):
    pytest.importorskip("tokenizers")  # comes with the [local] extra
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(["hello world how are you"],
                            trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    path = tmp_path / "tok"
    path.mkdir()
    tok.save(str(path / "tokenizer.json"))
    counter = get_counter(tokenizer=path)
    assert counter.exact and counter.count("hello world how") == 3
    data = write(tmp_path / "d.jsonl", [{"messages": [
        {"role": "user", "content": "hello world"}, {"role": "assistant", "content": "how"}]}])
    stats = compute_stats(data, tokenizer=path)
    assert stats.tokens_exact and stats.tokens_total == 2 + 4 + 1 + 4


def test_unknown_models_fall_back_to_the_estimate():
    try:
        import tiktoken  # noqa: F401
    except ImportError:  # tiktoken is not a dependency: OpenAI counts are estimates then
        assert isinstance(get_counter("gpt-4o-mini"), EstimateCounter)
    assert isinstance(get_counter("some-org/not-cached-model"), EstimateCounter)


def test_stats_cli(tmp_path):
    result = runner.invoke(app, ["stats", str(SAMPLES / "health_chats.jsonl"), "--json",
                                 "--epochs", "2"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["examples"] == 300 and data["training_tokens"] == 2 * data["tokens"]["total"]
    human = runner.invoke(app, ["stats", str(SAMPLES / "health_chats.jsonl")])
    assert "ESTIMATE" in human.output and "p95" in human.output


def test_split_is_deterministic_grouped_and_leak_free(tmp_path):
    rows = []
    for conv in range(40):
        for turn in range(3):
            rows.append({"conversation_id": f"c{conv}", "messages": [
                {"role": "user", "content": f"c{conv} t{turn}"},
                {"role": "assistant", "content": "ok"}]})
    src = write(tmp_path / "all.jsonl", rows)
    a = split_file(src, tmp_path / "tr.jsonl", tmp_path / "va.jsonl", val=0.25, seed=7)
    first = (file_sha256(tmp_path / "tr.jsonl"), file_sha256(tmp_path / "va.jsonl"))
    b = split_file(src, tmp_path / "tr.jsonl", tmp_path / "va.jsonl", val=0.25, seed=7)
    assert first == (file_sha256(tmp_path / "tr.jsonl"), file_sha256(tmp_path / "va.jsonl"))
    assert a == b and a.grouped_by == "conversation_id" and a.leakage == 0
    assert a.train_examples + a.validation_examples == 120 and a.validation_examples % 3 == 0
    assert 0 < a.validation_examples < 60
    train_convs = {json.loads(x)["conversation_id"] for x in open(tmp_path / "tr.jsonl")}
    val_convs = {json.loads(x)["conversation_id"] for x in open(tmp_path / "va.jsonl")}
    assert not train_convs & val_convs
    c = split_file(src, tmp_path / "tr2.jsonl", tmp_path / "va2.jsonl", val=0.25, seed=8)
    assert (c.train_examples, file_sha256(tmp_path / "tr2.jsonl")) != \
        (a.train_examples, first[0])


def test_split_puts_identical_examples_on_one_side(tmp_path):
    row = {"messages": [{"role": "user", "content": "same"}, {"role": "assistant", "content": "x"}]}
    src = write(tmp_path / "d.jsonl", [row] * 10 + [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
        for i in range(50)])
    report = split_file(src, tmp_path / "t.jsonl", tmp_path / "v.jsonl", val=0.2)
    assert report.leakage == 0 and report.grouped_by == "content"


def test_split_moves_a_conversation_whose_text_training_also_has(tmp_path):
    """Grouping by conversation alone would put the same question on both sides."""
    def turn(conv, text, answer="ok"):
        return {"conversation_id": conv, "messages": [
            {"role": "user", "content": text}, {"role": "assistant", "content": answer}]}

    rows = []
    for conv in range(60):
        rows += [turn(f"c{conv}", f"c{conv} only"), turn(f"c{conv}", "How do I log insulin?")]
        # a chain: conversation k shares a text with conversation k+1
        rows.append(turn(f"c{conv}", f"chain {conv // 2}", "same answer"))
    src = write(tmp_path / "all.jsonl", rows)
    report = split_file(src, tmp_path / "tr.jsonl", tmp_path / "va.jsonl", val=0.3, seed=1)
    assert report.leakage == 0 and report.moved_to_train > 0
    assert report.train_examples + report.validation_examples == len(rows)
    train = [json.loads(x) for x in open(tmp_path / "tr.jsonl")]
    val = [json.loads(x) for x in open(tmp_path / "va.jsonl")]
    assert not {r["conversation_id"] for r in train} & {r["conversation_id"] for r in val}
    train_texts = {r["messages"][0]["content"] for r in train}
    assert not {r["messages"][0]["content"] for r in val} & train_texts
    # Same answer whatever the line order.
    shuffled = write(tmp_path / "shuffled.jsonl", rows[::-1])
    again = split_file(shuffled, tmp_path / "tr2.jsonl", tmp_path / "va2.jsonl", val=0.3, seed=1)
    assert sorted(open(tmp_path / "va2.jsonl")) == sorted(open(tmp_path / "va.jsonl"))
    assert again.moved_to_train == report.moved_to_train


def test_split_of_exported_rated_records_does_not_leak(tmp_path):
    """The documented pipeline: export-records with conversation ids, then split."""
    from finetune_sdk.data.records import FieldMapping, export_records

    for multi_turn in (False, True):
        out = tmp_path / f"chats-{multi_turn}.jsonl"
        export_records(SAMPLES / "rated_interactions.csv", out, FieldMapping(
            min_rating=4, conversation="conversation_id", turn="turn", multi_turn=multi_turn))
        report = split_file(out, tmp_path / "t.jsonl", tmp_path / "v.jsonl", val=0.1, seed=0)
        assert report.grouped_by == "conversation_id" and report.leakage == 0


def test_split_cli_and_bad_input(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"prompt": "a", "completion": "b"}\n{nope\n')
    result = runner.invoke(app, ["split", str(src), "--val", "0.5"])
    assert result.exit_code == 2 and "bad.jsonl:2" in result.output
    assert not (tmp_path / "bad.train.jsonl").exists()
    assert runner.invoke(app, ["split", str(src), "--val", "1.5"]).exit_code == 2
    result = runner.invoke(app, ["split", str(SAMPLES / "health_chats.jsonl"), "--json",
                                 "--train-out", str(tmp_path / "t.jsonl"),
                                 "--val-out", str(tmp_path / "v.jsonl")])
    assert result.exit_code == 0 and json.loads(result.stdout)["leakage"] == 0


def test_records_mapping_rating_filter_and_summary():
    rows = [
        {"q": "How do I log insulin?", "a": "Tap the syringe icon.", "stars": "5", "conv": "1"},
        {"q": "Thanks", "a": "Any time.", "stars": "2", "conv": "1"},
        {"q": "  ", "a": "orphan", "stars": "5"},
        {"q": "What is A1c?", "a": "", "stars": "4"},
        {"q": "Cramps?", "a": "Try heat.", "stars": "", "conv": "2"},
        {"q": "Sleep?", "a": "Keep a routine.", "stars": "n/a"},
        {"question": "wrong column"},
        {"q": "Walk?", "a": "Yes, gently.", "stars": 4.5, "conv": "3"},
    ]
    mapping = FieldMapping(user="q", assistant="a", rating="stars", min_rating=4,
                           conversation="conv", system_prompt="You are a coach.")
    from finetune_sdk.data.records import RecordsSummary

    summary = RecordsSummary()
    examples = list(build_examples(rows, mapping, summary))
    assert [e["messages"][1]["content"] for e in examples] == ["How do I log insulin?", "Walk?"]
    assert examples[0]["messages"][0] == {"role": "system", "content": "You are a coach."}
    assert examples[0]["conversation_id"] == "1"
    assert summary.rows == 8 and summary.kept_rows == 2 and summary.examples == 2
    assert dict(summary.dropped) == {"rating_below_4": 1, "empty_user": 1, "empty_assistant": 1,
                                     "rating_missing": 1, "rating_not_a_number": 1,
                                     "missing_column": 1}
    assert summary.dropped_rows["rating_below_4"] == [2]
    assert sum(summary.dropped.values()) + summary.kept_rows == summary.rows


def test_records_multi_turn_orders_turns():
    rows = [{"user_message": f"u{t}", "assistant_reply": f"a{t}", "conversation_id": "c",
             "turn": str(t)} for t in (10, 2, 9)]
    mapping = FieldMapping(conversation="conversation_id", turn="turn", multi_turn=True)
    [example] = list(build_examples(rows, mapping))
    assert [m["content"] for m in example["messages"]] == ["u2", "a2", "u9", "a9", "u10", "a10"]
    with pytest.raises(ConfigurationError):
        list(build_examples(rows, FieldMapping(multi_turn=True)))


def test_export_records_from_bundled_csv(tmp_path):
    out = tmp_path / "chats.jsonl"
    summary = export_records(SAMPLES / "rated_interactions.csv", out,
                             FieldMapping(min_rating=4, conversation="conversation_id"))
    with open(SAMPLES / "rated_interactions.csv", newline="") as handle:
        ratings = [int(r["rating"]) for r in csv.DictReader(handle)]
    assert summary.rows == len(ratings)
    assert summary.kept_rows == sum(r >= 4 for r in ratings) == summary.examples
    assert summary.dropped["rating_below_4"] == sum(r < 4 for r in ratings)
    assert validate_file(out, provider="openai").ok


def test_export_records_cli(tmp_path):
    out = tmp_path / "o.jsonl"
    result = runner.invoke(app, ["export-records", str(SAMPLES / "rated_interactions.csv"),
                                 "-o", str(out), "--min-rating", "4", "--system-prompt", "Hi",
                                 "--conversation-field", "conversation_id", "--turn-field",
                                 "turn", "--multi-turn", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["dropped"]["rating_below_4"] > 0 and data["examples"] > 100
    assert runner.invoke(app, ["export-records", str(tmp_path / "x.txt"), "-o",
                               str(out)]).exit_code == 2


def test_export_records_bad_jsonl_line(tmp_path):
    src = tmp_path / "r.jsonl"
    src.write_text('{"user_message": "a", "assistant_reply": "b"}\nnot json\n')
    with pytest.raises(DatasetError) as err:
        export_records(src, tmp_path / "o.jsonl")
    assert err.value.line == 2 and not (tmp_path / "o.jsonl").exists()


def test_convert_cli(tmp_path):
    out = tmp_path / "g.jsonl"
    result = runner.invoke(app, ["convert", str(SAMPLES / "menstrual_health.jsonl"), "--to",
                                 "vertex", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["target"] == "gemini"
    assert json.loads(out.read_text().splitlines()[0])["contents"][1]["role"] == "model"
    bad = runner.invoke(app, ["convert", str(SAMPLES / "health_chats.jsonl"), "--to",
                              "prompt_completion", "-o", str(tmp_path / "p.jsonl")])
    assert bad.exit_code == 2 and "single-turn" in bad.output


@pytest.mark.parametrize("name, content, line, message", [
    ("r.json", b'[{"user_message": "a",\n  oops}]', 2, "not valid JSON"),
    ("r.csv", b"user_message,assistant_reply\nok,fine\n\xff\xfe,b\n", 3, "not UTF-8"),
    ("r.jsonl", b'{"user_message": "a", "assistant_reply": "b"}\n\xe9t\xe9\n', 2, "not UTF-8"),
    ("r.csv", b"user_message,assistant_reply\nq," + b"x" * 200_000 + b"\n", 2, "not valid CSV"),
])
def test_export_records_bad_files_name_file_and_line(tmp_path, name, content, line, message):
    src = tmp_path / name
    src.write_bytes(content)
    out = tmp_path / "o.jsonl"
    with pytest.raises(DatasetError, match=message) as err:
        export_records(src, out)
    assert err.value.file == str(src) and err.value.line == line
    assert not out.exists()
    result = runner.invoke(app, ["export-records", str(src), "-o", str(out)])
    assert result.exit_code == 2 and f"{name}:{line}" in result.output
    assert "Traceback" not in result.output


class _FakeEncoding:
    """Stands in for a cached tiktoken encoding: one token per whitespace-separated word."""

    def __init__(self, name: str) -> None:
        self.name = name

    def encode(self, text: str, disallowed_special=()) -> list[int]:
        return [0] * len(text.split())


@pytest.fixture
def fake_tiktoken(monkeypatch):
    import sys
    import types

    asked: list[str] = []

    def get_encoding(name: str) -> _FakeEncoding:
        asked.append(name)
        return _FakeEncoding(name)

    monkeypatch.setitem(sys.modules, "tiktoken", types.SimpleNamespace(get_encoding=get_encoding))
    return asked


def test_tiktoken_counts_are_exact_and_labelled_when_the_encoding_is_cached(
        fake_tiktoken, monkeypatch, tmp_path):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    counter = get_counter("gpt-4o-mini-2024-07-18")
    assert counter.exact and counter.name == "tiktoken o200k_base"
    assert get_counter("ft:gpt-3.5-turbo:org::abc").name == "tiktoken cl100k_base"
    data = write(tmp_path / "d.jsonl", [{"messages": [
        {"role": "user", "content": "is this high"}, {"role": "assistant", "content": "no"}]}])
    stats = compute_stats(data, base_model="gpt-4o-mini")
    assert stats.tokens_exact and stats.tokenizer == "tiktoken o200k_base"
    assert stats.tokens_total == (3 + 4) + (1 + 4)  # words + per-message overhead
    result = runner.invoke(app, ["stats", str(data), "-m", "gpt-4o-mini"])
    assert result.exit_code == 0 and "exact: tiktoken o200k_base" in result.output
    assert "ESTIMATE" not in result.output


def test_tiktoken_without_a_cache_is_never_asked_and_counts_are_an_estimate(
        fake_tiktoken, monkeypatch, tmp_path):
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    counter = get_counter("gpt-4o-mini")
    assert isinstance(counter, EstimateCounter) and fake_tiktoken == []  # no download attempt
    data = write(tmp_path / "d.jsonl", [{"prompt": "q", "completion": "a"}])
    stats = json.loads(runner.invoke(app, ["stats", str(data), "-m", "gpt-4o-mini",
                                           "--json"]).stdout)
    assert stats["tokens"]["exact"] is False and "estimate" in stats["tokens"]["counter"]


def test_tiny_model_counts_with_its_own_tokenizer_once_built(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    from finetune_sdk.local.tiny import build_tiny_model, tiny_model_dir

    monkeypatch.setenv("FINETUNE_SDK_HOME", str(tmp_path / "home"))
    assert isinstance(get_counter("tiny"), EstimateCounter)  # not built: never built for a count
    assert not tiny_model_dir().exists()
    build_tiny_model(tiny_model_dir())
    counter = get_counter("tiny")
    assert counter.exact and str(tiny_model_dir()) in counter.name
    data = SAMPLES / "health_chats.jsonl"
    stats = compute_stats(data, base_model="tiny")
    assert stats.tokens_exact and stats.tokens_total != compute_stats(data).tokens_total


def test_bad_tokenizer_path_is_a_clear_error(tmp_path):
    pytest.importorskip("tokenizers")
    broken = tmp_path / "tokenizer.json"
    broken.write_text("{}")
    for path, message in ((tmp_path / "none", "no tokenizer at"),
                          (broken, "not a tokenizers tokenizer.json")):
        with pytest.raises(ConfigurationError, match=message):
            get_counter(tokenizer=path)
        for command in (["stats"], ["validate", "-p", "openai"]):
            result = runner.invoke(app, [*command, str(SAMPLES / "health_chats.jsonl"),
                                         "--tokenizer", str(path)])
            assert result.exit_code == 2 and message in result.output
            assert "Traceback" not in result.output


def _word_tokenizer(path: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(["a b c"], trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return path


def test_base_model_tokenizer_from_the_hf_cache_or_a_model_folder(tmp_path, monkeypatch):
    """Exact counts for HF/local base models without any download: the Hub cache layout
    (refs/main -> snapshots/<rev>/tokenizer.json), or a model folder given as the base model."""
    pytest.importorskip("tokenizers")
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    repo = cache / "models--acme--coach-1b"
    _word_tokenizer(repo / "snapshots" / "rev1" / "tokenizer.json")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("rev1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    counter = get_counter("acme/coach-1b")
    assert counter.exact and "rev1" in counter.name and counter.count("a b c d") == 4
    assert isinstance(get_counter("acme/not-cached"), EstimateCounter)
    folder = tmp_path / "my-model"
    _word_tokenizer(folder / "tokenizer.json")
    assert get_counter(str(folder)).exact
    assert get_counter(f"local:{folder}").exact


def test_a_folder_or_binary_file_is_named_as_such(tmp_path):
    from finetune_sdk.data.convert import convert_file
    from finetune_sdk.data.validate import validate_file
    from finetune_sdk.errors import DatasetError

    folder = tmp_path / "exports"
    folder.mkdir()
    for call in (lambda: validate_file(folder), lambda: convert_file(folder, tmp_path / "o",
                                                                     to="openai"),
                 lambda: Client("fake", ledger=False).datasets.upload(folder),
                 lambda: validate_file(SAMPLES / "health_chats.jsonl", validation_path=folder)):
        with pytest.raises(DatasetError, match="exports: is a folder, not a file"):
            call()
    binary = tmp_path / "data.jsonl"
    binary.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)  # a JPEG, say
    with pytest.raises(DatasetError, match="line 1 is not UTF-8 text"):
        convert_file(binary, tmp_path / "o.jsonl", to="openai")
    rows = tmp_path / "rows.jsonl"
    rows.write_text("user,assistant\nhi,hello\n")
    with pytest.raises(DatasetError, match="line 1 is not JSON"):
        convert_file(rows, tmp_path / "o.jsonl", to="openai")
    assert not (tmp_path / "o.jsonl").exists()
