"""Hypothesis: the dataset validator reports findings for any input and never crashes.

Random bytes, random JSON lines and near-valid chat / preference records (roles, contents,
tool calls and weights of every type) go through ``validate_file`` for every provider's rule
pack. The result is a ValidationReport whose findings point at real lines, or our DatasetError;
never a raw KeyError / TypeError / AttributeError / UnicodeDecodeError.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finetune_sdk.data.validate import ValidationReport, validate_file
from finetune_sdk.errors import DatasetError

pytestmark = pytest.mark.faults

FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
PROVIDERS = st.sampled_from([None, "openai", "fireworks", "gemini", "huggingface", "local"])

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=False) | st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=3),
    max_leaves=10,
)
roles = st.sampled_from(["system", "user", "assistant", "tool", "model", "developer", "", "x"])
contents = (st.text(max_size=40) | st.none() | st.integers()
            | st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url"]),
                                              "text": st.text(max_size=10) | st.integers()}),
                       max_size=2))
messages = st.lists(
    st.fixed_dictionaries(
        {"role": roles | json_values},
        optional={"content": contents | json_values, "weight": st.sampled_from([0, 1, 2, "1"]),
                  "tool_calls": json_values, "name": json_values, "tool_call_id": json_values}),
    max_size=5,
)
records = st.one_of(
    st.fixed_dictionaries({"messages": messages | json_values},
                          optional={"id": json_values, "tools": json_values}),
    st.fixed_dictionaries({"input": st.fixed_dictionaries({"messages": messages}),
                           "preferred_output": messages, "non_preferred_output": messages}),
    st.fixed_dictionaries({"prompt": json_values, "chosen": json_values,
                           "rejected": json_values}),
    st.fixed_dictionaries({"contents": json_values},
                          optional={"systemInstruction": json_values}),
    json_values,
)


def run(data: bytes, provider: str | None) -> ValidationReport | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.jsonl"
        path.write_bytes(data)
        try:
            report = validate_file(path, provider=provider)
        except DatasetError:
            return None
    lines = data.count(b"\n") + 1
    assert isinstance(report, ValidationReport)
    for finding in report.findings:
        assert finding.line is None or 1 <= finding.line <= lines, finding
    return report


@FUZZ
@given(data=st.binary(max_size=400), provider=PROVIDERS)
def test_random_bytes(data, provider):
    run(data, provider)


@FUZZ
@given(lines=st.lists(records, min_size=1, max_size=6), provider=PROVIDERS,
       ending=st.sampled_from(["\n", "\r\n", ""]))
def test_random_records(lines, provider, ending):
    text = ending.join(json.dumps(line) for line in lines) + ending
    report = run(text.encode(), provider)
    assert report is not None  # valid JSON lines are always reported on, never refused whole


@FUZZ
@given(lines=st.lists(st.text(max_size=60) | records.map(json.dumps), min_size=1, max_size=6),
       cut=st.integers(0, 40), provider=PROVIDERS)
def test_truncated_and_mixed_lines(lines, cut, provider):
    text = "\n".join(lines)
    run(text[: max(0, len(text) - cut)].encode("utf-8", "surrogatepass"), provider)


def test_a_valid_file_is_clean_for_every_provider(tmp_path):
    """The fuzz accepts any report; this pins that a good file still gets a clean one."""
    from finetune_sdk.testing.conformance import write_chat_jsonl

    path = write_chat_jsonl(tmp_path / "ok.jsonl", 20)
    for provider in (None, "openai", "fireworks", "gemini", "huggingface"):
        report = validate_file(path, provider=provider)
        assert report.error_count == 0 and report.examples == 20, provider
