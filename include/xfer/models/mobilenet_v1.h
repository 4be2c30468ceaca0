#pragma once
// MobileNetV1 (Howard et al. 2017) with a width multiplier; keys in torchvision style, documented in docs/adding-a-model.md.

#include "xfer/models/registry.h"

namespace xfer::models {

/// mobilenet_v1, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier mobilenet_v1(const ModelOptions& options);

}  // namespace xfer::models
