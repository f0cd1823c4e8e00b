#!/usr/bin/env bash
# Makes sure the PyTorch venv .venv-torch (git-ignored) exists with torch, numpy and safetensors,
# and prints its python. Used by make_goldens.sh and Tools/bench-engine.sh.
# torch comes from PyPI on first use (the CPU+CUDA wheel is large, ~1 GB with its dependencies,
# but only the CPU is used); afterwards nothing is downloaded, so it works offline.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv-torch"
PY="$VENV/bin/python"
PKGS=(torch numpy safetensors)

if [ ! -x "$PY" ]; then
    echo "creating venv $VENV" >&2
    python3 -m venv "$VENV" >&2
fi
# install only when missing
if ! "$PY" -c "import torch, numpy, safetensors" 2>/dev/null; then
    "$PY" -m pip install --quiet --disable-pip-version-check "${PKGS[@]}" >&2
fi
echo "$PY"
