"""Throughput of the other dataset commands: stats, convert, split and scrub (MB/s, peak RSS).

Uses the same generated chat JSONL as ``bench_validate.py`` (unique lines built from the bundled
samples); each command runs in a fresh subprocess through the library call the CLI uses, so its
peak RSS (``ru_maxrss``) is its own. Writes a Markdown table to ``benchmarks/data_tools.md``.

    python benchmarks/bench_data_tools.py [--size 100] [--out benchmarks/data_tools.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_validate import MB, ROOT, child_json, generate  # noqa: E402

TOOLS = ("stats", "convert", "split", "scrub")


def run_one(tool: str, path: str) -> None:
    """Child process: time one tool and print JSON with its peak RSS."""
    from finetune_sdk.data import convert, privacy, split, stats

    out = Path(tempfile.mkdtemp(prefix="bench-tools-"))
    calls = {
        "stats": lambda: stats.compute_stats(path),
        "convert": lambda: convert.convert_file(path, out / "o.jsonl", to="openai"),
        "split": lambda: split.split_file(path, out / "t.jsonl", out / "v.jsonl", val=0.1),
        "scrub": lambda: privacy.scrub_file(path, out / "s.jsonl"),
    }
    start = time.perf_counter()
    calls[tool]()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100, help="file size in MB")
    parser.add_argument("--dir", default="/tmp/finetune-bench")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "data_tools.md"))
    parser.add_argument("--run", nargs=2, metavar=("TOOL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_one(*args.run)
        return
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = generate(folder / f"chat-{args.size}mb.jsonl", args.size)
    size_mb = path.stat().st_size / MB
    rows = []
    for tool in TOOLS:
        result = child_json(__file__, tool, str(path))
        rows.append((tool, size_mb / result["seconds"], result["seconds"], result["rss_mb"]))
        print(f"{tool}: {rows[-1][1]:.1f} MB/s ({result['seconds']:.1f} s,"
              f" {result['rss_mb']:.0f} MB RSS)", flush=True)
    lines = [
        "# Dataset tools benchmark",
        "",
        f"`python benchmarks/bench_data_tools.py --size {args.size}` on {os.cpu_count()} CPU"
        f" cores, Python {platform.python_version()}, {platform.machine()}: a {size_mb:,.0f} MB"
        " chat JSONL generated from the bundled samples (as in `bench_validate.py`), page cache"
        " warm, one fresh subprocess per tool. All four stream the file (scrub forks one process"
        " per core for files of 32 MB and more; split reads it, writes both parts, then"
        " validates them for leakage).",
        "",
        "| tool | MB/s | seconds | peak RSS |",
        "|---|---|---|---|",
        *(f"| {tool} | {rate:.1f} | {seconds:.1f} | {rss:.0f} MB |"
          for tool, rate, seconds, rss in rows),
    ]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
