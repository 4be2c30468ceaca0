#!/usr/bin/python3
"""Inference benchmark: xfer against Python torchvision, alternating, median of several runs.

usage: bench/run_inference.py BUILD_DIR [--repeats 3] [--models resnet18,mobilenet_v2]
       [--sizes 32,112,224] [--batch 32] [--threads 2] [--python-malloc tuned|default]
       [--paths fused,eager]

Each measurement is its own process (bench_inference or inference_torchvision.py); xfer's fused
path (what the program runs by default), its eager path (`--no-fuse`) and Python alternate cell by
cell and run by run, so all see the same machine load. Prints a Markdown table (median images/s of
each and the ratios to Python) for docs/BENCHMARKS.md.

The Python side runs with GLIBC_TUNABLES=glibc.malloc.mmap_max=0 unless --python-malloc default:
glibc otherwise returns every large tensor's memory to the system and takes it back on the next
batch, which costs PyTorch eager up to 2x at 224 px; the setting is the best a Python user gets, as
xfer's own allocator setting (core/allocator.h, which bench_inference uses) is xfer's.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def iterations_for(size):
    return {32: 20, 112: 4}.get(size, 2)


def measure(command, env=None):
    """Runs `command` (with `env`, else this environment); its last line's images_per_s."""
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])["images_per_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="resnet18,mobilenet_v2")
    parser.add_argument("--sizes", default="32,112,224")
    parser.add_argument("--layouts", default="nchw,channels_last")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--python-malloc", choices=["tuned", "default"], default="tuned")
    parser.add_argument("--paths", default="fused,eager")
    args = parser.parse_args()
    python_env = dict(os.environ)
    if args.python_malloc == "tuned":
        python_env["GLIBC_TUNABLES"] = "glibc.malloc.mmap_max=0"
    xfer = os.path.join(args.build_dir, "bench", "bench_inference")
    python = [sys.executable, os.path.join(HERE, "inference_torchvision.py")]

    paths = args.paths.split(",")
    rows = []
    for model in args.models.split(","):
        for size in map(int, args.sizes.split(",")):
            for layout in args.layouts.split(","):
                for precision in args.precisions.split(","):
                    cell = [model, str(size), layout, precision, str(args.batch),
                            str(iterations_for(size)), str(args.threads)]
                    ours = {path: [] for path in paths}
                    theirs = []
                    for _ in range(args.repeats):
                        for path in paths:
                            ours[path].append(measure([xfer] + cell + [path]))
                        theirs.append(measure(python + cell, python_env))
                    medians = [statistics.median(ours[path]) for path in paths]
                    b = statistics.median(theirs)
                    rows.append((model, size, layout, precision, medians, b))
                    print(f"{model} {size} {layout} {precision}: " +
                          ", ".join(f"xfer {p} {a:.1f} img/s" for p, a in zip(paths, medians)) +
                          f", python {b:.1f} img/s", file=sys.stderr, flush=True)

    print("| model | px | layout | precision | " +
          " | ".join(f"xfer {p} img/s" for p in paths) + " | torchvision img/s | " +
          " | ".join(f"{p} / torchvision" for p in paths) + " |")
    print("|---|---|---|---|" + "---:|" * (2 * len(paths) + 1))
    for model, size, layout, precision, medians, b in rows:
        print(f"| {model} | {size} | {layout} | {precision} | " +
              " | ".join(f"{a:.1f}" for a in medians) + f" | {b:.1f} | " +
              " | ".join(f"{a / b:.2f}" for a in medians) + " |")


if __name__ == "__main__":
    main()
