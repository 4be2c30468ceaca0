#pragma once
// MobileNetV2, mirroring torchvision 0.14 torchvision/models/mobilenetv2.py.

#include "xfer/models/registry.h"

namespace xfer::models {

/// mobilenet_v2, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier mobilenet_v2(const ModelOptions& options);

}  // namespace xfer::models
