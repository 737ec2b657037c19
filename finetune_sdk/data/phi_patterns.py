"""The regular expressions behind the built-in PHI/PII detectors (see ``phi_detectors``).

Each kind is a pattern plus a *hint*: a cheap pattern that every match of the full one contains
(a necessary condition), written to start with a character class so ``re`` can skip ahead with
a fast character scan. Hints never look outside their own match, so they also hold on a raw
JSON line that contains the string (what the upload gate relies on: ``phi_scan``).
``tests/test_data_privacy.py`` checks that hints never change what is found.

False positives are kept low by context: a bare ``3/4`` is a fraction and ``12345`` a number,
so partial dates need a date word before them (``on 3/4``, ``since 10/12``) and ZIP codes a
state, ``zip``/``postal code`` or the ZIP+4 shape; member ids need ``member ID``, ``policy
number`` and the like (Medicare's MBI is specific enough alone). ``benchmarks/phi_synth.py``
measures recall and precision per kind against look-alikes (versions, dosages, times, scores).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["PATTERNS"]

# Month names: any case with a year after them (a full date); title or upper case only in a
# partial date, where lowercase "may", "march" and "sat" are ordinary words.
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_MONTH_TITLE = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?"
                r"|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?"
                r"|JAN|FEB|MAR|APR|MAY|JUNE?|JULY?|AUG|SEPT?|OCT|NOV|DEC)")
_DATE = (rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})|\d{{4}}-\d{{2}}-\d{{2}}"
         rf"|\d{{4}}/\d{{1,2}}/\d{{1,2}}"
         rf"|{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}|\d{{1,2}} {_MONTH}\.?,? \d{{4}})")
_MD = r"(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?![/\d])"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"
# What follows a fraction, never a date: "1/2 tablet", "3/4 of the time", "2/3 cup".
_NOT_AMOUNT = (r"(?!\s*(?i:of|cups?|tabs?|tablets?|pills?|doses?|mg|g|ml|tsp|tbsp|teaspoons?"
               r"|tablespoons?|inch(?:es)?|in|miles?|mi|lbs?|oz|hours?|hrs?|days?|weeks?"
               r"|times?|servings?|portions?|strength|stars?|points?|score)\b)")
_MONTH_DAY = (rf"(?:{_MD}{_NOT_AMOUNT}|{_MONTH_TITLE}\.?\s+{_DAY}\b(?![:.,]?\d)"
              rf"|{_DAY}\s+(?:of\s+)?{_MONTH_TITLE}\b)")
_WEEKDAY = (r"(?i:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?"
            r"|fri(?:day)?|sat(?:urday)?|sun(?:day)?)")
_DATE_WORD = (r"(?i:on|since|from|until|till|thru|through|by|before|after|starting|started"
              r"|start|began|last|next|due|appt\.?|appointment|visit|visited|dated|date"
              rf"|scheduled|surgery|procedure|{_WEEKDAY})")
_STREET = (r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way"
           r"|place|pl|terrace|circle|cir|highway|hwy|parkway|pkwy)")
# A street name word: capitalised or not, but never a word of ordinary prose or a unit
# ("3 miles down the road", "a 10 minute drive"); an ordinal ("5th") or a direction ("W").
_STREET_WORD = (r"(?:(?!(?:the|a|an|to|of|in|on|at|my|our|your|his|her|their|and|or|for"
                r"|from|down|up|by|with|per|each|every|this|that|next|last|blocks?|miles?"
                r"|minutes?|mins?|hours?|hrs?|km|steps?|days?|weeks?|times?|more|other)\b)"
                r"[A-Za-z][A-Za-z'-]*\.?|\d{1,3}(?:st|nd|rd|th))")
_DIRECTION = r"(?-i:N|S|E|W|NE|NW|SE|SW)"
_STATES = ("AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|IA|IL|IN|KS|KY|LA|MA|MD|ME|MI|MN|MO|MS|MT"
           "|NC|ND|NE|NH|NJ|NM|NV|NY|OH|OK|OR|PA|PR|RI|SC|SD|TN|TX|UT|VA|VT|WA|WI|WV|WY")
_STATE_NAMES = ("Alabama|Alaska|Arizona|Arkansas|California|Colorado|Connecticut|Delaware"
                "|Florida|Georgia|Hawaii|Idaho|Illinois|Indiana|Iowa|Kansas|Kentucky|Louisiana"
                "|Maine|Maryland|Massachusetts|Michigan|Minnesota|Mississippi|Missouri|Montana"
                "|Nebraska|Nevada|New Hampshire|New Jersey|New Mexico|New York|North Carolina"
                "|North Dakota|Ohio|Oklahoma|Oregon|Pennsylvania|Rhode Island|South Carolina"
                "|South Dakota|Tennessee|Texas|Utah|Vermont|Virginia|Washington|West Virginia"
                "|Wisconsin|Wyoming|Puerto Rico")
_ZIP = r"(\d{5}(?:-\d{4})?)(?![\w-])"
_MBI = "AC-HJKMNP-RT-Y"  # letters of a Medicare Beneficiary Identifier: no S, L, O, I, B, Z
_TLDS = "com|org|net|edu|gov|io|health|care|us|uk|ca|info|me"
_MONTHS = ("jan|january|feb|february|mar|march|apr|april|may|jun|june|jul|july|aug|august|sep"
           "|sept|september|oct|october|nov|november|dec|december")
_WEEKDAYS = ("mon|monday|tue|tues|tuesday|wed|wednesday|thu|thur|thurs|thursday|fri|friday|sat"
             "|saturday|sun|sunday")
_INSURERS = ("member|subscriber|insurance|insured|policy(?:holder)?|group|plan|medicaid|medicare"
             "|beneficiary|coverage|benefits|bcbs|aetna|cigna|uhc|humana|anthem|kaiser")
_HEX = "[0-9a-f]{1,4}"
_PHONE_TAIL = r"\d{3}[\s.-]\d{4}(?![\w-])"
_PHONE_CORE = rf"(?:\(\d{{3}}\)\s?|\d{{3}}[\s.-]){_PHONE_TAIL}"
_I = re.I


def _spec(kind: str, pattern: str, flags: int = 0, group: int = 0, hint: str | None = None,
          needs: tuple[str, ...] = (), words: str = "") -> dict[str, Any]:
    """One detector; three necessary conditions, all optional (see ``phi_detectors``):

    - ``needs``: groups of ``|``-separated strings written in the text's shape (digits ``0``,
      whitespace `` ``, letters lowercase): every match contains one string of each group;
    - ``words``: ``|``-separated lowercase words, one of which every match has as a whole word
      (a maximal run of ASCII letters; the pattern makes sure a letter cannot follow it);
    - ``hint``: a regex every match contains.
    """
    return {"type": kind, "pattern": re.compile(pattern, flags), "group": group,
            "hint": re.compile(hint) if hint else None,
            "needs": tuple(tuple(w.encode() for w in g.split("|")) for g in needs),
            "words": frozenset(w.encode() for w in words.split("|")) if words else frozenset()}


# group -1: the one group of whichever alternative matched.
PATTERNS: list[dict[str, Any]] = [
    _spec("URL", r"\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)]", _I,
          needs=("://|www.",)),
    # A bare domain is a URL only with a common TLD and a path ("mychart.example.org/123").
    _spec("URL", rf"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:{_TLDS})/[^\s<>\"']*[^\s<>\"'.,;:!?)]", _I,
          hint=rf"\.(?i:{_TLDS})/", needs=("/",)),
    # Not a file name with a scale suffix ("icon@2x.png").
    _spec("EMAIL", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.(?!(?:png|jpe?g|gif|svg|webp)\b)"
          r"[A-Za-z]{2,}\b", needs=("@",)),
    # IPv4, not a version number ("build 1.2.3.4", "1.2.3.4.5"); IPv6 full or "::"-compressed
    # (with a digit, so "Class::method" and "dead::beef" are not addresses).
    _spec("IP", r"(?<![\d.])(?<!version )(?<!build )(?<!release )(?<!ver )(?<!v)"
          r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b(?!\.\d)", _I,
          hint=r"\d\.\d{1,3}\.\d", needs=("0.0",)),
    _spec("IP", rf"\b(?:{_HEX}:){{7}}{_HEX}\b|(?<![\w:])::ffff:(?:\d{{1,3}}\.){{3}}\d{{1,3}}\b"
          rf"|(?<![\w:])(?=[0-9a-f:]*\d)(?:{_HEX}(?::{_HEX}){{0,6}})?::(?:{_HEX}(?::{_HEX}){{0,6}})?"
          r"(?![\w:])", _I, hint=r":[0-9a-fA-F]*:", needs=(":",)),
    _spec("MRN", r"\b(?:MRN(?![A-Za-z])|medical record(?:\s+(?:number|no\.?|#))?"
          r"|patient\s+(?:id|number)|chart\s+(?:no\.?|number|#))[\s:#.-]*"
          r"([A-Z]{0,3}-?\d[\dA-Z-]{3,})", _I, 1,
          needs=("0",), words="mrn|medical|patient|chart"),
    _spec("INSURANCE_ID", rf"\b(?:{_INSURERS})(?![A-Za-z])(?:\s+card)?\s*(?:id(?:entification)?"
          r"(?:\s*(?:no\.?|number|#))?|no\.?|number|num\.?|#)(?:\s+(?:is|was|=))?[\s:#.-]*"
          r"((?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{4,19})\b", _I, 1,
          needs=("0",), words=_INSURERS.replace("(?:holder)?", "|policyholder")),
    _spec("INSURANCE_ID",
          rf"\b[1-9][{_MBI}][{_MBI}\d]\d-?[{_MBI}][{_MBI}\d]\d-?[{_MBI}]{{2}}\d\d\b",
          hint=rf"[{_MBI}][{_MBI}]\d\d"),
    _spec("DOB", r"\b(?:DOB|D\.O\.B\.?|date of birth|birth ?date|born(?: on)?|birthday)"
          rf"(?![A-Za-z])(?:\s+(?:is|was|=))?[\s:,-]*({_DATE}|{_MONTH_DAY})", _I, 1,
          needs=("0",), words="dob|d|birth|birthdate|born|birthday"),
    _spec("SSN", r"\b(?:SSN|SS#|social security(?:\s+(?:number|no\.?|#))?)(?:\s+(?:is|was|=))?"
          r"[\s:#.-]*((?!000|666|9\d\d)\d{3}([ -]?)(?!00)\d{2}\2(?!0000)\d{4})\b", _I, 1,
          needs=("000",), words="ssn|ss|social"),
    _spec("SSN", r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"
          # Spaced, but not a run of numbers ("10 20 30 4000").
          r"|(?<!\d[,.]\s)(?<!\d\s)\b(?!000|666|9\d\d)\d{3} (?!00)\d{2} (?!0000)\d{4}\b(?! \d)",
          needs=("0-00-0|0 00 0",)),
    # Formatted (a country code or a leading 1 allowed), international with a "+", and ten
    # bare digits in the North American plan (the area code starts with 2-9, so Unix
    # timestamps and 1234567890 are not phones); not inside a longer number or an amount.
    # The pattern takes the first character, then each alternative checks it and what came
    # before it with lookbehinds: re then scans for [0-9+(] fast instead of trying every
    # position (what a leading lookbehind makes it do).
    _spec("PHONE", r"[\d+(](?:(?<![\w-].)(?:"
          rf"(?<=\+)\d{{1,3}}[\s.-]?{_PHONE_CORE}|(?<=1)[\s.-]?{_PHONE_CORE}"
          rf"|(?<=\()\d{{3}}\)\s?{_PHONE_TAIL}|(?<=\d)\d\d[\s.-]{_PHONE_TAIL})"
          r"|(?<=\+)(?<![\w-].)\d{1,3}(?:[\s.-]\d{2,5}){2,4}(?![\w-])"
          r"|(?<![\w$€£.,/:#+-].)(?:(?<=\+)1[\s.-]?[2-9]|(?<=1)[\s.-]?[2-9]|(?<=[2-9]))"
          r"\d{9}(?![\w-]|[.,/:]\d)"
          r"|(?<=\+)(?<![\w+].)[2-9]\d{7,13}(?![\w-]|[.,/:]\d))",
          needs=("0 0000|0.0000|0-0000|+0|0000000000",)),
    # Seven digits only after a phone word: "call 555-1234", not "pages 123-4567".
    _spec("PHONE", r"(?i:\b(?:call|text|phone|cell|tel|fax|mobile|dial|reach me at|number is))"
          r"[\s:.#]*(\d{3}[-.]\d{4})(?![\w-]|[.,]\d)", group=1,
          needs=("0-0000|0.0000",), words="call|text|phone|cell|tel|fax|mobile|dial|reach|number"),
    # After "zip"/"postal code", after a state ("Austin, TX", "Texas"), or ZIP+4 alone. ID
    # (Idaho) only after a comma: "member ID 12345" is an id, not a ZIP code.
    _spec("ZIP", r"(?i:\b(?:zip(?:\s*code)?|postal\s+code|post\s*code)\b(?:\s+(?:is|was|=))?)"
          rf"[\s:#.-]*{_ZIP}", group=1, needs=("00000",), words="zip|zipcode|postal|post|postcode"),
    _spec("ZIP", rf"(?:(?<=[A-Za-z],\s)|(?<=[a-z]\s))(?:{_STATES})\.?,?\s+{_ZIP}"
          rf"|(?<=[A-Za-z],\s)ID\s+{_ZIP}", group=-1, hint=r"[A-Z][A-Z]\.?,?\s+\d{5}",
          needs=("00000",)),
    _spec("ZIP", rf"\b(?:{_STATE_NAMES}),?\s+{_ZIP}", group=1, hint=r"[A-Z][a-z]+,?\s+\d{5}",
          needs=("00000",)),
    _spec("ZIP", r"(?<![\w-])\d{5}-\d{4}(?![\w-])", needs=("00000-0000",)),
    _spec("ADDRESS", rf"\b\d{{1,6}}\s+(?:{_STREET_WORD}\s+){{1,4}}{_STREET}\b\.?"
          rf"(?:\s+{_DIRECTION}\b\.?)?(?:,?\s+(?:apt|apartment|suite|ste|unit|#)\.?\s*\w+)?", _I,
          needs=("0 ",), words=_STREET.strip("(?:)")),
    _spec("ADDRESS", r"\bP\.?\s?O\.?\s+Box\s+\d{1,6}\b", _I, needs=("0",), words="box"),
    # A full date has a year. The ones that start with a digit ("\b" as a lookbehind after the
    # first digit, so re scans for digits fast), then the ones that start with a month.
    _spec("DATE", r"\d(?<!\w.)(?:\d?[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{3}-\d{2}-\d{2}"
          rf"|\d{{3}}/\d{{1,2}}/\d{{1,2}}|\d? {_MONTH}\.?,? \d{{4}})\b", _I,
          needs=("0/0|0.0|0-0| 0000",)),
    _spec("DATE", rf"\b{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}\b", _I,
          needs=(" 0000",), words=_MONTHS),
    # Partial dates: month and day without a year. A numeric one ("3/4") only after a date
    # word or before a time; one with a month name ("March 3", "3rd of March") alone.
    _spec("DATE", rf"\b{_DATE_WORD}\.?,?\s+({_MD}{_NOT_AMOUNT})|\b({_MD})(?=\s+(?:at|@)\s*\d)",
          group=-1, needs=("0/0",)),
    # (The hints start with a capital or a digit: a fast scan where "\b" is a slow one.)
    _spec("DATE", rf"\b{_MONTH_TITLE}\.?\s+{_DAY}\b(?![:.,]?\d)",
          hint=r"[JFMASOND][A-Za-z]{2,8}\.?\s+\d", words=_MONTHS),
    _spec("DATE", rf"\b{_DAY}\s+(?:of\s+)?{_MONTH_TITLE}\b",
          hint=r"\d(?:st|nd|rd|th)?\s+(?:of\s+)?[JFMASOND]", words=_MONTHS),
    _spec("DATE", rf"\b{_WEEKDAY}\s+the\s+((?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th))\b",
          group=1, hint=r"\d(?:st|nd|rd|th)", words=_WEEKDAYS),
    # Names in context: after a title ("Dr. Okafor"), "my name is" / "patient name:", or in a
    # sign-off with a first and last name ("Thanks, Maria Lopez").
    _spec("NAME", r"\b(?:Dr|Mr|Mrs|Ms|Mx|Miss|Prof|Doctor|Nurse)\.?[ \t]+"
          r"(?!(?:Appointment|Office|Visit|Notes?|The|A|An|My|Who|Said|Told|Says|Will|Is|Was"
          r"|And|Or|But|If|Today|Tomorrow|Yesterday)\b)([A-Z][a-z'-]+(?:[ \t]+[A-Z][a-z'-]+)?)",
          group=1, hint=r"(?:Dr|Mr|Mrs|Ms|Mx|Miss|Prof|Doctor|Nurse)\.?[ \t]+[A-Z]"),
    _spec("NAME", r"(?i:\b(?:my\s+name\s+is|my\s+name's|patient(?:'s)?\s+name(?:\s+is)?:?"
          r"|name:))[ \t]*([A-Z][a-z'-]+(?:[ \t]+[A-Z][a-z'-]+){0,2})", group=1,
          words="name"),
    _spec("NAME", r"(?i:\b(?:thanks|thank you|regards|sincerely|cheers|best))[ \t]*,[ \t]*"
          r"([A-Z][a-z'-]+[ \t]+[A-Z][a-z'-]+)\b", group=1, hint=r",[ \t]*[A-Z][a-z'-]+[ \t]+[A-Z]",
          needs=(",",)),
]
