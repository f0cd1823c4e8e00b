#!/usr/bin/env bash
# Regenerate the engine's PyTorch goldens in Tests/Fixtures/engine/ (ops.safetensors + README.md).
# Usage: bash Tools/engine/make_goldens.sh
# Creates the venv .venv-torch (git-ignored) on first use; torch comes from PyPI (the CPU+CUDA
# wheel is large, ~1 GB with its dependencies, but only the CPU is used). Seeds are fixed, so a
# re-run with the same torch version reproduces the same numbers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/Tools/engine"
VENV="$ROOT/.venv-torch"
PY="$VENV/bin/python"
PKGS=(torch numpy safetensors)

if [ ! -x "$PY" ]; then
    echo "creating venv $VENV"
    python3 -m venv "$VENV"
fi
# install only when missing (works offline afterwards)
if ! "$PY" -c "import torch, numpy, safetensors" 2>/dev/null; then
    "$PY" -m pip install --quiet --disable-pip-version-check "${PKGS[@]}"
fi

cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1
"$PY" "$HERE/make_torch_goldens.py" --out "$ROOT/Tests/Fixtures/engine"
