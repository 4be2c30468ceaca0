#pragma once
// MobileNetV1 (Howard et al. 2017) with a width multiplier, as TF-slim builds it; keys in
// torchvision style, laid out at the top of src/models/mobilenet_v1.cpp.

#include "xfer/models/registry.h"

namespace xfer::models {

/// MobileNetV1 with options.width_mult() (0.25, 0.5, 0.75 or 1.0) and options.num_classes()
/// classes (positive; create_model resolves 0), initialised as torchvision's MobileNetV2. Images
/// [N,3,H,W] float32; features [N, 1024 * width_mult]; head `classifier.1`, after `classifier.0`
/// Dropout(0.001). Throws InvalidArgument for any other width_mult, naming the allowed ones.
Classifier mobilenet_v1(const ModelOptions& options);

}  // namespace xfer::models
