#!/usr/bin/env python3
"""Check that an evdistill checkpoint loads into the reference PyTorch model and reproduces our
logits.

Usage: check_export.py CHECKPOINT EXPECTED
  CHECKPOINT  model.safetensors written by evdistill (weights + BN statistics under PyTorch's
              state-dict names, architecture JSON in the metadata; formats.md §4)
  EXPECTED    safetensors with `x` (an input batch) and `logits` (our evaluation-mode output)

Loads CHECKPOINT with safetensors.torch.load_file, builds the model its `architecture` metadata
names (Tools/engine/reference_models.py), calls load_state_dict(strict=True), runs it in eval
mode on `x` (CPU, float32) and compares with `logits`: |torch − ours| ≤ 1e-4·(1 + |torch|).
Prints one JSON line {"ok": ..., "model": ..., "max_excess": ..., ...}; exit 0 when ok, 1 otherwise.
Run by Tests/ModelsTests/UNetTests.swift when .venv-torch exists.
"""
import json
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_models import from_architecture  # noqa: E402

TOLERANCE = 1e-4


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    checkpoint, expected_path = sys.argv[1], sys.argv[2]
    with safe_open(checkpoint, framework="pt") as f:
        metadata = f.metadata() or {}
    if "architecture" not in metadata:
        print(json.dumps({"ok": False, "error": f"{checkpoint}: no 'architecture' in the metadata"}))
        return 1
    model = from_architecture(metadata["architecture"])
    state = load_file(checkpoint)
    bad_dtypes = [k for k, v in state.items() if v.dtype != (torch.int64 if k.endswith("num_batches_tracked") else torch.float32)]
    model.load_state_dict(state, strict=True)
    model.eval()
    expected = load_file(expected_path)
    torch.set_num_threads(1)
    with torch.no_grad():
        logits, _ = model(expected["x"])
    reference = logits.float()
    excess = ((expected["logits"] - reference).abs() / (1 + reference.abs())).max().item()
    ok = excess <= TOLERANCE and not bad_dtypes and logits.shape == expected["logits"].shape
    print(json.dumps({"ok": ok, "model": json.loads(metadata["architecture"])["model"], "tensors": len(state),
                      "max_excess": excess, "tolerance": TOLERANCE, "bad_dtypes": bad_dtypes,
                      "num_batches_tracked": [int(v) for k, v in state.items() if k.endswith("num_batches_tracked")][:1],
                      "torch": torch.__version__}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
