#!/usr/bin/env bash
# Benchmark comparison: evdistill vs the Python stack (h5py + hdf5plugin, numpy, tonic).
# What is measured and how: Tools/bench/README.md. Figures to compare with: shared anchors.md.
#
# Idempotent; runs from any directory. Steps:
#   1. venv .venv-bench at the repo root (gitignored), installed from Tools/bench/requirements.txt
#      (reinstalled only when that file changes)
#   2. swift build -c release --product evdistill        (skipped with BENCH_SKIP_BUILD=1)
#   3. 10 M-event DSEC-layout files, zstd / lz4 / raw, cached in .build/bench-data/
#   4. Python measurements (Tools/bench/py_bench.py)
#   5. ours: evdistill bench voxelize / read / histogram --json --repeat BENCH_RUNS (the median, as
#      for Python), each failure reported and skipped
#   6. peak RSS of `evdistill convert` on the zstd file (/usr/bin/time -v);
#      BENCH_BIG=1 also makes a 100 M-event zstd file and measures convert on it
#   7. summary table + ratios; all results in .build/bench-results/convert-<date>.json
#
# Environment knobs: BENCH_SKIP_BUILD=1, BENCH_BIG=1, BENCH_RUNS=N (timed runs per Python
# measurement, >= 5, default 7), BENCH_SKIP_PY=1 (ours only; the summary then has no ratios),
# BENCH_BIN=PATH (another evdistill binary; default .build/release/evdistill).
#
# OpenBLAS: this workplace's environment may set OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (older
# OpenBLAS builds misbehave on some CPUs without them). They slow a current numpy, so both are
# unset for the Python runs only (the `py` function below); py_bench.py prints the BLAS kernel
# it then runs (threadpoolctl) on stderr. Nothing else changes them: not ours, not tests, not CI.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
# shellcheck source=Tools/bench/common.sh
source "$ROOT/Tools/bench/common.sh"

BENCH="$ROOT/Tools/bench"
DATA="$ROOT/.build/bench-data"
RESULTS_DIR="$ROOT/.build/bench-results"
BIN="${BENCH_BIN:-$ROOT/.build/release/evdistill}"
RUNS="${BENCH_RUNS:-7}"
N_EVENTS=10000000
W=346
H=260
BINS=5



mkdir -p "$DATA" "$RESULTS_DIR"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/evdistill-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
PY_JSONL="$WORK/python.jsonl"
OURS_JSONL="$WORK/ours.jsonl"
: >"$PY_JSONL"
: >"$OURS_JSONL"

# ---------------------------------------------------------------------------------------------
# 1. venv
ensure_bench_venv

# ---------------------------------------------------------------------------------------------
# 2. our binary
if [ "${BENCH_SKIP_BUILD:-0}" = "1" ]; then
    log "build skipped (BENCH_SKIP_BUILD=1)"
else
    log "swift build -c release --product evdistill"
    if ! swift build -c release --product evdistill; then
        warn "swift build failed: our measurements will be skipped where the binary is missing"
    fi
fi
HAVE_OURS=0
if [ -x "$BIN" ]; then
    HAVE_OURS=1
else
    warn "$BIN not found: only the Python side is measured"
fi

# ---------------------------------------------------------------------------------------------
# 3. data files (cached)
log "bench files in $DATA"
declare -A FILE
while read -r variant path; do
    FILE[$variant]="$path"
done < <(py "$BENCH/make_bench_file.py" --out-dir "$DATA" --events "$N_EVENTS" --width "$W" --height "$H")
for v in zstd lz4 raw; do
    [ -f "${FILE[$v]:-}" ] || { echo "missing bench file for $v" >&2; exit 1; }
    ls -l "${FILE[$v]}" >&2
done

# ---------------------------------------------------------------------------------------------
# 4. Python measurements
if [ "${BENCH_SKIP_PY:-0}" = "1" ]; then
    log "python measurements skipped (BENCH_SKIP_PY=1)"
else
    log "python measurements (median of $RUNS runs after a warm-up)"
    if ! py "$BENCH/py_bench.py" --runs "$RUNS" --width "$W" --height "$H" --bins "$BINS" \
        --file "zstd=${FILE[zstd]}" --file "lz4=${FILE[lz4]}" --file "raw=${FILE[raw]}" \
        | tee "$PY_JSONL"; then
        warn "py_bench.py failed (see above); continuing with what it printed"
    fi
fi

# ---------------------------------------------------------------------------------------------
# 5. our measurements
# run_ours BENCHMARK LAYOUT FILE -- command...: stdout must hold one JSON object; a failing
# command is reported and skipped.
run_ours() {
    local bench="$1" layout="$2" file="$3"
    shift 4
    local out="$WORK/ours.out" err="$WORK/ours.err" rc=0
    echo "+ $*" >&2
    "$@" >"$out" 2>"$err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        warn "exit code $rc from: $*"
        tail -n 20 "$err" >&2 || true
        tail -n 5 "$out" >&2 || true
        return 0
    fi
    local args=(ingest --benchmark "$bench")
    [ -n "$layout" ] && args+=(--layout "$layout")
    [ -n "$file" ] && args+=(--file "$file")
    if py "$BENCH/bench_report.py" "${args[@]}" <"$out" >>"$OURS_JSONL"; then
        tail -n 1 "$OURS_JSONL"
    else
        warn "no JSON result from: $*"
        tail -n 20 "$err" >&2 || true
    fi
    return 0
}

if [ "$HAVE_OURS" = "1" ]; then
    log "our measurements ($BIN)"
    BENCH_HELP="$("$BIN" bench --help 2>&1 || true)"
    run_ours voxelize "" "" -- "$BIN" bench voxelize --json --events "$N_EVENTS" --width "$W" --height "$H" --bins "$BINS" --repeat "$RUNS"
    for v in zstd lz4 raw; do
        run_ours read "$v" "${FILE[$v]}" -- "$BIN" bench read --json --file "${FILE[$v]}" --repeat "$RUNS"
    done
    if grep -qw histogram <<<"$BENCH_HELP"; then
        run_ours histogram "" "" -- "$BIN" bench histogram --json --events "$N_EVENTS" --width "$W" --height "$H" --repeat "$RUNS"
    else
        echo "evdistill bench has no histogram subcommand: skipped" >&2
    fi
fi

# ---------------------------------------------------------------------------------------------
# 6. peak memory of convert
# measure_convert LAYOUT FILE EVENTS
measure_convert() {
    local layout="$1" file="$2" events="$3"
    local tfile="$WORK/time-$layout-$events.txt" out="$WORK/convert-$layout-$events.h5" rc=0
    echo "+ /usr/bin/time -v $BIN convert $file -o $out --representation voxel_grid --bins $BINS --window-ms 10" >&2
    /usr/bin/time -v -o "$tfile" "$BIN" convert "$file" -o "$out" --representation voxel_grid --bins "$BINS" --window-ms 10 \
        >"$WORK/convert.out" 2>"$WORK/convert.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        warn "convert exited with $rc"
        tail -n 20 "$WORK/convert.err" >&2 || true
    fi
    local extra=(--extra representation=voxel_grid --extra bins="$BINS" --extra window_ms=10)
    if [ -s "$out" ]; then
        extra+=(--extra output_written=1 --extra output_bytes="$(stat -c %s "$out")")
    else
        warn "convert wrote no output file"
        extra+=(--extra output_written=0)
    fi
    py "$BENCH/bench_report.py" rss --time-file "$tfile" --events "$events" --layout "$layout" \
        --file "$file" --exit-code "$rc" "${extra[@]}" >>"$OURS_JSONL" && tail -n 1 "$OURS_JSONL" \
        || warn "could not read peak RSS from $tfile"
    rm -f "$out"
}

if [ "$HAVE_OURS" = "1" ]; then
    log "peak memory of evdistill convert"
    if [ ! -x /usr/bin/time ]; then
        (apt-get update -qq && apt-get install -y -qq time) || warn "could not install the time package"
    fi
    if [ -x /usr/bin/time ]; then
        measure_convert zstd "${FILE[zstd]}" "$N_EVENTS"
        if [ "${BENCH_BIG:-0}" = "1" ]; then
            BIG_N=100000000
            # same event rate as the 10 M file (200 M events/s), so 500 ms: 2 M events per 10 ms
            # window in both, and the peak RSS shows whether memory grows with the file's size
            log "BENCH_BIG=1: 100 M-event zstd file over 500 ms (cached)"
            BIG_FILE="$(py "$BENCH/make_bench_file.py" --out-dir "$DATA" --events "$BIG_N" --variants zstd \
                --duration-us 500000 --width "$W" --height "$H" | awk '$1 == "zstd" {print $2}')"
            ls -l "$BIG_FILE" >&2
            measure_convert zstd "$BIG_FILE" "$BIG_N"
        fi
    else
        warn "/usr/bin/time missing: peak memory not measured"
    fi
fi

# ---------------------------------------------------------------------------------------------
# 7. summary
log "summary"
OUT="$RESULTS_DIR/convert-$(date +%Y%m%d-%H%M%S).json"
py "$BENCH/bench_report.py" summary --out "$OUT" "$PY_JSONL" "$OURS_JSONL"
echo "$OUT"
