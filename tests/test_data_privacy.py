"""Privacy: each PHI type found and replaced; the sensitive-upload gate."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import finetune_sdk.cli.data  # noqa: F401
from finetune_sdk import Client, DatasetError, SensitiveDataError
from finetune_sdk.cli.app import app
from finetune_sdk.data.privacy import (
    check_upload_allowed,
    default_detectors,
    is_scrubbed,
    mark_sensitive,
    read_marker,
    scrub_file,
    scrub_text,
)

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]

CASES = [
    ("EMAIL", "Write to maria.lopez@example.org today", "maria.lopez@example.org"),
    ("PHONE", "Call me at (555) 123-4567 after 5", "(555) 123-4567"),
    ("PHONE", "my mobile is +44 20 7946 0958", "+44 20 7946 0958"),
    ("SSN", "SSN 123-45-6789 on file", "123-45-6789"),
    ("MRN", "Patient MRN: 00482913 was seen", "00482913"),
    ("MRN", "medical record number A-7781234", "A-7781234"),
    ("DOB", "DOB: 04/12/1987, type 2 diabetes", "04/12/1987"),
    ("DOB", "I was born on March 3, 1990", "March 3, 1990"),
    ("DOB", "my DOB is 04/12/1987 and I'm tired", "04/12/1987"),
    ("DOB", "Birthday was 12 May 2001.", "12 May 2001"),
    ("DATE", "my last period started 2026-10-02", "2026-10-02"),
    ("ADDRESS", "I live at 42 Elm Street, Apt 5 near the park", "42 Elm Street, Apt 5"),
    ("URL", "see https://portal.example-clinic.com/patient?id=9.",
     "https://portal.example-clinic.com/patient?id=9"),
    ("IP", "logged in from 192.168.10.24 yesterday", "192.168.10.24"),
    ("NAME", "Dr. Okafor said Jane Doe should rest", "Jane Doe"),
]


@pytest.mark.parametrize("kind, text, secret", CASES, ids=[f"{c[0]}-{i}" for i, c in
                                                         enumerate(CASES)])
def test_each_phi_type_is_found_and_replaced(kind, text, secret):
    detectors = default_detectors(names=["Jane Doe", "Okafor"])
    counts: Counter[str] = Counter()
    out = scrub_text(text, detectors, counts)
    assert secret not in out
    assert f"[{kind}]" in out
    assert counts[kind] >= 1


def _without_hints(detectors):
    from dataclasses import replace

    from finetune_sdk.data.privacy import RegexDetector

    return [replace(d, hint=None, needs=(), words=frozenset()) if isinstance(d, RegexDetector)
            else d for d in detectors]


# Pieces that make (or nearly make) every PHI type, mixed at random by hypothesis below.
_PIECES = [text for _, text, _ in CASES] + [
    "12/31/99", "1.2.3.4", "fe80:0:0:0:202:b3ff:fe1e:8329", "FE80:0:0:0:0:0:0:1", "+1 5",
    "555.123.4567", "(555)123-4567", "+33 1 23 45 67 89", "078-05-1120", "DOB=1/2/2000",
    "D.O.B. 2000-01-02", "birthdate 1 Jan 2000", "Born Sept. 3rd, 1999", "chart # AB-1234",
    "PATIENT ID 99-1234", "WWW.EXAMPLE.ORG/x", "HTTP://a.b/c", "a@b.co", "1600 Pennsylvania Ave",
    "7 Main St.", " ", "-", ".", "/", ":", "\n", "2026", "x1", "é", "MRN", "born", "#",
    # The kinds added for issue 19, and characters that the prefilters must not get wrong:
    # non-ASCII digits and spaces (\d and \s match them), and the non-ASCII letters that
    # re.IGNORECASE matches to ASCII ones (Kelvin sign, long s, dotted and dotless i).
    "5551234567", "+15551234567", "call 555-1234", "zip 94103", "Austin, TX 78701",
    "Texas 75001", "60614-2231", "member ID: W123456789", "policy number A1234567",
    "Medicare 1EG4-TE5-MK73", "on 3/4", "since 10/12", "March 3", "3rd of March",
    "Friday the 4th", "500 W 5th Ave", "PO Box 12", "fe80::1", "2001:db8::8a2e:370:7334",
    "::ffff:192.0.2.1", "Dr. Okafor", "my name is Maria Lopez", "Thanks, Maria Lopez",
    "mychart.example.org/123", "ssn 123 45 6789", "5/325 mg", "1/2 tablet", "v1.2.3.4",
    "\u0663/\u0664/\u0661\u0669\u0669\u0660",
    "\uff15\uff15\uff15-\uff11\uff12\uff13-\uff14\uff15\uff16\uff17",
    "\u00a0", "\u2009", "memÄer", "\u212aaiser ID 12345678", "\u017fsn 123-45-6789",
    "pat\u0130ent ID 1234", "\u0131nsurance id 12345", "’", "😀",
]


@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=8), st.sampled_from(["", " "]))
@settings(max_examples=400, deadline=None)
def test_hints_never_change_what_is_found(pieces, sep):
    """Each detector's hint only skips text that its full pattern cannot match."""
    text = sep.join(pieces)
    detectors = default_detectors(names=["Jane Doe"])
    assert scrub_text(text, detectors) == scrub_text(text, _without_hints(detectors))
    for fast, slow in zip(detectors, _without_hints(detectors), strict=True):
        assert list(fast.find(text)) == list(slow.find(text))


def test_hints_hold_on_the_bundled_samples_and_the_cases():
    texts = [text for _, text, _ in CASES]
    for path in sorted((ROOT / "examples" / "data").glob("*.jsonl")):
        texts += [json.dumps(json.loads(line)) for line in path.read_text("utf-8").splitlines()]
    detectors = default_detectors(names=["Jane Doe", "Okafor"])
    slow = _without_hints(detectors)
    for text in texts:
        assert [list(d.find(text)) for d in detectors] == [list(d.find(text)) for d in slow]


def test_ordinary_health_text_is_left_alone():
    text = ("My fasting glucose was 128 mg/dL and my cycle was 28 days. A1c went from 7.8% to"
            " 7.1%. I walk 45 minutes, 3 times a week.")
    assert scrub_text(text, default_detectors()) == text


def test_scrub_file_counts_types_and_lines(tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": "I'm Jane Doe, email jane@x.io"},
                      {"role": "assistant", "content": "Hi!"}]},
        {"messages": [{"role": "user", "content": "How long is a cycle?"},
                      {"role": "assistant", "content": "Usually 21-35 days."}]},
        {"input_text": "call 555-123-4567", "output_text": "ok", "id": "keep-me-555-12-1234"},
    ]
    src = tmp_path / "raw.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    dst = tmp_path / "clean.jsonl"
    report = scrub_file(src, dst, names=["Jane Doe"])
    assert report.counts == {"NAME": 1, "EMAIL": 1, "PHONE": 1}
    assert report.lines_affected == [1, 3] and report.records == 3
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert out[0]["messages"][0]["content"] == "I'm [NAME], email [EMAIL]"
    assert out[1] == rows[1]
    assert out[2]["id"] == "keep-me-555-12-1234"  # ids and roles are not text
    assert is_scrubbed(dst) and read_marker(dst)["sensitive"] is True
    dst.write_text(dst.read_text() + json.dumps(rows[0]) + "\n")
    assert not is_scrubbed(dst)  # edited after the scrub


def _mixed_rows(n):
    texts = ["email jane@x.io now", "nothing here", "call (555) 123-4567", "born on 3/4/1990",
             "plain text again", "see https://x.example/p?q=1", "I'm Jane Doe"]
    return [json.dumps({"messages": [{"role": "user", "content": f"{texts[i % 7]} #{i}"},
                                     {"role": "assistant", "content": "ok"}]})
            for i in range(n)]


@pytest.mark.parametrize("workers", ["2", "3"])
def test_parallel_scrub_equals_serial(tmp_path, monkeypatch, workers):
    monkeypatch.setattr("finetune_sdk.data._parallel.PARALLEL_MIN_BYTES", 1)
    src = tmp_path / "raw.jsonl"
    lines = _mixed_rows(300)
    lines[40:40] = ["", "   "]  # blank lines still count for line numbers
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("FINETUNE_SDK_WORKERS", "1")
    serial = scrub_file(src, tmp_path / "serial.jsonl", names=["Jane Doe"])
    monkeypatch.setenv("FINETUNE_SDK_WORKERS", workers)
    parallel = scrub_file(src, tmp_path / "parallel.jsonl", names=["Jane Doe"])
    assert parallel.to_dict() | {"destination": None} == serial.to_dict() | {"destination": None}
    assert serial.lines_affected[-1] == 302 and serial.records == 300
    assert (tmp_path / "parallel.jsonl").read_bytes() == (tmp_path / "serial.jsonl").read_bytes()
    assert is_scrubbed(tmp_path / "parallel.jsonl")
    assert scrub_file(src, None, names=["Jane Doe"]).counts == serial.counts  # --check
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".finetune.json")
                  ) == ["parallel.jsonl", "raw.jsonl", "serial.jsonl"]  # no parts left


def test_parallel_scrub_names_the_first_bad_line_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("finetune_sdk.data._parallel.PARALLEL_MIN_BYTES", 1)
    monkeypatch.setenv("FINETUNE_SDK_WORKERS", "3")
    lines = _mixed_rows(300)
    lines[250] = '{"messages": ['  # in the last range
    lines[180] = "not json"  # in the middle one: the earliest, so the one reported
    src = tmp_path / "raw.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"raw.jsonl:181: not valid UTF-8 JSON"):
        scrub_file(src, tmp_path / "out.jsonl")
    assert [p.name for p in tmp_path.iterdir()] == ["raw.jsonl"]


def test_scrub_cli(tmp_path):
    src = tmp_path / "raw.jsonl"
    src.write_text(json.dumps({"prompt": "SSN 123-45-6789", "completion": "noted"}) + "\n")
    check = runner.invoke(app, ["scrub", str(src), "--check", "--json"])
    assert check.exit_code == 2 and json.loads(check.stdout)["counts"] == {"SSN": 1}
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["scrub", str(src), "-o", str(out), "--name", "Nobody"])
    assert result.exit_code == 0 and "[SSN]" in result.output
    assert "123-45-6789" not in out.read_text() and is_scrubbed(out)


def test_gate_refuses_sensitive_unscrubbed_hosted_upload(tmp_path):
    data = tmp_path / "patients.jsonl"
    data.write_text(json.dumps({"prompt": "DOB 01/02/1980", "completion": "ok"}) + "\n")
    with pytest.raises(SensitiveDataError, match="finetune scrub") as err:
        check_upload_allowed(data, provider="openai", hosted=True, sensitive=True,
                             allow_sensitive=False)
    # The ways out are ones that exist: the API flag and `finetune train --allow-sensitive`.
    assert "allow_sensitive=True" in str(err.value)
    assert "`finetune train --allow-sensitive`" in str(err.value)
    # Explicit allow and the local provider pass.
    check_upload_allowed(data, provider="openai", hosted=True, sensitive=True,
                         allow_sensitive=True)
    check_upload_allowed(data, provider="local", hosted=False, sensitive=True,
                         allow_sensitive=False)
    clean = tmp_path / "clean-unmarked.jsonl"
    clean.write_text(json.dumps({"prompt": "How long is a cycle?", "completion": "21-35 days"})
                     + "\n")
    check_upload_allowed(clean, provider="openai", hosted=True, sensitive=None,
                         allow_sensitive=False)
    # A sidecar mark counts even when the caller passes nothing (or False).
    mark_sensitive(data)
    for flag in (None, False):
        with pytest.raises(SensitiveDataError):
            check_upload_allowed(data, provider="gemini", hosted=True, sensitive=flag,
                                 allow_sensitive=False)
    clean = tmp_path / "clean.jsonl"
    scrub_file(data, clean)
    check_upload_allowed(clean, provider="gemini", hosted=True, sensitive=True,
                         allow_sensitive=False)
    mark_sensitive(data, False)  # the owner's word for this very content: it may go
    check_upload_allowed(data, provider="gemini", hosted=True, sensitive=None,
                         allow_sensitive=False)
    data.write_text(data.read_text() + json.dumps({"prompt": "a@b.co", "completion": "x"}) + "\n")
    with pytest.raises(SensitiveDataError, match="EMAIL 1"):  # edited since: scanned again
        check_upload_allowed(data, provider="gemini", hosted=True, sensitive=None,
                             allow_sensitive=False)


def _incident_file(path):
    """54 chats like the export of issue 19: PHI in some of them, none marked sensitive."""
    rows = []
    for i in range(54):
        text = "How do I log my cycle?"
        if i % 3 == 0:
            text = f"My DOB is 04/{i % 28 + 1:02d}/1987 and my email is pat{i}@example.org"
        elif i % 5 == 0:
            text = f"MRN: 00{480000 + i} phone (555) 201-{1000 + i}"
        rows.append({"messages": [{"role": "user", "content": text},
                                  {"role": "assistant", "content": "Here is how."}]})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("workers", ["1", "2"])
def test_gate_scans_an_unmarked_file_and_says_what_it_found(tmp_path, monkeypatch, workers):
    monkeypatch.setattr("finetune_sdk.data._parallel.PARALLEL_MIN_BYTES", 1)
    monkeypatch.setenv("FINETUNE_SDK_WORKERS", workers)
    data = _incident_file(tmp_path / "export.jsonl")
    with pytest.raises(SensitiveDataError) as err:
        check_upload_allowed(data, provider="openai", hosted=True, sensitive=None,
                             allow_sensitive=False)
    message = str(err.value)
    assert err.value.file == str(data) and message.startswith(f"{data}: ")
    assert "in 25 of 54 records" in message
    assert "DOB 18 (lines 1, 4, 7, ...)" in message and "EMAIL 18 (lines 1, 4, 7, ...)" in message
    assert "MRN 7 (lines 6, 11, 21, ...)" in message and "PHONE 7 (lines 6, 11, 21, ...)" in message
    assert f"finetune scrub {data} -o {tmp_path / 'export.scrubbed.jsonl'}" in message
    assert "allow_sensitive=True" in message and "finetune train --allow-sensitive" in message
    assert err.value.report.first_lines["DOB"] == [1, 4, 7, 10, 13]
    # Either way out works: a scrubbed copy, or the caller's explicit decision.
    clean = tmp_path / "export.scrubbed.jsonl"
    scrub_file(data, clean)
    check_upload_allowed(clean, provider="openai", hosted=True, sensitive=None,
                         allow_sensitive=False)
    check_upload_allowed(data, provider="openai", hosted=True, sensitive=None,
                         allow_sensitive=True)


def test_gate_skips_the_scan_when_the_caller_allowed_it(tmp_path, monkeypatch, caplog):
    data = _incident_file(tmp_path / "export.jsonl")

    def no_scan(*args, **kwargs):
        raise AssertionError("scanned")

    monkeypatch.setattr("finetune_sdk.data.privacy.scrub_file", no_scan)
    with caplog.at_level("INFO", logger="finetune_sdk"):
        check_upload_allowed(data, provider="openai", hosted=True, sensitive=None,
                             allow_sensitive=True)
    assert f"uploading {data} to openai unscanned: allow_sensitive=True" in caplog.text
    check_upload_allowed(data, provider="local", hosted=False, sensitive=None,
                         allow_sensitive=False)


def test_gate_scans_lines_it_cannot_parse_as_text(tmp_path):
    """The vendor reports bad JSON; the gate must neither crash on it nor let PHI through."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok", "completion": "fine"}\n{"prompt": "mail jo@x.org\n')
    with pytest.raises(SensitiveDataError, match=r"EMAIL 1 \(line 2\)"):
        check_upload_allowed(bad, provider="openai", hosted=True, sensitive=None,
                             allow_sensitive=False)
    bad.write_text('{"prompt": "ok", "completion": "fine"}\n{"prompt": "no phi\n')
    assert check_upload_allowed(bad, provider="openai", hosted=True, sensitive=None,
                                allow_sensitive=False).records == 2


def test_a_file_derived_from_a_reviewed_one_stays_reviewed(tmp_path):
    from finetune_sdk.data.split import split_file

    data = _incident_file(tmp_path / "synthetic.jsonl")
    mark_sensitive(data, False)
    train, val = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    split_file(data, train, val, val=0.2, seed=0)
    for part in (train, val):
        assert read_marker(part)["sensitive"] is False
        check_upload_allowed(part, provider="openai", hosted=True, sensitive=None,
                             allow_sensitive=False)


def test_scrub_report_lists_the_first_lines_of_each_type(tmp_path):
    data = _incident_file(tmp_path / "export.jsonl")
    report = scrub_file(data, None)
    assert report.to_dict()["first_lines"] == {"DOB": [1, 4, 7, 10, 13],
                                               "EMAIL": [1, 4, 7, 10, 13],
                                               "MRN": [6, 11, 21, 26, 36],
                                               "PHONE": [6, 11, 21, 26, 36]}
    assert report.counts == {"DOB": 18, "EMAIL": 18, "MRN": 7, "PHONE": 7}


def test_client_upload_refused_for_sensitive_data(tmp_path):
    data = tmp_path / "patients.jsonl"
    data.write_text(json.dumps({"prompt": "q", "completion": "a"}) + "\n")
    client = Client("fake", ledger=False)
    with pytest.raises(SensitiveDataError):
        client.datasets.upload(data, sensitive=True)
    assert client.datasets.upload(data, sensitive=True, allow_sensitive=True).id


def test_mark_sensitive_cli(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"prompt": "q", "completion": "a"}) + "\n")
    assert runner.invoke(app, ["mark-sensitive", str(data)]).exit_code == 0
    assert read_marker(data)["sensitive"] is True
    assert runner.invoke(app, ["mark-sensitive", str(tmp_path / "none.jsonl")]).exit_code == 2


def test_scrub_engine_option(tmp_path):
    src = tmp_path / "raw.jsonl"
    src.write_text(json.dumps({"prompt": "call 5551234567", "completion": "ok"}) + "\n")
    result = runner.invoke(app, ["scrub", str(src), "--check"])
    assert result.exit_code == 2 and "[PHONE]" in result.output
    assert runner.invoke(app, ["scrub", str(src), "--check", "--engine", "spacy"]).exit_code == 2
    try:
        import presidio_analyzer  # noqa: F401
    except ImportError:
        missing = runner.invoke(app, ["scrub", str(src), "--check", "--engine", "presidio"])
        assert missing.exit_code == 2 and "presidio-analyzer" in missing.output
        assert "Traceback" not in missing.output


def test_unmark_cli_lets_synthetic_look_alikes_upload(tmp_path):
    data = tmp_path / "synthetic.jsonl"
    data.write_text(json.dumps({"prompt": "DOB 01/02/1980", "completion": "ok"}) + "\n")
    with pytest.raises(SensitiveDataError, match="mark-sensitive --unmark"):
        check_upload_allowed(data, provider="openai", hosted=True, sensitive=None,
                             allow_sensitive=False)
    assert runner.invoke(app, ["mark-sensitive", str(data), "--unmark"]).exit_code == 0
    check_upload_allowed(data, provider="openai", hosted=True, sensitive=None,
                         allow_sensitive=False)


def test_scrub_refuses_bad_lines_without_writing(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_bytes(b'{"prompt": "a", "completion": "b"}\n{oops\n')
    result = runner.invoke(app, ["scrub", str(src), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and ":2" in result.output
    assert not (tmp_path / "o.jsonl").exists()


def test_presidio_detector_is_optional():
    from finetune_sdk.data.privacy import PresidioDetector

    try:
        import presidio_analyzer  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="presidio-analyzer"):
            PresidioDetector()
    else:  # pragma: no cover - only where presidio is installed
        assert PresidioDetector()


SAMPLES = Path(__file__).resolve().parent.parent / "examples" / "data"


def test_bundled_samples_contain_no_phi():
    for name in ("health_chats.jsonl", "therapy_support.jsonl", "menstrual_health.jsonl",
                 "preferences.jsonl"):
        assert scrub_file(SAMPLES / name, None).total == 0, name
