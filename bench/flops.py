#!/usr/bin/python3
"""Arithmetic of a backbone forward: multiply-accumulates of every convolution and linear layer.

usage: bench/flops.py [--models resnet18,mobilenet_v2] [--size 224] [--matmul] [--threads 2]

The backbone is torchvision's model with its head replaced by Identity, as bench_inference times
xfer's features(). One MAC = 2 FLOP; batch norm, activations, pooling and additions are not counted
(under 2 % of the total for these models). Prints one line per model: GMAC and GFLOP per image,
for the GFLOP/s figures of docs/BENCHMARKS.md (img/s × GFLOP per image).

--matmul also times torch.mm of two 4096 × 4096 matrices in fp32 and in bf16 (THREADS threads, one
warm-up, median of 5): the rate this CPU reaches on the friendliest work, from which BENCHMARKS.md
derives a floor on its clock.
"""
import argparse
import statistics
import time

import torch

from inference_torchvision import backbone  # this folder is on sys.path when run as a script


def macs(model, size):
    total = 0

    def conv(module, inputs, output):
        nonlocal total
        kh, kw = module.kernel_size
        total += output.numel() * (module.in_channels // module.groups) * kh * kw

    def linear(module, inputs, output):
        nonlocal total
        total += output.numel() * module.in_features

    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(conv)
        elif isinstance(module, torch.nn.Linear):
            module.register_forward_hook(linear)
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    return total


def matmul_rate(dtype, n=4096, repeats=5):
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        rates.append(2 * n ** 3 / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates), rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="resnet18,mobilenet_v2")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--matmul", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    for name in args.models.split(","):
        count = macs(backbone(name), args.size)
        print(f"{name} at {args.size} px: {count / 1e9:.3f} GMAC, {2 * count / 1e9:.3f} GFLOP per image")
    if args.matmul:
        torch.set_num_threads(args.threads)
        for dtype in (torch.float32, torch.bfloat16):
            median, rates = matmul_rate(dtype)
            print(f"torch.mm 4096 {dtype}, {args.threads} threads: {median:.1f} GFLOP/s "
                  f"(runs: {', '.join(f'{r:.1f}' for r in rates)})")


if __name__ == "__main__":
    main()
