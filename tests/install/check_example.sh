#!/usr/bin/env bash
# The two install tests (tests/install/CMakeLists.txt).
#   check_example.sh BUILD_DIR EXAMPLE_DIR XFER_BINARY WORK
#     installs the build into WORK/prefix, builds examples/classify against it alone into
#     WORK/example, and checks that the example classifies as `xfer predict` does on a small run
#     trained here, and that its errors name what is wrong.
#   check_example.sh --coral XFER_BINARY WORK SHARED_DIR
#     the example built above, with Coral's MobileNetV2, beside `xfer classify`: a parrot is a
#     macaw. Exits 77 (skipped) without ../shared.
set -euo pipefail
python=/usr/bin/python3

fail() { echo "FAIL: $*" >&2; exit 1; }

if [[ $1 == --coral ]]; then
  xfer=$2 work=$3 shared=$4
  classify=$work/example/classify
  coral=$shared/weights/coral-mobilenet
  if [[ ! -f $coral/mobilenet_v2_1.0_224_quant.tflite ]]; then
    echo "skipped: $coral/mobilenet_v2_1.0_224_quant.tflite is absent (../shared)"
    exit 77
  fi
  [[ -x $classify ]] || fail "$classify is not built (install_example builds it)"
  echo "== Coral's MobileNetV2 on the parrot, beside xfer classify"
  "$classify" --model mobilenet_v2 --weights "$coral/mobilenet_v2_1.0_224_quant.tflite" \
    "$coral/images/parrot.jpg" > "$work/coral-example.txt"
  "$xfer" classify --topk 3 --model mobilenet_v2 --weights "$coral/mobilenet_v2_1.0_224_quant.tflite" \
    "$coral/images/parrot.jpg" | tail -n 4 > "$work/coral-classify.txt"
  cat "$work/coral-example.txt"
  diff "$work/coral-classify.txt" "$work/coral-example.txt" || fail "the example and xfer classify differ"
  grep -q "^  0\.9[0-9]*  macaw (89)$" "$work/coral-example.txt" || fail "the parrot is not a macaw at over 0.9"
  echo "PASS"
  exit 0
fi

build=$1 example=$2 xfer=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
export XFER_HOME=$work/home

echo "== cmake --install into $work/prefix"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
[[ -f $work/prefix/include/xfer/embed/classifier.h ]] || fail "the headers were not installed"
config=$(find "$work/prefix" -name xferConfig.cmake)
[[ -n $config ]] || fail "no xferConfig.cmake under $work/prefix"
[[ -x $work/prefix/bin/xfer ]] || fail "the xfer program was not installed"

echo "== examples/classify built with find_package(xfer) from the prefix"
cmake -S "$example" -B "$work/example" -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log" ||
  { cat "$work/configure.log"; fail "configuring the example failed"; }
grep -q "$work/prefix" "$work/example/CMakeCache.txt" || fail "the example did not use the prefix"
cmake --build "$work/example" -j2 > "$work/build.log" || { cat "$work/build.log"; fail "building the example failed"; }
classify=$work/example/classify

echo "== a small run, and two pictures"
"$xfer" train --model resnet20 --weights none --data fashion-mnist --classes Trouser,Bag,Sneaker \
  --per-class 30 --test-per-class 5 --image-size 32 --epochs 1 --batch-size 8 --threads 1 \
  --workers 1 --out "$work/run" > "$work/train.log"
"$python" - "$work" <<'PY'
import sys
from PIL import Image
work = sys.argv[1]
Image.new("L", (28, 28), 0).save(work + "/dark.png")
Image.frombytes("RGB", (40, 30), bytes((i * 37) % 256 for i in range(40 * 30 * 3))).save(work + "/noise.png")
PY

echo "== the example beside xfer predict"
"$classify" --topk 3 "$work/run" "$work/dark.png" "$work/noise.png" > "$work/example.txt"
"$xfer" predict --topk 3 "$work/run" "$work/dark.png" "$work/noise.png" > "$work/predict.txt"
cat "$work/example.txt"
diff "$work/predict.txt" "$work/example.txt" || fail "the example and xfer predict differ"
[[ $(grep -c '^  [01]\.' "$work/example.txt") == 6 ]] || fail "expected 3 classes for each of 2 images"

echo "== its errors"
if "$classify" "$work/run" "$work/absent.png" 2> "$work/error.txt"; then fail "a missing image was accepted"; fi
grep -q "absent.png" "$work/error.txt" || fail "the error does not name the image: $(cat "$work/error.txt")"
if "$classify" "$work/no-run" "$work/dark.png" 2> "$work/error.txt"; then fail "a missing run was accepted"; fi
grep -q "no-run" "$work/error.txt" || fail "the error does not name the run: $(cat "$work/error.txt")"

echo "PASS"
