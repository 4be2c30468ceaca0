#!/usr/bin/python3
"""Writes tests/fixtures/transforms/references.txt: torchvision 0.14's outputs for closed-form test
images, the references of tests/unit/transforms/test_transform_parity.cpp; and, when ../shared is
there, tests/fixtures/transforms/hymenoptera_eval.txt: every 101st value of torchvision's eval
transform (ImageFolder's PIL loader, Resize 256, CenterCrop 224, ToTensor, ImageNet Normalize) of
one hymenoptera JPEG, the reference of tests/unit/data/test_data_shared.cpp (decode included).

Run by hand with Debian's python3-torchvision (torch 1.13, torchvision 0.14, Pillow 9.4):
    /usr/bin/python3 tools/make_transform_references.py

Each case is three lines: `case NAME`, `u8 H W C` (an HWC uint8 image, bytes in hex) or
`f32 C H W` (a CHW float32 tensor, each value's IEEE bits as 8 hex digits), then the data.
The test images are functions of (row, column, channel), rebuilt identically by the C++ test.
"""

import os
import sys

import numpy as np
import PIL
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.autoaugment as A
import torchvision.transforms.functional as F
from PIL import Image


def pattern_image():
    """23x31 RGB: (7y + 13x + 71c + (xy mod 31)) mod 256, high-frequency on purpose."""
    y, x, c = np.meshgrid(np.arange(23), np.arange(31), np.arange(3), indexing="ij")
    return Image.fromarray(((7 * y + 13 * x + 71 * c + (x * y) % 31) % 256).astype(np.uint8), "RGB")


def grey_image():
    """19x26 L: (5y + 11x + (xy mod 17)) mod 256."""
    y, x = np.meshgrid(np.arange(19), np.arange(26), indexing="ij")
    return Image.fromarray(((5 * y + 11 * x + (x * y) % 17) % 256).astype(np.uint8), "L")


def ramp_image():
    """16x16 RGB holding every byte value in every channel: (16y + x + 85c) mod 256."""
    y, x, c = np.meshgrid(np.arange(16), np.arange(16), np.arange(3), indexing="ij")
    return Image.fromarray(((16 * y + x + 85 * c) % 256).astype(np.uint8), "RGB")


def dim_image():
    """23x31 RGB of narrow range: 60 + (7y + 13x + 71c + (xy mod 31)) mod 120."""
    y, x, c = np.meshgrid(np.arange(23), np.arange(31), np.arange(3), indexing="ij")
    return Image.fromarray((60 + (7 * y + 13 * x + 71 * c + (x * y) % 31) % 120).astype(np.uint8), "RGB")


# (operation, magnitude, image) of torchvision's _apply_op, each a case "op_NAME_MAGNITUDE_IMAGE".
AUGMENT_OPS = [
    ("ShearX", 0.3, "pattern"), ("ShearX", -0.3, "pattern"), ("ShearX", 0.99, "pattern"),
    ("ShearX", -0.15, "grey"), ("ShearY", 0.3, "pattern"), ("ShearY", -0.2, "pattern"),
    ("ShearY", 0.99, "ramp"), ("TranslateX", 14.05, "pattern"), ("TranslateX", -9.0, "pattern"),
    ("TranslateY", 10.4, "pattern"), ("TranslateY", -5.0, "grey"), ("Rotate", 30.0, "pattern"),
    ("Rotate", -17.5, "pattern"), ("Rotate", 4.5, "pattern"), ("Rotate", 135.0, "pattern"),
    ("Rotate", 90.0, "pattern"), ("Rotate", 90.0, "ramp"), ("Rotate", -90.0, "ramp"),
    ("Rotate", 180.0, "pattern"), ("Rotate", -60.0, "grey"), ("Brightness", -0.5, "pattern"),
    ("Brightness", 0.9, "dim"), ("Color", 0.6, "pattern"), ("Color", -0.9, "dim"),
    ("Contrast", 0.8, "dim"), ("Contrast", -0.45, "pattern"), ("Sharpness", 0.9, "pattern"),
    ("Sharpness", -0.6, "pattern"), ("Sharpness", -0.99, "dim"), ("Sharpness", 0.45, "grey"),
    ("Posterize", 2.0, "pattern"), ("Posterize", 4.0, "dim"), ("Posterize", 7.0, "grey"),
    ("Posterize", 0.0, "pattern"), ("Solarize", 127.5, "pattern"), ("Solarize", 0.0, "dim"),
    ("Solarize", 255.0, "pattern"), ("Solarize", 100.0, "grey"), ("AutoContrast", 0.0, "dim"),
    ("AutoContrast", 0.0, "grey"), ("AutoContrast", 0.0, "pattern"), ("Equalize", 0.0, "dim"),
    ("Equalize", 0.0, "grey"), ("Equalize", 0.0, "pattern"), ("Invert", 0.0, "pattern"),
    ("Identity", 0.0, "pattern"),
]

# Hue factors of adjust_hue, each on the pattern and the ramp: cases "hue_FACTOR_IMAGE".
HUE_FACTORS = [0.1, -0.3, 0.5, -0.5, 0.02]


def space_cases(name, space):
    """Each operation's magnitudes of an augmentation space as a 1 x 1 x N float32 tensor."""
    cases = []
    for op, (magnitudes, signed) in space.items():
        if magnitudes.ndim == 0:
            continue
        cases.append(tensor_case(f"space_{name}_{op}_{'signed' if signed else 'unsigned'}",
                                 magnitudes.float().reshape(1, 1, -1)))
    return cases


def image_case(name, image):
    a = np.asarray(image, dtype=np.uint8)
    if a.ndim == 2:
        a = a[:, :, None]
    h, w, c = a.shape
    return f"case {name}\nu8 {h} {w} {c}\n{a.tobytes().hex()}\n"


def tensor_case(name, tensor):
    t = tensor.contiguous().numpy().astype(np.float32)
    c, h, w = t.shape
    data = "".join(f"{v:08x}" for v in t.reshape(-1).view(np.uint32))
    return f"case {name}\nf32 {c} {h} {w}\n{data}\n"


def main():
    pattern, grey, ramp = pattern_image(), grey_image(), ramp_image()
    images = {"pattern": pattern, "grey": grey, "ramp": ramp, "dim": dim_image()}
    imagenet = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    cases = [
        image_case("resize_shorter_10", T.Resize(10)(pattern)),
        image_case("resize_shorter_7", T.Resize(7)(pattern)),
        image_case("resize_shorter_40", T.Resize(40)(pattern)),
        image_case("resize_17x45", T.Resize((17, 45))(pattern)),
        image_case("resize_23x12", T.Resize((23, 12))(pattern)),
        image_case("resize_grey_shorter_8", T.Resize(8)(grey)),
        image_case("resize_bicubic_shorter_10", T.Resize(10, interpolation=T.InterpolationMode.BICUBIC)(pattern)),
        image_case("resize_bicubic_shorter_40", T.Resize(40, interpolation=T.InterpolationMode.BICUBIC)(pattern)),
        image_case("resize_bicubic_17x45", T.Resize((17, 45), interpolation=T.InterpolationMode.BICUBIC)(pattern)),
        image_case("center_crop_20x30", T.CenterCrop((20, 30))(pattern)),
        image_case("center_crop_22x30", T.CenterCrop((22, 30))(pattern)),
        image_case("center_crop_20x28", T.CenterCrop((20, 28))(pattern)),
        image_case("center_crop_28x36", T.CenterCrop((28, 36))(pattern)),
        image_case("crop_3_5_10_12", F.crop(pattern, 3, 5, 10, 12)),
        image_case("resized_crop_2_4_18_21_to_9x11", F.resized_crop(pattern, 2, 4, 18, 21, [9, 11])),
        image_case("hflip", F.hflip(pattern)),
        image_case("five_crop_10x12_stacked",
                   Image.fromarray(np.concatenate([np.asarray(c) for c in F.five_crop(pattern, [10, 12])]))),
        image_case("pad_3", F.pad(pattern, 3)),
        image_case("brightness_0.6", F.adjust_brightness(pattern, 0.6)),
        image_case("brightness_1.4", F.adjust_brightness(pattern, 1.4)),
        image_case("contrast_0.5", F.adjust_contrast(pattern, 0.5)),
        image_case("contrast_1.7", F.adjust_contrast(pattern, 1.7)),
        image_case("saturation_0.3", F.adjust_saturation(pattern, 0.3)),
        image_case("saturation_1.8", F.adjust_saturation(pattern, 1.8)),
        image_case("grayscale_3", T.Grayscale(3)(pattern)),
        image_case("grey_to_rgb", grey.convert("RGB")),
        tensor_case("to_tensor_ramp", T.ToTensor()(ramp)),
        tensor_case("normalize_imagenet_ramp", imagenet(T.ToTensor()(ramp))),
        tensor_case("eval_resize_16_center_crop_14_imagenet",
                    T.Compose([T.Resize(16), T.CenterCrop(14), T.ToTensor(), imagenet])(pattern)),
        tensor_case("eval_resize_16_bicubic_center_crop_14_imagenet",
                    T.Compose([T.Resize(16, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(14), T.ToTensor(),
                               imagenet])(pattern)),
    ]
    for op, magnitude, image in AUGMENT_OPS:
        out = A._apply_op(images[image], op, magnitude, T.InterpolationMode.NEAREST, None)
        cases.append(image_case(f"op_{op}_{magnitude}_{image}", out))
    for factor in HUE_FACTORS:
        for image in ("pattern", "ramp"):
            cases.append(image_case(f"hue_{factor}_{image}", F.adjust_hue(images[image], factor)))
    cases += space_cases("auto_augment_10_23x31", T.AutoAugment()._augmentation_space(10, (23, 31)))
    cases += space_cases("rand_augment_31_23x31", T.RandAugment()._augmentation_space(31, (23, 31)))
    cases += space_cases("rand_augment_7_40x16", T.RandAugment()._augmentation_space(7, (40, 16)))
    cases += space_cases("trivial_augment_31", T.TrivialAugmentWide()._augmentation_space(31))
    cases += space_cases("trivial_augment_5", T.TrivialAugmentWide()._augmentation_space(5))
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "tests", "fixtures", "transforms", "references.txt")
    with open(out, "w") as f:
        f.write(f"# @generated by tools/make_transform_references.py with torch=={torch.__version__} "
                f"torchvision=={torchvision.__version__} Pillow=={PIL.__version__}; do not edit\n")
        f.writelines(cases)
    print(f"wrote {len(cases)} cases to {os.path.normpath(out)}", file=sys.stderr)

    shared = os.path.join(here, "..", "..", "shared", "data", "hymenoptera")
    photo = "val/bees/1032546534_06907fe3b3.jpg"
    if os.path.exists(os.path.join(shared, photo)):
        with open(os.path.join(shared, photo), "rb") as f:
            image = Image.open(f).convert("RGB")
        tensor = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), imagenet])(image)
        stride = 101
        sample = tensor.contiguous().numpy().reshape(-1)[::stride].astype(np.float32)
        out = os.path.join(here, "..", "tests", "fixtures", "transforms", "hymenoptera_eval.txt")
        with open(out, "w") as f:
            f.write(f"# @generated by tools/make_transform_references.py with torch=={torch.__version__} "
                    f"torchvision=={torchvision.__version__} Pillow=={PIL.__version__}; do not edit\n")
            f.write(f"file {photo}\nstride {stride}\nf32 3 224 224\n")
            f.write("".join(f"{v:08x}" for v in sample.view(np.uint32)) + "\n")
        print(f"wrote {sample.size} sampled values to {os.path.normpath(out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
