#!/usr/bin/python3
"""Backbone forward throughput of one torchvision model in one configuration, as one JSON line.

The Python reference for bench/inference.cpp: same model, input, layout, precision, batch,
iterations and threads.  usage: inference_torchvision.py MODEL SIZE LAYOUT PRECISION BATCH ITERATIONS THREADS
"""
import json
import sys
import time

import torch
import torchvision


def backbone(name):
    """torchvision's `name` (random weights) up to the pooled features, as xfer's features(); eval mode."""
    model = getattr(torchvision.models, name)()
    if hasattr(model, "fc"):
        model.fc = torch.nn.Identity()
    else:
        model.classifier = torch.nn.Identity()
    return model.eval()


def main():
    name, size, layout, precision, batch, iterations, threads = sys.argv[1:8]
    size, batch, iterations, threads = int(size), int(batch), int(iterations), int(threads)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = backbone(name)
    images = torch.randn(batch, 3, size, size)
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    with torch.no_grad(), autocast:
        model(images)
        start = time.perf_counter()
        for _ in range(iterations):
            model(images)
        seconds = time.perf_counter() - start
    print(json.dumps({"side": "python", "model": name, "size": size, "layout": layout,
                      "precision": precision, "threads": torch.get_num_threads(),
                      "images_per_s": batch * iterations / seconds}))


if __name__ == "__main__":
    main()
