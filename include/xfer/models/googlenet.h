#pragma once
// GoogLeNet (Inception v1), mirroring torchvision 0.14 torchvision/models/googlenet.py.

#include "xfer/models/registry.h"

namespace xfer::models {

/// torchvision's googlenet with options.num_classes() classes (positive; create_model resolves 0),
/// initialised as torchvision does (trunc_normal_(std 0.01) conv and Linear weights, BatchNorm
/// 1/0). Images [N,3,H,W] float32 with H, W >= 15; features [N,1024]; head `fc`.
/// options.aux_logits() registers `aux1` and `aux2`, whose logits forward_full() returns in
/// training mode only, aux1 first; options.transform_input() applies torchvision's
/// _transform_input. Keys equal torchvision's state_dict keys for the same options.
Classifier googlenet(const ModelOptions& options);

}  // namespace xfer::models
