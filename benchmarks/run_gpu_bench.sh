#!/usr/bin/env bash
# GPU benchmark of the training engine against TRL, in ONE device call (same machine, same state).
#
#   bash benchmarks/run_gpu_bench.sh [RUNS...]
#
# Needs the wheels of trl, datasets, liger-kernel, dill, multiprocess in .whl/ (see
# benchmarks/training.md; the device tool carries them with carry=[".whl"]). Each RUN is one
# process, so each peak-memory number is its own. A RUN is NAME or NAME:ENV=VAL,ENV=VAL, where
# NAME is "trl" (benchmarks/trl_baseline.py), "ours" (benchmarks/bench_train.py) or "tests"
# (the GPU tests). Results: one JSON line per run in $OUT/results.jsonl, logs in $OUT/bench.log.
set -u
OUT=${OUT:-/tmp/bench-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv,noheader
  python3 - <<'PY'
import importlib, importlib.metadata as md, torch
names = ["torch", "transformers", "peft", "accelerate", "trl", "datasets", "liger_kernel", "triton"]
found = {}
for n in names:
    try:
        importlib.import_module(n)
        found[n] = md.version(n.replace("_", "-"))
    except Exception as exc:  # noqa: BLE001
        found[n] = f"missing ({type(exc).__name__})"
try:
    from torch.nn.attention.varlen import varlen_attn  # noqa: F401
    found["varlen_attn"] = "yes"
except Exception as exc:  # noqa: BLE001
    found["varlen_attn"] = f"no ({exc})"
print(found, torch.cuda.get_device_name())
PY
} 2>&1 | tee "$OUT/versions.txt"

RUNS=("$@")
[ ${#RUNS[@]} -eq 0 ] && RUNS=(tests "trl:PACKING=1" "trl:PACKING=1,LIGER=1" ours)
for run in "${RUNS[@]}"; do
  name=${run%%:*}
  envs=()
  if [[ "$run" == *:* ]]; then IFS=',' read -ra envs <<< "${run#*:}"; fi
  echo "=== $run $(date -u +%T)" | tee -a "$OUT/bench.log"
  case $name in
    tests) timeout 240 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_trainer_gpu.py \
             >>"$OUT/bench.log" 2>&1; tail -3 "$OUT/bench.log" ;;
    trl)  line=$(env "${envs[@]}" timeout 300 python3 benchmarks/trl_baseline.py 2>>"$OUT/bench.log" | tail -1)
          echo "{\"run\": \"$run\", \"result\": ${line:-null}}" | tee -a "$OUT/results.jsonl" ;;
    ours) line=$(env LABEL="$run" "${envs[@]}" timeout 300 python3 benchmarks/bench_train.py 2>>"$OUT/bench.log" | tail -1)
          echo "{\"run\": \"$run\", \"result\": ${line:-null}}" | tee -a "$OUT/results.jsonl" ;;
    *) echo "unknown run $run" ;;
  esac
done
echo "=== done $(date -u +%T)"
