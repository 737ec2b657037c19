"""Validation throughput and memory: finetune_sdk vs a naive json.loads loop, same run.

Generates chat JSONL files in /tmp (10 MB, 500 MB, 1 GB by default; unique lines built from the
bundled health-coaching samples), then runs each measurement in a fresh subprocess so peak RSS
(``ru_maxrss``) belongs to that run alone: the parent process and, for parallel validation, the
largest worker. Writes a Markdown table to ``benchmarks/validation.md``.

    python benchmarks/bench_validate.py [--sizes 10,500,1024] [--out benchmarks/validation.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "finetune_sdk" / "data" / "samples" / "health_chats.jsonl"
MB = 1024 * 1024
ROLES = {"system", "user", "assistant", "tool"}


def generate(path: Path, size_mb: int) -> Path:
    """Unique chat lines (an id and a counter in the user turn) until the size is reached."""
    if path.exists() and path.stat().st_size >= size_mb * MB:
        return path
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    target, written, i = size_mb * MB, 0, 0
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        while written < target:
            row = rows[i % len(rows)]
            messages = [dict(m) for m in row["messages"]]
            messages[1]["content"] = f"{messages[1]['content']} (#{i})"
            line = json.dumps({"id": f"ex-{i}", "messages": messages}) + "\n"
            out.write(line)
            written += len(line)
            i += 1
    tmp.replace(path)
    return path


def naive(path: str) -> int:
    """The baseline: json.loads + dict checks, one line at a time."""
    count = 0
    with open(path, "rb") as handle:
        for line in handle:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
                raise ValueError("bad record")
            for message in record["messages"]:
                if message.get("role") not in ROLES or not isinstance(message.get("content"), str):
                    raise ValueError("bad message")
            if record["messages"][-1]["role"] != "assistant":
                raise ValueError("bad ending")
            count += 1
    return count


def run_one(mode: str, path: str) -> None:
    """Child process: time one run and print JSON with peak RSS (self and children)."""
    from finetune_sdk.data.validate import rules_for, validate_file

    rules_for("openai")  # imports done before the clock starts: we time reading, not importing
    start = time.perf_counter()
    if mode == "naive":
        examples, ok = naive(path), True
    else:
        report = validate_file(path, provider="openai")
        examples, ok = report.examples, report.ok
    seconds = time.perf_counter() - start
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"seconds": seconds, "examples": examples, "ok": ok,
                      "rss_mb": self_kb / 1024, "worker_rss_mb": child_kb / 1024}))


def child_json(script: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run ``script --run ARGS`` in a fresh interpreter; its last stdout line, as JSON."""
    out = subprocess.run([sys.executable, script, "--run", *args], env=env,
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(mode: str, path: Path, workers: str | None = None) -> dict:
    env = dict(os.environ)
    if workers is not None:
        env["FINETUNE_SDK_WORKERS"] = workers
    result = child_json(__file__, mode, str(path), env=env)
    result["mb_s"] = path.stat().st_size / MB / result["seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,500,1024", help="file sizes in MB")
    parser.add_argument("--dir", default="/tmp/finetune-bench")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "validation.md"))
    parser.add_argument("--run", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_one(*args.run)
        return
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        path = generate(folder / f"chat-{size}mb.jsonl", size)
        measure("naive", path)  # warm the page cache so every mode reads from memory
        naive_r = measure("naive", path)
        serial = measure("validate", path, "1")
        parallel = measure("validate", path)
        rows.append((size, path.stat().st_size / MB, naive_r, serial, parallel))
        print(f"{size} MB: naive {naive_r['mb_s']:.1f} MB/s, validate serial"
              f" {serial['mb_s']:.1f} MB/s ({serial['rss_mb']:.0f} MB RSS), parallel"
              f" {parallel['mb_s']:.1f} MB/s ({parallel['rss_mb']:.0f} MB RSS parent,"
              f" {parallel['worker_rss_mb']:.0f} MB worker)", flush=True)
    lines = [
        "# Validation benchmark",
        "",
        f"`python benchmarks/bench_validate.py` on {os.cpu_count()} CPU cores, Python"
        f" {platform.python_version()}, {platform.machine()}; chat JSONL generated from the"
        " bundled samples (unique lines, ~700 bytes each), OpenAI rule pack, page cache warm."
        " Each cell is one fresh subprocess; RSS is `ru_maxrss` (parent; and the largest"
        " forked worker for the parallel run). Naive = `json.loads` + dict checks per line"
        " (no findings, no duplicates, no line numbers, stops at the first error).",
        "",
        "| file | examples | naive MB/s | validate serial MB/s | validate parallel MB/s |"
        " parallel / naive | RSS serial | RSS parallel (parent / worker) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _size, real, n, s, p in rows:
        lines.append(
            f"| {real:,.0f} MB | {p['examples']:,} | {n['mb_s']:.1f} | {s['mb_s']:.1f} |"
            f" {p['mb_s']:.1f} | {p['mb_s'] / n['mb_s']:.2f}x | {s['rss_mb']:.0f} MB |"
            f" {p['rss_mb']:.0f} / {p['worker_rss_mb']:.0f} MB |")
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
