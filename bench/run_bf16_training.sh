#!/bin/bash
# fp32 vs bf16 autocast training, alternated: resnet20 from scratch on 5 Fashion-MNIST classes.
# Usage: bench/run_bf16_training.sh BUILD_DIR OUT_DIR (needs /usr/bin/time, Debian's `time`)
build=${1:-build}; out_dir=$(realpath -m "${2:-/tmp/bf16}"); mkdir -p "$out_dir"
cd "$build"
for rep in 1 2 3; do
  for p in fp32 bf16; do
    out=$out_dir/$p-$rep; rm -rf $out
    /usr/bin/time -f "%e" -o $out_dir/$p-$rep.time ./xfer train --model resnet20 --weights none --data fashion-mnist \
      --classes Dress,Coat,Sandal,Shirt,"Ankle boot" --per-class 1000 --test-per-class 0 --image-size 32 \
      --strategy finetune --optimizer adam --lr 2e-3 --batch-size 64 --epochs 5 --schedule onecycle \
      --precision $p --threads 2 --out $out > $out_dir/$p-$rep.log 2>&1
    echo "$p rep $rep: $(grep -o 'top-1 [0-9.]*' $out_dir/$p-$rep.log | tail -1) $(cat $out_dir/$p-$rep.time) s"
  done
done
