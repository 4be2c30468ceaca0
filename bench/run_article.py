#!/usr/bin/env python3
"""The article's feature extraction, side by side: bench/article_features.py (plain PyTorch, backbone
recomputed every epoch) and `xfer train --preset seed-features --no-cache` (backbone once), same
CIFAR-10 subset, 224x224, epochs, threads and initial weights (torchvision resnet18 after
torch.manual_seed(0), written by bench/export_resnet18_seed0.py; random, not ImageNet, weights:
accuracies are low on both sides, the point is that both start from the same tensors).

Usage: /usr/bin/python3 bench/run_article.py --cifar DIR (the extracted ../shared/data/cifar10-jpg.tar.gz)
       [--xfer build/xfer] [--train-per-class 10] [--test-per-class 10] [--epochs 20] [--threads 2]
       [--work /tmp/xfer-article]
The subset is the first N (train) and M (test) files of each class, by name, as symlinks under WORK.
Both programs run on all of it (xfer with --per-class 0 --test-per-class 0), each holding out 10 % of
train for validation. Prints one JSON line: the wall time of each, the ratio, both test accuracies.
"""
import argparse, json, os, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))


def make_subset(cifar, out, n_train, n_test):
    for split, n in (("train", n_train), ("test", n_test)):
        for cls in sorted(os.listdir(os.path.join(cifar, split))):
            src = os.path.join(cifar, split, cls)
            dst = os.path.join(out, split, cls)
            os.makedirs(dst, exist_ok=True)
            for f in sorted(os.listdir(src))[:n]:
                link = os.path.join(dst, f)
                if not os.path.exists(link):
                    os.symlink(os.path.abspath(os.path.join(src, f)), link)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cifar", required=True)
    p.add_argument("--xfer", default=os.path.join(HERE, "..", "build", "xfer"))
    p.add_argument("--train-per-class", type=int, default=10)
    p.add_argument("--test-per-class", type=int, default=10)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--work", default="/tmp/xfer-article")
    p.add_argument("--order", default="python,xfer")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    subset = os.path.join(a.work, f"subset-{a.train_per_class}-{a.test_per_class}")
    make_subset(a.cifar, subset, a.train_per_class, a.test_per_class)
    weights = os.path.join(a.work, "resnet18-seed0.pth")
    if not os.path.exists(weights):
        subprocess.run([sys.executable, os.path.join(HERE, "export_resnet18_seed0.py"), weights],
                       check=True)
    result = {"train_per_class": a.train_per_class, "test_per_class": a.test_per_class,
              "epochs": a.epochs, "threads": a.threads, "load_before": os.getloadavg()[0]}
    for side in a.order.split(","):
        t0 = time.perf_counter()
        if side == "python":
            out = subprocess.run([sys.executable, os.path.join(HERE, "article_features.py"),
                                  "--data", subset, "--weights", weights, "--epochs", str(a.epochs),
                                  "--threads", str(a.threads)],
                                 check=True, stdout=subprocess.PIPE, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            result["python_s"] = round(time.perf_counter() - t0, 2)
            result["python_test_top1"] = r["test_top1"]
            result["python_best_epoch"] = r["best_epoch"]
        else:
            run_dir = os.path.join(a.work, f"xfer-run-{int(time.time())}")
            subprocess.run([a.xfer, "train", "--preset", "seed-features", "--weights", weights,
                            "--data", "folder:" + subset, "--per-class", "0", "--test-per-class",
                            "0", "--epochs", str(a.epochs), "--threads", str(a.threads),
                            "--workers", str(a.threads), "--no-cache", "--out", run_dir],
                           check=True)
            result["xfer_s"] = round(time.perf_counter() - t0, 2)
            with open(os.path.join(run_dir, "results.json")) as f:
                r = json.load(f)
            result["xfer_results"] = {k: r[k] for k in r if "test" in k or "best" in k}
        result["load_after_" + side] = os.getloadavg()[0]
    if "python_s" in result and "xfer_s" in result:
        result["ratio"] = round(result["python_s"] / result["xfer_s"], 2)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
