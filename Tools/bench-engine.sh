#!/usr/bin/env bash
# Benchmark comparison: the evdistill tensor engine vs PyTorch CPU on the reference U-Net of
# method.md §2 (widths 16/32/64/128, batch 8 × 5 × 128 × 128, 6 classes, cross-entropy, Adam).
# Figures to compare with: shared anchors.md "Training". Compare the ratios: both sides run on
# the same machine, back to back, in each round.
#
# Idempotent; runs from any directory. Steps:
#   1. the PyTorch venv .venv-torch (created by Tools/engine/ensure_torch_venv.sh if missing)
#   2. swift build -c release --product evdistill           (skipped with BENCH_SKIP_BUILD=1)
#   3. BENCH_ROUNDS rounds (default 1) of, back to back:
#        evdistill bench train-step --json    Tools/bench/engine_torch_bench.py train-step
#        evdistill bench conv --json          Tools/bench/engine_torch_bench.py conv
#      PyTorch runs with torch.set_num_threads(BENCH_THREADS) (default 2, the anchors' setting);
#      ours uses every core (ProcessInfo.activeProcessorCount).
#   4. summary (Tools/bench/engine_report.py): ours, torch, ratios (train step, eval forward,
#      peak RSS ours/torch; conv GFLOP/s over our sgemm 1024³) against the targets; everything in
#      $SCRATCH/bench-results/engine-<date>.json
#
# Environment: BENCH_SKIP_BUILD=1, BENCH_ROUNDS=N, BENCH_THREADS=N, BENCH_SCRATCH_PATH=DIR (the
# SwiftPM scratch path; default .build), BENCH_BIN=PATH (another evdistill binary),
# BENCH_SKIP_CONV=1 (train step only).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
SCRATCH="${BENCH_SCRATCH_PATH:-.build}"
BIN="${BENCH_BIN:-$ROOT/$SCRATCH/release/evdistill}"
ROUNDS="${BENCH_ROUNDS:-1}"
THREADS="${BENCH_THREADS:-2}"
RESULTS_DIR="$ROOT/$SCRATCH/bench-results"

log() { printf '\n== %s\n' "$*" >&2; }

log "PyTorch venv"
PY="$(bash "$ROOT/Tools/engine/ensure_torch_venv.sh")"
"$PY" -c "import torch; print('torch', torch.__version__, file=__import__('sys').stderr)"

if [ "${BENCH_SKIP_BUILD:-0}" = "1" ]; then
    log "build skipped (BENCH_SKIP_BUILD=1)"
else
    log "swift build -c release --product evdistill --scratch-path $SCRATCH"
    swift build -c release --product evdistill --scratch-path "$SCRATCH"
fi
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }

mkdir -p "$RESULTS_DIR"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/evdistill-bench-engine.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
OURS="$WORK/ours.jsonl"
TORCH="$WORK/torch.jsonl"
: >"$OURS"
: >"$TORCH"

# run FILE COMMAND...: appends the command's JSON stdout to FILE; a failure stops the script.
run() {
    local file="$1"
    shift
    echo "+ $*" >&2
    "$@" | tee -a "$file"
}

export PYTHONDONTWRITEBYTECODE=1
for round in $(seq 1 "$ROUNDS"); do
    log "round $round of $ROUNDS: train step"
    run "$OURS" "$BIN" bench train-step --json
    run "$TORCH" "$PY" "$ROOT/Tools/bench/engine_torch_bench.py" train-step --threads "$THREADS"
    if [ "${BENCH_SKIP_CONV:-0}" != "1" ]; then
        log "round $round of $ROUNDS: 3×3 convolutions"
        run "$OURS" "$BIN" bench conv --json
        run "$TORCH" "$PY" "$ROOT/Tools/bench/engine_torch_bench.py" conv --threads "$THREADS"
    fi
done

log "summary"
OUT="$RESULTS_DIR/engine-$(date +%Y%m%d-%H%M%S).json"
"$PY" "$ROOT/Tools/bench/engine_report.py" --out "$OUT" "$OURS" "$TORCH"
echo "$OUT"
