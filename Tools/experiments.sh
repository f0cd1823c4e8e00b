#!/usr/bin/env bash
# The distillation experiments of the README (issue 7): test mIoU, mean ± std over seeds.
#
#   bash Tools/experiments.sh                       # EventData/benchmark, seeds 1 2 3
#   DATA=/path/to/benchmark SEEDS="1 2 3" EPOCHS=8 bash Tools/experiments.sh
#   EVDISTILL_BIN=path/to/evdistill skips the build.
#
# DATA must hold train/val/test.h5 and unpaired_images/unpaired_events.h5 (evdistill simulate --scenes).
# The teacher is EventData/teacher/model.safetensors for EventData/benchmark, else trained first.
# Results: $OUT/results.jsonl (one line per run), $OUT/results.md (the table), $OUT/loss_curves.png.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-EventData/benchmark}
SEEDS=${SEEDS:-1 2 3}
EPOCHS=${EPOCHS:-8}
OUT=${OUT:-.build/experiments/$(basename "$DATA")}
bash Tools/install-deps.sh
bin=${EVDISTILL_BIN:-}
if [ -z "$bin" ]; then
  swift build -c release --product evdistill >&2
  bin=.build/release/evdistill
fi
mkdir -p "$OUT"

teacher="$OUT/teacher/model.safetensors"
if [ "$DATA" = EventData/benchmark ] && [ -f EventData/teacher/model.safetensors ]; then
  teacher=EventData/teacher/model.safetensors
elif [ ! -f "$teacher" ]; then
  "$bin" train --modality images --train "$DATA/train.h5" --val "$DATA/val.h5" --out "$OUT/teacher" --epochs 30 --seed 1 --quiet
fi

score() {  # name seed modality checkpoint
  local name=$1 seed=$2 modality=$3 checkpoint=$4
  "$bin" predict --checkpoint "$checkpoint" --data "$DATA/test.h5" --modality "$modality" -o "$OUT/$name-$seed.pred.h5" --quiet
  "$bin" score --predictions "$OUT/$name-$seed.pred.h5" --labels "$DATA/test.h5" --json "$OUT/$name-$seed.score.json" >/dev/null
  python3 -c "import json,sys; s=json.load(open('$OUT/$name-$seed.score.json')); print(json.dumps({'config': '$name', 'seed': $seed, 'test_miou': s['miou'], 'per_class_iou': s['per_class_iou']}))" >> "$OUT/results.jsonl"
}

distill() {  # name seed extra-args...
  local name=$1 seed=$2
  shift 2
  if [ ! -f "$OUT/$name-$seed/state.json" ] || ! grep -q "\"epochsDone\" : $EPOCHS" "$OUT/$name-$seed/state.json"; then
    rm -rf "$OUT/$name-$seed"
    "$bin" distill --teacher "$teacher" --val "$DATA/val.h5" --out "$OUT/$name-$seed" --epochs "$EPOCHS" --seed "$seed" --quiet "$@"
  fi
  score "$name" "$seed" events "$OUT/$name-$seed/model.safetensors"
}

: > "$OUT/results.jsonl"
score teacher 0 images "$teacher"
paired=(--images "$DATA/train.h5" --events "$DATA/train.h5" --paired)
unpaired=(--images "$DATA/unpaired_images.h5" --events "$DATA/unpaired_events.h5")
for seed in $SEEDS; do
  distill a_scratch_10pct "$seed" "${paired[@]}" --label-fraction 0.1 --losses none
  distill b_kd "$seed" "${paired[@]}" --label-fraction 0.1 --losses kd
  distill c_kd_affinity_ds "$seed" "${paired[@]}" --label-fraction 0.1 --losses kd,affinity,ds
  distill d_kd_affinity_ds_dm "$seed" "${paired[@]}" --label-fraction 0.1 --losses kd,affinity,ds,dm
  distill e_unpaired_bmr "$seed" "${unpaired[@]}" --bmr-pretrain "$DATA/train.h5" --losses kd,affinity
  distill e_unpaired_no_bmr "$seed" "${unpaired[@]}" --no-bmr --losses kd,affinity
  distill f_contrastive "$seed" "${paired[@]}" --label-fraction 0.1 --losses kd,contrastive
  distill f_mi "$seed" "${paired[@]}" --label-fraction 0.1 --losses kd,mi
  distill full_supervision "$seed" "${paired[@]}" --label-fraction 1 --losses none
done
python3 Tools/experiments_report.py "$OUT"
cat "$OUT/results.md"
