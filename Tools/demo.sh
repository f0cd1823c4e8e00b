#!/usr/bin/env bash
# Installs what is missing, builds in release mode and runs the main job on EventData/:
# inspect the sample recordings, convert them to voxel grids, draw pictures.
# Outputs go to demo-output/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

bash Tools/install-deps.sh
swift build -c release --product evdistill
bin=.build/release/evdistill
out=demo-output
mkdir -p "$out"

for recording in EventData/sample_dsec.h5 EventData/sample_mvsec.h5; do
  name=$(basename "$recording" .h5)
  echo "== $recording"
  "$bin" inspect "$recording"
  "$bin" convert "$recording" -o "$out/$name.voxel_grid.h5" --representation voxel_grid --bins 5 --window-ms 50
  "$bin" convert "$recording" -o "$out/$name.histogram.h5" --representation histogram --window-ms 50
  "$bin" render "$out/$name.voxel_grid.h5" --index 4 -o "$out/$name.voxel_grid.png"
  "$bin" render "$out/$name.histogram.h5" --index 4 -o "$out/$name.histogram.png"
done

echo "== the labelled benchmark (EventData/README.md)"
"$bin" inspect EventData/sample_dsec.h5 --json >/dev/null
"$bin" render EventData/benchmark/test.h5 --dataset events --index 20 -o "$out/benchmark_test_events.png"

echo
echo "Wrote:"
ls -l "$out"
echo "Open one in Python: h5py.File('$out/sample_dsec.voxel_grid.h5')['voxel_grid'][:]  # [N, 5, 64, 128] float32"
