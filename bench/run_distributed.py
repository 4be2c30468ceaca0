#!/usr/bin/env python3
"""Data-parallel scaling of a fine-tune on this machine: images/s of `xfer train --nproc 1` and
`--nproc 2`, one intra-op thread and one loader thread per process, alternated.

The job: resnet18 (random init, --weights none), every layer trained, 112x112 Fashion-MNIST
(Debian's dataset-fashion-mnist), --per-class P, batch B per process, one epoch. Rank 0's progress
lines "epoch 1/1 train k/n" are timestamped as they arrive; the rate is
  ranks x B x (k_last - k_first) / (t_last - t_first)
between the first line after batch 1 (warm-up: start-up and the first step are not counted) and
the last line of a full batch. Both ranks take the same number of steps (the shards are padded).

Usage: /usr/bin/python3 bench/run_distributed.py [--xfer build/xfer] [--repeats 3]
       [--per-class 64] [--batch 16] [--size 112]
Prints one JSON line per measurement and a summary with the medians and the ratio.
"""
import argparse, json, re, shutil, statistics, subprocess, tempfile, time

LINE = re.compile(r"^epoch 1/1 train (\d+)/(\d+)")


def rate(nproc, a):
    out_dir = tempfile.mkdtemp(prefix="xfer-dist-")
    shutil.rmtree(out_dir)
    cmd = [a.xfer, "train", "--nproc", str(nproc), "--model", "resnet18", "--weights", "none",
           "--data", "fashion-mnist", "--per-class", str(a.per_class), "--test-per-class", "1",
           "--strategy", "finetune", "--batch-size", str(a.batch), "--epochs", "1",
           "--image-size", str(a.size), "--threads", "1", "--workers", "1", "--no-cache",
           "--out", out_dir]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stamps = {}
    total = 0
    train = 0
    for line in proc.stdout:
        d = re.match(r"^data: \d+ classes; train (\d+)", line)
        if d:
            train = int(d.group(1))
        m = LINE.match(line)
        if m:
            stamps[int(m.group(1))] = time.perf_counter()
            total = int(m.group(2))
    if proc.wait() != 0:
        raise SystemExit(f"xfer failed: {' '.join(cmd)}")
    shutil.rmtree(out_dir, ignore_errors=True)
    shard = -(-train // nproc)
    last_full = total if shard % a.batch == 0 else total - 1
    ks = sorted(k for k in stamps if 2 <= k <= last_full)
    if len(ks) < 2:
        raise SystemExit("too few progress lines: raise --per-class")
    k0, k1 = ks[0], ks[-1]
    return nproc * a.batch * (k1 - k0) / (stamps[k1] - stamps[k0])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--xfer", default="build/xfer")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--per-class", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=112)
    a = p.parse_args()
    rates = {1: [], 2: []}
    for r in range(a.repeats):
        for nproc in (1, 2):
            v = rate(nproc, a)
            rates[nproc].append(v)
            print(json.dumps({"repeat": r, "nproc": nproc, "images_per_s": round(v, 2)}), flush=True)
    one = statistics.median(rates[1])
    two = statistics.median(rates[2])
    print(json.dumps({"median_images_per_s": {"1": round(one, 2), "2": round(two, 2)},
                      "speedup_2_over_1": round(two / one, 3), "repeats": a.repeats,
                      "per_class": a.per_class, "batch_per_process": a.batch, "size": a.size}))


if __name__ == "__main__":
    main()
