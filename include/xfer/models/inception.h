#pragma once
// Inception v3 (Szegedy et al. 2015, "Rethinking the Inception Architecture"), mirroring
// torchvision 0.14 torchvision/models/inception.py.

#include "xfer/models/registry.h"

namespace xfer::models {

/// torchvision's inception_v3 with options.num_classes() classes: the stem `Conv2d_1a_3x3` ..
/// `Conv2d_4a_3x3` with two max-pools, `Mixed_5b`..`Mixed_7c` (InceptionA to E blocks of
/// BasicConv2d: bias-free convolution, batch norm with eps 0.001, ReLU), `avgpool`, `dropout`
/// (0.5) and the head `fc`; with options.aux_logits() (the default) also `AuxLogits`, the
/// auxiliary classifier on Mixed_6e's output that runs in training mode only and needs that
/// output to be at least 17x17 (299 px images); with options.transform_input() the input is first
/// re-normalised from ImageNet's mean and std to (x - 0.5) / 0.5, as its original weights were
/// trained. Initialised as torchvision (truncated-normal weights, std 0.1; AuxLogits.fc 0.001).
/// Images [N,3,H,W] float32 with H, W >= 75; features [N,2048].
Classifier inception_v3(const ModelOptions& options);

}  // namespace xfer::models
