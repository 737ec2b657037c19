"""Deterministic chat for the ``fake`` provider, so evaluations over it mean something offline.

The same (model id, messages) always gives the same answer, whatever the sampling settings:

* a **tuned** fake model (``fake:ft-<job id>``) answers in the voice of the training data: it
  repeats the content words of the user's last message, the way the health-chat answers reuse
  the question ("Exercise after a big lunch is usually fine..."), so it scores above its base;
* a **base** model (any other id) gives one of a few generic lines, picked by a hash.

``calls`` counts answers given, per model id, so tests can prove that a cached re-run of an
evaluation asks for nothing new.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from typing import Any

from ..types import ModelRef

__all__ = ["GENERIC_ANSWERS", "calls", "chat", "is_tuned"]

GENERIC_ANSWERS = (
    "I am a general assistant. Please ask your care team about that.",
    "That depends on many things; a professional can tell you more.",
    "Here is some general information that may or may not help.",
    "Thanks for the question. Stay healthy and take care.",
)
_STOP = frozenset("a an and are as at be but by can do does for from had has have how i if in is "
                  "it its me my of on or so that the this to was what when which who why will "
                  "with you your should could would hello hi".split())
_lock = threading.Lock()
calls: Counter[str] = Counter()


def is_tuned(model_id: str) -> bool:
    """True for fake fine-tunes (``fake:ft-...``), False for base models."""
    return model_id.startswith("fake:ft-")


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else str(content)
    return ""


def chat(model_ref: ModelRef | str, messages: list[dict[str, Any]], **params: Any) -> str:
    """The fake model's answer; ``params`` (temperature, max_tokens...) are accepted and ignored
    except ``max_tokens``, which caps the answer's word count like a real model would."""
    model_id = model_ref.id if isinstance(model_ref, ModelRef) else str(model_ref)
    with _lock:
        calls[model_id] += 1
    question = _last_user_text(messages)
    digest = hashlib.sha256(f"{model_id}\x00{question}".encode()).digest()
    if is_tuned(model_id):
        words = [w for w in re.findall(r"[A-Za-z']+", question) if w.lower() not in _STOP]
        answer = " ".join(words) + ". " + ("Start gently and check with your care team if unsure."
                                           if digest[0] % 2 else "Drink water and keep it gentle.")
    else:
        answer = GENERIC_ANSWERS[digest[0] % len(GENERIC_ANSWERS)]
    limit = params.get("max_tokens")
    if isinstance(limit, int) and limit > 0:
        answer = " ".join(answer.split()[:limit])
    return answer
