#!/usr/bin/python3
"""Writes the checkpoint-layout fixtures of tests/fixtures/weights/ (run by hand with Debian's
python3-torch; tools/make_weight_fixtures.py writes the others).

    /usr/bin/python3 tools/make_checkpoint_fixtures.py [OUT_DIR]

Each file is a layout that real checkpoints use (docs/weights.md): the PyTorch tutorial's
{'model_state_dict', 'optimizer_state_dict', 'epoch', 'loss'}, a PyTorch Lightning checkpoint whose
module keeps its network as `self.model`, {'net': DataParallel state_dict}, quantized tensors
(per tensor, per channel, channels-last), argparse.Namespace with numpy arrays and scalars, whole
pickled nn.Modules (legacy and zip), and two files xfer must refuse: a TorchScript archive and a
checkpoint holding an object of a user class. expected_layouts.txt lists every tensor of every
readable file under the key path xfer gives it (name, dtype as torch or numpy names it, shape,
values as float64; quantized tensors: their int_repr()).
"""

import argparse
import collections
import os
import sys

import numpy as np
import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "weights")

expected = []


def record(filename, tensors):
    for name, t in tensors.items():
        if isinstance(t, np.ndarray):
            dtype = str(t.dtype)
            values = t.reshape(-1).astype(np.float64).tolist()
        else:
            dtype = str(t.dtype).replace("torch.", "")
            data = t.int_repr() if t.is_quantized else t.detach()
            values = data.reshape(-1).to(torch.float64).tolist()
        shape = ",".join(str(d) for d in t.shape)
        expected.append(f"{filename}\t{name}\t{dtype}\t{shape}\t" + " ".join(repr(v) for v in values))


def save(filename, obj, legacy=False):
    torch.save(obj, os.path.join(OUT, filename), _use_new_zipfile_serialization=not legacy)


def small_model():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    with torch.no_grad():
        model[1].running_mean.copy_(torch.tensor([0.5, -0.5, 0.25, -0.25]))
        model[1].num_batches_tracked.fill_(2)
    return model


def flat(prefix, sd):
    return collections.OrderedDict((prefix + k, v) for k, v in sd.items())


class Vocab:
    """A user class, as in checkpoints that pickle their vocabulary: xfer must refuse it."""

    def __init__(self):
        self.words = ["a", "b"]


def main():
    os.makedirs(OUT, exist_ok=True)
    model = small_model()
    sd = model.state_dict()

    # The PyTorch tutorial "Saving and loading a general checkpoint".
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    sd = model.state_dict()
    tutorial = {"epoch": 5, "model_state_dict": sd, "optimizer_state_dict": optimizer.state_dict(),
                "loss": torch.tensor(0.25)}
    save("tutorial.pth", tutorial)
    entries = flat("model_state_dict.", sd)
    for index, state in optimizer.state_dict()["state"].items():
        entries[f"optimizer_state_dict.state.{index}.momentum_buffer"] = state["momentum_buffer"]
    entries["loss"] = tutorial["loss"]
    record("tutorial.pth", entries)

    # PyTorch Lightning 1.x: the LightningModule's own keys (`model.` + the network's).
    lightning = {"epoch": 1, "global_step": 10, "pytorch-lightning_version": "1.9.0",
                 "state_dict": flat("model.", sd),
                 "optimizer_states": [{"state": {0: {"exp_avg": torch.full((4, 3), 0.5)}},
                                       "param_groups": [{"lr": 0.001, "params": [0]}]}],
                 "lr_schedulers": [], "callbacks": {"EarlyStopping": {"wait_count": 0}}}
    save("lightning.ckpt", lightning)
    entries = flat("state_dict.model.", sd)
    entries["optimizer_states.0.state.0.exp_avg"] = lightning["optimizer_states"][0]["state"][0]["exp_avg"]
    record("lightning.ckpt", entries)

    # kuangliu/pytorch-cifar and many others: {'net': DataParallel's state_dict, 'acc', 'epoch'}.
    save("net_dataparallel.pth", {"net": flat("module.", sd), "acc": 91.25, "epoch": 3})
    record("net_dataparallel.pth", flat("net.module.", sd))

    # Quantized tensors: per tensor (channels-last, non-contiguous), per channel, quint8.
    torch.manual_seed(2)
    weight = torch.randn(2, 3, 2, 2).contiguous(memory_format=torch.channels_last)
    quantized = collections.OrderedDict([
        ("conv.weight", torch.quantize_per_tensor(weight, 0.05, 3, torch.qint8)),
        ("conv.bias", torch.tensor([0.5, -0.5])),
        ("fc.weight", torch.quantize_per_channel(torch.randn(3, 2), torch.tensor([0.1, 0.2, 0.3]),
                                                 torch.tensor([0, 1, -2]), 0, torch.qint8)),
        ("act", torch.quantize_per_tensor(torch.rand(4), 0.01, 128, torch.quint8)),
    ])
    assert not quantized["conv.weight"].is_contiguous()
    save("quantized.pth", collections.OrderedDict(list(quantized.items()) + [("dtype", torch.qint8)]))
    record("quantized.pth", quantized)

    # chemprop v1 and cgcnn: argparse.Namespace, numpy arrays and numpy scalars beside the weights.
    arrays = collections.OrderedDict([
        ("means", np.array([1.5, -2.0])),
        ("fortran", np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3))),
        ("wide", np.array([1, 65535], dtype=np.uint16)),
    ])
    namespace = {"args": argparse.Namespace(lr=0.1, device=torch.device("cpu"), layers=[1, 2]),
                 "state_dict": sd, "scaler": arrays, "best": np.float64(0.75),
                 "count": np.int64(3)}
    save("namespace_numpy.pth", namespace)
    entries = flat("state_dict.", sd)
    entries.update(flat("scaler.", arrays))
    record("namespace_numpy.pth", entries)

    # A whole nn.Module: legacy files pickle its class with its source, zip files by name.
    torch.manual_seed(3)
    whole = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.BatchNorm1d(3))
    save("whole_module_legacy.pth", whole, legacy=True)
    save("whole_module_zip.pth", whole)
    record("whole_module_legacy.pth", whole.state_dict())
    record("whole_module_zip.pth", whole.state_dict())

    # Refused: TorchScript, and a user class beside the weights.
    torch.jit.script(torch.nn.Linear(2, 2)).save(os.path.join(OUT, "torchscript.pt"))
    save("user_class.pth", {"model_state_dict": sd, "vocab": Vocab()})

    with open(os.path.join(OUT, "expected_layouts.txt"), "w") as f:
        f.write(f"# @generated by tools/make_checkpoint_fixtures.py with torch=={torch.__version__} "
                f"numpy=={np.__version__}; do not edit\n")
        f.write("# file\tkey path\tdtype\tshape\tvalues (flattened, as float64; quantized: int_repr)\n")
        f.write("\n".join(expected) + "\n")


if __name__ == "__main__":
    main()
