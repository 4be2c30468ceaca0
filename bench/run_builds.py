#!/usr/bin/python3
"""Two builds of bench_inference side by side: the fused path of each, alternating, medians.

usage: bench/run_builds.py BEFORE AFTER [--repeats 3] [--models resnet18,mobilenet_v2]
       [--precisions fp32,bf16] [--size 224] [--batch 32] [--threads 2] [--layout channels_last]
       [--path fused]

BEFORE and AFTER are bench_inference binaries (e.g. an older commit's build and this one's). Each
measurement is its own process (trace, warm-up batch, then the timed batches), the two builds
alternating run by run, so a change of the machine's load falls on both. Prints a Markdown table:
the median images/s of each and AFTER / BEFORE.
"""
import argparse
import statistics
import sys

from run_inference import iterations_for, measure  # this folder is on sys.path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="resnet18,mobilenet_v2")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layout", default="channels_last")
    parser.add_argument("--path", choices=["fused", "eager"], default="fused")
    args = parser.parse_args()

    print("| model | precision | before img/s | after img/s | after / before |")
    print("|---|---|---:|---:|---:|")
    for model in args.models.split(","):
        for precision in args.precisions.split(","):
            cell = [model, str(args.size), args.layout, precision, str(args.batch),
                    str(iterations_for(args.size)), str(args.threads), args.path]
            runs = {"before": [], "after": []}
            for _ in range(args.repeats):
                runs["before"].append(measure([args.before] + cell))
                runs["after"].append(measure([args.after] + cell))
            before, after = (statistics.median(runs[k]) for k in ("before", "after"))
            print(f"{model} {precision}: before {runs['before']}, after {runs['after']}",
                  file=sys.stderr, flush=True)
            print(f"| {model} | {precision} | {before:.1f} | {after:.1f} | {after / before:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
