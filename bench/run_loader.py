#!/usr/bin/python3
"""Loader benchmark: xfer's Loader against torchvision's ImageFolder + DataLoader, alternating,
median of several runs.

usage: bench/run_loader.py BUILD_DIR [--repeats 3] [--workers 2] [--batch 32]
       [--transform resize=224,center_crop=224,normalize=imagenet] [--shared ../shared]
       [--scratch /tmp/xfer-bench-loader]

Datasets: the test split of ../shared/data/cifar10-jpg.tar.gz (10,000 JPEGs of 32x32, extracted
under --scratch when not there yet) and the train split of ../shared/data/hymenoptera (243
photos of varied size; its GIF is left out by both sides). Each measurement is its own process
(bench_loader or loader_torchvision.py, one untimed warm-up epoch then timed epochs); the two
sides alternate run by run, so both see the same machine load. Prints a Markdown table (median
images/s of each side and their ratio) for docs/BENCHMARKS.md, and the load average.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def measure(command):
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])["images_per_s"]


def cifar10_jpg(shared, scratch):
    folder = os.path.join(scratch, "cifar10-jpg")
    if not os.path.isdir(os.path.join(folder, "test")):
        archive = os.path.join(shared, "data", "cifar10-jpg.tar.gz")
        print(f"extracting {archive} into {folder}", file=sys.stderr, flush=True)
        partial = folder + ".part"
        os.makedirs(partial, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(partial)
        os.rename(partial, folder)
    return os.path.join(folder, "test")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--transform", default="resize=224,center_crop=224,normalize=imagenet")
    parser.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    parser.add_argument("--scratch", default="/tmp/xfer-bench-loader")
    args = parser.parse_args()
    xfer = os.path.join(args.build_dir, "bench", "bench_loader")
    python = [sys.executable, os.path.join(HERE, "loader_torchvision.py")]

    datasets = [
        ("cifar10-jpg test (10,000 × 32×32)", cifar10_jpg(args.shared, args.scratch), 1),
        ("hymenoptera train (243 photos)",
         os.path.join(args.shared, "data", "hymenoptera", "train"), 3),
    ]
    load_before = os.getloadavg()
    rows = []
    for label, folder, epochs in datasets:
        cell = [folder, args.transform, str(args.workers), str(args.batch), str(epochs)]
        ours, theirs = [], []
        for _ in range(args.repeats):
            ours.append(measure([xfer] + cell))
            theirs.append(measure(python + cell))
        a, b = statistics.median(ours), statistics.median(theirs)
        rows.append((label, a, b, ours, theirs))
        print(f"{label}: xfer {a:.0f} img/s {[round(v) for v in ours]}, torchvision {b:.0f} img/s "
              f"{[round(v) for v in theirs]}, ratio {a / b:.2f}", file=sys.stderr, flush=True)
    load_after = os.getloadavg()

    print(f"transform `{args.transform}`, {args.workers} workers, batch {args.batch}, "
          f"median of {args.repeats} alternating runs; {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print()
    print("| dataset | xfer img/s | torchvision img/s | xfer / torchvision |")
    print("|---|---:|---:|---:|")
    for label, a, b, _, _ in rows:
        print(f"| {label} | {a:.0f} | {b:.0f} | {a / b:.2f} |")


if __name__ == "__main__":
    main()
