#!/usr/bin/python3
"""Loader throughput of torchvision's ImageFolder + DataLoader, as one JSON line.

The Python reference for bench/loader.cpp: the same folder, transform, workers, batch and epochs.
usage: loader_torchvision.py DIR TRANSFORM WORKERS BATCH EPOCHS
TRANSFORM is xfer's spec; the forms bench/run_loader.py uses are translated here:
"resize=S,center_crop=C,normalize=imagenet" and "resize=HxW,normalize=imagenet".
"""
import json
import sys
import time

import torch
import torchvision
from torchvision import transforms as T

IMAGENET = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def compose(spec):
    steps = []
    for step in spec.split(","):
        name, _, value = step.partition("=")
        if name == "resize":
            size = tuple(int(v) for v in value.split("x")) if "x" in value else int(value)
            steps.append(T.Resize(size))
        elif name == "center_crop":
            steps.append(T.CenterCrop(int(value)))
        elif name == "normalize" and value == "imagenet":
            steps.append(T.ToTensor())
            steps.append(IMAGENET)
        else:
            raise SystemExit(f"loader_torchvision.py: unsupported step '{step}'")
    if not any(isinstance(s, T.ToTensor) for s in steps):
        steps.append(T.ToTensor())
    return T.Compose(steps)


def run_epoch(loader):
    images = 0
    for batch, _ in loader:
        images += batch.shape[0]
    return images


def main():
    root, spec, workers, batch, epochs = sys.argv[1:6]
    workers, batch, epochs = int(workers), int(batch), int(epochs)
    torch.set_num_threads(1)  # as each DataLoader worker does
    dataset = torchvision.datasets.ImageFolder(root, transform=compose(spec))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=False,
                                         num_workers=workers)
    run_epoch(loader)  # warms the page cache, as bench_loader's untimed epoch
    start = time.perf_counter()
    images = sum(run_epoch(loader) for _ in range(epochs))
    seconds = time.perf_counter() - start
    print(json.dumps({"side": "torchvision", "images": images, "seconds": seconds,
                      "images_per_s": images / seconds}))


if __name__ == "__main__":
    main()
