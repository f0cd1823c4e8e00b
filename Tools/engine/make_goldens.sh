#!/usr/bin/env bash
# Regenerate the engine's PyTorch goldens in Tests/Fixtures/engine/ (ops, nn and models
# .safetensors + README.md).
# Usage: bash Tools/engine/make_goldens.sh
# Uses the venv .venv-torch (git-ignored; created on first use by ensure_torch_venv.sh). Seeds
# are fixed, so a re-run with the same torch version reproduces the same bytes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/Tools/engine"
PY="$(bash "$HERE/ensure_torch_venv.sh")"

cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1
"$PY" "$HERE/make_torch_goldens.py" --out "$ROOT/Tests/Fixtures/engine"
