#!/usr/bin/python3
"""Inference side by side: xfer against ONNX Runtime and OpenCV DNN on the file xfer exports, alternating, medians.

usage: bench/run_export_inference.py BUILD_DIR [--repeats 3] [--models resnet18,mobilenet_v2]
       [--size 224] [--batch 32] [--threads 2] [--layout channels_last] [--precision fp32]

For each model: bench_inference --export-onnx writes it (seed 0) as ONNX; then bench_inference
(xfer's fused path, in the precision and layout given: xfer's default at 224 px is channels_last,
and bf16 where the CPU has it natively),
bench/inference_onnxruntime.js (onnxruntime-node from .cache/node, the same threads) and
bench_inference_opencv (Debian's OpenCV 4.6 DNN, the same threads; "not read" for the graphs its
importer refuses, docs/export.md) each time the backbone on a batch, each in its own process,
alternating run by run. Prints a Markdown table (median images/s of each side and the ratios) for
docs/BENCHMARKS.md.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

from run_inference import measure  # this folder is on sys.path when run as a script

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="resnet18,mobilenet_v2")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layout", default="channels_last")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    args = parser.parse_args()
    xfer = os.path.join(args.build_dir, "bench", "bench_inference")
    env = dict(os.environ, NODE_PATH=os.path.join(ROOT, ".cache", "node", "node_modules"))
    ort = ["node", os.path.join(HERE, "inference_onnxruntime.js")]
    opencv = os.path.join(args.build_dir, "bench", "bench_inference_opencv")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            onnx = os.path.join(tmp, model + ".onnx")
            subprocess.run([xfer, "--export-onnx", onnx, model, str(args.size)], check=True)
            timing = [str(args.size), str(args.batch), str(args.iterations), str(args.threads)]
            # OpenCV 4.6 does not read every graph (docs/export.md): one batch says whether it
            # does (EfficientNet's reads at batch 1 and fails at 32).
            reads = subprocess.run([opencv, onnx] + timing[:2] + ["1", "1"],
                                   capture_output=True, text=True).returncode == 0
            ours, theirs, cv = [], [], []
            for _ in range(args.repeats):
                ours.append(measure([xfer, model, str(args.size), args.layout, args.precision,
                                     str(args.batch), str(args.iterations), str(args.threads)]))
                theirs.append(measure(ort + [onnx] + timing, env))
                if reads:
                    cv.append(measure([opencv, onnx] + timing))
            a, b = statistics.median(ours), statistics.median(theirs)
            c = statistics.median(cv) if cv else None
            rows.append((model, a, b, c))
            print(f"{model}: xfer {a:.1f} img/s {ours}, onnxruntime {b:.1f} img/s {theirs}, "
                  f"opencv {cv or 'not read'}", file=sys.stderr, flush=True)

    print(f"| model | xfer img/s ({args.layout}, {args.precision}) | ONNX Runtime img/s | OpenCV DNN img/s "
          f"| xfer / ORT | xfer / OpenCV |")
    print("|---|---:|---:|---:|---:|---:|")
    for model, a, b, c in rows:
        opencv_speed, opencv_ratio = (f"{c:.1f}", f"{a / c:.2f}") if c else ("not read", "-")
        print(f"| {model} | {a:.1f} | {b:.1f} | {opencv_speed} | {a / b:.2f} | {opencv_ratio} |")


if __name__ == "__main__":
    main()
