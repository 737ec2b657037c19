"""Compare a fine-tuned model with its base on held-out data: ``compare(base, tuned, heldout)``.

```python
from finetune_sdk.evaluate import compare
report = compare("gpt-4o-mini", model_ref, "heldout.jsonl", provider="openai")
report.write("eval/")            # report.md + report.json (+ report.png with matplotlib)
print(report.aggregates["win_rate"])
```

Both models get the same prompts (every message before the last assistant turn of each chat
example; the last assistant turn is the reference) and the same sampling settings. Answers are
cached in a JSONL file keyed by (provider, model, prompt, settings), so an interrupted run picks
up where it stopped and a repeated run makes no calls. Hosted models run ``max_concurrency``
requests at a time; local models load once and answer in batches.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, DatasetError
from ..inference import as_model_ref, chat, chat_many
from ..types import ModelRef
from .flips import flips
from .metrics import (
    DEFAULT_METRICS,
    HIGHER_IS_BETTER,
    MIN_CI_EXAMPLES,
    Bootstrap,
    check_metrics,
    ci_note,
    score,
)
from .report import EvalReport

__all__ = ["DEFAULT_METRICS", "EvalReport", "HeldoutExample", "ResponseCache", "compare",
           "load_heldout"]

Judge = Callable[[list[dict[str, Any]], str, str], float]
"""judge(prompt_messages, response, reference) -> score in [0, 1] (e.g. an LLM grader)."""

DEFAULT_PARAMS = {"temperature": 0.0, "max_tokens": 256, "seed": 0}
LOCAL_BATCH = 8


class HeldoutExample(dict):
    """``{"line", "prompt" (messages), "reference"}`` for one held-out line."""


def load_heldout(path: str | Path, limit: int | None = None) -> list[HeldoutExample]:
    """Prompts and references from a chat JSONL file; a line without an assistant answer is an
    error naming the line (never silently dropped)."""
    from ..data.formats import iter_examples

    examples: list[HeldoutExample] = []
    for line, example in iter_examples(path):
        if limit is not None and len(examples) >= limit:
            break
        messages = list(example.get("messages") or [])
        if "chosen" in example:  # preference data: the preferred answer is the reference
            prompt, reference = messages, example["chosen"]
        else:
            last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"),
                       default=None)
            if last is None or last == 0:
                raise DatasetError("held-out example needs a prompt and an assistant answer"
                                   " (the reference)", file=str(path), line=line, field="messages")
            prompt, reference = messages[:last], messages[last]
        text = reference.get("content") if isinstance(reference, dict) else reference
        examples.append(HeldoutExample(line=line, prompt=prompt, reference=str(text or "")))
    if not examples:
        raise DatasetError("no held-out examples", file=str(path))
    return examples


def _fingerprint(ref: ModelRef) -> str | None:
    """For a local model directory: its files' names, sizes and times, so retraining into the
    same folder is a new model to the cache (hosted ids name one immutable model already)."""
    if ref.provider != "local":
        return None
    folder = Path(ref.id.removeprefix("local:"))
    if not folder.is_dir():
        return None
    stats = sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                   for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]


class ResponseCache:
    """Append-only JSONL of model answers keyed by (provider, model, prompt, settings).

    A torn last line (a crash mid-write) is ignored on load, so a run can always resume.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._data: dict[str, str] = {}
        if self.path and self.path.is_file():
            with self.path.open("rb+") as handle:  # end a torn last line so appends stay whole
                if handle.seek(0, 2) and (handle.seek(-1, 2), handle.read(1))[1] != b"\n":
                    handle.write(b"\n")
            for raw in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    item = json.loads(raw)
                    self._data[item["key"]] = item["response"]
                except (ValueError, KeyError, TypeError):
                    continue

    @staticmethod
    def key(ref: ModelRef, prompt: list[dict[str, Any]], params: dict[str, Any]) -> str:
        blob = json.dumps([ref.provider, ref.id, _fingerprint(ref), prompt, params],
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> str | None:
        return self._data.get(key)

    def put(self, key: str, response: str) -> None:
        with self._lock:
            self._data[key] = response
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps({"key": key, "response": response}) + "\n")


def _answers(ref: ModelRef, prompts: list[list[dict[str, Any]]], params: dict[str, Any],
             cache: ResponseCache, max_concurrency: int, chat_kwargs: dict[str, Any]) -> tuple[
                 list[str], int]:
    keys = [cache.key(ref, p, params) for p in prompts]
    first = {k: i for i, k in reversed(list(enumerate(keys)))}  # a repeated prompt: ask once
    todo = sorted(i for k, i in first.items() if cache.get(k) is None)
    if ref.provider == "local":
        for start in range(0, len(todo), LOCAL_BATCH):
            chunk = todo[start:start + LOCAL_BATCH]
            outs = chat_many(ref, [prompts[i] for i in chunk], **params, **chat_kwargs)
            for i, out in zip(chunk, outs, strict=True):
                cache.put(keys[i], out)
    elif todo:
        def one(i: int) -> None:
            if cache.get(keys[i]) is None:  # a duplicate prompt may have been answered already
                cache.put(keys[i], chat(ref, prompts[i], **params, **chat_kwargs))

        with ThreadPoolExecutor(max_workers=max(1, max_concurrency)) as pool:
            list(pool.map(one, todo))
    return [cache.get(k) or "" for k in keys], len(todo)


def _prompt_text(prompt: list[dict[str, Any]]) -> str:
    users = [m for m in prompt if m.get("role") == "user"]
    return str((users[-1] if users else prompt[-1]).get("content", ""))


def compare(base: ModelRef | str, tuned: ModelRef | str, heldout: str | Path, *,
            metrics: Sequence[str] = DEFAULT_METRICS, judge: Judge | None = None,
            provider: str | None = None, base_provider: str | None = None,
            tuned_provider: str | None = None, limit: int | None = None,
            max_concurrency: int = 4, cache: str | Path | None | bool = None,
            params: dict[str, Any] | None = None, win_metric: str | None = None,
            seed: int = 0, n_boot: int = 1000, system_prompt: str | None = None,
            chat_kwargs: dict[str, Any] | None = None,
            pass_threshold: float | None = None) -> EvalReport:
    """Run both models on the same held-out prompts and score them against the references.

    Args:
        base / tuned: ModelRef or model id (``provider=`` or ``base_provider``/``tuned_provider``
            when the id does not say; a tuned ModelRef's provider serves a plain base id).
        heldout: chat JSONL; ``limit`` takes the first N examples.
        metrics: any of bleu, rouge_l, exact_match, length. ``judge(prompt, response,
            reference) -> 0..1`` adds a "judge" score and decides wins.
        cache: a JSONL path (default ``$FINETUNE_SDK_HOME/eval_cache.jsonl``) or False.
        params: sampling settings for both models (default temperature 0, 256 tokens, seed 0).
        win_metric: which score decides a win (default: judge if given, else rouge_l).
        chat_kwargs: credentials etc. passed to ``inference.chat`` for both models.
        pass_threshold: the ``win_metric`` score at which an answer passes, for the per-example
            flips in ``aggregates["flips"]`` (default: ``flips.PASS_THRESHOLDS``).
    """
    names = check_metrics(list(metrics))
    tuned_ref = as_model_ref(tuned, tuned_provider or provider)
    base_ref = as_model_ref(base, base_provider or provider or (
        None if isinstance(base, ModelRef) else _base_provider(base, tuned_ref)))
    settings = {**DEFAULT_PARAMS, **(params or {})}
    win_on = win_metric or ("judge" if judge else "rouge_l")
    scored = [*names, *(["judge"] if judge else [])]
    if win_on not in scored or HIGHER_IS_BETTER.get(win_on) is None:
        raise ConfigurationError(f"win_metric {win_on!r} must be a computed score where higher is"
                                 " better (bleu, rouge_l, exact_match, or judge)")
    examples = load_heldout(heldout, limit)
    prompts = [([{"role": "system", "content": system_prompt}] if system_prompt else [])
               + list(ex["prompt"]) for ex in examples]
    if cache is None or cache is True:
        from ..config import home_dir

        cache = home_dir() / "eval_cache.jsonl"
    store = ResponseCache(cache or None)
    kwargs = chat_kwargs or {}
    base_out, base_calls = _answers(base_ref, prompts, settings, store, max_concurrency, kwargs)
    tuned_out, tuned_calls = _answers(tuned_ref, prompts, settings, store, max_concurrency, kwargs)
    judged = _judge_all(judge, examples, prompts, base_out, tuned_out, max_concurrency)
    rows = _score_rows(examples, prompts, base_out, tuned_out, names, judged, win_on)
    aggregates = _aggregate(rows, names, judge is not None, win_on, seed, n_boot)
    aggregates["flips"] = flips(rows, win_on, pass_threshold)
    return EvalReport(
        base=base_ref.id, tuned=tuned_ref.id, data=str(heldout), metrics=names, params=settings,
        rows=rows, aggregates=aggregates,
        seed=seed, new_calls={"base": base_calls, "tuned": tuned_calls},
        ci_note=ci_note(len(rows)))


def _base_provider(base: str, tuned: ModelRef) -> str | None:
    from ..inference import guess_provider

    return guess_provider(base) or tuned.provider


def _judge_all(judge: Judge | None, examples: list[HeldoutExample],
               prompts: list[list[dict[str, Any]]], base_out: list[str], tuned_out: list[str],
               max_concurrency: int) -> list[tuple[float, float]] | None:
    """(base, tuned) judge scores per example; graders are usually API calls, so in parallel."""
    if judge is None:
        return None
    check = getattr(judge, "check_budget", None)  # a BudgetedJudge: refuse before any spend
    if check is not None:
        check(2 * len(examples))

    def one(i: int) -> tuple[float, float]:
        ref = examples[i]["reference"]
        return (float(judge(prompts[i], base_out[i], ref)),
                float(judge(prompts[i], tuned_out[i], ref)))

    with ThreadPoolExecutor(max_workers=max(1, max_concurrency)) as pool:
        return list(pool.map(one, range(len(examples))))


def _score_rows(examples: list[HeldoutExample], prompts: list[list[dict[str, Any]]],
                base_out: list[str], tuned_out: list[str], names: list[str],
                judged: list[tuple[float, float]] | None, win_on: str) -> list[dict[str, Any]]:
    rows = []
    for i, (ex, prompt, b, t) in enumerate(zip(examples, prompts, base_out, tuned_out,
                                               strict=True)):
        ref = ex["reference"]
        bs, ts = score(names, b, ref), score(names, t, ref)
        if judged is not None:
            bs["judge"], ts["judge"] = judged[i]
        winner = ("tuned" if ts[win_on] > bs[win_on] else
                  "base" if ts[win_on] < bs[win_on] else "tie")
        rows.append({"index": i, "line": ex["line"], "prompt": _prompt_text(prompt),
                     "reference": ref, "base_response": b, "tuned_response": t,
                     **{f"base_{k}": v for k, v in bs.items()},
                     **{f"tuned_{k}": v for k, v in ts.items()}, "winner": winner})
    return rows


def _aggregate(rows: list[dict[str, Any]], names: list[str], judged: bool, win_on: str,
               seed: int, n_boot: int) -> dict[str, Any]:
    boot = Bootstrap(len(rows), seed=seed, n_boot=n_boot)

    def ci(values: list[float]) -> list[float] | None:
        # Too few examples: no interval at all rather than a misleadingly tight one.
        return list(boot.ci(values)) if len(rows) >= MIN_CI_EXAMPLES else None

    out: dict[str, Any] = {}
    for name in [*names, *(["judge"] if judged else [])]:
        base = [r[f"base_{name}"] for r in rows]
        tuned = [r[f"tuned_{name}"] for r in rows]
        delta = [t - b for b, t in zip(base, tuned, strict=True)]
        out[name] = {"base": sum(base) / len(rows), "tuned": sum(tuned) / len(rows),
                     "delta": sum(delta) / len(rows), "base_ci": ci(base),
                     "tuned_ci": ci(tuned), "delta_ci": ci(delta),
                     "higher_is_better": HIGHER_IS_BETTER.get(name)}
    if "bleu" in names:
        import sacrebleu

        refs = [[r["reference"] for r in rows]]
        out["bleu"]["base_corpus"] = sacrebleu.corpus_bleu([r["base_response"] for r in rows],
                                                           refs).score
        out["bleu"]["tuned_corpus"] = sacrebleu.corpus_bleu([r["tuned_response"] for r in rows],
                                                            refs).score
    wins = [1.0 if r["winner"] == "tuned" else 0.5 if r["winner"] == "tie" else 0.0 for r in rows]
    out["win_rate"] = {"metric": win_on, "value": sum(wins) / len(rows),
                       "ci": ci(wins),
                       "wins": sum(r["winner"] == "tuned" for r in rows),
                       "ties": sum(r["winner"] == "tie" for r in rows),
                       "losses": sum(r["winner"] == "base" for r in rows)}
    return out
