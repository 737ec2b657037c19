"""The bucketed hash store behind duplicate and leakage findings, and its use by validate."""

from __future__ import annotations

import json
import os
import random

import pytest

from finetune_sdk.data import _hashes
from finetune_sdk.data._hashes import BUCKETS, CONTENT, IDENT, HashScan, HashStore
from finetune_sdk.data.validate import MAX_PER_CODE, validate_file


def brute_force(entries, limit):
    """The same answers as HashStore.scan, from a plain in-memory pass (the reference)."""
    first, dups, overlaps = {}, {}, {}
    for kind, value, file, line in entries:
        first.setdefault((kind, file, value), line)
    for kind, value, file, line in entries:
        seen = first[(kind, file, value)]
        if seen != line:
            dups.setdefault((kind, file), []).append((line, seen))
        if file == 1 and (kind, 0, value) in first:
            overlaps.setdefault(kind, []).append((line, first[(kind, 0, value)]))
    out = HashScan(limit)
    for kind in (CONTENT, IDENT):
        for file in (0, 1):
            pairs = dups.get((kind, file), [])
            out.duplicates[(kind, file)] = (sorted(pairs)[:limit], len(pairs))
        pairs = overlaps.get(kind, [])
        out.overlaps[kind] = (sorted(pairs)[:limit], len(pairs))
    return out


def random_entries(seed, lines=3000, values=900):
    rng = random.Random(seed)
    entries = []
    for file, count in ((0, lines), (1, lines // 3)):
        for line in range(1, count + 1):
            # Negative and positive 64-bit values, few enough distinct ones to repeat often.
            entries.append((CONTENT, rng.randrange(values) * 0x9E3779B97F4A7C15 % 2**64 - 2**63,
                            file, line))
            if rng.random() < 0.5:
                entries.append((IDENT, rng.randrange(values * 4) - values, file, line))
    return entries


@pytest.mark.parametrize(("spill", "scan_pairs"), [(7, _hashes.SCAN_PAIRS), (1000, 3),
                                                   (_hashes.SPILL_PAIRS, _hashes.SCAN_PAIRS)])
def test_scan_matches_a_brute_force_reference_across_spilled_runs(monkeypatch, spill,
                                                                  scan_pairs):
    """Many small runs; and buckets read in several passes (as for a file of ~20 GB+)."""
    monkeypatch.setattr(_hashes, "SPILL_PAIRS", spill)
    monkeypatch.setattr(_hashes, "SCAN_PAIRS", scan_pairs)
    entries = random_entries(seed=spill)
    store = HashStore()
    try:
        for entry in entries:
            store.add(*entry)
        if spill == 7:
            assert len(os.listdir(store.directory)) > 100  # many run files were written
        got = store.scan(limit=50)
    finally:
        store.close()
    want = brute_force(entries, 50)
    assert got.duplicates == want.duplicates and got.overlaps == want.overlaps
    assert want.duplicates[(CONTENT, 0)][1] > 50  # the cap was exercised, the total kept
    assert want.overlaps[CONTENT][1] > 0


def test_scans_of_bucket_shares_merge_into_the_full_scan(monkeypatch):
    monkeypatch.setattr(_hashes, "SPILL_PAIRS", 500)
    entries = random_entries(seed=3)
    store = HashStore()
    try:
        for entry in entries:
            store.add(*entry)
        merged = HashScan(40)
        for index in range(3):
            merged.merge(store.scan(40, range(index, BUCKETS, 3)))
        full = store.scan(40)
    finally:
        store.close()
    assert merged.duplicates == full.duplicates and merged.overlaps == full.overlaps


def test_absorbed_spills_shift_line_numbers_and_are_deleted_on_close(monkeypatch):
    monkeypatch.setattr(_hashes, "SPILL_PAIRS", 3)
    worker = HashStore()
    for line in range(1, 11):
        worker.add(CONTENT, line % 4, 0, line)  # values 1,2,3,0 repeating
    spill = worker.detach()
    worker.close()  # detached: closing the worker's store keeps the files
    assert os.path.isdir(spill.directory)
    parent = HashStore()
    parent.add(CONTENT, 2, 0, 1)
    parent.absorb(spill, line_offset=100)
    scan = parent.scan(limit=100)
    pairs, total = scan.duplicates[(CONTENT, 0)]
    # Line 1 of the parent holds value 2; the worker's lines 2, 6 and 10 (value 2) follow it.
    assert (102, 1) in pairs and (106, 1) in pairs and (110, 1) in pairs
    assert (105, 101) in pairs  # value 1: worker lines 1 and 5
    assert total == 10 + 1 - 4
    parent.close()
    assert not os.path.exists(spill.directory) and not os.path.exists(parent.directory)


def test_validate_counts_every_duplicate_and_leak_past_the_listing_cap(tmp_path):
    def line(i):
        return json.dumps({"messages": [{"role": "user", "content": f"question {i % 7}"},
                                        {"role": "assistant", "content": "answer"}]})

    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(line(i) for i in range(500)) + "\n", encoding="utf-8")
    val = tmp_path / "val.jsonl"
    val.write_text("\n".join(line(i) for i in range(300)) + "\n", encoding="utf-8")
    report = validate_file(train, validation_path=val)
    assert report.counts["duplicate_example"] == (500 - 7) + (300 - 7)
    assert report.counts["leakage"] == 300
    listed = [f for f in report.findings if f.code == "leakage"]
    assert len(listed) == MAX_PER_CODE and report.omitted >= 100
    assert listed[0].line == 1 and "line 1" in listed[0].message
    assert not report.ok  # leakage is an error


@pytest.mark.parametrize("workers", ["1", "2"])
def test_validation_leaves_no_hash_files_behind(tmp_path, monkeypatch, workers):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    monkeypatch.setattr("finetune_sdk.data._parallel.PARALLEL_MIN_BYTES", 1)
    monkeypatch.setenv("FINETUNE_SDK_WORKERS", workers)
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"messages": [
        {"role": "user", "content": f"q{i % 5}"}, {"role": "assistant", "content": "a"}]})
        for i in range(60)) + "\n", encoding="utf-8")
    report = validate_file(data)
    assert report.counts["duplicate_example"] == 55
    with pytest.raises(Exception, match="missing.jsonl: no such file"):
        validate_file(data, validation_path=tmp_path / "missing.jsonl")
    assert list(scratch.iterdir()) == []
