#!/usr/bin/env bash
# Benchmark: our event simulator (evdistill bench simulate) vs a vectorised numpy implementation of
# the same ESIM model (method.md §7) on the same frames, in the same run.
#
# Usage: Tools/bench-simulate.sh [--frames N] [--width W] [--height H] [--runs R] [--seed S]
#   defaults: 500 frames of 346x260 at 500 Hz, 5 timed runs per side (median, after a warm-up), seed 1
#
# Idempotent; runs from any directory. Steps:
#   1. venv .venv-bench at the repo root (gitignored), installed from Tools/bench/requirements.txt
#      (reinstalled only when that file changes; shared with Tools/bench-convert.sh)
#   2. swift build -c release --product evdistill        (skipped with BENCH_SKIP_BUILD=1)
#   3. ours renders the driving frames and saves them (evdistill bench simulate --save-frames F)
#   4. ours, timed on the frames loaded from F (--load-frames F), fed in batches of 25 frames
#      (EventSimulator.addFrames; `--batch 1` gives the frame-by-frame figure); its event count
#      must equal step 3's (same frames, same seed)
#   5. numpy (Tools/bench/sim_numpy.py) on F: validation first (exact per-pixel counts against a
#      per-pixel Python loop, Σ C·p vs the log change), then timed; two variants ("bounds": the
#      crossing test in the intensity domain, logs of the firing pixels only; "log": logs of every
#      pixel); the faster is the baseline
#   6. table + ratios ours / numpy (pixel-frames/s and events/s);
#      all results in .build/bench-results/simulate-<date-time>.json
#
# Environment knobs: BENCH_SKIP_BUILD=1, BENCH_BIN=PATH (another evdistill binary; default
# .build/release/evdistill), BENCH_RUNS=N (same as --runs).
#
# Both sides time the simulator only, on frames already in memory, thresholds drawn inside the
# timed region. Ours uses all cores (see the thr column), numpy one. The per-pixel thresholds come
# from different generators, so the event counts differ slightly; both are printed.
#
# OpenBLAS: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the Python runs only (the `py`
# function), as in Tools/bench-convert.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
# shellcheck source=Tools/bench/common.sh
source "$ROOT/Tools/bench/common.sh"

FRAMES=500
W=346
H=260
RUNS="${BENCH_RUNS:-5}"
SEED=1
usage() { sed -n '5,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --frames) FRAMES="$2"; shift 2 ;;
        --width) W="$2"; shift 2 ;;
        --height) H="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --seed) SEED="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
for v in "$FRAMES" "$W" "$H" "$RUNS" "$SEED"; do
    [[ "$v" =~ ^[0-9]+$ ]] || { echo "not a number: $v" >&2; exit 2; }
done
[ "$RUNS" -ge 3 ] || { echo "--runs must be >= 3" >&2; exit 2; }
[ "$FRAMES" -ge 2 ] || { echo "--frames must be >= 2" >&2; exit 2; }

BENCH="$ROOT/Tools/bench"
RESULTS_DIR="$ROOT/.build/bench-results"
BIN="${BENCH_BIN:-$ROOT/.build/release/evdistill}"



mkdir -p "$RESULTS_DIR"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/evdistill-bench-sim.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
FRAMES_FILE="$WORK/frames.h5"

# ---------------------------------------------------------------------------------------------
# 1. venv
ensure_bench_venv

# ---------------------------------------------------------------------------------------------
# 2. our binary
if [ "${BENCH_SKIP_BUILD:-0}" = "1" ]; then
    log "build skipped (BENCH_SKIP_BUILD=1)"
else
    log "swift build -c release --product evdistill"
    swift build -c release --product evdistill
fi
[ -x "$BIN" ] || { echo "$BIN not found (build it, or set BENCH_BIN)" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# 3. + 4. ours: render and save the frames, then time on the frames loaded from the file
log "ours: render ${FRAMES} frames ${W}x${H} and save them ($BIN)"
SIM_ARGS=(bench simulate --json --frames "$FRAMES" --width "$W" --height "$H" --seed "$SEED")
echo "+ $BIN ${SIM_ARGS[*]} --repeat 3 --save-frames $FRAMES_FILE" >&2
"$BIN" "${SIM_ARGS[@]}" --repeat 3 --save-frames "$FRAMES_FILE" | tee "$WORK/ours-render.out"
ls -l "$FRAMES_FILE" >&2

log "ours: timed on the saved frames (median of $RUNS runs after a warm-up)"
echo "+ $BIN ${SIM_ARGS[*]} --repeat $RUNS --load-frames $FRAMES_FILE" >&2
"$BIN" "${SIM_ARGS[@]}" --repeat "$RUNS" --load-frames "$FRAMES_FILE" | tee "$WORK/ours.out"

# ---------------------------------------------------------------------------------------------
# 5. numpy on the same file
log "numpy: validation, then median of $RUNS runs after a warm-up (Tools/bench/sim_numpy.py)"
NP_RC=0
py "$BENCH/sim_numpy.py" --frames-file "$FRAMES_FILE" --runs "$RUNS" --seed "$SEED" \
    | tee "$WORK/numpy.jsonl" || NP_RC=$?
[ "$NP_RC" -eq 0 ] || warn "sim_numpy.py exited with $NP_RC (see above)"

# ---------------------------------------------------------------------------------------------
# 6. summary
log "summary"
OUT="$RESULTS_DIR/simulate-$(date +%Y%m%d-%H%M%S).json"
REPORT_RC=0
py "$BENCH/sim_report.py" --out "$OUT" --ours "$WORK/ours.out" --ours-render "$WORK/ours-render.out" \
    --numpy "$WORK/numpy.jsonl" \
    --meta "date=$(date -Iseconds)" --meta "frames=$FRAMES" --meta "width=$W" --meta "height=$H" \
    --meta "runs=$RUNS" --meta "seed=$SEED" --meta "cores=$(nproc)" \
    --meta "cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)" \
    --meta "binary=$BIN" --meta "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --meta "worktree_dirty=$([ -n "$(git status --porcelain 2>/dev/null)" ] && echo 1 || echo 0)" \
    || REPORT_RC=$?
echo "$OUT"
[ "$NP_RC" -eq 0 ] && [ "$REPORT_RC" -eq 0 ]
