#!/bin/bash
# Hymenoptera with the Coral MobileNetV2 (issue 16 part 3): feature extraction against fine-tuning
# recipes, seeds 0-2, test top-1 of each run (the 153 test images). features-fp32 and
# features-bf16 pin the backbone's precision (issue 17: a bf16 linear probe against fp32's).
# Usage: bench/run_hymenoptera_recipes.sh BUILD_DIR OUT_DIR [RECIPE...]
# RECIPE names one of the recipes below; without any, all of them run.
build=$(realpath "${1:-build}"); out_dir=$(realpath -m "${2:-/tmp/hymenoptera}"); shift 2
mkdir -p "$out_dir"
shared=$(realpath "$(dirname "$0")/../../shared")
common=(--model mobilenet_v2 --weights "$shared/weights/coral-mobilenet/mobilenet_v2_1.0_224_quant.tflite"
        --data "folder:$shared/data/hymenoptera" --skip-bad --threads 2)
finetune=(--strategy finetune --lr 1e-3 --layer-decay 0.8 --schedule cosine)
declare -A recipes=(
  [features]="--strategy features --epochs 30 --lr 1e-3"
  [features-fp32]="--strategy features --epochs 30 --lr 1e-3 --precision fp32"
  [features-bf16]="--strategy features --epochs 30 --lr 1e-3 --precision bf16"
  [finetune]="${finetune[*]} --epochs 6 --freeze-epochs 3"
  [finetune-ema]="${finetune[*]} --epochs 6 --freeze-epochs 3 --ema 0.9"
  [finetune-trivial-ema]="${finetune[*]} --epochs 10 --freeze-epochs 2 --train-transform trivial --ema 0.9"
  [finetune-mix-ema]="${finetune[*]} --epochs 10 --freeze-epochs 2 --train-transform augment --mixup 0.2 --cutmix 1 --ema 0.9"
  [preset-fine-tune]="--preset fine-tune"
  [preset-fine-tune-5e-3]="--preset fine-tune --lr 5e-3"
  [preset-fine-tune-trivial]="--preset fine-tune --epochs 10 --freeze-epochs 2 --train-transform trivial"
  # LP-FT (Kumar et al. 2022): the linear probe, then the whole network from it at low rates.
  [lp-ft]="--config $(dirname "$(realpath "$0")")/hymenoptera_lp_ft.json"
)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(features finetune finetune-ema finetune-trivial-ema finetune-mix-ema)
for name in "${names[@]}"; do
  line="$name:"
  for seed in 0 1 2; do
    out=$out_dir/$name-$seed; rm -rf "$out"
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$build/xfer" train "${common[@]}" ${recipes[$name]} --seed $seed --out "$out" > "$out.log" 2>&1 ||
      { echo "$name seed $seed failed: see $out.log"; continue; }
    results=$out/results.json; [ -f "$results" ] || results=$(ls "$out"/stage-*/results.json | tail -1)
    top1=$(python3 -c "import json; print('%.2f' % (100 * json.load(open('$results'))['test']['top1']))")
    line="$line seed $seed $top1 % ($(( $(date +%s) - start )) s);"
  done
  echo "$line"
done
