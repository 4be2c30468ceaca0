#pragma once
// MobileNetV3 small and large, mirroring torchvision 0.14 torchvision/models/mobilenetv3.py.

#include "xfer/models/registry.h"

namespace xfer::models {

/// mobilenet_v3_small, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier mobilenet_v3_small(const ModelOptions& options);

/// mobilenet_v3_large, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier mobilenet_v3_large(const ModelOptions& options);

}  // namespace xfer::models
