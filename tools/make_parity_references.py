#!/usr/bin/python3
"""Writes tests/fixtures/parity/*.txt: what torchvision's models compute on closed-form weights.

Run by hand with Debian's python3-torchvision (torch 1.13.1, torchvision 0.14.1):

    /usr/bin/python3 tools/make_parity_references.py

For every torchvision architecture in xfer's zoo it builds the model, overwrites every parameter
and buffer with the closed-form fill of tests/support/fill.h (mirrored here by fill_closed_form),
runs the closed-form image batch of closed_form_images, and writes the state_dict's keys, shapes
and dtypes, the logits and two intermediate outputs (captured by forward hooks). The format is
described in docs/parity.md; tests/parity/test_parity.cpp reads it.
"""

import math
import os
import sys

import torch
import torchvision

# The fill and the input: keep in step with tests/support/fill.{h,cpp}.
PERIOD = 65521  # the largest prime below 2**16
WEIGHT_GAIN = 2.0  # He's gain for ReLU networks
IMAGE_SIZE = 64
BATCH = 2

# Intermediates of more elements than this are stored as shape, sums and a strided sample.
FULL_LIMIT = 2048
SAMPLE_COUNT = 1024


def name_hash(name):
    """FNV-1a, 64 bits, of the UTF-8 bytes of `name`."""
    h = 0xCBF29CE484222325
    for byte in name.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def fill_offset_and_scale(name, shape):
    """The affine map applied to the bounded periodic function, chosen by name and rank."""
    numel = math.prod(shape)
    if len(shape) >= 2:
        fan_in = numel // shape[0]
        return 0.0, math.sqrt(2.0 * WEIGHT_GAIN / fan_in)
    if name.split(".")[-1] in ("running_var", "weight"):
        return 1.0, 0.25
    return 0.0, 0.1


def closed_form_tensor(name, shape):
    """float32 tensor of `shape`: element i is offset + scale * cos(2 pi r(i mod P) / P) with
    r(j) = (a j^2 + c j + b) mod P, a, b, c from the hash of `name`; computed in double."""
    h = name_hash(name)
    a = 1 + h % (PERIOD - 1)
    c = (h >> 16) % PERIOD
    b = (h >> 32) % PERIOD
    j = torch.arange(PERIOD, dtype=torch.int64)
    r = torch.remainder(j * j * a + j * c + b, PERIOD)
    g = torch.cos(r.to(torch.float64) * (2.0 * math.pi / PERIOD))
    offset, scale = fill_offset_and_scale(name, shape)
    period = (g * scale + offset).to(torch.float32)
    numel = math.prod(shape)
    repeats = (numel + PERIOD - 1) // PERIOD
    return period.repeat(max(repeats, 1))[:numel].reshape(shape)


def fill_closed_form(module):
    """Overwrites every floating-point parameter and buffer of `module` with closed_form_tensor."""
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if not tensor.is_floating_point():
                continue
            tensor.copy_(closed_form_tensor(name, list(tensor.shape)))


def closed_form_images(n, h, w):
    """[n,3,h,w] float32: sin(0.071 y (c+1) + 0.113 x + 1.3 c + 2.9 k) + 0.5 cos(0.0037 x y + 0.5 k
    - c) at image k, channel c, row y, column x; computed in double."""
    k = torch.arange(n, dtype=torch.float64).view(n, 1, 1, 1)
    c = torch.arange(3, dtype=torch.float64).view(1, 3, 1, 1)
    y = torch.arange(h, dtype=torch.float64).view(1, 1, h, 1)
    x = torch.arange(w, dtype=torch.float64).view(1, 1, 1, w)
    first = torch.sin(y * (c + 1.0) * 0.071 + x * 0.113 + c * 1.3 + k * 2.9)
    second = torch.cos(x * y * 0.0037 + k * 0.5 - c) * 0.5
    return (first + second).to(torch.float32)


def dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def format_values(values):
    lines = []
    for start in range(0, len(values), 8):
        lines.append(" ".join("%.9g" % v for v in values[start:start + 8]))
    return lines


def tensor_section(label, tensor):
    """Lines describing `tensor`: all values when small, else sums and a strided sample."""
    flat = tensor.detach().to(torch.float64).reshape(-1)
    shape = " ".join(str(d) for d in tensor.shape)
    lines = ["tensor %s" % label, ("shape %s" % shape).rstrip()]
    lines.append("sum %.17g" % flat.sum().item())
    lines.append("abs_sum %.17g" % flat.abs().sum().item())
    numel = flat.numel()
    if numel <= FULL_LIMIT:
        lines.append("values %d" % numel)
        lines += format_values(flat.to(torch.float32).tolist())
    else:
        # An odd stride, so that a power-of-two width does not pin the sample to one column.
        stride = numel // SAMPLE_COUNT
        if stride % 2 == 0:
            stride -= 1
        offset = stride // 2
        indices = [offset + k * stride for k in range(SAMPLE_COUNT)]
        lines.append("sample %d" % SAMPLE_COUNT)
        sample = flat[torch.tensor(indices)].to(torch.float32).tolist()
        lines += ["%d %.9g" % (i, v) for i, v in zip(indices, sample)]
    lines.append("end")
    return lines


def keys_section(model):
    lines = []
    for key, tensor in model.state_dict().items():
        dims = " ".join(str(d) for d in tensor.shape)
        lines.append(("key %s %s %s" % (key, dtype_name(tensor.dtype), dims)).rstrip())
    return lines


def run_with_hooks(model, images, paths):
    """The model's output and clones of the outputs of the modules at `paths`."""
    captured = {}
    modules = dict(model.named_modules())
    handles = []
    for path in paths:
        def hook(module, inputs, output, path=path):
            captured[path] = output.detach().clone()
        handles.append(modules[path].register_forward_hook(hook))
    with torch.no_grad():
        output = model(images)
    for handle in handles:
        handle.remove()
    return output, captured


def header(versions):
    return ("# @generated by tools/make_parity_references.py with torch==%s torchvision==%s; "
            "do not edit" % versions)


def write(path, lines):
    with open(path + ".tmp", "w") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


# name -> (two intermediate module paths)
TAPS = {
    "resnet18": ["layer1.0.conv1", "layer4.1.conv2"],
    "resnet34": ["layer1.0.conv1", "layer4.2.conv2"],
    "resnet50": ["layer1.0.conv1", "layer4.2.conv3"],
    "resnet101": ["layer1.0.conv1", "layer4.2.conv3"],
    "resnet152": ["layer1.0.conv1", "layer4.2.conv3"],
    "resnext50_32x4d": ["layer1.0.conv2", "layer4.2.conv3"],
    "resnext101_32x8d": ["layer1.0.conv2", "layer4.2.conv3"],
    "resnext101_64x4d": ["layer1.0.conv2", "layer4.2.conv3"],
    "wide_resnet50_2": ["layer1.0.conv2", "layer4.2.conv3"],
    "wide_resnet101_2": ["layer1.0.conv2", "layer4.2.conv3"],
    "alexnet": ["features.2", "classifier.5"],
    "vgg11": ["features.3", "classifier.4"],
    "vgg11_bn": ["features.3", "classifier.4"],
    "vgg13": ["features.3", "classifier.4"],
    "vgg13_bn": ["features.3", "classifier.4"],
    "vgg16": ["features.3", "classifier.4"],
    "vgg16_bn": ["features.3", "classifier.4"],
    "vgg19": ["features.3", "classifier.4"],
    "vgg19_bn": ["features.3", "classifier.4"],
    "googlenet": ["inception3a", "inception4e"],
    "inception_v3": ["Mixed_5b", "Mixed_7c"],
    "mobilenet_v2": ["features.3", "features.17"],
    "mobilenet_v3_small": ["features.4", "features.12"],
    "mobilenet_v3_large": ["features.4", "features.12"],
    "efficientnet_b0": ["features.2.0.block.1", "features.5.0.block.2"],
    "efficientnet_b1": ["features.2.0.block.1", "features.5.0.block.2"],
    "efficientnet_b2": ["features.2.0.block.1", "features.5.0.block.2"],
    "efficientnet_b3": ["features.2.0.block.1", "features.5.0.block.2"],
    "efficientnet_b4": ["features.2.0.block.1", "features.5.0.block.2"],
    "efficientnet_b5": ["features.2.0.block.1", "features.5.0.block.2"],
    "efficientnet_b6": ["features.2.0.block.1", "features.5.0.block.2"],
    "efficientnet_b7": ["features.2.0.block.1", "features.5.0.block.2"],
    "efficientnet_v2_s": ["features.2.0.block.1", "features.5.0.block.2"],
    "efficientnet_v2_m": ["features.2.0.block.1", "features.5.0.block.2"],
    "efficientnet_v2_l": ["features.2.0.block.1", "features.5.0.block.2"],
    "convnext_tiny": ["features.1.0.block.3", "features.5.2"],
    "convnext_small": ["features.1.0.block.3", "features.5.2"],
    "convnext_base": ["features.1.0.block.3", "features.5.2"],
    "convnext_large": ["features.1.0.block.3", "features.5.2"],
    "regnet_y_400mf": ["trunk_output.block2.block2-0.f.se", "trunk_output.block4"],
    "regnet_y_800mf": ["trunk_output.block2.block2-0.f.se", "trunk_output.block4"],
    "regnet_y_1_6gf": ["trunk_output.block2.block2-0.f.se", "trunk_output.block4"],
    "regnet_y_3_2gf": ["trunk_output.block2.block2-0.f.se", "trunk_output.block4"],
    "regnet_y_8gf": ["trunk_output.block2.block2-0.f.se", "trunk_output.block4"],
    "regnet_y_16gf": ["trunk_output.block2.block2-0.f.se", "trunk_output.block4"],
    "regnet_y_32gf": ["trunk_output.block2.block2-0.f.se", "trunk_output.block4"],
    "regnet_y_128gf": ["trunk_output.block2.block2-0.f.se", "trunk_output.block4"],
    "regnet_x_400mf": ["trunk_output.block1.block1-0.f.b", "trunk_output.block4"],
    "regnet_x_800mf": ["trunk_output.block1.block1-0.f.b", "trunk_output.block4"],
    "regnet_x_1_6gf": ["trunk_output.block1.block1-0.f.b", "trunk_output.block4"],
    "regnet_x_3_2gf": ["trunk_output.block1.block1-0.f.b", "trunk_output.block4"],
    "regnet_x_8gf": ["trunk_output.block1.block1-0.f.b", "trunk_output.block4"],
    "regnet_x_16gf": ["trunk_output.block1.block1-0.f.b", "trunk_output.block4"],
    "regnet_x_32gf": ["trunk_output.block1.block1-0.f.b", "trunk_output.block4"],
    "shufflenet_v2_x0_5": ["stage2.0.branch1", "stage4.3"],
    "shufflenet_v2_x1_0": ["stage2.0.branch1", "stage4.3"],
    "shufflenet_v2_x1_5": ["stage2.0.branch1", "stage4.3"],
    "shufflenet_v2_x2_0": ["stage2.0.branch1", "stage4.3"],
    "squeezenet1_0": ["features.3", "classifier.2"],
    "squeezenet1_1": ["features.3", "classifier.2"],
    "mnasnet0_5": ["layers.8.0", "layers.13"],
    "mnasnet0_75": ["layers.8.0", "layers.13"],
    "mnasnet1_0": ["layers.8.0", "layers.13"],
    "mnasnet1_3": ["layers.8.0", "layers.13"],
    "densenet121": ["features.denseblock1.denselayer2", "features.transition3"],
    "densenet161": ["features.denseblock1.denselayer2", "features.transition3"],
    "densenet169": ["features.denseblock1.denselayer2", "features.transition3"],
    "densenet201": ["features.denseblock1.denselayer2", "features.transition3"],
    "vit_b_16": ["encoder.layers.encoder_layer_0", "encoder.ln"],
    "vit_b_32": ["encoder.layers.encoder_layer_0", "encoder.ln"],
    "vit_l_16": ["encoder.layers.encoder_layer_0", "encoder.ln"],
    "vit_l_32": ["encoder.layers.encoder_layer_0", "encoder.ln"],
    "vit_h_14": ["encoder.layers.encoder_layer_0", "encoder.ln"],
    "swin_t": ["features.1.1", "features.6"],
    "swin_s": ["features.1.1", "features.6"],
    "swin_b": ["features.1.1", "features.6"],
    "swin_v2_t": ["features.1.1", "features.6"],
    "swin_v2_s": ["features.1.1", "features.6"],
    "swin_v2_b": ["features.1.1", "features.6"],
    "maxvit_t": ["blocks.0.layers.0.layers.MBconv",
                 "blocks.3.layers.1.layers.grid_attention"],
}

# The Vision Transformers are built for the images they compare on (torchvision's image_size):
# 64 px, or 56 px for ViT-H/14, whose patch does not divide 64.
VIT_IMAGE_SIZE = {"vit_b_16": 64, "vit_b_32": 64, "vit_l_16": 64, "vit_l_32": 64, "vit_h_14": 56}

# Models whose smallest input is above 64 px compare at their own size (Inception v3's 75). The
# Swin Transformers compare at 72 px: 18 x 18 patches, so the first two stages pad to whole
# windows and shift them (the mask over padding), and patch merging pads odd sides (9, 5, 3).
# MaxViT takes only multiples of 224 (its blocks' grids divide into 7 x 7 partitions).
IMAGE_SIZE_OF = {"inception_v3": 80, "swin_t": 72, "swin_s": 72, "swin_b": 72, "swin_v2_t": 72,
                 "swin_v2_s": 72, "swin_v2_b": 72, "maxvit_t": 224}


# Compared in training mode (dropout and stochastic depth off): on the closed-form fill the eval
# activations of these deep EfficientNets grow to 1e6 through the fixed running statistics, and
# the rounding of one kernel against another (ATen's scalar kernels, oneDNN capped at AVX2)
# grows with them, to 60 % of the logits for B7; batch statistics keep every layer normalised.
# Their eval path is the shallower EfficientNets' (B0-B3), the same modules.
BATCH_STATISTICS = {"efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
                    "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l"}


def build(name, **kwargs):
    if name in ("googlenet", "inception_v3"):
        kwargs.setdefault("aux_logits", True)
        kwargs.setdefault("init_weights", True)
    model = getattr(torchvision.models, name)(num_classes=1000, **kwargs)
    fill_closed_form(model)
    return model


def reference_lines(versions, name, mode, options, model, images, paths):
    lines = [header(versions), "model %s" % name, "mode %s" % mode]
    lines += ["option %s" % option for option in options]
    lines.append("input %s" % " ".join(str(d) for d in images.shape))
    lines += keys_section(model)
    output, captured = run_with_hooks(model, images, paths)
    logits = output if torch.is_tensor(output) else output[0]
    lines += tensor_section("logits", logits)
    for path in paths:
        lines += tensor_section("output:%s" % path, captured[path])
    if not torch.is_tensor(output):
        # Which auxiliary classifier's output stands at each position after the logits of
        # GoogLeNetOutputs(logits, aux_logits2, aux_logits1): torchvision 0.14's forward swaps the
        # names, so position 1 (aux_logits2) holds aux1's output.
        order = []
        for aux in output[1:]:
            order += [path for path in paths if torch.equal(aux, captured[path])]
        if len(order) != len(output) - 1:
            sys.exit("googlenet: expected every auxiliary output among the hooked %s" % paths)
        lines.append("aux_order %s" % " ".join(order))
    return lines


def eval_dropout(model):
    """Dropout and stochastic depth modules in eval mode (identity), so a training-mode forward is
    deterministic."""
    for module in model.modules():
        if isinstance(module, (torch.nn.Dropout, torchvision.ops.StochasticDepth)):
            module.eval()


# Tensors of the fill whose C++ values tests/parity checks against these, model or no model.
FILL_CHECKS = [
    ("conv1.weight", [64, 3, 7, 7]),
    ("features.0.0.weight", [32, 1, 3, 3]),
    ("classifier.0.weight", [4096, 25088]),
    ("fc.bias", [1000]),
    ("bn1.weight", [64]),
    ("layer1.0.bn1.running_mean", [64]),
    ("layer1.0.bn1.running_var", [64]),
    ("scalar", []),
]


def fill_reference_lines(versions, images):
    lines = [header(versions), "model fill", "mode none"]
    lines.append("input %s" % " ".join(str(d) for d in images.shape))
    for name, shape in FILL_CHECKS:
        lines += tensor_section("fill:%s" % name, closed_form_tensor(name, shape))
    lines += tensor_section("images", images)
    return lines


def main():
    if not torch.__version__.startswith("1.13") or not torchvision.__version__.startswith("0.14"):
        sys.exit("expected torch 1.13 and torchvision 0.14, found %s and %s"
                 % (torch.__version__, torchvision.__version__))
    # Debian's builds report 1.13.0a0 and 0.14.1a0; the packages are 1.13.1 and 0.14.1.
    versions = ("1.13.1", "0.14.1")
    torch.manual_seed(0)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    out_dir = os.path.join(root, "tests", "fixtures", "parity")
    os.makedirs(out_dir, exist_ok=True)
    images = closed_form_images(BATCH, IMAGE_SIZE, IMAGE_SIZE)

    for name, paths in TAPS.items():
        options = []
        kwargs = {}
        model_images = images
        if name in VIT_IMAGE_SIZE:
            size = VIT_IMAGE_SIZE[name]
            kwargs["image_size"] = size
            options.append("image_size=%d" % size)
            model_images = closed_form_images(BATCH, size, size)
        if name in IMAGE_SIZE_OF:
            size = IMAGE_SIZE_OF[name]
            model_images = closed_form_images(BATCH, size, size)
        if name in BATCH_STATISTICS:
            model = build(name, **kwargs).train()
            eval_dropout(model)
            mode = "train_without_dropout"
        else:
            model = build(name, **kwargs).eval()
            mode = "eval"
        write(os.path.join(out_dir, name + ".txt"),
              reference_lines(versions, name, mode, options, model, model_images, paths))

    # BatchNorm on batch statistics, and the running statistics it leaves behind.
    model = build("resnet18").train()
    lines = reference_lines(versions, "resnet18", "train", [], model, images,
                            ["layer1.0.bn1", "layer4.1.bn2"])
    lines += tensor_section("buffer:bn1.running_mean", model.bn1.running_mean)
    lines += tensor_section("buffer:layer4.1.bn2.running_var", model.layer4[1].bn2.running_var)
    lines += tensor_section("buffer:bn1.num_batches_tracked", model.bn1.num_batches_tracked)
    write(os.path.join(out_dir, "resnet18_train.txt"), lines)

    # GoogLeNet in training mode with its dropouts off: the auxiliary classifiers run.
    model = build("googlenet").train()
    eval_dropout(model)
    write(os.path.join(out_dir, "googlenet_train.txt"),
          reference_lines(versions, "googlenet", "train_without_dropout", [], model, images,
                          ["aux1", "aux2"]))

    # EfficientNet in training mode, dropout and stochastic depth off: batch statistics through
    # squeeze-and-excitation and SiLU.
    model = build("efficientnet_b0").train()
    eval_dropout(model)
    write(os.path.join(out_dir, "efficientnet_b0_train.txt"),
          reference_lines(versions, "efficientnet_b0", "train_without_dropout", [], model, images,
                          ["features.2.0.block.1", "features.5.0.block.2"]))

    # ConvNeXt in training mode, stochastic depth off: LayerNorm has no batch statistics, so this
    # checks that the layer scale and stochastic depth's identity hold in training too.
    model = build("convnext_tiny").train()
    eval_dropout(model)
    write(os.path.join(out_dir, "convnext_tiny_train.txt"),
          reference_lines(versions, "convnext_tiny", "train_without_dropout", [], model, images,
                          ["features.1.0.block.3", "features.5.2"]))

    # Inception v3 in training mode with its dropout off, at the 299 px its auxiliary classifier
    # needs: AuxLogits runs on Mixed_6e's 17x17 output.
    model = build("inception_v3").train()
    eval_dropout(model)
    write(os.path.join(out_dir, "inception_v3_train.txt"),
          reference_lines(versions, "inception_v3", "train_without_dropout", [], model,
                          closed_form_images(BATCH, 299, 299), ["AuxLogits", "Mixed_7c"]))

    write(os.path.join(out_dir, "fill.txt"), fill_reference_lines(versions, images))

    model = build("googlenet", transform_input=True).eval()
    write(os.path.join(out_dir, "googlenet_transform_input.txt"),
          reference_lines(versions, "googlenet", "eval", ["transform_input"], model, images,
                          ["conv1"]))

    model = build("googlenet", aux_logits=False).eval()
    write(os.path.join(out_dir, "googlenet_no_aux.txt"),
          reference_lines(versions, "googlenet", "eval", ["no_aux_logits"], model, images,
                          ["inception5b"]))


if __name__ == "__main__":
    main()
