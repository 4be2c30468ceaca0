#pragma once
// ResNet-18/34/50, mirroring torchvision 0.14 torchvision/models/resnet.py.

#include "xfer/models/registry.h"

namespace xfer::models {

/// resnet18, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet18(const ModelOptions& options);

/// resnet34, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet34(const ModelOptions& options);

/// resnet50, default-initialised as the reference does; see registry.cpp for its input and head.
Classifier resnet50(const ModelOptions& options);

}  // namespace xfer::models
