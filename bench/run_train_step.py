#!/usr/bin/env python3
"""Fine-tune step speed, xfer against PyTorch, alternated: images/s of one training step (forward,
cross-entropy, backward, Adam step, whole network in train mode) at 224x224.

Python: bench/train_step.py (random batch, median of --steps steps after --warmup).
xfer:   `xfer train --strategy finetune --weights none --image-size 224 --epochs 1` on a small
        CIFAR-10 subset (--per-class P, so ceil(0.9 P * 10 / batch) batches); each progress line
        "epoch 1/1 train k/n" is timestamped as it arrives (xfer flushes each line), and a step is
        the time between two consecutive batch lines of full batches (the loader prefetches, so this
        is the step plus whatever of the next batch's decoding is not hidden). The first batch (warm-up)
        is not counted. xfer uses its default layout at 224 (channels_last); Python runs NCHW (its default)
        unless --python-layout channels_last.

Usage: /usr/bin/python3 bench/run_train_step.py --cifar DIR [--xfer build/xfer] [--repeats 3]
       [--models resnet18,mobilenet_v2] [--batch 16] [--threads 2] [--per-class 6]
Prints one JSON line per measurement and a summary line with the medians and ratios.
"""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
LINE = re.compile(r"^epoch 1/1 train (\d+)/(\d+)")


def python_rate(model, a):
    out = subprocess.run([sys.executable, os.path.join(HERE, "train_step.py"), "--models", model,
                          "--batch", str(a.batch), "--threads", str(a.threads), "--steps",
                          str(a.steps), "--warmup", "1", "--layout", a.python_layout],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["images_per_s"]


def xfer_rate(model, a):
    out_dir = tempfile.mkdtemp(prefix="xfer-step-")
    shutil.rmtree(out_dir)
    cmd = [a.xfer, "train", "--model", model, "--weights", "none", "--data", "folder:" + a.cifar,
           "--per-class", str(a.per_class), "--test-per-class", "1", "--strategy", "finetune",
           "--batch-size", str(a.batch), "--epochs", "1", "--image-size", "224", "--threads",
           str(a.threads), "--workers", str(a.threads), "--no-cache", "--out", out_dir]
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
    full = [k for k in range(2, total + 1) if k in stamps and k - 1 in stamps and
            (k < total or train % a.batch == 0)]
    steps = [stamps[k] - stamps[k - 1] for k in full]
    if not steps:
        raise SystemExit("xfer: no two consecutive full batches were reported; raise --per-class")
    return a.batch / statistics.median(steps)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cifar", required=True)
    p.add_argument("--xfer", default=os.path.join(HERE, "..", "build", "xfer"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--models", default="resnet18,mobilenet_v2")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--per-class", type=int, default=6)
    p.add_argument("--python-layout", default="nchw")
    a = p.parse_args()
    rates = {}
    for r in range(a.repeats):
        for model in a.models.split(","):
            order = ("python", "xfer") if r % 2 == 0 else ("xfer", "python")
            for side in order:
                rate = python_rate(model, a) if side == "python" else xfer_rate(model, a)
                rates.setdefault((model, side), []).append(rate)
                print(json.dumps({"repeat": r, "model": model, "side": side,
                                  "images_per_s": round(rate, 3), "load": os.getloadavg()[0]}),
                      flush=True)
    summary = {}
    for model in a.models.split(","):
        py = statistics.median(rates[(model, "python")])
        xf = statistics.median(rates[(model, "xfer")])
        summary[model] = {"python": round(py, 3), "xfer": round(xf, 3), "ratio": round(xf / py, 3)}
    print(json.dumps({"summary": summary, "batch": a.batch, "threads": a.threads}), flush=True)


if __name__ == "__main__":
    main()
