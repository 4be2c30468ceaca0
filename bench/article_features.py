#!/usr/bin/env python3
"""The seed article's feature-extraction recipe as plain PyTorch (the reference for `xfer train
--preset seed-features`).

resnet18 from a state_dict file, every backbone parameter frozen, the head replaced by
nn.Sequential(Linear(512,512), ReLU, Dropout(0.4), Linear(512,256), ReLU, Dropout(0.4), Linear(256,10))
(the layout of xfer's `--head mlp:512,256 --dropout 0.4`), Adam(model.fc.parameters(), lr 1e-4,
weight_decay 1e-5), batch 32, images Resize(224) (32 px CIFAR -> 224x224) + ImageNet normalisation.
As in the article the frozen backbone is recomputed on every batch of every epoch, with a validation
pass each epoch. Two deliberate differences from the article, both matching xfer: the backbone is in
eval mode (the article's model.train() would move the frozen batch-norm statistics), and the best
epoch is chosen on a validation split (10 % of train, stratified, seeded), not on the test set; the
best epoch's head is evaluated once on the test split at the end.

Usage: /usr/bin/python3 bench/article_features.py --data DIR (train/<class>, test/<class>)
       --weights resnet18.pth [--epochs 20] [--threads 2] [--seed 0]
Prints progress to stderr and one JSON line to stdout: wall_s, best_epoch, val and test accuracy.
"""
import argparse, json, random, sys, time
import torch, torch.nn as nn, torchvision
from torchvision import datasets, transforms


def stratified_split(targets, fraction, seed):
    by_class = {}
    for i, t in enumerate(targets):
        by_class.setdefault(t, []).append(i)
    rng = random.Random(seed)
    train, val = [], []
    for t in sorted(by_class):
        idx = by_class[t][:]
        rng.shuffle(idx)
        k = max(1, round(len(idx) * fraction))
        val += idx[:k]
        train += idx[k:]
    return sorted(train), sorted(val)


def evaluate(model, loader, criterion):
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            loss_sum += criterion(out, y).item() * y.size(0)
            correct += (out.argmax(1) == y).sum().item()
            n += y.size(0)
    return loss_sum / n, correct / n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    a = p.parse_args()
    start = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    tf = transforms.Compose([transforms.Resize(224), transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    full = datasets.ImageFolder(f"{a.data}/train", tf)
    test = datasets.ImageFolder(f"{a.data}/test", tf)
    tr_idx, va_idx = stratified_split(full.targets, a.val_fraction, a.seed)
    train_loader = torch.utils.data.DataLoader(torch.utils.data.Subset(full, tr_idx), batch_size=32,
                                               shuffle=True)
    val_loader = torch.utils.data.DataLoader(torch.utils.data.Subset(full, va_idx), batch_size=32)
    test_loader = torch.utils.data.DataLoader(test, batch_size=32)

    model = torchvision.models.resnet18()
    model.load_state_dict(torch.load(a.weights))
    for param in model.parameters():
        param.requires_grad = False
    model.fc = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.4),
                             nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.4),
                             nn.Linear(256, len(full.classes)))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.fc.parameters(), lr=1e-4, weight_decay=1e-5)

    best = (-1.0, 0.0, 0)
    best_head = None
    for epoch in range(1, a.epochs + 1):
        model.eval()        # frozen backbone: batch-norm statistics fixed (as xfer)
        model.fc.train()    # dropout on in the head
        t0 = time.perf_counter()
        loss_sum, correct, n = 0.0, 0, 0
        for x, y in train_loader:
            optimizer.zero_grad()
            out = model(x)  # the backbone recomputed on every batch, as in the article
            loss = criterion(out, y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * y.size(0)
            correct += (out.argmax(1) == y).sum().item()
            n += y.size(0)
        val_loss, val_acc = evaluate(model, val_loader, criterion)
        print(f"epoch {epoch}: train loss {loss_sum / n:.4f} acc {correct / n:.4f}, "
              f"val loss {val_loss:.4f} acc {val_acc:.4f} ({time.perf_counter() - t0:.1f} s)",
              file=sys.stderr, flush=True)
        if val_acc > best[0] or (val_acc == best[0] and val_loss < best[1]):
            best = (val_acc, val_loss, epoch)
            best_head = {k: v.clone() for k, v in model.fc.state_dict().items()}
    model.fc.load_state_dict(best_head)
    test_loss, test_acc = evaluate(model, test_loader, criterion)
    print(json.dumps({"wall_s": round(time.perf_counter() - start, 2), "best_epoch": best[2],
                      "val_top1": best[0], "test_top1": test_acc, "test_loss": test_loss,
                      "train": len(tr_idx), "val": len(va_idx), "test": len(test)}), flush=True)


if __name__ == "__main__":
    main()
