#!/usr/bin/env python3
"""Images/s of one fine-tuning step in plain PyTorch: forward, cross-entropy, backward, Adam step.

Usage: /usr/bin/python3 bench/train_step.py [--models resnet18,mobilenet_v2] [--batch 32]
       [--size 224] [--threads 2] [--steps 5] [--warmup 2] [--layout nchw|channels_last]
Prints one JSON line a model: {"model", "batch", "size", "threads", "images_per_s", "step_s"}.
The step is the whole network in train mode (batch norm updating), every parameter in Adam (lr 1e-4),
10 classes, random inputs and labels (seeded): the arithmetic, not the data, is what is timed.
"""
import argparse, json, statistics, time
import torch, torchvision

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="resnet18,mobilenet_v2")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--layout", default="nchw", choices=["nchw", "channels_last"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for name in a.models.split(","):
        model = getattr(torchvision.models, name)(num_classes=10)
        fmt = torch.channels_last if a.layout == "channels_last" else torch.contiguous_format
        model = model.to(memory_format=fmt).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        x = torch.randn(a.batch, 3, a.size, a.size).contiguous(memory_format=fmt)
        y = torch.randint(0, 10, (a.batch,))
        times = []
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            loss.item()
            dt = time.perf_counter() - t0
            if i >= a.warmup:
                times.append(dt)
        med = statistics.median(times)
        print(json.dumps({"model": name, "batch": a.batch, "size": a.size, "threads": a.threads,
                          "layout": a.layout, "step_s": round(med, 4),
                          "images_per_s": round(a.batch / med, 2)}), flush=True)

if __name__ == "__main__":
    main()
