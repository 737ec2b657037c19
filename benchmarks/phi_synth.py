"""Synthetic PHI set: every kind the scrubber knows, in many shapes, plus look-alikes.

``generate(seed, per_shape)`` returns positive cases (a chat-like sentence, the kind, and the
exact secret substring that must not survive a scrub) and look-alikes (text with no PHI at all:
version numbers, dosages such as ``5/325 mg``, times, scores, plain numbers, hex hashes...).
``score(cases, lookalikes, detectors)`` measures per kind

- recall: the share of secrets fully covered by detected spans (of any type: a secret replaced
  by the wrong placeholder still does not leave the machine);
- precision: of the spans a detector reported with that type, the share that overlap a secret
  (spans on the carrier text or on a look-alike are false positives);

and, per look-alike family, the share of texts that got any span. Values are random but fake:
phone exchanges, SSNs and names are drawn from invented ranges and lists, never real records.
``tests/test_phi_synthetic.py`` runs a small fixed-seed set; ``bench_phi.py`` the large one.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Case", "LookAlike", "generate", "score"]

FIRST = ["Maria", "Jamal", "Priya", "Tomasz", "Aiko", "Femi", "Lucia", "Oskar", "Mei", "Rafael"]
LAST = ["Lopez", "Okafor", "Patel", "Nowak", "Tanaka", "Adeyemi", "Rossi", "Lindqvist", "Chen",
        "Moreau"]
STREETS = ["Elm", "Maple", "Oak", "Cedar", "Pine", "Washington", "Lincoln", "Sunset", "Lake",
           "Highland", "Mill", "Church"]
SUFFIXES = ["Street", "St", "St.", "Avenue", "Ave", "Ave.", "Road", "Rd", "Blvd", "Lane", "Ln",
            "Drive", "Dr", "Court", "Ct", "Way", "Place", "Pl", "Terrace"]
DIRS = ["N", "S", "E", "W", "N.", "W.", "NE", "SW", "North", "East"]
MONTHS = ["January", "Feb", "March", "Apr", "May", "June", "Jul", "August", "Sept", "Oct",
          "November", "Dec"]
STATES = [("Springfield", "IL"), ("Austin", "TX"), ("Portland", "OR"), ("Denver", "CO"),
          ("Albany", "NY"), ("Boise", "ID"), ("Tampa", "FL"), ("Madison", "WI")]
STATE_NAMES = ["Texas", "Ohio", "California", "Georgia", "New Jersey", "Washington"]

CARRIERS = [
    "{}",
    "Hi there, {}. Is that okay?",
    "ok so {} and i need help with my meds",
    "Update my file please: {}\nThanks!",
    "Quick question ({}) about my refill",
    "For the intake form: {}; let me know if you need more.",
]


@dataclass(frozen=True)
class Case:
    """One sentence holding one secret of ``kind``."""

    kind: str
    shape: str
    text: str
    secret: str


@dataclass(frozen=True)
class LookAlike:
    """A sentence with no PHI in it that looks like some (``family`` says what kind)."""

    family: str
    text: str


def _d(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789") for _ in range(n))


def _area(r: random.Random) -> str:
    return f"{r.randint(2, 9)}{_d(r, 2)}"


def _exch(r: random.Random) -> str:
    return f"{r.randint(2, 9)}{_d(r, 2)}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _full_date(r: random.Random) -> str:
    m, d, y = r.randint(1, 12), r.randint(1, 28), r.randint(1940, 2026)
    return r.choice([f"{m:02d}/{d:02d}/{y}", f"{m}/{d}/{y}", f"{y}-{m:02d}-{d:02d}",
                     f"{MONTHS[m - 1]} {d}, {y}", f"{d} {MONTHS[m - 1]} {y}",
                     f"{m}/{d}/{y % 100:02d}"])


def _partial_date(r: random.Random) -> str:
    m, d = r.randint(1, 12), r.randint(1, 28)
    return r.choice([f"{m}/{d}", f"{m:02d}/{d:02d}", f"{MONTHS[m - 1]} {d}",
                     f"{MONTHS[m - 1]} {_ordinal(d)}", f"{d} {MONTHS[m - 1]}"])


def _mbi(r: random.Random) -> str:
    letters = "ACDEFGHJKMNPQRTUVWXY"
    alnum = letters + "0123456789"
    return (f"{r.randint(1, 9)}{r.choice(letters)}{r.choice(alnum)}{_d(r, 1)}"
            f"{r.choice(letters)}{r.choice(alnum)}{_d(r, 1)}"
            f"{r.choice(letters)}{r.choice(letters)}{_d(r, 2)}")


# kind -> shape -> function returning (text before, secret, text after)
Shape = Callable[[random.Random], tuple[str, str, str]]
SHAPES: dict[str, dict[str, Shape]] = {
    "EMAIL": {
        "plain": lambda r: ("email me at ", f"{r.choice(FIRST).lower()}.{_d(r, 2)}@example.org",
                            ""),
        "plus": lambda r: ("", f"{r.choice(LAST).lower()}+rx@mail.example.com", " is mine"),
    },
    "PHONE": {
        "paren": lambda r: ("call me at ", f"({_area(r)}) {_exch(r)}-{_d(r, 4)}", ""),
        "dash": lambda r: ("my number is ", f"{_area(r)}-{_exch(r)}-{_d(r, 4)}", ""),
        "dots": lambda r: ("cell ", f"{_area(r)}.{_exch(r)}.{_d(r, 4)}", ""),
        "spaces": lambda r: ("text ", f"{_area(r)} {_exch(r)} {_d(r, 4)}", ""),
        "plain10": lambda r: ("my phone is ", f"{_area(r)}{_exch(r)}{_d(r, 4)}", ""),
        "bare10": lambda r: ("", f"{_area(r)}{_exch(r)}{_d(r, 4)}", " is the best one"),
        "e164": lambda r: ("reach me on ", f"+1{_area(r)}{_exch(r)}{_d(r, 4)}", ""),
        "one-dash": lambda r: ("dial ", f"1-{_area(r)}-{_exch(r)}-{_d(r, 4)}", ""),
        "intl": lambda r: ("my mobile is ", f"+44 20 {_d(r, 4)} {_d(r, 4)}", ""),
    },
    "SSN": {
        "dashed": lambda r: ("SSN ", f"{r.randint(100, 665)}-{r.randint(10, 99)}-"
                             f"{r.randint(1000, 9999)}", ""),
        "context9": lambda r: ("my social security number is ",
                               f"{r.randint(100, 665)}{r.randint(10, 99)}{r.randint(1000, 9999)}",
                               ""),
    },
    "MRN": {
        "mrn": lambda r: ("MRN: ", _d(r, 8), ""),
        "record": lambda r: ("medical record number ", f"A-{_d(r, 7)}", ""),
        "chart": lambda r: ("chart # ", f"AB-{_d(r, 4)}", ""),
    },
    "DOB": {
        "dob": lambda r: ("DOB: ", _full_date(r), ""),
        "born": lambda r: ("I was born on ", _full_date(r), ""),
        "birthday-partial": lambda r: ("my birthday is ", _partial_date(r), ""),
    },
    "DATE": {
        "full": lambda r: ("my last period started ", _full_date(r), ""),
        "on-partial": lambda r: ("I saw the doctor on ", _partial_date(r), ""),
        "appt-partial": lambda r: ("appointment ", _partial_date(r), " at 3pm"),
        "weekday-partial": lambda r: ("see you Tuesday ", f"{r.randint(1, 12)}/"
                                      f"{r.randint(1, 28)}", ""),
        "since-partial": lambda r: ("spotting since ", _partial_date(r), ""),
    },
    "ADDRESS": {
        "simple": lambda r: ("I live at ", f"{r.randint(1, 9999)} {r.choice(STREETS)} "
                             f"{r.choice(SUFFIXES)}", ""),
        "direction-ordinal": lambda r: ("send it to ", f"{r.randint(1, 9999)} {r.choice(DIRS)} "
                                        f"{_ordinal(r.randint(1, 99))} {r.choice(SUFFIXES)}",
                                        ""),
        "ordinal": lambda r: ("we're at ", f"{r.randint(1, 999)} {_ordinal(r.randint(1, 60))} "
                              f"{r.choice(SUFFIXES)}", ""),
        "trailing-dir": lambda r: ("office is ", f"{r.randint(100, 4000)} {r.choice(STREETS)} "
                                   f"Ave {r.choice(['NW', 'SE', 'NE'])}", ""),
        "unit": lambda r: ("new place: ", f"{r.randint(1, 999)} {r.choice(STREETS)} "
                           f"{r.choice(SUFFIXES)}, Apt {r.randint(1, 40)}", ""),
    },
    "URL": {
        "https": lambda r: ("see ", f"https://portal.example-clinic.com/p?id={_d(r, 4)}", ""),
        "www": lambda r: ("my page is ", f"www.example.org/{r.choice(LAST).lower()}", ""),
    },
    "IP": {
        "v4": lambda r: ("logged in from ", ".".join(str(r.randint(1, 254)) for _ in range(4)),
                         ""),
        "v6-full": lambda r: ("from ", ":".join(f"{r.randint(0, 65535):x}" for _ in range(8)),
                              ""),
        "v6-compressed": lambda r: ("device ", f"2001:db8::{r.randint(1, 65535):x}:"
                                    f"{r.randint(1, 65535):x}", ""),
        "v6-link-local": lambda r: ("router at ", f"fe80::{r.randint(1, 65535):x}", ""),
    },
    "ZIP": {
        "city-state": lambda r: ("{}, {} ".format(*r.choice(STATES)), _d(r, 5), ""),
        "zip-word": lambda r: ("zip code ", _d(r, 5), ""),
        "zip-plus4": lambda r: ("postal code: ", f"{_d(r, 5)}-{_d(r, 4)}", ""),
        "state-name": lambda r: (f"{r.choice(STATE_NAMES)} ", _d(r, 5), ""),
        "bare-plus4": lambda r: ("mail goes to ", f"{_d(r, 5)}-{_d(r, 4)}", " now"),
    },
    "INSURANCE_ID": {
        "member-id": lambda r: ("my member ID is ", f"W{_d(r, 9)}", ""),
        "member-hash": lambda r: ("member # ", f"XKZ{_d(r, 8)}", ""),
        "policy": lambda r: ("policy number: ", f"{r.choice('ABHK')}{_d(r, 7)}", ""),
        "subscriber": lambda r: ("subscriber ID ", _d(r, 9), ""),
        "group": lambda r: ("group no. ", _d(r, 6), ""),
        "medicaid": lambda r: ("Medicaid ID ", _d(r, 10), ""),
        "mbi": lambda r: ("Medicare card ", _mbi(r), ""),
    },
    "NAME": {
        "title": lambda r: (f"{r.choice(['Dr.', 'Mrs.', 'Mr.', 'Ms.'])} ", r.choice(LAST),
                            " said to rest"),
        "my-name": lambda r: ("my name is ", f"{r.choice(FIRST)} {r.choice(LAST)}", ""),
        "patient": lambda r: ("patient name: ", f"{r.choice(FIRST)} {r.choice(LAST)}", ""),
    },
}

# Shapes written after the detectors, as a held-out check: realistic variety that the patterns
# were not built from (some are known misses; phi.md lists what each kind still misses).
HARD: dict[str, dict[str, Shape]] = {
    "EMAIL": {"hard-caps": lambda r: ("Email: ", f"{r.choice(LAST).upper()}@EXAMPLE.NET", "")},
    "PHONE": {
        "hard-local7": lambda r: ("call ", f"{_exch(r)}-{_d(r, 4)}", " after 5"),
        "hard-ext": lambda r: ("office ", f"{_area(r)}-{_exch(r)}-{_d(r, 4)}", " ext. 12"),
        "hard-tel": lambda r: ("tel: ", f"+1 ({_area(r)}) {_exch(r)}-{_d(r, 4)}", ""),
    },
    "SSN": {"hard-spaced": lambda r: ("", f"{r.randint(100, 665)} {r.randint(10, 99)} "
                                      f"{r.randint(1000, 9999)}", " is my social")},
    "DOB": {
        "hard-dashes": lambda r: ("dob ", f"{r.randint(1, 12)}-{r.randint(1, 28)}-"
                                  f"{r.randint(40, 99)}", ""),
        "hard-ymd-slash": lambda r: ("birth date: ", f"{r.randint(1940, 2020)}/"
                                     f"{r.randint(1, 12):02d}/{r.randint(1, 28):02d}", ""),
    },
    "DATE": {
        "hard-lower-month": lambda r: ("see you ", f"{r.choice(['march', 'june', 'oct'])} "
                                       f"{r.randint(1, 28)}", ""),
        "hard-ordinal-weekday": lambda r: ("the visit is Friday the ",
                                           _ordinal(r.randint(1, 28)), ""),
        "hard-dotted": lambda r: ("results from ", f"{r.randint(1, 28)}.{r.randint(1, 12)}."
                                  f"{r.randint(2000, 2026)}", ""),
    },
    "ADDRESS": {
        "hard-po-box": lambda r: ("mail it to ", f"PO Box {r.randint(10, 9999)}", ""),
        "hard-lowercase": lambda r: ("i live at ", f"{r.randint(1, 999)} "
                                     f"{r.choice(STREETS).lower()} st", ""),
        "hard-two-words": lambda r: ("it's ", f"{r.randint(1, 999)} Martin Luther King Jr Blvd",
                                     ""),
    },
    "ZIP": {"hard-zip-is": lambda r: ("my zip is ", _d(r, 5), "")},
    "INSURANCE_ID": {
        "hard-carrier": lambda r: ("BCBS ID ", f"XYZ{_d(r, 9)}", ""),
        "hard-card": lambda r: ("insurance card number ", f"H{_d(r, 8)}", ""),
    },
    "NAME": {
        "hard-signoff": lambda r: ("thanks, ", f"{r.choice(FIRST)} {r.choice(LAST)}", ""),
        "hard-bare": lambda r: ("", r.choice(FIRST), " said the pain is worse"),
    },
    "IP": {"hard-mapped": lambda r: ("client ", f"::ffff:192.0.2.{r.randint(1, 254)}", "")},
    "URL": {"hard-bare-domain": lambda r: ("my chart is at ", "mychart.example-clinic.org/"
                                           f"{_d(r, 5)}", "")},
}

# family -> texts with no PHI (fixed: look-alikes are about shape, not random values)
LOOKALIKES: dict[str, list[str]] = {
    "version": ["update to v2.3.1 first", "version 10.4.2 fixed it", "Python 3.11.7 here",
                "iOS 17.4.1 broke the app", "build 1.2.3.4 crashes", "app version 2.10.4.1"],
    "dosage": ["hydrocodone 5/325 mg", "take 10/325mg as needed", "percocet 7.5/325",
               "take 1/2 tablet at night", "3/4 cup of oats", "2.5 mg daily",
               "500 mg twice daily", "1-2 tablets every 4-6 hours", "a 50/50 chance",
               "the clinic is open 24/7", "take 1/4 of a pill"],
    "time": ["at 10:30 am", "12:45:00 sharp", "around 3:15pm", "between 18:00-20:00",
             "fasting for 16:8", "set for 06:30"],
    "score": ["PHQ-9 score 14/27", "I got 3/4 on the quiz", "GAD-7: 12", "BP 120/80",
              "pain 7/10 today", "A1c 7.1%", "sleep score 82/100", "rated it 4/5 stars",
              "2/3 of patients improve", "3/4 of the time"],
    "number": ["10000 steps a day", "12345 steps yesterday", "I weigh 165 lbs",
               "2000 calories", "1500000 people", "order 4829301", "3 times a day",
               "I walk 3 miles down the road", "a 10 minute drive", "room 204",
               "1 in 4 people", "call in 2 weeks", "take 2 pills a day", "in 2024",
               "1234567890 was the test value", "population 3,500,000", "10000 IU vitamin D",
               "order ID 48213", "about 2 blocks from the court", "group therapy session 2",
               "plan B", "my plan is 3 walks a week", "member of 12 groups",
               "scored 98th percentile", "week 12 of 40", "4000 IU a day"],
    "hash": ["commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", "sha 2cf24dba5fb0a30e",
             "token deadbeef", "id 123e4567-e89b-12d3-a456-426614174000",
             "color #ff00aa", "hash 5994471abb01112afcc18159f6cc74b4f511b99806da59b3caf5a9c1"],
    "code": ["use std::vector here", "call Class::method", "aspect 16:9", "scale 1:100",
             "icon@2x.png is blurry", "python3 -m pip install", "the 2nd floor",
             "Dr. appointment next week", "Dr. said to rest", "my name is not important",
             "I'm Feeling better"],
    # Held out, as HARD above: written after the detectors.
    "hard": ["call 911 now", "ICD-10 E11.9", "CPT 99213", "lot AB12345", "NDC 0069-3150-83",
             "Rx #1234567", "ref 48213-2231", "$55,512.34", "v3.4.5-beta", "Mon-Fri 9-5",
             "COVID-19", "B12 1000 mcg", "2/3 tablets", "Q3 2026", "the 90/10 rule",
             "top 10 tips", "Route 66", "I-95 traffic", "48-72 hours", "1 of 3",
             "version 2024.10.1", "from 1/2 to 3/4 cup", "Lexapro 10/20 mg",
             "I drank a Dr. Pepper", "our 2 dogs love the park drive", "5 Star Way of living",
             "step 3 of 4", "take it on 2 days", "session 4/12 done", "10/10 would recommend",
             "page 3/4", "since 2/3 of my meals are carbs", "the 3rd time", "May I ask",
             "I ran 5 miles on Sunset Blvd", "HbA1c 48 mmol/mol", "1 in 100,000",
             "8000000000 people"],
}


def generate(seed: int = 0, per_shape: int = 20) -> tuple[list[Case], list[LookAlike]]:
    """``per_shape`` cases of every shape of every kind, in random carriers; the look-alikes
    (each alone and in a random carrier)."""
    r = random.Random(seed)
    cases = []
    for kind in SHAPES:
        for shape, make in {**SHAPES[kind], **HARD.get(kind, {})}.items():
            for _ in range(per_shape):
                before, secret, after = make(r)
                cases.append(Case(kind, shape, r.choice(CARRIERS).format(before + secret + after),
                                  secret))
    looks = [LookAlike(family, text) for family, texts in LOOKALIKES.items() for text in texts]
    looks += [LookAlike(la.family, r.choice(CARRIERS[1:]).format(la.text)) for la in looks]
    return cases, looks


def _spans(text: str, detectors: Sequence[Any]) -> list[tuple[int, int, str]]:
    from finetune_sdk.data.privacy import find_pii

    return find_pii(text, detectors)


def score(cases: Iterable[Case], lookalikes: Iterable[LookAlike],
          detectors: Sequence[Any]) -> dict[str, Any]:
    """Recall and precision per kind, false-positive rate per look-alike family, misses."""
    found, missed = Counter(), Counter()
    true_spans, all_spans = Counter(), Counter()
    misses: dict[str, list[str]] = defaultdict(list)
    for case in cases:
        start = case.text.index(case.secret)
        end = start + len(case.secret)
        spans = _spans(case.text, detectors)
        covered = set()
        for s, e, kind in spans:
            all_spans[kind] += 1
            if s < end and e > start:
                true_spans[kind] += 1
                covered.update(range(max(s, start), min(e, end)))
        if len(covered) == end - start:
            found[case.kind] += 1
        else:
            missed[case.kind] += 1
            misses[case.kind].append(case.text)
    flagged, seen = Counter(), Counter()
    false_hits: dict[str, list[str]] = defaultdict(list)
    for look in lookalikes:
        seen[look.family] += 1
        spans = _spans(look.text, detectors)
        for _s, _e, kind in spans:
            all_spans[kind] += 1
        if spans:
            flagged[look.family] += 1
            false_hits[look.family].append(
                f"{look.text!r}: " + ", ".join(f"{k}={look.text[s:e]!r}" for s, e, k in spans))
    kinds = sorted(set(found) | set(missed) | set(all_spans))
    return {
        "recall": {k: found[k] / (found[k] + missed[k]) for k in kinds if found[k] + missed[k]},
        "precision": {k: true_spans[k] / all_spans[k] for k in kinds if all_spans[k]},
        "cases": {k: found[k] + missed[k] for k in kinds if found[k] + missed[k]},
        "lookalike_flagged": {f: flagged[f] / seen[f] for f in sorted(seen)},
        "lookalikes": dict(seen),
        "misses": {k: v[:5] for k, v in misses.items()},
        "false_hits": {k: v[:8] for k, v in false_hits.items()},
    }
