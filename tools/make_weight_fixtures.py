#!/usr/bin/python3
"""Writes the tiny weight files of tests/fixtures/weights/ (run by hand with Debian's python3-torch).

    /usr/bin/python3 tools/make_weight_fixtures.py [OUT_DIR]

Each file covers one case of xfer's readers: the zip and legacy torch.save formats, OrderedDict and
plain dict, whole checkpoints ({'state_dict': ...}, {'model': ...}, DataParallel `module.`
prefixes), every supported dtype, tensors sharing one storage, strided views with offsets, pickle
protocol 4, an nn.Parameter, a pickle that calls os.system (must be refused), truncated files and a
safetensors file written by hand from the public spec with struct and json. expected.txt lists every
tensor of every readable file (name, dtype, shape, values) for the C++ tests to compare against.
"""

import collections
import json
import os
import struct
import sys

import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "weights")

# The command the malicious pickle would run; the test checks that this file never appears.
MARKER = "/tmp/xfer_weights_fixture_pwned"

expected = []


def record(filename, tensors):
    for name, t in tensors.items():
        values = t.detach().reshape(-1).to(torch.float64).tolist()
        shape = ",".join(str(d) for d in t.shape)
        dtype = str(t.dtype).replace("torch.", "")
        expected.append(f"{filename}\t{name}\t{dtype}\t{shape}\t" + " ".join(repr(v) for v in values))


def save(filename, obj, tensors=None, legacy=False, **kwargs):
    path = os.path.join(OUT, filename)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy, **kwargs)
    if tensors is not None:
        record(filename, tensors)
    return path


def dtypes_dict():
    d = collections.OrderedDict()
    d["f32"] = torch.tensor([[1.5, -2.25, 3.0], [0.0, 1e-3, -7.5]], dtype=torch.float32)
    d["f16"] = torch.tensor([0.5, -1.0, 65504.0], dtype=torch.float16)
    d["bf16"] = torch.tensor([1.0, -3.5, 256.0], dtype=torch.bfloat16)
    d["f64"] = torch.tensor([3.141592653589793, -1e-300], dtype=torch.float64)
    d["i64"] = torch.tensor([-(2 ** 40), 7, 0], dtype=torch.int64)
    d["i32"] = torch.tensor([[-5, 6], [2 ** 30, -(2 ** 31)]], dtype=torch.int32)
    d["i16"] = torch.tensor([-300, 300], dtype=torch.int16)
    d["i8"] = torch.tensor([-128, 127], dtype=torch.int8)
    d["u8"] = torch.tensor([0, 200, 255], dtype=torch.uint8)
    d["bool"] = torch.tensor([True, False, True])
    d["scalar"] = torch.tensor(42.0)
    d["empty"] = torch.zeros(0, 3)
    return d


def views_dict():
    base = torch.arange(12, dtype=torch.float32)
    grid = base.view(3, 4)
    return collections.OrderedDict([
        ("base", base),
        ("row", base[4:8]),             # offset 4 into the shared storage
        ("transposed", grid.t()),       # strides (1, 4)
        ("sliced", grid[1:, ::2]),      # offset 4, strides (4, 2)
    ])


def linear_bn():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    with torch.no_grad():
        model[1].running_mean.copy_(torch.tensor([0.1, -0.2, 0.3, -0.4]))
        model[1].running_var.copy_(torch.tensor([1.5, 2.5, 3.5, 4.5]))
        model[1].num_batches_tracked.fill_(5)
    return model.state_dict()


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def safetensors_by_hand(filename):
    """safetensors per the public spec, without the safetensors package."""
    tensors = [
        ("weight", "F32", [2, 2], struct.pack("<4f", 1.0, -2.0, 0.5, 4.0)),
        ("steps", "I64", [3], struct.pack("<3q", 1, -2, 2 ** 40)),
        ("mask", "BOOL", [2], bytes([1, 0])),
        ("half", "F16", [2], struct.pack("<2e", 1.5, -0.25)),
        ("bias", "BF16", [1], struct.pack("<H", 0x4040)),  # 3.0
        ("ids", "I32", [2], struct.pack("<2i", -7, 9)),
        ("pixels", "U8", [2], bytes([3, 250])),
        ("precise", "F64", [1], struct.pack("<d", 0.1)),
    ]
    header = {"__metadata__": {"format": "pt", "source": "make_weight_fixtures"}}
    data = b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    with open(os.path.join(OUT, filename), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    record(filename, collections.OrderedDict([
        ("weight", torch.tensor([[1.0, -2.0], [0.5, 4.0]])),
        ("steps", torch.tensor([1, -2, 2 ** 40])),
        ("mask", torch.tensor([True, False])),
        ("half", torch.tensor([1.5, -0.25], dtype=torch.float16)),
        ("bias", torch.tensor([3.0], dtype=torch.bfloat16)),
        ("ids", torch.tensor([-7, 9], dtype=torch.int32)),
        ("pixels", torch.tensor([3, 250], dtype=torch.uint8)),
        ("precise", torch.tensor([0.1], dtype=torch.float64)),
    ]))


def truncate(source, filename, keep):
    with open(os.path.join(OUT, source), "rb") as f:
        raw = f.read()
    with open(os.path.join(OUT, filename), "wb") as f:
        f.write(raw[:int(len(raw) * keep)])


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = dtypes_dict()
    save("dtypes_zip.pth", sd, sd)
    save("dtypes_legacy.pth", sd, sd, legacy=True)
    save("dtypes_protocol4.pth", sd, sd, pickle_protocol=4)

    plain = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([3])}
    save("plain_dict.pth", plain, plain)

    views = views_dict()
    save("views_zip.pth", views, views)
    save("views_legacy.pth", views, views, legacy=True)

    model_sd = linear_bn()
    save("linear_bn.pth", model_sd, model_sd)

    prefixed = collections.OrderedDict(("module." + k, v) for k, v in model_sd.items())
    nested = {"state_dict": prefixed, "epoch": 3, "best_prec1": 91.5, "arch": "linear_bn"}
    save("nested_zip.pth", nested)
    save("nested_legacy.pth", nested, legacy=True)
    record("nested_zip.pth", model_sd)
    record("nested_legacy.pth", model_sd)

    save("model_key.pth", {"model": model_sd, "epoch": 7, "history": [0.5, 0.25]}, model_sd)

    param = collections.OrderedDict([("p", torch.nn.Parameter(torch.tensor([1.0, -1.0])))])
    save("parameter.pth", param, param)

    save("evil_zip.pth", {"w": torch.ones(1), "payload": Evil()})
    save("evil_legacy.pth", {"w": torch.ones(1), "payload": Evil()}, legacy=True)

    truncate("dtypes_zip.pth", "truncated_zip.pth", 0.6)
    truncate("dtypes_legacy.pth", "truncated_legacy.pth", 0.6)

    safetensors_by_hand("handmade.safetensors")

    with open(os.path.join(OUT, "expected.txt"), "w") as f:
        f.write(f"# @generated by tools/make_weight_fixtures.py with torch=={torch.__version__}; "
                "do not edit\n")
        f.write("# file\tname\tdtype\tshape\tvalues (flattened, as float64)\n")
        f.write("\n".join(expected) + "\n")


if __name__ == "__main__":
    main()
