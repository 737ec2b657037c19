"""Generate the bundled synthetic health-coaching sample data (deterministic, seeded).

Everything here is templated text written for this project: no real people, no real
conversations, no PHI. Run ``python examples/data/make_samples.py`` to rewrite the files:

- ``finetune_sdk/data/samples/health_chats.jsonl`` (canonical, ships in the wheel) and the same
  content in ``examples/data/health_chats.jsonl``: ~300 chat examples, some multi-turn.
- ``examples/data/rated_interactions.csv``: app records (user_message, assistant_reply,
  rating 1-5, conversation_id) for ``records.py`` and ``finetune export-records``.
- ``examples/data/menstrual_health.jsonl``: ``input_text``/``output_text`` records (Gemini style).
- ``examples/data/therapy_support.jsonl``: chat examples for the AutoTrain example.
- ``examples/data/preferences.jsonl``: preference pairs (prompt messages, chosen, rejected).
"""

# ruff: noqa: E501  (long template strings read better unbroken)
from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SEED = 20261123

SYSTEM = {
    "diabetes": "You are a friendly diabetes-education coach inside a health app. Give general, "
    "practical information, never a diagnosis or a dose change, and suggest talking to the care "
    "team when something needs a clinician.",
    "cycle": "You are a supportive menstrual-health assistant in a cycle-tracking app. Give clear, "
    "general information and say when someone should see a healthcare provider.",
    "therapy": "You are a warm, supportive wellbeing companion. You are not a therapist. Encourage "
    "professional help when appropriate, and give crisis resources if someone may be in danger.",
}

# (question template, answer template); {slots} are filled from SLOTS below.
QA = {
    "diabetes": [
        ("My fasting glucose was {glucose} mg/dL this morning. Is that high?",
         "A fasting reading of {glucose} mg/dL is {glucose_band}. One reading is only a snapshot: "
         "sleep, stress and a late snack can all move it. Log a few mornings in a row and share the "
         "pattern with your care team, who can tell you what your own target range should be."),
        ("What is a good snack before a {walk} walk if I have type 2 diabetes?",
         "For a {walk} walk, a small snack with some carbohydrate and a little protein works well "
         "for many people, such as an apple with a spoon of peanut butter or a handful of nuts and "
         "a few crackers. If you use insulin or a sulfonylurea, check your glucose first and carry "
         "a fast-acting sugar in case you go low."),
        ("How do I count carbs in {food}?",
         "Start with the nutrition label or a carb-counting app and look at the serving size. For "
         "{food}, weigh or measure your usual portion once so you know what it looks like, then "
         "note the grams of total carbohydrate. Fibre slows absorption, so whole-grain versions "
         "usually raise glucose more gently."),
        ("I feel shaky and sweaty after skipping {meal}. What should I do?",
         "Shaking and sweating can be signs of low blood sugar. If you have a meter, check now. If "
         "it is below 70 mg/dL, take 15 grams of fast-acting carbohydrate, like half a cup of juice, "
         "wait 15 minutes and check again. Eat a proper meal once you feel better, and tell your "
         "care team that skipping {meal} caused this."),
        ("Does {drink} affect my blood sugar?",
         "{drink_answer} Everyone responds a little differently, so a simple test is to check your "
         "glucose before and two hours after and write down what you notice."),
        ("How often should I check my feet with diabetes?",
         "A quick look every day is a good habit: check for cuts, blisters, redness or swelling, "
         "including between the toes. Use a mirror or ask someone to help if it is hard to see. "
         "Anything that does not start healing in a couple of days is worth showing to your clinic."),
        ("My A1c went from {a1c_old}% to {a1c_new}%. What does that mean?",
         "A1c reflects your average glucose over roughly three months. Moving from {a1c_old}% to "
         "{a1c_new}% means {a1c_trend}. Your care team can explain how it compares with your "
         "personal goal and whether anything in your plan should change."),
        ("Is it safe to exercise after {time}?",
         "Exercise after {time} is usually fine and can even help with post-meal glucose. Start "
         "gently, drink water, and if you take medicine that can cause lows, check your glucose "
         "before you start and keep a fast-acting snack with you."),
    ],
    "cycle": [
        ("My cycle was {cycle_len} days this month. Is that normal?",
         "Cycles between about 21 and 35 days are usually considered typical, so {cycle_len} days "
         "{cycle_band}. A change of a few days from month to month is common. If it often changes "
         "by more than a week, it is worth mentioning to a clinician."),
        ("What can help with cramps on day {day} of my period?",
         "Many people find relief from a heating pad on the lower abdomen, gentle movement such as "
         "walking or stretching, and staying hydrated. Over-the-counter pain relievers can help "
         "when taken as directed. Cramps strong enough to stop you doing daily things are worth "
         "discussing with a healthcare provider."),
        ("Why is my period late when I've been {stressor}?",
         "Being {stressor} can shift the timing of ovulation, which then delays your period. A "
         "period that is a few days late is common after a stressful stretch. If it is more than a "
         "week late and pregnancy is possible, a home test is a good next step; if periods stop for "
         "three months, see a healthcare provider."),
        ("How do I know when I'm ovulating?",
         "Common signs include clearer, stretchy cervical mucus, a small rise in basal body "
         "temperature after ovulation, and sometimes mild one-sided pain. Ovulation tests detect "
         "the hormone surge that comes a day or so before. Logging these signs in the app over a "
         "few cycles shows your own pattern."),
        ("I've had spotting between periods for {weeks} weeks. Should I worry?",
         "Spotting can happen for many harmless reasons, like hormonal shifts or starting a new "
         "contraceptive. Because it has lasted {weeks} weeks, it is a good idea to book a visit "
         "with a healthcare provider so they can check the cause."),
        ("Does {habit} change my cycle?",
         "{habit_answer} If you notice a clear change after starting, note it in the app so you "
         "can show the pattern to a clinician."),
        ("How much bleeding is too much during a period?",
         "Soaking through a pad or tampon every hour for several hours, passing clots larger than "
         "a coin, or bleeding for more than seven days are signs to contact a healthcare provider. "
         "Feeling dizzy or very tired can point to low iron, which is worth checking too."),
    ],
    "therapy": [
        ("I've been feeling anxious before {event} every {when}.",
         "That sounds exhausting, and it makes sense to want relief. A few slow breaths, breathing "
         "out longer than you breathe in, can calm the body before {event}. It may help to notice "
         "which part feels hardest. If the anxiety is affecting your sleep or daily life, a "
         "counselor or doctor can help."),
        ("I can't sleep because I keep thinking about {worry}.",
         "Lying awake with {worry} on your mind is really draining. Some people find it helps to "
         "write the worry down before bed, with one small next step, so the mind can set it aside. "
         "A steady wind-down routine without screens can help too. If sleep stays poor for weeks, "
         "a doctor can help."),
        ("I feel lonely since {change}.",
         "Feeling lonely after {change} is very common, and it does not mean something is wrong "
         "with you. Small steps count: a message to one person, a regular class, or a walk where "
         "you see familiar faces. Would you like to think together about one small step for this "
         "week?"),
        ("I snapped at {person} today and I feel terrible.",
         "It shows you care that you feel bad about it. Everyone loses their temper sometimes, "
         "especially when tired or stressed. A short, honest apology to {person} often repairs more "
         "than we expect. It may also help to look at what was building up before it happened."),
        ("I don't enjoy things I used to love, like {hobby}.",
         "Losing interest in things like {hobby} can be a sign that you are worn out or low. It "
         "might help to try a very small version of it without expecting to enjoy it fully. If "
         "this has lasted more than two weeks, please talk to a doctor or counselor; low mood is "
         "treatable."),
        ("Everything feels like too much right now.",
         "I'm sorry things feel so heavy. You don't have to sort it all out at once. If you ever "
         "feel you might hurt yourself, please contact a crisis line or emergency services right "
         "away. For now, could we pick one thing that feels most pressing and look at it together?"),
    ],
}

SLOTS = {
    "glucose": ["95", "112", "128", "140", "160", "185"],
    "walk": ["20-minute", "45-minute", "one-hour", "brisk morning"],
    "food": ["a bowl of oatmeal", "rice", "a slice of bread", "pasta", "a banana", "lentil soup"],
    "meal": ["breakfast", "lunch", "dinner"],
    "drink": ["coffee", "orange juice", "diet soda", "a glass of wine", "green tea"],
    "a1c_old": ["7.8", "8.4", "6.9", "7.2"],
    "a1c_new": ["7.1", "7.6", "7.4", "6.8"],
    "time": ["dinner", "a big lunch", "breakfast", "an evening snack"],
    "cycle_len": ["24", "26", "28", "31", "33", "38"],
    "day": ["one", "two", "three"],
    "stressor": ["stressed at work", "travelling a lot", "sleeping badly", "training for a race"],
    "weeks": ["two", "three", "four"],
    "habit": ["intense exercise", "a new diet", "shift work", "losing weight"],
    "event": ["work", "exams", "meetings", "social events"],
    "when": ["morning", "week", "evening"],
    "worry": ["money", "my exams", "my health", "my family"],
    "change": ["moving to a new city", "my breakup", "retiring", "working from home"],
    "person": ["my partner", "my kid", "a coworker", "my mum"],
    "hobby": ["painting", "running", "reading", "cooking"],
}

DRINK_ANSWERS = {
    "coffee": "Black coffee has almost no carbohydrate, but caffeine can raise glucose a little "
    "for some people.",
    "orange juice": "Orange juice is fast-acting sugar, so it raises glucose quickly; that is why "
    "it is used to treat lows.",
    "diet soda": "Diet soda usually has no carbohydrate and does not raise glucose directly.",
    "a glass of wine": "Alcohol can lower glucose for several hours, especially without food.",
    "green tea": "Unsweetened green tea has no carbohydrate and little effect on glucose.",
}
HABIT_ANSWERS = {
    "intense exercise": "Very intense training, especially with low energy intake, can delay or "
    "stop periods.",
    "a new diet": "Large changes in how much you eat can shift your cycle for a while.",
    "shift work": "Irregular sleep from shift work can make cycles less regular.",
    "losing weight": "Fast or large weight loss can make periods irregular or stop them.",
}

OPENERS = ["", "Hi. ", "Quick question: ", "Hello. ", "Sorry to bother you. ", "Hey! ",
           "Can I ask something? "]

FOLLOW_UPS = {
    "diabetes": ("Thanks. Should I call my doctor about it?",
                 "If the readings stay outside the range your care team gave you for more than a "
                 "few days, or you feel unwell, yes, call them. Bring your log so they can see the "
                 "pattern."),
    "cycle": ("Can the app remind me to log this?",
              "Yes. Turn on daily reminders in Settings, then Reminders, and pick a time that fits "
              "your routine. Consistent logs make the patterns much easier to see."),
    "therapy": ("Thank you, that helps a bit.",
                "I'm glad it helps a little. You can come back any time to talk it through, and "
                "reaching out to someone you trust this week could help too."),
}

WEAK_ANSWERS = {
    "diabetes": "Just eat less sugar and it will be fine.",
    "cycle": "That is normal, don't worry about it.",
    "therapy": "Try to think positive and you'll feel better.",
}


def _fill(template: str, values: dict[str, str]) -> str:
    return template.format(**values)


def _values(rng: random.Random) -> dict[str, str]:
    values = {name: rng.choice(options) for name, options in SLOTS.items()}
    glucose = int(values["glucose"])
    values["glucose_band"] = ("in the usual fasting target range" if glucose < 100 else
                              "a little above the usual fasting range" if glucose < 126 else
                              "above the usual fasting range")
    values["drink_answer"] = DRINK_ANSWERS[values["drink"]]
    values["habit_answer"] = HABIT_ANSWERS[values["habit"]]
    old, new = float(values["a1c_old"]), float(values["a1c_new"])
    values["a1c_trend"] = ("your average glucose has come down, which is good progress" if new < old
                           else "your average glucose has gone up a little")
    cycle = int(values["cycle_len"])
    values["cycle_band"] = ("is within that range" if 21 <= cycle <= 35 else
                            "is a bit longer than that range")
    return values


def make_chats(rng: random.Random, count: int) -> list[dict]:
    """Unique chat examples spread across the three topics; about a quarter are multi-turn."""
    chats: list[dict] = []
    seen: set[str] = set()
    topics = list(QA)
    attempts = 0
    while len(chats) < count:
        attempts += 1
        if attempts > count * 100:
            raise RuntimeError("not enough template variety for that many unique chats")
        topic = topics[len(chats) % len(topics)]
        question, answer = rng.choice(QA[topic])
        values = _values(rng)
        user = rng.choice(OPENERS) + _fill(question, values)
        reply = _fill(answer, values)
        multi = rng.random() < 0.25
        key = f"{topic}|{user}|{multi}"
        if key in seen:
            continue
        seen.add(key)
        messages = [{"role": "system", "content": SYSTEM[topic]},
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": reply}]
        if multi:
            follow_q, follow_a = FOLLOW_UPS[topic]
            messages += [{"role": "user", "content": follow_q},
                         {"role": "assistant", "content": follow_a}]
        chats.append({"id": f"{topic}-{len(chats):04d}", "topic": topic, "messages": messages})
    return chats


def _unique_first_turn(chats: list[dict]) -> list[dict]:
    """Chats whose first user turn is new (single- and multi-turn chats can share one)."""
    seen: set[str] = set()
    out = []
    for chat in chats:
        if chat["messages"][1]["content"] not in seen:
            seen.add(chat["messages"][1]["content"])
            out.append(chat)
    return out


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    print(f"wrote {path.relative_to(ROOT)} ({len(text.encode()):,} bytes)")


def main() -> None:
    rng = random.Random(SEED)
    chats = make_chats(rng, 300)
    canonical = _jsonl([{"id": c["id"], "messages": c["messages"]} for c in chats])
    _write(ROOT / "finetune_sdk" / "data" / "samples" / "health_chats.jsonl", canonical)
    _write(HERE / "health_chats.jsonl", canonical)

    therapy = [c for c in make_chats(random.Random(SEED + 1), 240) if c["topic"] == "therapy"]
    _write(HERE / "therapy_support.jsonl", _jsonl([{"messages": c["messages"]} for c in therapy]))

    cycle = _unique_first_turn(
        [c for c in make_chats(random.Random(SEED + 2), 180) if c["topic"] == "cycle"])
    _write(HERE / "menstrual_health.jsonl", _jsonl(
        [{"input_text": c["messages"][1]["content"], "output_text": c["messages"][2]["content"]}
         for c in cycle]))

    # App records: one row per user/assistant exchange, with a 1-5 rating. Low ratings get the
    # weak answer, so a rating filter visibly changes what is kept.
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["conversation_id", "turn", "user_message", "assistant_reply", "rating"])
    records_rng = random.Random(SEED + 3)
    for chat in chats[:200]:
        topic = chat["topic"]
        turns = chat["messages"][1:]
        for turn, (user, assistant) in enumerate(zip(turns[::2], turns[1::2], strict=True)):
            rating = records_rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 4, 4])[0]
            reply = WEAK_ANSWERS[topic] if rating <= 2 else assistant["content"]
            writer.writerow([f"conv-{chat['id']}", turn, user["content"], reply, rating])
    _write(HERE / "rated_interactions.csv", buffer.getvalue())

    prefs = []
    for chat in _unique_first_turn(chats)[:120]:
        topic = chat["topic"]
        prefs.append({
            "id": f"pref-{chat['id']}",
            "messages": chat["messages"][:2],
            "chosen": {"role": "assistant", "content": chat["messages"][2]["content"]},
            "rejected": {"role": "assistant", "content": WEAK_ANSWERS[topic]},
        })
    _write(HERE / "preferences.jsonl", _jsonl(prefs))


if __name__ == "__main__":
    main()
