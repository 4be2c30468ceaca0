#!/bin/bash
# CIFAR-10 subsets with the Coral MobileNetV2: the bf16 linear probe against fp32's (issue 17) and
# fine-tuning against feature extraction on one subset (issue 16 part 3). Each run prints its test
# top-1 and wall time.
# Usage: bench/run_cifar_subset.sh BUILD_DIR CIFAR_FOLDER OUT_DIR [probe] [finetune]
# CIFAR_FOLDER is ../shared/data/cifar10-jpg.tar.gz extracted (train/ and test/ inside).
build=$(realpath "$1"); cifar=$(realpath "$2"); out_dir=$(realpath -m "$3"); shift 3
parts=("$@"); [ ${#parts[@]} -eq 0 ] && parts=(probe finetune)
mkdir -p "$out_dir"
shared=$(realpath "$(dirname "$0")/../../shared")
common=(--model mobilenet_v2 --weights "$shared/weights/coral-mobilenet/mobilenet_v2_1.0_224_quant.tflite"
        --data "folder:$cifar" --threads 2 --workers 2 --no-cache)
run() {  # NAME OPTIONS...
  local name=$1; shift
  local out=$out_dir/$name; rm -rf "$out"
  local start; start=$(date +%s)
  "$build/xfer" train "${common[@]}" "$@" --out "$out" > "$out.log" 2>&1 ||
    { echo "$name failed: see $out.log"; return; }
  echo "$name: $(python3 -c "import json; print('%.2f %%' % (100 * json.load(open('$out/results.json'))['test']['top1']))") ($(( $(date +%s) - start )) s)"
}
for part in "${parts[@]}"; do
  case $part in
    probe)  # 500 train and 500 test images a class, 224 px, seeds 0-2, fp32 and bf16 alternated
      for seed in 0 1 2; do
        for precision in fp32 bf16; do
          run "probe-$precision-$seed" --strategy features --per-class 500 --test-per-class 500 \
            --epochs 30 --lr 1e-3 --precision "$precision" --seed "$seed"
        done
      done ;;
    finetune)  # 500 a class at 160 px: features, then fastai's fine_tune with augmentation
      subset=(--per-class 500 --test-per-class 0 --image-size 160 --seed 0)
      run features-160 "${subset[@]}" --strategy features --epochs 30 --lr 1e-3
      run finetune-160 "${subset[@]}" --strategy finetune --epochs 8 --freeze-epochs 1 \
        --schedule fastai --lr 2e-3 --lowest-lr-mult 0.01 --train-transform augment ;;
    *) echo "unknown part '$part': expected probe or finetune"; exit 2 ;;
  esac
done
