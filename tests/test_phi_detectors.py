"""The PHI detectors added for issue 19: each new kind and shape is found, each look-alike is
left alone, the prefilters never change what is found, and a small fixed-seed synthetic set
(``benchmarks/phi_synth.py``) keeps its recall and precision."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from finetune_sdk.data.phi_detectors import Prefilter, RegexDetector, find_pii
from finetune_sdk.data.privacy import default_detectors, scrub_text

ROOT = Path(__file__).resolve().parents[1]

# (kind, text, the secret that must be gone); every one of these was missed before issue 19.
NEW = [
    ("PHONE", "my phone is 5551234567 thanks", "5551234567"),
    ("PHONE", "text +15551234567 anytime", "+15551234567"),
    ("PHONE", "dial 1-555-234-5678", "1-555-234-5678"),
    ("PHONE", "uk mobile +447946095800", "+447946095800"),
    ("PHONE", "call 555-1234 after 5", "555-1234"),
    ("ZIP", "Springfield, IL 62704", "62704"),
    ("ZIP", "my zip is 94103", "94103"),
    ("ZIP", "postal code: 10001-1234", "10001-1234"),
    ("ZIP", "Austin TX 78701", "78701"),
    ("ZIP", "Texas 75001", "75001"),
    ("ZIP", "mail goes to 60614-2231 now", "60614-2231"),
    ("INSURANCE_ID", "my member ID is W123456789", "W123456789"),
    ("INSURANCE_ID", "member # XKZ88213004", "XKZ88213004"),
    ("INSURANCE_ID", "policy number: A1234567", "A1234567"),
    ("INSURANCE_ID", "subscriber ID 884421907", "884421907"),
    ("INSURANCE_ID", "Medicaid ID 1234567890", "1234567890"),
    ("INSURANCE_ID", "BCBS ID XYZ123456789", "XYZ123456789"),
    ("INSURANCE_ID", "Medicare card 1EG4-TE5-MK73", "1EG4-TE5-MK73"),
    ("DATE", "I saw the doctor on 3/4", "3/4"),
    ("DATE", "spotting since 10/12, worried", "10/12"),
    ("DATE", "appointment 11/15 at 3pm", "11/15"),
    ("DATE", "see you Tuesday 3/4", "3/4"),
    ("DATE", "my period started March 3rd", "March 3rd"),
    ("DATE", "on the 3rd of March", "3rd of March"),
    ("DATE", "the visit is Friday the 4th", "4th"),
    ("DATE", "labs from 2009/10/23", "2009/10/23"),
    ("DOB", "my birthday is 3/4", "3/4"),
    ("DOB", "born on Mar 3", "Mar 3"),
    ("ADDRESS", "send it to 500 W 5th Ave please", "500 W 5th Ave"),
    ("ADDRESS", "office is 1600 Lake Ave NW", "1600 Lake Ave NW"),
    ("ADDRESS", "we're at 221 3rd Street", "221 3rd Street"),
    ("ADDRESS", "9 E 42nd St Suite 300", "9 E 42nd St Suite 300"),
    ("ADDRESS", "mail it to PO Box 1234", "PO Box 1234"),
    ("IP", "device 2001:db8::8a2e:370:7334 online", "2001:db8::8a2e:370:7334"),
    ("IP", "router at fe80::1", "fe80::1"),
    ("IP", "client ::ffff:192.0.2.1", "::ffff:192.0.2.1"),
    ("SSN", "my social security number is 123456789", "123456789"),
    ("SSN", "471 45 1116 is my social", "471 45 1116"),
    ("NAME", "Dr. Okafor said to rest", "Okafor"),
    ("NAME", "my name is Maria Lopez", "Maria Lopez"),
    ("NAME", "patient name: John Smith", "John Smith"),
    ("NAME", "Thanks, Femi Adeyemi", "Femi Adeyemi"),
    ("URL", "my chart is at mychart.example-clinic.org/24302", "mychart.example-clinic.org/24302"),
]

# Text with no PHI that looks like some: none of it may be flagged.
LOOKALIKES = [
    "update to v2.3.1 first", "build 1.2.3.4 crashes", "app version 2.10.4.1",
    "hydrocodone 5/325 mg", "take 10/325mg as needed", "take 1/2 tablet at night",
    "3/4 cup of oats", "3/4 of the time", "the clinic is open 24/7", "a 50/50 chance",
    "at 10:30 am", "12:45:00 sharp", "fasting for 16:8", "aspect 16:9",
    "PHQ-9 score 14/27", "I got 3/4 on the quiz", "BP 120/80", "pain 7/10 today",
    "rated it 4/5 stars", "10000 steps a day", "12345 steps yesterday", "2000 calories",
    "1234567890 was the test value", "unix time 1700000000", "order ID 48213",
    "I walk 3 miles down the road", "a 10 minute drive", "about 2 blocks from the court",
    "group therapy session 2", "my plan is 3 walks a week", "member of 12 groups",
    "commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", "id 123e4567-e89b-12d3-a456-426614174000",
    "token deadbeef", "use std::vector here", "call Class::method", "icon@2x.png is blurry",
    "Dr. appointment next week", "Dr. said to rest", "my name is not important",
    "May I ask something", "march 5 miles", "A1c 7.1%", "1-2 tablets every 4-6 hours",
]


@pytest.mark.parametrize("kind, text, secret", NEW, ids=[f"{c[0]}-{i}" for i, c in enumerate(NEW)])
def test_each_new_kind_is_found(kind, text, secret):
    spans = find_pii(text, default_detectors())
    assert (text.index(secret), text.index(secret) + len(secret), kind) in spans, spans
    assert secret not in scrub_text(text, default_detectors())


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalikes_are_not_flagged(text):
    assert find_pii(text, default_detectors()) == [], text


def _plain(detectors):
    return [replace(d, hint=None, needs=(), words=frozenset()) if isinstance(d, RegexDetector)
            else d for d in detectors]


@pytest.mark.parametrize("text", [
    # Characters re treats as digits, spaces or (ignoring case) ASCII letters: the ASCII shape
    # the prefilters read cannot see them, so the prefilter must step aside.
    "\u212aaiser ID 12345678", "\u017fsn 123-45-6789", "pat\u0130ent ID 1234",
    "\u0131nsurance id 12345", "call \uff15\uff15\uff15-\uff11\uff12\uff13\uff14",
    "DOB \u0663/\u0664/\u0661\u0669\u0669\u0660", "42\u00a0Elm\u00a0Street", "café 5551234567",
    *(text for _, text, _ in NEW), *LOOKALIKES,
])
def test_prefilters_never_change_what_is_found(text):
    detectors = default_detectors(names=["Jane Doe"])
    plain = _plain(detectors)
    assert find_pii(text, detectors) == find_pii(text, plain)
    for fast, slow in zip(detectors, plain, strict=True):
        assert list(fast.find(text)) == list(slow.find(text))
    candidates = Prefilter(detectors).candidates(text)
    assert all(d in candidates for d in detectors if list(d.find(text))), text


def _synth():
    spec = importlib.util.spec_from_file_location("phi_synth", ROOT / "benchmarks" / "phi_synth.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("phi_synth", module)
    spec.loader.exec_module(module)
    return module


def test_fixed_seed_synthetic_set_keeps_its_recall_and_precision():
    synth = _synth()
    cases, looks = synth.generate(seed=7, per_shape=4)
    easy = [c for c in cases if not c.shape.startswith("hard-")]
    result = synth.score(easy, [la for la in looks if la.family != "hard"], default_detectors())
    assert set(result["recall"]) >= {"PHONE", "ZIP", "INSURANCE_ID", "DATE", "ADDRESS", "IP"}
    assert all(r == 1.0 for r in result["recall"].values()), result["misses"]
    assert all(p == 1.0 for p in result["precision"].values()), result["false_hits"]
    assert not any(result["lookalike_flagged"].values()), result["false_hits"]
    # The held-out shapes: most are found; the known misses stay known (phi.md lists them).
    hard = synth.score([c for c in cases if c.shape.startswith("hard-")], [], default_detectors())
    assert sum(hard["recall"].values()) / len(hard["recall"]) >= 0.75, hard["misses"]
