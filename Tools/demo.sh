#!/usr/bin/env bash
# The main job on EventData/, from a fresh clone: installs what is missing, builds (release),
# reads and converts the sample recordings, then distils the committed image teacher into an
# event student on the simulated benchmark, scores teacher and student on the test split and
# draws pictures. Outputs go to demo-output/ (ignored by git). About 6–9 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

bash Tools/install-deps.sh
swift build -c release --product evdistill
bin=.build/release/evdistill
out=demo-output
data=EventData/benchmark
mkdir -p "$out"

echo "== 1. Event recordings: inspect, convert, render"
for recording in EventData/sample_dsec.h5 EventData/sample_mvsec.h5; do
  name=$(basename "$recording" .h5)
  "$bin" inspect "$recording"
  "$bin" convert "$recording" -o "$out/$name.voxel_grid.h5" --representation voxel_grid --bins 5 --window-ms 50
  "$bin" render "$out/$name.voxel_grid.h5" --index 4 -o "$out/$name.voxel_grid.png"
done

echo "== 2. The image teacher (EventData/teacher, trained on the benchmark's frames)"
"$bin" predict --checkpoint EventData/teacher/model.safetensors --data "$data/test.h5" -o "$out/teacher.pred.h5" --quiet
"$bin" score --predictions "$out/teacher.pred.h5" --labels "$data/test.h5" --json "$out/teacher.score.json" > "$out/teacher.score.md"

echo "== 3. Distil it into an event student (paired, labels on 10 % of the event windows)"
rm -rf "$out/student"
"$bin" distill --teacher EventData/teacher/model.safetensors --images "$data/train.h5" --events "$data/train.h5" --paired \
  --label-fraction 0.1 --losses kd,affinity,ds --val "$data/val.h5" --out "$out/student" --epochs 8 --seed 1

echo "== 4. Score the student on the test split, draw predictions"
"$bin" predict --checkpoint "$out/student/model.safetensors" --data "$data/test.h5" --modality events -o "$out/student.pred.h5" \
  --png "$out/student_predictions" --png-count 6 --quiet
"$bin" score --predictions "$out/student.pred.h5" --labels "$data/test.h5" --json "$out/student.score.json" \
  --confusion-png "$out/student_confusion.png" > "$out/student.score.md"

echo
echo "Teacher (frames), test split:"
cat "$out/teacher.score.md"
echo
echo "Distilled event student, test split:"
cat "$out/student.score.md"
echo
echo "Pictures: $out/*.png, $out/student_predictions/ (event input | prediction | labels)"
