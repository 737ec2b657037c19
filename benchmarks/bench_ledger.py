"""Ledger throughput: intents/s with 1 and 8 writer processes, SQLite file vs PostgreSQL.

One "intent" is what every create pays the ledger: an atomic claim (``Ledger.claim``), the state
change before the send (``set_state("sending")``) and the vendor id (``attach``). No provider is
called, so this is the ledger's own cost. Every writer claims its own intents (the normal case:
different jobs); a second table has all writers racing on the *same* intents, where all but one
must wait and attach.

    python benchmarks/bench_ledger.py            # prints a markdown table; ~1 minute

PostgreSQL runs on a temporary local server (``finetune_sdk.testing.postgres``, ``fsync=off``);
SQLite is a WAL file in a temporary folder.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

INTENTS = 200


def _writer(args: tuple[str, int, int, bool, float]) -> float:
    from finetune_sdk.intent import owner_token
    from finetune_sdk.ledger import Ledger
    from finetune_sdk.types import DatasetRef, Job, JobSpec, JobStatus

    location, worker, count, shared, start_at = args
    ledger = Ledger(location)
    data = DatasetRef(id="file-1", provider="fake")
    owner = owner_token()
    # Imports and process start-up are not the ledger's cost: every writer starts together.
    time.sleep(max(0.0, start_at - time.time()))
    for i in range(count):
        ref = f"i-{i}" if shared else f"w{worker}-{i}"
        spec = JobSpec(base_model="b", client_ref=ref, training_file=data)
        claim = ledger.claim("fake", spec, owner=owner)
        if claim.kind in ("new", "recovered"):
            ledger.set_state(ref, "sending", owner=owner)
            ledger.attach(ref, Job(id=f"job-{ref}", provider="fake", status=JobStatus.QUEUED))
        else:
            while not (row := ledger.get(ref)) or not row.job_id:  # wait for the winner's id
                time.sleep(0.001)
    return time.time()


def measure(location: str, writers: int, *, shared: bool) -> dict:
    per_writer = INTENTS if shared else INTENTS // writers
    from finetune_sdk.ledger import Ledger

    Ledger(location)  # create the schema before the clock starts
    start_at = time.time() + 5.0
    with multiprocessing.get_context("spawn").Pool(writers) as pool:
        ends = pool.map(_writer, [(location, w, per_writer, shared, start_at)
                                  for w in range(writers)])
    wall = max(ends) - start_at
    intents = per_writer if shared else per_writer * writers
    return {"writers": writers, "intents": intents, "seconds": round(wall, 3),
            "intents_per_s": round(intents / wall, 1)}


def main() -> None:
    from finetune_sdk.testing.postgres import create_database, temporary_server

    results = []
    with tempfile.TemporaryDirectory() as folder, temporary_server() as server:
        for backend in ("sqlite", "postgresql"):
            for shared in (False, True):
                for writers in (1, 8):
                    if backend == "sqlite":
                        location = str(Path(folder) / f"{writers}-{shared}.sqlite3")
                    else:
                        location = create_database(server)
                    row = measure(location, writers, shared=shared)
                    results.append({"backend": backend, "shared": shared, **row})
                    print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print("| backend | intents | writers | intents/s | seconds |")
    print("|---|---|---|---|---|")
    for r in results:
        kind = "the same 200, all racing" if r["shared"] else "own intents"
        print(f"| {r['backend']} | {kind} | {r['writers']} | {r['intents_per_s']:,} |"
              f" {r['seconds']} |")


if __name__ == "__main__":
    main()
