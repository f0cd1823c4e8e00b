# Shared by Tools/bench-convert.sh and Tools/bench-simulate.sh (sourced, not run): logging,
# the benchmark venv .venv-bench (numpy, h5py, hdf5plugin, tonic from requirements.txt,
# reinstalled only when that file changes) and `py`, its Python.
# Expects ROOT (the repository root).

VENV="$ROOT/.venv-bench"
PY="$VENV/bin/python"
REQ="$ROOT/Tools/bench/requirements.txt"

log() { printf '\n== %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }

# Python with the two OpenBLAS variables unset, for this command only.
py() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" "$@"; }

ensure_bench_venv() {
    log "python venv ($VENV)"
    if [ ! -x "$PY" ]; then
        if ! python3 -m venv "$VENV"; then
            # Debian's own python3 needs python3-venv for this
            rm -rf "$VENV"
            apt-get update -qq && apt-get install -y -qq python3-venv
            python3 -m venv "$VENV"
        fi
    fi
    local stamp="$VENV/.bench-requirements.sha256" sum
    sum="$(sha256sum "$REQ" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null || true)" != "$sum" ]; then
        py -m pip install --quiet --disable-pip-version-check -r "$REQ"
        echo "$sum" >"$stamp"
    else
        echo "requirements unchanged, venv kept" >&2
    fi
}
